import { describe, expect, it } from "vitest";
import type { EmailJob } from "./email-job.ts";
import { parseJob } from "./parse-job.ts";
import {
  decodeQueueMessage,
  encodeJob,
  encodeNextAttempt,
  encodeTrackedReference,
  MalformedMessageError,
} from "./queue-message.ts";

const ID = "8f4e5c9a-1111-4222-8333-944455556666";
const job = (fields: Record<string, unknown> = {}): EmailJob =>
  parseJob({
    id: ID,
    type: "welcome_email",
    recipient_email: "ada@example.org",
    subject: "Hi",
    text: "Hello",
    ...fields,
  });
const noDefault = () => {
  throw new Error("asked for an id although the message has one");
};

describe("queue messages", () => {
  it("carry a whole job there and back, scheduled time included", () => {
    const original = job({ scheduled_at: "2030-01-02T03:04:05Z", template_data: { n: [1, { a: null }] } });
    expect(decodeQueueMessage(encodeJob(original), noDefault)).toEqual({ kind: "job", job: original });
  });

  it("take the sender from a published message's `from` key, as before the gRPC field became `sender`", () => {
    const published = JSON.stringify({
      id: ID,
      type: "welcome_email",
      recipient_email: "ada@example.org",
      subject: "Hi",
      text: "Hello",
      from: { email: "bookings@example.com", name: "Bookings" },
    });
    const decoded = decodeQueueMessage(published, noDefault);
    expect(decoded.kind === "job" && decoded.job.from).toEqual({
      email: "bookings@example.com",
      name: "Bookings",
    });
    expect(JSON.parse(encodeJob(job({ from: { email: "bookings@example.com" } }))).from).toEqual({
      email: "bookings@example.com",
    });
  });

  it("carry a tracked job's reference, and a tracked job's next attempt as its reference", () => {
    expect(decodeQueueMessage(encodeTrackedReference(ID), noDefault)).toEqual({
      kind: "tracked_reference",
      id: ID,
    });
    expect(JSON.parse(encodeNextAttempt(job({ tracked: true })))).toEqual({ id: ID, tracked: true });
    expect(decodeQueueMessage(encodeNextAttempt(job()), noDefault)).toMatchObject({ kind: "job" });
  });

  it("read a whole tracked job published by another service as a job, not a reference", () => {
    const decoded = decodeQueueMessage(encodeJob(job({ tracked: true })), noDefault);
    expect(decoded).toMatchObject({ kind: "job", job: { id: ID, tracked: true } });
  });

  it("name a job that arrives without an id, asking only then", () => {
    const { id: _, ...withoutId } = job();
    const decoded = decodeQueueMessage(JSON.stringify(withoutId), () => ID);
    expect(decoded).toMatchObject({ kind: "job", job: { id: ID } });
  });

  it("refuse metadata or template_data nested 100k deep quickly, naming the field", () => {
    const started = Date.now();
    for (const field of ["metadata", "template_data"]) {
      const nested = `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`;
      const body = encodeJob(job()).replace(/}$/, `,"${field}":${nested}}`);
      expect(() => decodeQueueMessage(body, noDefault)).toThrow(
        new MalformedMessageError(`invalid email job: ${field}: must be nested at most 64 deep`),
      );
    }
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("refuse a body larger than 16 MiB without parsing it", () => {
    const huge = encodeJob(job({ text: "x" })).replace('"x"', `"${"é".repeat(8 * 1024 * 1024 + 1)}"`);
    expect(() => decodeQueueMessage(huge, noDefault)).toThrow(/body is larger than 16777216 bytes/);
  });

  it.each([
    ["{not json", "body is not JSON"],
    ["[1,2]", "body is not a JSON object"],
    ["null", "body is not a JSON object"],
    ['{"id":"42","tracked":true}', "a tracked job reference needs a UUID id"],
    ['{"type":"welcome_email"}', "recipient_email"],
  ])("refuse %s as malformed, saying why", (body, reason) => {
    const error = (() => {
      try {
        decodeQueueMessage(body, () => ID);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error).toMatchObject({ kind: "malformed_message" });
    expect((error as Error).message).toContain(reason);
  });
});
