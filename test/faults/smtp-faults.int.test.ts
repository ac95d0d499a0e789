import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DeliveryError } from "../../internal/provider/delivery-error.ts";
import { SmtpProvider } from "../../internal/provider/smtp/smtp-provider.ts";
import { type FaultProxy, startFaultProxy } from "../fault-proxy.ts";
import { deliveryFailure, outgoingEmails } from "../outgoing-email.ts";
import { type SickBehaviour, type SickSmtpServer, startSickSmtpServer } from "../sick-smtp-server.ts";

const TIMEOUT_MS = 1_000;
const POOL_SIZE = 3;

const email = outgoingEmails({
  job_type: "fault",
  subject: "Hello",
  text: "Hello",
  headers: {},
  attachments: [],
});

/** Open TCP sockets of this process (the provider's, the sick server's and the proxy's). */
const openSockets = () => process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length;

/**
 * An SMTP relay misbehaving in each of the ways real ones do. Every fault ends within a bounded
 * time, as the kind of failure it is (an ambiguous one — the relay may have the message — is never
 * failed over), and leaves the pool able to send: no leaked sockets, no lost slots.
 */
describe("SMTP provider against a sick relay", () => {
  let server: SickSmtpServer;
  let proxy: FaultProxy;
  const providers: SmtpProvider[] = [];
  beforeAll(async () => {
    server = await startSickSmtpServer();
    proxy = await startFaultProxy(server.port);
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close()));
    server.behaviour = "healthy";
    proxy.set({ kind: "pass" });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  const provider = (options: { port?: number; useTls?: boolean; poolSize?: number } = {}) => {
    const made = new SmtpProvider({
      host: "127.0.0.1",
      port: options.port ?? server.port,
      useTls: options.useTls ?? false,
      accounts: [],
      sender: { email: "noreply@shop.example" },
      poolSize: options.poolSize ?? POOL_SIZE,
      timeoutMs: TIMEOUT_MS,
    });
    providers.push(made);
    return made;
  };

  /** The failure of one send under `behaviour`, and how long it took. */
  async function failure(behaviour: SickBehaviour, smtp = provider()) {
    server.behaviour = behaviour;
    const started = performance.now();
    const error = await deliveryFailure(smtp.send(email("ada@example.org")));
    return { error, ms: performance.now() - started };
  }

  const cases: [SickBehaviour, Partial<DeliveryError>][] = [
    ["greet-421", { kind: "throttled", code: "smtp_421" }],
    ["silent", { kind: "transient", ambiguous: false }],
    ["stall-after-data", { kind: "transient", ambiguous: true }],
    ["drop-after-data", { kind: "transient", ambiguous: true }],
    ["drop-mid-data", { kind: "transient" }],
  ];
  for (const [behaviour, expected] of cases)
    it(`fails a send to a relay that does "${behaviour}" as ${expected.kind}${expected.ambiguous ? " (ambiguous)" : ""}, within its timeout`, async () => {
      const { error, ms } = await failure(behaviour);
      expect(error).toMatchObject(expected);
      // Bounded: the connect/greeting/reply timeout, plus slack for a loaded machine.
      expect(ms).toBeLessThan(TIMEOUT_MS * 4);
    });

  it("treats a TLS handshake that fails after STARTTLS as a failure of the relay, within its timeout", async () => {
    const { error, ms } = await failure("tls-garbage", provider({ useTls: true }));
    expect(error?.kind).toMatch(/^(transient|config)$/);
    expect(error?.message).toBeTruthy();
    expect(ms).toBeLessThan(TIMEOUT_MS * 4);
  });

  it("gives up on a TLS handshake the relay never answers within its timeout, and frees the pool's slot", async () => {
    const smtp = provider({ useTls: true });
    // More stalled handshakes than the pool has slots: each must end and give its slot back.
    for (let i = 0; i < POOL_SIZE + 1; i++) {
      const { error, ms } = await failure("tls-silent", smtp);
      expect(error).toMatchObject({ kind: "transient", ambiguous: false });
      expect(ms).toBeLessThan(TIMEOUT_MS * 4);
    }
  });

  it("waits out slow replies that stay within the timeout, and sends", async () => {
    server.behaviour = "slow";
    server.slowReplyMs = TIMEOUT_MS / 4;
    await expect(provider().send(email("ada@example.org"))).resolves.toMatchObject({ provider: "smtp" });
  });

  it("never starts a send whose job gave up while it waited for a pooled connection", async () => {
    const smtp = provider({ poolSize: 1 });
    server.behaviour = "slow";
    server.slowReplyMs = TIMEOUT_MS / 4;
    const accepted = server.accepted;
    const first = smtp.send(email("first@example.org"));
    const giveUp = new AbortController();
    const second = smtp.send(email("second@example.org"), giveUp.signal);
    setTimeout(() => giveUp.abort(), 20);
    // Nothing of it went out: a plain failure, which may fail over.
    expect(await deliveryFailure(second)).toMatchObject({
      kind: "transient",
      code: "send_timeout",
      ambiguous: false,
    });
    await first;
    // The connection the second send waited for is free now; it must not carry the abandoned message.
    await smtp.send(email("third@example.org"));
    expect(server.accepted - accepted).toBe(2);
  });

  it("fails a connection refused at once, and through a black hole within its timeout", async () => {
    const refused = await deliveryFailure(provider({ port: 1 }).send(email("ada@example.org")));
    expect(refused).toMatchObject({ kind: "transient", ambiguous: false });
    proxy.set({ kind: "blackhole" });
    const started = performance.now();
    const lost = await deliveryFailure(provider({ port: proxy.port }).send(email("ada@example.org")));
    expect(lost).toMatchObject({ kind: "transient" });
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS * 4);
  });

  it("leaks no socket and no pool slot over 200 faults of every kind, and still sends afterwards", {
    timeout: 120_000,
  }, async () => {
    const smtp = provider({ port: proxy.port });
    await smtp.send(email("warm@example.org"));
    const socketsBefore = openSockets();
    const faults: SickBehaviour[] = ["greet-421", "drop-after-data", "drop-mid-data", "stall-after-data"];
    for (let i = 0; i < 200; i++) {
      const behaviour = faults[i % faults.length] as SickBehaviour;
      server.behaviour = behaviour;
      // Every fourth round the network itself resets whatever is open.
      if (i % 4 === 3) proxy.set({ kind: "reset" });
      await smtp.send(email(`fault-${i}@example.org`)).catch(() => {});
      proxy.set({ kind: "pass" });
    }
    server.behaviour = "healthy";
    const accepted = server.accepted;
    // A full pool's worth of sends at once: every slot must still be usable.
    await Promise.all(
      Array.from({ length: POOL_SIZE * 2 }, (_, i) => smtp.send(email(`after-${i}@example.org`))),
    );
    expect(server.accepted - accepted).toBe(POOL_SIZE * 2);
    expect(server.openConnections).toBeLessThanOrEqual(POOL_SIZE);
    expect(proxy.openConnections).toBeLessThanOrEqual(POOL_SIZE);
    // Each pooled connection is four sockets of this process (the provider's, the proxy's two and
    // the server's): one was open before the faults, a full pool's worth may be open now.
    expect(openSockets()).toBeLessThanOrEqual(socketsBefore + 4 * (POOL_SIZE - 1));
  });
});
