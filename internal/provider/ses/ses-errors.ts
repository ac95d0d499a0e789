import { maskEmailsInText } from "../../log/mask.ts";
import { DeliveryError, type DeliveryErrorKind } from "../delivery-error.ts";

/** SES v2 error names and what they mean for the job. */
const BY_NAME: Readonly<Record<string, DeliveryErrorKind>> = {
  ThrottlingException: "throttled",
  TooManyRequestsException: "throttled",
  LimitExceededException: "throttled",
  MessageRejected: "permanent",
  MailFromDomainNotVerifiedException: "permanent",
  BadRequestException: "permanent",
  // The account or its credentials are at fault: stop using SES, keep the job's attempts.
  AccountSuspendedException: "config",
  SendingPausedException: "config",
  NotFoundException: "config",
  AccessDeniedException: "config",
  UnrecognizedClientException: "config",
  InvalidClientTokenId: "config",
  InvalidSignatureException: "config",
  SignatureDoesNotMatch: "config",
  CredentialsProviderError: "config",
  ExpiredTokenException: "config",
};

interface AwsFailure {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/**
 * Classifies an SES v2 failure by its error name, then by HTTP status: throttling retried later
 * without using an attempt, rejections permanent, account problems config, 5xx and network
 * failures transient. A timeout or abort after the request left is ambiguous.
 */
export function classifySesError(error: unknown): DeliveryError {
  const e = (error ?? {}) as AwsFailure;
  const name = e.name ?? "Error";
  const text = maskEmailsInText(e.message || name);
  const code = `ses_${name}`;
  const known = BY_NAME[name];
  if (known) return new DeliveryError(known, code, text, { cause: error });
  if (e.$retryable?.throttling) return new DeliveryError("throttled", code, text, { cause: error });
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500)
    return new DeliveryError("transient", code, text, { cause: error });
  if (status !== undefined && status >= 400)
    return new DeliveryError("permanent", code, text, { cause: error });
  const timedOut = name === "TimeoutError" || name === "AbortError" || e.code === "ETIMEDOUT";
  return new DeliveryError("transient", timedOut ? "ses_timeout" : code, text, {
    cause: error,
    ambiguous: timedOut,
  });
}
