import type { NewTemplate, TemplateRepository } from "./template-repository.ts";

/** What a newcomer's first email renders from (the Go service's own example, in its Go template syntax). */
const SAMPLE_TEMPLATES: readonly NewTemplate[] = [
  {
    id: "welcome_template",
    name: "Welcome",
    subject: "Welcome, {{.user_name}}!",
    html_template: [
      "<!DOCTYPE html>",
      "<html>",
      "<body>",
      "    <h1>Hello {{.user_name}}</h1>",
      "    <p>Thanks for signing up. Your account is ready.</p>",
      '    {{if .login_url}}<p><a href="{{.login_url}}">Sign in</a></p>{{end}}',
      "</body>",
      "</html>",
    ].join("\n"),
    text_template: null,
    variables: ["user_name"],
  },
];

/** Adds the sample templates that are missing; never overwrites one a user has edited. */
export async function ensureSampleTemplates(templates: TemplateRepository): Promise<string[]> {
  const added: string[] = [];
  for (const sample of SAMPLE_TEMPLATES) {
    if (await templates.get(sample.id, { consistency: "strong" })) continue;
    await templates.upsert(sample);
    added.push(sample.id);
  }
  return added;
}
