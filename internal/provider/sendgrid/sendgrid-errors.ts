import { maskEmailsInText } from "../../log/mask.ts";
import { DeliveryError } from "../delivery-error.ts";
import { isNetworkFailure } from "../network-errors.ts";

interface SendGridFailure {
  code?: number | string;
  message?: string;
  response?: { body?: { errors?: { message?: string; field?: string }[] }; headers?: Record<string, string> };
}

function retryAfterMs(headers: Record<string, string> | undefined, now: number): number | undefined {
  if (!headers) return undefined;
  const retryAfter = Number(headers["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000;
  // SendGrid's own header: when the rate-limit window resets, in epoch seconds.
  const reset = Number(headers["x-ratelimit-reset"]);
  if (Number.isFinite(reset) && reset > 0) return Math.max(reset * 1000 - now, 1_000);
  return undefined;
}

/**
 * A request that timed out may have reached SendGrid, unlike one whose connection failed: checked
 * before the network failures, which include ETIMEDOUT. ECONNABORTED is the HTTP client's timeout.
 */
const TIMEOUT_CODES = new Set(["ECONNABORTED", "ETIMEDOUT"]);

/**
 * SendGrid's answers: 202 accepted; 400/403/413 the message is at fault (permanent); 401 the key is
 * (config: open the breaker, keep the job's attempts); 429 throttled, honouring the reset headers;
 * 5xx and network failures transient. A timeout after the request left is ambiguous.
 */
export function classifySendGridError(error: unknown, now = Date.now()): DeliveryError {
  const e = (error ?? {}) as SendGridFailure;
  const detail = e.response?.body?.errors
    ?.map((x) => (x.field ? `${x.field}: ${x.message}` : x.message))
    .join("; ");
  const text = maskEmailsInText(detail || e.message || "SendGrid request failed");
  if (typeof e.code === "number") {
    const status = e.code;
    if (status === 401) return new DeliveryError("config", "sendgrid_401", text, { cause: error });
    if (status === 429)
      return new DeliveryError("throttled", "sendgrid_429", text, {
        cause: error,
        retryAfterMs: retryAfterMs(e.response?.headers, now),
      });
    if (status >= 500) return new DeliveryError("transient", `sendgrid_${status}`, text, { cause: error });
    if (status >= 400) return new DeliveryError("permanent", `sendgrid_${status}`, text, { cause: error });
  }
  if (typeof e.code === "string" && TIMEOUT_CODES.has(e.code))
    return new DeliveryError("transient", "sendgrid_timeout", text, { cause: error, ambiguous: true });
  if (typeof e.code === "string" && isNetworkFailure(e.code))
    return new DeliveryError("transient", `sendgrid_${e.code.toLowerCase()}`, text, { cause: error });
  return new DeliveryError("transient", "sendgrid_unclassified", text, { cause: error });
}
