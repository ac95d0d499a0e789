import { parseArgs } from "node:util";
import {
  DeleteTemplateRequest,
  GetTemplateRequest,
  ListTemplatesRequest,
  PreviewTemplateRequest,
  UpsertTemplateRequest,
} from "../gen/emailworker/v1/email_worker.ts";
import { UsageError } from "./cli-error.ts";
import type { Command } from "./context.ts";
import { formatTime, table } from "./output.ts";

export const templatesList: Command = async ({ client, out, args }) => {
  const { values } = parseArgs({
    args,
    options: {
      active: { type: "boolean" },
      inactive: { type: "boolean" },
      limit: { type: "string", default: "100" },
      "page-token": { type: "string" },
    },
  });
  if (values.active && values.inactive) throw new UsageError("give --active or --inactive, not both");
  const active = values.active ? true : values.inactive ? false : undefined;
  const page = await client.call(
    (c) => c.listTemplates,
    ListTemplatesRequest.fromPartial({
      ...(active !== undefined && { active }),
      page_size: Number(values.limit),
      page_token: values["page-token"] ?? "",
    }),
  );
  if (out.json) return out.data(page);
  const { templates } = page;
  out.print(
    templates.length
      ? table(
          ["id", "name", "active", "variables", "updated"],
          templates.map((t) => [
            t.id,
            t.name,
            t.is_active ? "yes" : "no",
            t.variables.join(","),
            formatTime(t.updated_at),
          ]),
        )
      : "no templates",
  );
  if (page.next_page_token)
    out.note(`more: --page-token ${page.next_page_token} (${page.total_count} in all)`);
};

export const templatesGet: Command = async ({ client, out, args }) => {
  const [id] = args;
  if (!id) throw new UsageError("usage: emailctl templates get <template-id>");
  const { template } = await client.call((c) => c.getTemplate, GetTemplateRequest.fromPartial({ id }));
  if (out.json || !template) return out.data(template);
  out.print(`${template.id} — ${template.name} (${template.is_active ? "active" : "inactive"})`);
  out.print(`subject: ${template.subject}`);
  out.print(`variables: ${template.variables.join(", ") || "none"}`);
  out.print(`--- html\n${template.html_template}`);
  if (template.text_template) out.print(`--- text\n${template.text_template}`);
};

/** `templates put --file template.json`: {id, name, subject, html_template, text_template, variables, is_active}. */
export const templatesPut: Command = async ({ client, out, args, readFile }) => {
  const { values } = parseArgs({ args, options: { file: { type: "string" } } });
  if (!values.file) throw new UsageError("usage: emailctl templates put --file template.json");
  let template: unknown;
  try {
    template = JSON.parse(await readFile(values.file));
  } catch {
    throw new UsageError(`${values.file} is not JSON`);
  }
  const { template: saved } = await client.call(
    (c) => c.upsertTemplate,
    UpsertTemplateRequest.fromPartial({ template: { is_active: true, ...(template as object) } }),
  );
  if (out.json) return out.data(saved);
  out.print(`saved template ${saved?.id}`);
};

export const templatesPreview: Command = async ({ client, out, args }) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { data: { type: "string" } },
  });
  const [id] = positionals;
  if (!id) throw new UsageError("usage: emailctl templates preview <template-id> [--data '{...}']");
  let data: Record<string, unknown> = {};
  if (values.data) {
    try {
      data = JSON.parse(values.data) as Record<string, unknown>;
    } catch {
      throw new UsageError("--data must be a JSON object");
    }
  }
  const preview = await client.call(
    (c) => c.previewTemplate,
    PreviewTemplateRequest.fromPartial({ template_id: id, data }),
  );
  if (out.json) return out.data(preview);
  out.print(`subject: ${preview.subject}\n--- text\n${preview.text}\n--- html\n${preview.html}`);
};

export const templatesDelete: Command = async ({ client, out, args }) => {
  const [id] = args;
  if (!id) throw new UsageError("usage: emailctl templates delete <template-id>");
  const result = await client.call((c) => c.deleteTemplate, DeleteTemplateRequest.fromPartial({ id }));
  if (out.json) return out.data(result);
  out.print(result.deleted ? `deleted template ${id}` : `no template ${id}`);
};
