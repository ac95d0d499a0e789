import { KindedError, UnavailableError } from "../errors/error-kind.ts";

/**
 * Errors the store raises. Callers switch on `kind`; nothing above the store sees a pg or PGlite
 * error.
 */
export class DatabaseUnavailableError extends UnavailableError {
  override readonly name = "DatabaseUnavailableError";

  constructor(message: string, code: string, options: { cause?: unknown } = {}) {
    super(message, { code, cause: options.cause });
  }
}

export class ConflictError extends KindedError<"conflict"> {
  override readonly name = "ConflictError";

  constructor(message: string) {
    super("conflict", message, { code: "already_exists" });
  }
}

/**
 * SQLSTATE classes that mean "this server cannot serve you right now", as opposed to a fault in the
 * query: connection exceptions (08), operator intervention (57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now) and too many connections (53300).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith("08") || code.startsWith("57P") || code === "53300";
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A server-side error carries a severity and a SQLSTATE; anything else failed on the way there. */
function isServerError(error: unknown): boolean {
  return typeof (error as { severity?: unknown } | null)?.severity === "string";
}

export function isUniqueViolation(error: unknown): boolean {
  return isServerError(error) && errorCode(error) === "23505";
}

/**
 * Turns a failure to reach the database into a DatabaseUnavailableError; returns other errors as
 * they are. Called only where the driver talks to the server, so an exception thrown by our own code
 * is never mistaken for an outage.
 */
export function asUnavailable(error: unknown, where: string, connecting = false): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const code = errorCode(error);
  // While connecting, anything the server says (no such database, authentication refused) also
  // means it cannot serve us.
  if (isServerError(error) && !connecting) {
    if (code === undefined || !isUnavailableSqlState(code)) return error;
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(`${where} is unavailable: ${reason}`, code ?? "connection_failed", {
    cause: error,
  });
}
