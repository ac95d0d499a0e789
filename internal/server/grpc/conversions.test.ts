import { describe, expect, it } from "vitest";
import { DeadLetterCause, EmailJob } from "../../gen/emailworker/v1/email_worker.ts";
import { parseJob } from "../../job/parse-job.ts";
import { encodeJob } from "../../job/queue-message.ts";
import { DEAD_LETTER_BODY_BYTES } from "../../queue/dead-letter-body.ts";
import { deadLetterView, jobInputFromProto } from "./conversions.ts";

const letter = (body: string) => ({
  id: "1-0",
  lane: "normal" as const,
  body,
  reason: "body is not JSON",
  attempt: 0,
  failed_at: new Date(0),
});

describe("deadLetterView", () => {
  it("keeps a body that fits, with its size", () => {
    expect(deadLetterView(letter('{"a":"ü"}'))).toMatchObject({
      body: '{"a":"ü"}',
      body_bytes: 10,
      body_truncated: false,
    });
  });

  it("says why the letter was given up as a cause, with the error code when there is one", () => {
    expect(
      deadLetterView({ ...letter("{}"), reason: "gave up after 4 attempts: smtp_421: try later" }),
    ).toMatchObject({ cause: DeadLetterCause.DEAD_LETTER_CAUSE_ATTEMPTS_EXHAUSTED, error_code: "smtp_421" });
    expect(deadLetterView({ ...letter("{}"), reason: "malformed message: body is not JSON" })).toMatchObject({
      cause: DeadLetterCause.DEAD_LETTER_CAUSE_MALFORMED,
      error_code: "",
    });
  });

  it("cuts a long body to the limit, never through a character, and says how large it was", () => {
    for (const filler of ["x", "ü", "日", "🎉"]) {
      const body = `{"text":"${filler.repeat(10_000)}"}`;
      const view = deadLetterView(letter(body));
      expect(view.body_truncated).toBe(true);
      expect(view.body_bytes).toBe(Buffer.byteLength(body));
      const bytes = Buffer.byteLength(view.body);
      expect(bytes).toBeLessThanOrEqual(DEAD_LETTER_BODY_BYTES);
      expect(bytes).toBeGreaterThan(DEAD_LETTER_BODY_BYTES - 4);
      expect(body.startsWith(view.body)).toBe(true);
      expect(view.body).not.toContain("\uFFFD");
    }
  });
});

describe("jobInputFromProto", () => {
  const proto = EmailJob.fromPartial({
    type: "welcome_email",
    recipient_email: "ada@example.org",
    subject: "Hi",
    text: "Hello",
    sender: { email: "bookings@example.com", name: "Bookings" },
  });

  it("puts the proto's `sender` where the wire format has always had it: `from`", () => {
    const input = jobInputFromProto(proto);
    expect(input.from).toEqual({ email: "bookings@example.com", name: "Bookings" });
    expect(input).not.toHaveProperty("sender");
    const queued = JSON.parse(encodeJob(parseJob(input)));
    expect(queued.from).toEqual({ email: "bookings@example.com", name: "Bookings" });
    expect(queued).not.toHaveProperty("sender");
  });

  it("leaves `from` out when the sender is empty, so the provider's configured sender is used", () => {
    expect(jobInputFromProto({ ...proto, sender: { email: "", name: "" } })).not.toHaveProperty("from");
    expect(jobInputFromProto({ ...proto, sender: undefined })).not.toHaveProperty("from");
  });
});
