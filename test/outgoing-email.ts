import type { DeliveryError } from "../internal/provider/delivery-error.ts";
import type { OutgoingEmail } from "../internal/provider/provider.ts";

type EmailDefaults = Omit<OutgoingEmail, "job_id" | "to">;

/**
 * A builder for composed emails addressed to Ada, each with its own job id, so a provider suite
 * states only what its tests look for.
 */
export function outgoingEmails(
  defaults: EmailDefaults,
): (to: string, overrides?: Partial<OutgoingEmail>) => OutgoingEmail {
  let n = 0;
  return (to, overrides = {}) => {
    n++;
    return {
      job_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
      to: { email: to, name: "Ada Lovelace" },
      ...defaults,
      ...overrides,
    };
  };
}

/** The DeliveryError a send rejected with, or undefined when it succeeded. */
export const deliveryFailure = (promise: Promise<unknown>): Promise<DeliveryError | undefined> =>
  promise.then(
    () => undefined,
    (e: unknown) => e as DeliveryError,
  );
