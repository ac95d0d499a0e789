import { type ErrorKind, kindOf } from "../errors/error-kind.ts";

/**
 * transient: try again later (timeouts, 5xx, connection failures).
 * permanent: will never succeed (bad address, content rejected): fail the job now.
 * throttled: the provider asked us to slow down: retry later without using up an attempt.
 * config: the account or credentials are at fault: stop using the provider, keep the job's attempts.
 */
export type DeliveryErrorKind = Extract<ErrorKind, "transient" | "permanent" | "throttled" | "config">;

const DELIVERY_KINDS: ReadonlySet<string> = new Set<DeliveryErrorKind>([
  "transient",
  "permanent",
  "throttled",
  "config",
]);

function isDeliveryKind(kind: string): kind is DeliveryErrorKind {
  return DELIVERY_KINDS.has(kind);
}

interface DeliveryErrorDetails {
  retryAfterMs?: number | undefined;
  /** The request may have reached the provider (a timeout after sending): retry on the same one. */
  ambiguous?: boolean | undefined;
  provider?: string | undefined;
  cause?: unknown;
}

export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  readonly kind: DeliveryErrorKind;
  /** Stable, for metrics and switches: e.g. `smtp_550`, `connection_refused`. */
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  readonly ambiguous: boolean;
  /** The provider that failed, when one was reached. */
  provider: string | undefined;

  constructor(kind: DeliveryErrorKind, code: string, message: string, details: DeliveryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.code = code;
    this.retryAfterMs = details.retryAfterMs;
    this.ambiguous = details.ambiguous ?? false;
    this.provider = details.provider;
  }
}

/** By the discriminant, not instanceof, which breaks across duplicate package copies. */
export function isDeliveryError(error: unknown): error is DeliveryError {
  return (
    error instanceof Error &&
    error.name === "DeliveryError" &&
    isDeliveryKind(String((error as { kind?: unknown }).kind))
  );
}

/** For providers that render nothing themselves: a provider-side template is not for them. */
export function refuseProviderTemplate(
  email: { provider_template?: { id: string } | undefined },
  provider: string,
) {
  if (email.provider_template)
    throw new DeliveryError(
      "permanent",
      "provider_template_unsupported",
      `template ${email.provider_template.id} lives at SendGrid; provider ${provider} cannot render it`,
    );
}

/** Failures found while preparing an email that no retry can cure: the job fails at once. */
const CALLER_MISTAKES: ReadonlySet<ErrorKind> = new Set([
  "invalid_argument",
  "invalid_template",
  "malformed_message",
  "not_found",
  "failed_precondition",
  "payload_too_large",
]);

/**
 * Any failure on the way to a provider as a DeliveryError. Delivery errors keep their kind and code;
 * a caller's mistake found on the way (a template that cannot render) fails the job at once
 * (`permanent`, keeping its code); anything else is transient until the job's attempts run out.
 */
export function asDeliveryError(error: unknown): DeliveryError {
  if (isDeliveryError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const kind = kindOf(error);
  const { code } = (error ?? {}) as { code?: unknown };
  const stableCode = typeof code === "string" ? code : kind;
  if (isDeliveryKind(kind)) return new DeliveryError(kind, stableCode, message, { cause: error });
  if (CALLER_MISTAKES.has(kind)) return new DeliveryError("permanent", stableCode, message, { cause: error });
  return new DeliveryError("transient", kind === "internal" ? "unclassified" : stableCode, message, {
    cause: error,
  });
}
