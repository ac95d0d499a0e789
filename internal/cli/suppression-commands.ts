import { parseArgs } from "node:util";
import {
  AddSuppressionRequest,
  ListSuppressionsRequest,
  RemoveSuppressionRequest,
} from "../gen/emailworker/v1/email_worker.ts";
import { UsageError } from "./cli-error.ts";
import type { Command } from "./context.ts";
import { formatTime, table } from "./output.ts";

export const suppressionsList: Command = async ({ client, out, args }) => {
  const { values } = parseArgs({
    args,
    options: {
      contains: { type: "string" },
      limit: { type: "string", default: "50" },
      "page-token": { type: "string" },
    },
  });
  const page = await client.call(
    (c) => c.listSuppressions,
    ListSuppressionsRequest.fromPartial({
      contains: values.contains ?? "",
      page_size: Number(values.limit),
      page_token: values["page-token"] ?? "",
    }),
  );
  if (out.json) return out.data(page);
  out.print(
    page.suppressions.length
      ? table(
          ["email", "reason", "source", "since"],
          page.suppressions.map((s) => [s.email, s.reason, s.source, formatTime(s.created_at)]),
        )
      : "no suppressed addresses",
  );
  if (page.next_page_token) out.note(`more: --page-token ${page.next_page_token}`);
};

export const suppressionsAdd: Command = async ({ client, out, args }) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { reason: { type: "string", default: "manual" }, details: { type: "string" } },
  });
  const [email] = positionals;
  if (!email)
    throw new UsageError("usage: emailctl suppressions add <email> [--reason manual] [--details TEXT]");
  const { suppression } = await client.call(
    (c) => c.addSuppression,
    AddSuppressionRequest.fromPartial({ email, reason: values.reason, details: values.details ?? "" }),
  );
  if (out.json) return out.data(suppression);
  out.print(`suppressed ${suppression?.email} (${suppression?.reason})`);
};

export const suppressionsRemove: Command = async ({ client, out, args }) => {
  const [email] = args;
  if (!email) throw new UsageError("usage: emailctl suppressions remove <email>");
  const result = await client.call(
    (c) => c.removeSuppression,
    RemoveSuppressionRequest.fromPartial({ email }),
  );
  if (out.json) return out.data(result);
  out.print(result.removed ? `${email} may receive email again` : `${email} was not suppressed`);
};
