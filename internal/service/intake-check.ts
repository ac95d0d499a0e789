import type { EmailJob } from "../job/email-job.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { TemplateError } from "../template/errors.ts";
import type { TemplateRenderer } from "../template/renderer.ts";
import { renderJob } from "../worker/render-job.ts";

/** What intake can know about a job before queueing it, that would otherwise fail it in a worker. */
export type IntakeCheck = (job: EmailJob) => Promise<void>;

/**
 * Refuses at intake what a worker would fail later: a provider that is not configured, a template
 * that does not exist, is not active or does not render with the job's data (the job is rendered
 * once here, as a worker would). The caller then hears at once which field is wrong instead of
 * finding a failed job afterwards. A template changed between intake and sending can still fail
 * the job in the worker.
 */
export function intakeCheck(renderer: TemplateRenderer, providers: readonly string[]): IntakeCheck {
  return async (job) => {
    if (job.provider !== undefined && !providers.includes(job.provider)) {
      throw new JobValidationError([
        {
          field: "provider",
          description: `provider "${job.provider}" is not configured (configured: ${providers.join(", ")})`,
        },
      ]);
    }
    try {
      await renderJob(job, renderer);
    } catch (error) {
      if (error instanceof TemplateError && error.field === undefined) throw namingTheField(error);
      throw error;
    }
  };
}

/** The field of the job a template failure points at, for the caller's field violations. */
function namingTheField(error: TemplateError): TemplateError {
  const field =
    error.code === "template_not_found" || error.code === "template_inactive"
      ? "template_id"
      : error.code === "missing_variable" && error.variable !== undefined
        ? `template_data.${error.variable}`
        : undefined;
  if (field === undefined) return error;
  return new TemplateError(error.code, error.message, {
    template_id: error.template_id,
    variable: error.variable,
    field,
    cause: error.cause,
  });
}
