import type { EmailJob } from "../job/email-job.ts";
import type { OutgoingEmail } from "../provider/provider.ts";
import type { TemplateRenderer } from "../template/renderer.ts";

/**
 * The email a job describes: its template rendered (or its inline content), addressed. A SendGrid
 * dynamic template (`d-…`) is left for SendGrid to render.
 */
export async function renderJob(job: EmailJob, renderer: TemplateRenderer): Promise<OutgoingEmail> {
  const base = {
    job_id: job.id,
    job_type: job.type,
    from: job.from,
    to: job.recipient_name
      ? { email: job.recipient_email, name: job.recipient_name }
      : { email: job.recipient_email },
    cc: job.cc,
    bcc: job.bcc,
    reply_to: job.reply_to,
    tags: job.tags,
    headers: job.headers,
    attachments: job.attachments,
    metadata: job.metadata,
    priority: job.priority,
  };
  if (job.template_id?.startsWith("d-")) {
    // A SendGrid dynamic template: SendGrid renders it.
    return {
      ...base,
      subject: job.subject ?? "",
      text: "",
      provider_template: { id: job.template_id, data: job.template_data },
    };
  }
  const content =
    job.template_id !== undefined
      ? await renderer.renderTemplate(job.template_id, job.template_data, job.priority)
      : await renderer.renderInline(
          { subject: job.subject, html: job.html, text: job.text },
          job.template_data,
          job.priority,
        );
  return {
    ...base,
    // A job's own subject wins over its template's.
    subject: job.template_id !== undefined && job.subject !== undefined ? job.subject : content.subject,
    html: content.html,
    text: content.text,
  };
}
