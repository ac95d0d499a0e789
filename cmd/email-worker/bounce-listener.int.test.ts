import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SmtpConnection } from "../../internal/provider/smtp/smtp-connection.ts";
import { freePort } from "../../test/free-port.ts";
import { createTestDatabase } from "../../test/postgres.ts";
import { startProcess } from "../../test/process.ts";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ew-bounce-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

/** On a throwaway PostgreSQL database: the embedded one takes seconds to create. */
async function env(bouncePort: number): Promise<Record<string, string>> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return {
    DATABASE_URL: database.url,
    PORT: "0",
    GRPC_PORT: "0",
    SMTP_RETURN_PATH: "bounces@bounces.shop.example",
    BOUNCE_LISTEN_HOST: "127.0.0.1",
    BOUNCE_LISTEN_PORT: String(bouncePort),
  };
}

describe("email-worker with bounce.listen_port set", () => {
  it("takes bounces on that port, logs it at start-up, and stops listening on shutdown", async () => {
    const bouncePort = await freePort();
    const worker = startProcess(entry, { cwd: workdir(), env: await env(bouncePort) });
    cleanups.push(() => {
      worker.child.kill("SIGKILL");
    });
    await worker.waitFor('"msg":"email-worker started"');
    expect(worker.output()).toContain(`"bounce_port":${bouncePort}`);

    const connection = await SmtpConnection.open({
      host: "127.0.0.1",
      port: bouncePort,
      secure: false,
      requireTLS: false,
      ignoreTLS: true,
      timeoutMs: 5_000,
    });
    const info = await connection.send(
      { from: "", to: ["bounces@bounces.shop.example"] },
      Buffer.from("Subject: hello\r\n\r\nnot a bounce\r\n"),
    );
    connection.quit();
    expect(info.accepted).toEqual(["bounces@bounces.shop.example"]);
    await worker.waitFor('"outcome":"not_a_bounce"');

    worker.child.kill("SIGTERM");
    expect(await worker.exit()).toEqual({ code: 0, signal: null });
    const { server } = await new Promise<{ server: Server }>((resolve, reject) => {
      // The port is free again: the listener closed with the service.
      const probe = createServer();
      probe.once("error", reject);
      probe.listen(bouncePort, "127.0.0.1", () => resolve({ server: probe }));
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("stops at start-up, naming the port's problem, when the bounce port is taken", async () => {
    const { server, port } = await listening();
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const worker = startProcess(entry, { cwd: workdir(), env: await env(port) });
    cleanups.push(() => {
      worker.child.kill("SIGKILL");
    });
    expect((await worker.exit()).code).toBe(1);
    expect(worker.output()).toContain("EADDRINUSE");
    expect(worker.output()).not.toContain('"msg":"email-worker started"');
  });
});
