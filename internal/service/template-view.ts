import type { EmailTemplateRecord } from "../store/template-repository.ts";
import { requiredVariables } from "../template/required-variables.ts";

/** What the APIs show of a stored template: its sources as text and its required variables' names. */
export interface TemplateRecordView {
  id: string;
  name: string;
  subject: string;
  html_template: string;
  text_template: string;
  variables: string[];
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

export function templateRecordView(template: EmailTemplateRecord): TemplateRecordView {
  return {
    id: template.id,
    name: template.name,
    subject: template.subject ?? "",
    html_template: template.html_template ?? "",
    text_template: template.text_template ?? "",
    variables: requiredVariables(template.variables),
    is_active: template.is_active,
    created_at: template.created_at,
    updated_at: template.updated_at,
  };
}
