import { parseArgs } from "node:util";
import { ListDeadLettersRequest, ReplayDeadLettersRequest } from "../gen/emailworker/v1/email_worker.ts";
import { deadLetterCauseWord } from "../proto/enums.ts";
import { UsageError } from "./cli-error.ts";
import type { Command } from "./context.ts";
import { formatTime, table } from "./output.ts";

const REPLAY_USAGE =
  "usage: emailctl dlq replay (ID … | --reason TEXT | --type TYPE | --failed-after TIME | --failed-before TIME | --all) [--limit N] [--dry-run]";

export const dlqList: Command = async ({ client, out, args }) => {
  const { values } = parseArgs({
    args,
    options: {
      reason: { type: "string" },
      limit: { type: "string", default: "50" },
      "page-token": { type: "string" },
    },
  });
  const page = await client.call(
    (c) => c.listDeadLetters,
    ListDeadLettersRequest.fromPartial({
      page_size: Number(values.limit),
      reason_contains: values.reason ?? "",
      page_token: values["page-token"] ?? "",
    }),
  );
  if (out.json)
    return out.data({
      ...page,
      dead_letters: page.dead_letters.map((l) => ({ ...l, cause: deadLetterCauseWord(l.cause) })),
    });
  const { dead_letters } = page;
  out.print(
    dead_letters.length
      ? table(
          ["id", "lane", "tries", "failed", "cause", "reason"],
          dead_letters.map((l) => [
            l.id,
            l.lane,
            l.attempt,
            formatTime(l.failed_at),
            deadLetterCauseWord(l.cause),
            l.reason,
          ]),
        )
      : page.total_count > 0
        ? "no dead letters on this page"
        : "the dead-letter store is empty",
  );
  out.note(`${page.total_count} dead letter(s) in all`);
  if (page.next_page_token) out.note(`more: --page-token ${page.next_page_token}`);
};

/** An option's time (RFC 3339, or anything Date reads), or a usage error naming the option. */
function timeOption(value: string | undefined, option: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new UsageError(`--${option} must be a time such as 2024-05-01T12:00:00Z`);
  return at;
}

export const dlqReplay: Command = async ({ client, out, args }) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      reason: { type: "string" },
      type: { type: "string" },
      "failed-after": { type: "string" },
      "failed-before": { type: "string" },
      all: { type: "boolean", default: false },
      limit: { type: "string", default: "100" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const failedAfter = timeOption(values["failed-after"], "failed-after");
  const failedBefore = timeOption(values["failed-before"], "failed-before");
  const filtered = Boolean(values.reason || values.type || failedAfter || failedBefore || values.all);
  // Replaying everything takes saying so: an empty request is refused by the server too.
  if (positionals.length === 0 && !filtered)
    throw new UsageError(`${REPLAY_USAGE}\nname the letters, give a filter, or --all for every one`);
  if (positionals.length > 0 && filtered)
    throw new UsageError(`${REPLAY_USAGE}\ngive ids or filters, not both`);
  const result = await client.call(
    (c) => c.replayDeadLetters,
    ReplayDeadLettersRequest.fromPartial({
      ids: positionals,
      reason_contains: values.reason ?? "",
      type: values.type ?? "",
      failed_after: failedAfter,
      failed_before: failedBefore,
      all: values.all,
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
