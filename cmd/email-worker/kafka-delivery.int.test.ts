import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LANES } from "../../internal/job/priority.ts";
import { readTopic } from "../../internal/queue/kafka/topic-reader.ts";
import { allTopics, kafkaTopics } from "../../internal/queue/kafka/topics.ts";
import type { DatabaseRouter } from "../../internal/store/database-router.ts";
import { type KafkaTestBroker, startKafkaBroker } from "../../test/kafka-broker.ts";
import { hasCommand, hasKafkaBroker, requires } from "../../test/outside-tools.ts";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { type RunningProcess, startProcess } from "../../test/process.ts";
import { type SinkProcess, startSinkProcess } from "../../test/smtp-sink-process.ts";
import { openMigratedRouter } from "../../test/store.ts";
import { until } from "../../test/until.ts";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));

/**
 * The service on Kafka as operators run it: worker processes consuming lane topics from a real
 * wire-protocol broker, jobs produced the way an outside service produces them, delivered to an
 * SMTP server in another process.
 */
const kafka = requires("a Kafka broker (a C compiler and make build the mock one)", hasKafkaBroker());
const kcat = requires("kcat", hasCommand("kcat"));

describe.skipIf(kafka.skip)(`email-worker processes delivering from Kafka to SMTP${kafka.label}`, () => {
  let broker: KafkaTestBroker;
  let database: TestDatabase;
  let router: DatabaseRouter;
  let producer: Producer;
  let sink: SinkProcess | undefined;
  let name: string;
  const workers: RunningProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker();
    database = await createTestDatabase();
    router = await openMigratedRouter({ DATABASE_URL: database.url });
    producer = new Kafka({
      brokers: broker.brokers,
      clientId: "outside-service",
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
  });

  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      worker.child.kill("SIGKILL");
      await worker.exit();
    }
    await sink?.stop();
    sink = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await router?.destroy();
    await database?.drop();
    await broker?.stop();
  });

  async function freshRun(options: { dataDelayMs?: number } = {}): Promise<SinkProcess> {
    name = `ew-e2e-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
    await broker.createTopics(allTopics(kafkaTopics(name)).map((topic) => ({ name: topic, partitions: 3 })));
    sink = await startSinkProcess(options);
    return sink;
  }

  function startWorker(smtp: SinkProcess, extraEnv: Record<string, string> = {}): RunningProcess {
    const cwd = mkdtempSync(join(tmpdir(), "ew-kafka-e2e-"));
    dirs.push(cwd);
    const worker = startProcess(entry, {
      cwd,
      env: {
        PORT: "0",
        GRPC_PORT: "0",
        LOG_LEVEL: "info",
        QUEUE_DRIVER: "kafka",
        QUEUE_NAME: name,
        KAFKA_BROKERS: broker.brokers.join(","),
        KAFKA_GROUP_ID: `${name}-workers`,
        KAFKA_SESSION_TIMEOUT: "6s",
        QUEUE_POLL_INTERVAL: "200ms",
        QUEUE_VISIBILITY_TIMEOUT: "3s",
        DATABASE_URL: database.url,
        EMAIL_DEFAULT_PROVIDER: "smtp",
        SMTP_HOST: "127.0.0.1",
        SMTP_PORT: String(smtp.smtpPort),
        SMTP_USE_TLS: "false",
        SMTP_FROM_EMAIL: "noreply@example.com",
        WORKER_COUNT: "10",
        WORKER_BATCH_SIZE: "10",
        WORKER_PROCESS_TIMEOUT: "2s",
        WORKER_SHUTDOWN_TIMEOUT: "10s",
        ...extraEnv,
      },
    });
    workers.push(worker);
    return worker;
  }

  /** Produces jobs as a Go or Java service would: the JSON wire format on the lane topics. */
  async function produce(count: number, label: string): Promise<{ fast: string[]; tracked: string[] }> {
    const fast: string[] = [];
    const tracked: string[] = [];
    const byLane = new Map<string, { value: string }[]>();
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      const isTracked = i % 2 === 0;
      const lane = LANES[i % 4] ?? "normal";
      const topic = `${name}.${lane}`;
      const list = byLane.get(topic) ?? [];
      list.push({
        value: JSON.stringify({
          id,
          type: isTracked ? "email_verification" : "welcome_email",
          recipient_email: `${label}-${i}@example.org`,
          subject: "Hello {{name}}",
          html: "<p>Hello {{name}}</p>",
          template_data: { name: `user ${i}` },
          tracked: isTracked,
          priority: lane,
        }),
      });
      byLane.set(topic, list);
      (isTracked ? tracked : fast).push(id);
    }
    await producer.sendBatch({
      topicMessages: [...byLane].map(([topic, messages]) => ({ topic, messages })),
    });
    return { fast, tracked };
  }

  const allDelivered = async (smtp: SinkProcess, ids: readonly string[]) => {
    const { per_job } = await smtp.stats();
    return ids.every((id) => (per_job[id] ?? 0) >= 1);
  };

  const trackedStatuses = async (ids: readonly string[]) =>
    (
      await router.master
        .selectFrom("email_jobs")
        .select("status")
        .where("id", "in", [...ids])
        .execute()
    ).map((r) => r.status);

  const httpBase = (worker: RunningProcess) =>
    `http://127.0.0.1:${Number(/"http_port":(\d+)/.exec(worker.output())?.[1])}`;

  it("delivers 1,000 jobs produced straight to the lane topics, each exactly once", {
    timeout: 120_000,
  }, async () => {
    const smtp = await freshRun();
    const worker = startWorker(smtp);
    await worker.waitFor('"msg":"email-worker started"');
    const { fast, tracked } = await produce(1_000, "mixed");
    await until(() => allDelivered(smtp, [...fast, ...tracked]), 60_000, "1,000 deliveries");
    await sleep(500);
    const stats = await smtp.stats();
    expect(stats.total).toBe(1_000);
    expect(Object.values(stats.per_job).every((n) => n === 1)).toBe(true);
    const statuses = await trackedStatuses(tracked);
    expect(statuses).toHaveLength(500);
    expect(statuses.every((s) => s === "sent")).toBe(true);
  });

  it.skipIf(kcat.skip)(
    `delivers a job produced with the README's kcat line${kcat.label}`,
    { timeout: 60_000 },
    async () => {
      const smtp = await freshRun();
      const worker = startWorker(smtp);
      await worker.waitFor('"msg":"email-worker started"');
      const job = JSON.stringify({
        type: "welcome_email",
        recipient_email: "ada@example.org",
        subject: "Welcome, {{user_name}}!",
        html: "<h1>Hello {{user_name}}</h1>",
        template_data: { user_name: "Ada" },
      });
      const kcat = spawn("kcat", ["-P", "-b", broker.brokers.join(","), "-t", `${name}.normal`], {
        stdio: ["pipe", "inherit", "inherit"],
      });
      kcat.stdin.end(`${job}\n`);
      const code = await new Promise((resolve, reject) => {
        kcat.on("exit", resolve);
        kcat.on("error", (error) =>
          reject(new Error(`kcat: ${error.message} (npm run setup:test installs it)`)),
        );
      });
      expect(code).toBe(0);
      await until(async () => (await smtp.stats()).total === 1, 30_000, "the kcat job");
    },
  );

  it("dead-letters a malformed message with its reason and keeps the partition moving", {
    timeout: 60_000,
  }, async () => {
    const smtp = await freshRun();
    const worker = startWorker(smtp);
    await worker.waitFor('"msg":"email-worker started"');
    const id = randomUUID();
    await producer.send({
      topic: `${name}.high`,
      messages: [
        { partition: 0, value: "{not json" },
        { partition: 0, value: JSON.stringify({ type: "bad" }) },
        {
          partition: 0,
          value: JSON.stringify({
            id,
            type: "welcome_email",
            recipient_email: "after@example.org",
            subject: "s",
            html: "<p>h</p>",
          }),
        },
      ],
    });
    await until(() => allDelivered(smtp, [id]), 30_000, "the job behind the malformed ones");
    const kafka = new Kafka({ brokers: broker.brokers, clientId: "dlq-reader", logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      let letters: Awaited<ReturnType<typeof readTopic>> = [];
      const readLetters = async () => {
        letters = await readTopic(kafka, admin, `${name}.dead`, { groupPrefix: name });
        return letters.length === 2;
      };
      await until(readLetters, 30_000, "two dead letters");
      const described = letters.map((l) => ({
        body: l.message.value?.toString(),
        lane: l.message.headers?.lane?.toString(),
        reason: l.message.headers?.reason?.toString() ?? "",
        source: l.message.headers?.source?.toString() ?? "",
      }));
      described.sort((a, b) => a.source.localeCompare(b.source));
      expect(described[0]).toMatchObject({ body: "{not json", lane: "high", source: `${name}.high/0/0` });
      expect(described[0]?.reason).toMatch(/json/i);
      expect(described[1]?.reason).toMatch(/recipient_email/);
    } finally {
      await admin.disconnect();
    }
  });

  it("loses nothing when a worker is killed with SIGKILL mid-run; a second worker finishes", {
    timeout: 120_000,
  }, async () => {
    const smtp = await freshRun({ dataDelayMs: 5 });
    const first = startWorker(smtp);
    await first.waitFor('"msg":"email-worker started"');
    const { fast, tracked } = await produce(600, "crash");
    await until(async () => (await smtp.stats()).total >= 100, 30_000, "the first worker to get going");
    first.child.kill("SIGKILL");
    await first.exit();
    const atKill = (await smtp.stats()).total;
    expect(atKill).toBeLessThan(600);

    // The killed member still holds its partitions until its session (6 s) times out.
    startWorker(smtp);
    await until(() => allDelivered(smtp, [...fast, ...tracked]), 60_000, "every job after the crash");
    await sleep(1_000);
    const { per_job } = await smtp.stats();
    const extra = (ids: string[]) => ids.reduce((sum, id) => sum + Math.max((per_job[id] ?? 0) - 1, 0), 0);
    const fastDuplicates = extra(fast);
    const trackedDuplicates = extra(tracked);
    // Offsets are committed right after jobs finish, so what goes out twice is what the killed worker
    // had sending (WORKER_COUNT = 10), what it had sent and was still recording outside its slots (as
    // many again at most), and what finished while its commit was on the wire.
    expect(fastDuplicates + trackedDuplicates).toBeLessThanOrEqual(30);
    console.info(
      `kafka crash test: ${atKill} sent before SIGKILL; duplicates afterwards: ${fastDuplicates} fast, ${trackedDuplicates} tracked`,
    );
    expect((await trackedStatuses(tracked)).every((s) => s === "sent")).toBe(true);
  });

  it("retries produce timeouts, and reconnects and resumes after the broker was down; /readyz follows", {
    timeout: 120_000,
  }, async () => {
    if (broker.real) return;
    const smtp = await freshRun();
    const worker = startWorker(smtp, { QUEUE_VISIBILITY_TIMEOUT: "3s" });
    await worker.waitFor('"msg":"email-worker started"');
    const base = httpBase(worker);
    const send = async (recipient: string) => {
      const response = await fetch(`${base}/v1/emails`, {
        method: "POST",
        body: JSON.stringify({
          type: "welcome_email",
          recipient_email: recipient,
          subject: "Hi",
          html: "<p>Hi</p>",
        }),
      });
      return response;
    };

    // Three Produce requests time out (REQUEST_TIMED_OUT = 7): the idempotent producer retries.
    await broker.command("errors 0 3 7");
    expect((await send("timeouts@example.org")).status).toBe(202);
    await until(async () => (await smtp.stats()).total === 1, 30_000, "the job sent through timeouts");

    await broker.command("down 1");
    await until(async () => (await fetch(`${base}/readyz`)).status === 503, 30_000, "/readyz to fail");
    await broker.command("up 1");
    await until(async () => (await fetch(`${base}/readyz`)).status === 200, 30_000, "/readyz to recover");
    const { fast, tracked } = await produce(20, "after-outage");
    await until(() => allDelivered(smtp, [...fast, ...tracked]), 60_000, "jobs produced after the outage");
    expect((await smtp.stats()).total).toBe(21);
  });
});
