import { parseArgs } from "node:util";
import { ListDeadLettersRequest, ReplayDeadLettersRequest } from "../gen/emailworker/v1/email_worker.ts";
import type { Command } from "./context.ts";
import { formatTime, table } from "./output.ts";

export const dlqList: Command = async ({ client, out, args }) => {
  const { values } = parseArgs({
    args,
    options: { reason: { type: "string" }, limit: { type: "string", default: "50" } },
  });
  const { dead_letters } = await client.call(
    (c) => c.listDeadLetters,
    ListDeadLettersRequest.fromPartial({ limit: Number(values.limit), reason_contains: values.reason ?? "" }),
  );
  if (out.json) return out.data(dead_letters);
  out.print(
    dead_letters.length
      ? table(
          ["id", "lane", "tries", "failed", "reason"],
          dead_letters.map((l) => [l.id, l.lane, l.attempt, formatTime(l.failed_at), l.reason]),
        )
      : "the dead-letter store is empty",
  );
};

export const dlqReplay: Command = async ({ client, out, args }) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      reason: { type: "string" },
      limit: { type: "string", default: "100" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const result = await client.call(
    (c) => c.replayDeadLetters,
    ReplayDeadLettersRequest.fromPartial({
      ids: positionals,
      reason_contains: values.reason ?? "",
      limit: Number(values.limit),
      dry_run: values["dry-run"],
    }),
  );
  if (out.json) return out.data(result);
  const verb = result.dry_run ? "would replay" : "replayed";
  out.print(
    `${verb} ${result.replayed_ids.length} dead letter(s)${result.replayed_ids.length ? `: ${result.replayed_ids.join(", ")}` : ""}`,
  );
  if (result.missing_ids.length) out.note(`not found: ${result.missing_ids.join(", ")}`);
};
