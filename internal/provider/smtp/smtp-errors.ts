import { maskEmailsInText } from "../../log/mask.ts";
import { DeliveryError } from "../delivery-error.ts";
import { isSocketFailure } from "../network-errors.ts";

/** The fields of an SmtpError (smtp-connection.ts) that classification reads. */
interface SmtpFailure {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  message?: string;
}

/** Replies asking us to slow down rather than reporting a fault (RFC 5321 §4.2.3 and practice). */
const THROTTLING_REPLIES = new Set([421, 451, 452]);

/**
 * SmtpConnection's own codes for a lost connection: ECONNECTION when it closed under a command,
 * ESOCKET for any other socket error (a failed lookup, no route, TLS). EDNS is nodemailer's code
 * for a failed lookup, which SmtpConnection never gives.
 */
const CLIENT_CONNECTION_FAILURES = new Set(["ECONNECTION", "ESOCKET", "EDNS"]);

/**
 * The connection could not be made or was lost: Node's socket codes (SmtpConnection passes only
 * those on by name) and the client's own.
 */
export function isSmtpConnectionFailure(code: string | undefined): boolean {
  return isSocketFailure(code) || (code !== undefined && CLIENT_CONNECTION_FAILURES.has(code));
}

/**
 * Classifies an SmtpConnection failure by SMTP reply code first, then by the error's code:
 * 421/451/452 throttled, other 4xx transient, 5xx permanent, authentication and TLS trust
 * failures are the account's fault (config), network failures transient. A timeout during DATA is
 * ambiguous: the server may have taken the message.
 */
export function classifySmtpError(error: unknown): DeliveryError {
  const e = (error ?? {}) as SmtpFailure;
  const reply = e.responseCode;
  const text = maskEmailsInText(e.response ?? e.message ?? "SMTP error");
  if (e.code === "EAUTH" || reply === 535 || reply === 534 || reply === 530) {
    return new DeliveryError("config", `smtp_auth_${reply ?? "failed"}`, text, { cause: error });
  }
  if (reply !== undefined) {
    if (THROTTLING_REPLIES.has(reply))
      return new DeliveryError("throttled", `smtp_${reply}`, text, { cause: error });
    if (reply >= 400 && reply < 500)
      return new DeliveryError("transient", `smtp_${reply}`, text, { cause: error });
    if (reply >= 500) return new DeliveryError("permanent", `smtp_${reply}`, text, { cause: error });
  }
  if (e.code === "ETLS" || (e.code === "ESOCKET" && /certificate|self[- ]signed/i.test(e.message ?? ""))) {
    return new DeliveryError("config", "smtp_tls", text, { cause: error });
  }
  if (e.code === "EMESSAGE" || e.code === "EENVELOPE") {
    return new DeliveryError("permanent", `smtp_${e.code.toLowerCase()}`, text, { cause: error });
  }
  if (e.code !== undefined && isSmtpConnectionFailure(e.code)) {
    return new DeliveryError("transient", `smtp_${e.code.toLowerCase()}`, text, {
      cause: error,
      ambiguous: e.command === "DATA" || e.command === "DATA_END",
    });
  }
  return new DeliveryError("transient", "smtp_unclassified", text, { cause: error });
}
