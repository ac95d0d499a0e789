/** Node's codes for a TCP connection that was refused, reset, broken under a write, or went silent. */
const SOCKET_FAILURES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** Node's codes for a host that could not be found (for good, or for now) or reached at all. */
const HOST_UNREACHABLE = new Set(["ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"]);

/**
 * The TCP connection itself failed or dropped. Narrower than isNetworkFailure for SMTP's sake:
 * SmtpConnection passes only these on by name and reports an unreachable host as ESOCKET, so the
 * error codes recorded for those stay what they were.
 */
export function isSocketFailure(code: unknown): boolean {
  return typeof code === "string" && SOCKET_FAILURES.has(code);
}

/** No connection could be made, or the one there was dropped: worth trying again later. */
export function isNetworkFailure(code: unknown): boolean {
  return isSocketFailure(code) || (typeof code === "string" && HOST_UNREACHABLE.has(code));
}
