import { DeliveryError } from "./delivery-error.ts";

/**
 * Stops waiting for `promise` when `signal` aborts (the job ran past its time limit, or shutdown
 * could not wait longer). The request itself may still complete, so the failure is ambiguous:
 * retried on the same provider, never failed over.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  // The request goes on after we stop waiting; its outcome must not surface as an unhandled rejection.
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function abortError(): DeliveryError {
  return new DeliveryError("transient", "send_timeout", "send did not finish within the time limit", {
    ambiguous: true,
  });
}
