import type { DeliveryError } from "../internal/provider/delivery-error.ts";
import { composeMessage } from "../internal/provider/mime/compose-message.ts";
import type { OutgoingEmail, Provider, SendResult } from "../internal/provider/provider.ts";

/**
 * A provider for unit tests of what sits above providers: it records what it was given and fails a
 * recipient with the error `failures` holds for it (every time, or the given number of times).
 */
export class RecordingProvider implements Provider {
  readonly name: string;
  readonly sent: OutgoingEmail[] = [];
  /** What sandbox jobs had composed (the real composer), never sent. */
  readonly composed: { email: OutgoingEmail; message: Buffer }[] = [];
  readonly #failures = new Map<string, { error: () => DeliveryError; times: number }>();

  constructor(name = "recording") {
    this.name = name;
  }

  /** Fails sends to `recipient` with `error()`, `times` times (default: always). */
  failFor(recipient: string, error: () => DeliveryError, times = Number.POSITIVE_INFINITY): void {
    this.#failures.set(recipient, { error, times });
  }

  sentTo(recipient: string): OutgoingEmail[] {
    return this.sent.filter((email) => email.to.email === recipient);
  }

  async compose(email: OutgoingEmail): Promise<Buffer> {
    const message = await composeMessage(email, { email: `noreply@${this.name}.test` });
    this.composed.push({ email, message });
    return message;
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    const failure = this.#failures.get(email.to.email);
    if (failure && failure.times > 0) {
      failure.times--;
      throw failure.error();
    }
    this.sent.push(email);
    return { provider: this.name, message_id: `<${email.job_id}@recording.test>` };
  }

  /** Fails like a misconfigured provider when `verifyFailure` is set. */
  verifyFailure: DeliveryError | undefined;

  async verify(): Promise<string> {
    if (this.verifyFailure) throw this.verifyFailure;
    return "records what it is given";
  }

  async close(): Promise<void> {}
}
