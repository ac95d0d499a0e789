/**
 * Every failure the service names, by what went wrong and whose it is. Code switches on `kind` (a
 * discriminant that survives duplicate package copies, unlike `instanceof`); the edges turn it into
 * a gRPC status, an HTTP status and an emailctl exit code through one table (error-responses.ts).
 */
export const ERROR_KINDS = [
  // The caller's mistake: fixing the request is the only cure.
  "invalid_argument",
  /** A template that cannot produce the email (syntax, missing variable, unknown or inactive id). */
  "invalid_template",
  /** A queue message that is not a job: it goes to the dead-letter store with the reason. */
  "malformed_message",
  "not_found",
  /** Already exists (a template id, a job id). */
  "conflict",
  /** Valid, but not in this state (cancel a sent job, retry one that did not fail). */
  "failed_precondition",
  "unauthenticated",
  "permission_denied",
  "payload_too_large",
  // A delivery's outcome at a provider.
  /** Try again later: timeouts, 5xx, dropped connections. */
  "transient",
  /** Will never succeed: bad address, content refused. */
  "permanent",
  /** The provider asked us to slow down: later, without using up an attempt. */
  "throttled",
  /**
   * The provider's account or credentials are at fault: stop using it, keep the job's attempts.
   * (Only this: an invalid configuration file is `invalid_config`.)
   */
  "config",
  // The service's own state.
  /** A dependency (database, Redis, Kafka) cannot be reached, or this instance is shutting down. */
  "unavailable",
  /** The configuration is invalid: start-up stops naming the keys. */
  "invalid_config",
  /** A schema migration failed at start-up. */
  "migration_failed",
  /** Anything unexpected: a bug. */
  "internal",
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_KINDS);

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === "string" && KNOWN.has(value);
}

/** The kind an error carries, or `internal` for anything that carries none (or an unknown one). */
export function kindOf(error: unknown): ErrorKind {
  const kind = (error as { kind?: unknown } | null | undefined)?.kind;
  return isErrorKind(kind) ? kind : "internal";
}

/**
 * An error of a given kind with a stable `code` for logs and metrics. Subclass it for errors that
 * carry more (violations, a template id); throw it directly for the rest.
 */
export class KindedError<K extends ErrorKind = ErrorKind> extends Error {
  readonly kind: K;
  /** Stable, snake_case; defaults to the kind. */
  readonly code: string;

  constructor(kind: K, message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options.code ?? kind;
  }
}

export class NotFoundError extends KindedError<"not_found"> {
  override readonly name: string = "NotFoundError";
  constructor(message: string, code = "not_found") {
    super("not_found", message, { code });
  }
}

export class FailedPreconditionError extends KindedError<"failed_precondition"> {
  override readonly name: string = "FailedPreconditionError";
  constructor(message: string, code = "failed_precondition") {
    super("failed_precondition", message, { code });
  }
}

export class UnavailableError extends KindedError<"unavailable"> {
  override readonly name: string = "UnavailableError";
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super("unavailable", message, options);
  }
}
