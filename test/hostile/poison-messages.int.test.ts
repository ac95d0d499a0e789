import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListDeadLettersRequest } from "../../internal/gen/emailworker/v1/email_worker.ts";
import { until } from "../until.ts";
import { type HostileService, startHostileService } from "./hostile-service.ts";

const MAX_DELIVERIES = 2;

/**
 * Messages a careless or hostile publisher puts straight onto the queue, bypassing the API: each is
 * dead-lettered with a reason that names what is wrong, instead of going round the replicas forever,
 * and the jobs queued behind it are sent.
 */
describe("poison messages on the queue", () => {
  let service: HostileService;
  beforeAll(async () => {
    service = await startHostileService({
      QUEUE_MAX_DELIVERIES: String(MAX_DELIVERIES),
      QUEUE_VISIBILITY_TIMEOUT: "3s",
      // The test kills the service well within this, while the relay holds the message.
      WORKER_PROCESS_TIMEOUT: "2500ms",
    });
  });
  afterAll(async () => service?.close());

  const publish = (body: string, lane = "normal") =>
    service.redis.xadd(`${service.queueName}:${lane}`, "*", "job", body);

  async function deadLetters() {
    const { dead_letters } = await service.admin.call(
      (c) => c.listDeadLetters,
      ListDeadLettersRequest.fromPartial({ page_size: 1000 }),
    );
    return dead_letters;
  }

  const job = (overrides: Record<string, unknown>) =>
    JSON.stringify({
      id: randomUUID(),
      type: "poison",
      recipient_email: "ada@example.org",
      subject: "poison",
      text: "hi",
      ...overrides,
    });

  it("dead-letters malformed messages at once, naming the fault, and sends the job behind them", async () => {
    const depth = 100_000;
    const poisons: [string, string, RegExp][] = [
      ["not JSON", "{not json", /not JSON/],
      ["a JSON array", "[1,2,3]", /not a JSON object/],
      [
        "a tracked reference with a path for an id",
        JSON.stringify({ id: "../../etc/passwd", tracked: true }),
        /UUID/,
      ],
      [
        "a tracked reference to no job",
        JSON.stringify({ id: randomUUID(), tracked: true }),
        /tracked job [0-9a-f-]{36} does not exist/,
      ],
      [
        "metadata nested 100,000 levels deep",
        // Written as text: JSON.stringify itself would overflow the stack on it.
        job({ metadata: "DEEP" }).replace('"DEEP"', `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
        /nested|deep/i,
      ],
      ["a body over 16 MiB", job({ text: "x".repeat(17 * 1024 * 1024) }), /larger than 16777216 bytes/],
      [
        "a recipient with a line break",
        job({ recipient_email: "ada@example.org\r\nBcc: all@example.org" }),
        /recipient_email/,
      ],
    ];
    for (const [, body] of poisons) await publish(body);
    const afterThem = randomUUID();
    await publish(job({ id: afterThem, subject: "after the poison" }));

    await until(
      async () => (await deadLetters()).length >= poisons.length,
      30_000,
      "every poison to be dead-lettered",
    );
    const letters = await deadLetters();
    expect(letters).toHaveLength(poisons.length);
    for (const [what, body, reason] of poisons) {
      // Listings carry the first 3 KiB of each body and its size.
      const letter = letters.find((l) => body.startsWith(l.body) && l.body_bytes === Buffer.byteLength(body));
      expect(letter, what).toBeDefined();
      expect(letter?.reason, what).toMatch(reason);
    }
    await until(
      async () => service.sink.messages.some((m) => m.header("X-Email-Job-Id") === afterThem),
      20_000,
      "the job queued after the poison to be sent",
    );
  });

  it(`dead-letters a message whose worker dies on it every time, after ${MAX_DELIVERIES} deliveries`, {
    timeout: 120_000,
  }, async () => {
    const hanging = "hang-1@example.org";
    const id = randomUUID();
    await publish(job({ id, recipient_email: hanging, subject: "hangs the relay" }));
    for (let delivery = 1; delivery <= MAX_DELIVERIES; delivery++) {
      await until(
        async () => service.sink.attempts.get(hanging) === delivery,
        30_000,
        `delivery ${delivery}`,
      );
      // The pod dies (OOM-killed, evicted) while the relay holds the message.
      await service.restart();
    }

    await until(
      async () => (await deadLetters()).some((l) => l.body.includes(id)),
      30_000,
      "the message to be dead-lettered",
    );
    const letter = (await deadLetters()).find((l) => l.body.includes(id));
    expect(letter?.reason).toBe(`delivered ${MAX_DELIVERIES} times without finishing`);
    expect(service.sink.attempts.get(hanging)).toBe(MAX_DELIVERIES);

    // The replica that dead-lettered it carries on with other work.
    const next = randomUUID();
    await publish(job({ id: next, subject: "next" }));
    await until(
      async () => service.sink.messages.some((m) => m.header("X-Email-Job-Id") === next),
      20_000,
      "the next job to be sent",
    );
  });
});
