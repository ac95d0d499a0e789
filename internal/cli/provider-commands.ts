import { VerifyProvidersRequest } from "../gen/emailworker/v1/email_worker.ts";
import type { Command } from "./context.ts";
import { formatTime, table } from "./output.ts";

/** Checks every provider's configuration now; exits 1 when any check failed, for scripts and CI. */
export const providersVerify: Command = async ({ client, out }) => {
  const { checks } = await client.call((c) => c.verifyProviders, VerifyProvidersRequest.fromPartial({}));
  if (out.json) out.data(checks);
  else
    out.print(
      table(
        ["provider", "state", "checked", "detail"],
        checks.map((check) => [
          check.provider,
          check.code ? `${check.state} (${check.code})` : check.state,
          formatTime(check.checked_at),
          check.detail,
        ]),
      ),
    );
  const failed = checks.filter((check) => check.state !== "ok").map((check) => check.provider);
  if (failed.length > 0) throw new Error(`provider check failed: ${failed.join(", ")}`);
};
