import {
  campaignsAdd,
  campaignsCancel,
  campaignsCreate,
  campaignsGet,
  campaignsList,
  campaignsPause,
  campaignsResume,
  campaignsSchedule,
  campaignsSchedules,
  campaignsStart,
  campaignsUnschedule,
  campaignsWatch,
} from "./campaign-commands.ts";
import { UsageError } from "./cli-error.ts";
import type { Command } from "./context.ts";
import { dkimDns } from "./dkim-commands.ts";
import { dlqList, dlqReplay } from "./dlq-commands.ts";
import { cancel, failed, jobsGet, jobsList, pending, retry, status } from "./job-commands.ts";
import { providersVerify } from "./provider-commands.ts";
import { send } from "./send-command.ts";
import { suppressionsAdd, suppressionsList, suppressionsRemove } from "./suppression-commands.ts";
import {
  templatesDelete,
  templatesGet,
  templatesList,
  templatesPreview,
  templatesPut,
} from "./template-commands.ts";

const COMMANDS: Record<string, Command> = {
  status,
  pending,
  failed,
  "jobs get": jobsGet,
  "jobs list": jobsList,
  send,
  cancel,
  retry,
  "dlq list": dlqList,
  "dlq replay": dlqReplay,
  "dkim dns": dkimDns,
  "templates list": templatesList,
  "templates get": templatesGet,
  "templates put": templatesPut,
  "templates preview": templatesPreview,
  "templates delete": templatesDelete,
  "suppressions list": suppressionsList,
  "suppressions add": suppressionsAdd,
  "suppressions remove": suppressionsRemove,
  "providers verify": providersVerify,
  "campaigns create": campaignsCreate,
  "campaigns add": campaignsAdd,
  "campaigns get": campaignsGet,
  "campaigns list": campaignsList,
  "campaigns start": campaignsStart,
  "campaigns pause": campaignsPause,
  "campaigns resume": campaignsResume,
  "campaigns cancel": campaignsCancel,
  "campaigns watch": campaignsWatch,
  "campaigns schedule": campaignsSchedule,
  "campaigns schedules": campaignsSchedules,
  "campaigns unschedule": campaignsUnschedule,
};

export const USAGE = `emailctl — operate an email-worker over gRPC

usage: emailctl [--address host:port] [--api-key KEY] [--json] [--timeout 10s] <command> [args]

  status                               queue depth per lane, in flight, delayed, dead letters
  pending | failed [--type T]          tracked jobs waiting / failed
  jobs list [--status S …] [--type T] [--tag T …] [--recipient R] [--limit N] [--page-token T]
  jobs get <job-id>                    one tracked job and its delivery events
  send --to ADDR (--template ID [--data JSON] | --subject S --html H/--text T)
       [--type T] [--tracked] [--priority low|normal|high|critical] [--schedule RFC3339]
       [--idempotency-key K] [--from "Name <addr>"] [--provider P]
       [--cc ADDR …] [--bcc ADDR …] [--tag T …] [--sandbox]
  send --file jobs.jsonl               one JSON job per line (the wire format), with progress
  cancel <job-id> | retry <job-id>
  dlq list [--reason TEXT] [--limit N] [--page-token T]
  dlq replay (ID … | --reason TEXT | --type TYPE | --failed-after TIME | --failed-before TIME | --all) [--limit N] [--dry-run]
  dkim dns <domain>                    DNS TXT records for the domain's DKIM keys (reads the service's config here)
  templates list [--active|--inactive] [--limit N] [--page-token T] | get <id> | put --file template.json | preview <id> [--data JSON] | delete <id>
  suppressions list [--contains TEXT] | add <email> [--reason R] [--details TEXT] | remove <email>
  providers verify                     check each provider's settings now (connect, TLS, auth); exit 1 if any fails
  campaigns create --name N --type T (--template ID | --subject S --html H/--text T) [--data JSON]
       [--recipients file.csv|file.jsonl] [--start] [--from "Name <addr>"] [--priority P]
       [--rate EMAILS_PER_S] [--schedule RFC3339] [--tag T …] [--provider P] [--untracked]
  campaigns add <id> --recipients file.csv|file.jsonl   streamed, with a progress bar
  campaigns list [--status S …] [--type T] [--tag T] | get <id> | start|pause|resume|cancel <id>
  campaigns watch <id> [--interval SECONDS]             live progress until it ends
  campaigns schedule <draft-id> --cron '0 9 * * MON' [--timezone Europe/Oslo] [--name N]
  campaigns schedules | unschedule <schedule-id>         recurring copies of a draft

environment: EMAILCTL_ADDRESS (default localhost:50060), EMAILCTL_API_KEY
exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 invalid input, 5 unavailable, 6 not allowed`;

/** Finds the command named by the leading words of `words`; the rest are its arguments. */
export function resolveCommand(words: readonly string[]): { command: Command; args: string[] } {
  for (const length of [2, 1]) {
    const name = words.slice(0, length).join(" ");
    const command = COMMANDS[name];
    if (command && words.length >= length) return { command, args: words.slice(length) };
  }
  const given = words.slice(0, 2).join(" ");
  throw new UsageError(given ? `unknown command "${given}"; run emailctl --help` : USAGE);
}
