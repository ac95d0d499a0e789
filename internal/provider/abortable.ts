import { DeliveryError } from "./delivery-error.ts";

/**
 * Stops waiting for `promise` when `signal` aborts (the job ran past its time limit, or shutdown
 * could not wait longer). The request itself may still complete, so the failure is ambiguous:
 * retried on the same provider, never failed over. With `graceMs`, a request under way gets that
 * much longer to finish first: its real outcome beats an ambiguous one, which a retry may turn
 * into a second copy.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, graceMs = 0): Promise<T> {
  if (!signal) return promise;
  // The request goes on after we stop waiting; its outcome must not surface as an unhandled rejection.
  promise.catch(() => {});
  if (signal.aborted && graceMs <= 0) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    let grace: NodeJS.Timeout | undefined;
    const giveUp = () => reject(abortError());
    const onAbort = () => {
      if (graceMs <= 0) giveUp();
      else grace = setTimeout(giveUp, graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    const settle = () => {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(grace);
    };
    promise.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
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
