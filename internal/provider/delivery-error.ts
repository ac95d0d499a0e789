/**
 * transient: try again later (timeouts, 5xx, connection failures).
 * permanent: will never succeed (bad address, content rejected): fail the job now.
 * throttled: the provider asked us to slow down: retry later without using up an attempt.
 * config: the account or credentials are at fault: stop using the provider, keep the job's attempts.
 */
export type DeliveryErrorKind = "transient" | "permanent" | "throttled" | "config";

export interface DeliveryErrorDetails {
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
    ["transient", "permanent", "throttled", "config"].includes((error as { kind?: string }).kind ?? "")
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

const KINDS: readonly string[] = ["transient", "permanent", "throttled", "config"];

/**
 * Any failure on the way to a provider as a DeliveryError. Errors that already carry a delivery kind
 * (a template that cannot render is `permanent`) keep it and their code; anything unclassified is
 * transient until the job's attempts run out.
 */
export function asDeliveryError(error: unknown): DeliveryError {
  if (isDeliveryError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const { kind, code } = (error ?? {}) as { kind?: unknown; code?: unknown };
  if (typeof kind === "string" && KINDS.includes(kind)) {
    return new DeliveryError(kind as DeliveryErrorKind, typeof code === "string" ? code : kind, message, {
      cause: error,
    });
  }
  return new DeliveryError("transient", "unclassified", message, { cause: error });
}
