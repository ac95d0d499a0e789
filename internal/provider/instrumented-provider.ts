import type { Metrics } from "../metrics/metrics.ts";
import { asDeliveryError } from "./delivery-error.ts";
import type { OutgoingEmail, Provider, SendResult } from "./provider.ts";

/** Counts every request to a provider, its failures by kind, and how long it took. */
export class InstrumentedProvider implements Provider {
  readonly name: string;
  readonly #inner: Provider;
  readonly #metrics: Metrics;

  constructor(inner: Provider, metrics: Metrics) {
    this.name = inner.name;
    this.#inner = inner;
    this.#metrics = metrics;
    // Only where the inner provider has it; composing is not a request to the provider: not counted.
    const compose = inner.compose?.bind(inner);
    if (compose) this.compose = compose;
  }

  readonly compose?: (email: OutgoingEmail) => Promise<Buffer>;

  async send(email: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
    const stop = this.#metrics.providerDuration.startTimer({ provider: this.name });
    try {
      const result = await this.#inner.send(email, signal);
      this.#metrics.providerRequests.inc({ provider: this.name, outcome: "success" });
      return result;
    } catch (error) {
      this.#metrics.providerRequests.inc({ provider: this.name, outcome: "failure" });
      this.#metrics.providerErrors.inc({ provider: this.name, kind: asDeliveryError(error).kind });
      throw error;
    } finally {
      stop();
    }
  }

  verify(signal: AbortSignal): Promise<string> {
    return this.#inner.verify(signal);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
