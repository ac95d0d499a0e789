import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requires } from "../outside-tools.ts";
import { createTestDatabase, type TestDatabase } from "../postgres.ts";
import { type ServiceProcess, smtpSinkEnv, startServiceProcess } from "../service-process.ts";
import { type SmtpSink, startSmtpSink } from "../smtp-sink.ts";
import {
  DEBIAN_GOPATH,
  GRPC_PYTHON_PLUGIN,
  hasGoGrpc,
  hasPythonGrpc,
  PYTHON,
  WELL_KNOWN_TYPES,
} from "./toolchains.ts";

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const API_KEY = "test-clients-key-not-a-secret";

const go = requires("Go with protoc-gen-go, protoc-gen-go-grpc and Debian's Go gRPC libraries", hasGoGrpc());
const python = requires(
  "protoc, grpc_python_plugin and python3-grpcio for /usr/bin/python3",
  hasPythonGrpc(),
);

/** What test/clients/{go,python} print: one JSON line. */
interface ClientReport {
  client: string;
  ok: boolean;
  job_id?: string;
  tracked: boolean;
  status?: string;
  polls: number;
  events?: string[];
  invalid?: { code: string; violations: { field: string; description: string }[] };
  unauthenticated_code?: string;
  health?: string;
  error?: string;
}

/** Runs a command in the repository root; its output goes into the error when it fails. */
async function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 180_000) {
  try {
    return await execFileAsync(command, args, { cwd: root, env, timeout: timeoutMs, maxBuffer: 16 << 20 });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${(error as Error).message}\n${stdout}\n${stderr}`);
  }
}

/** Runs a client against the service and returns its JSON line (even when it exited 1, to show why). */
async function runClient(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<ClientReport> {
  let stdout: string;
  let stderr: string;
  try {
    ({ stdout, stderr } = await execFileAsync(command, args, { cwd: root, env, timeout: 90_000 }));
  } catch (error) {
    ({ stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string });
  }
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as ClientReport;
  } catch {
    throw new Error(`${command} printed no JSON line:\n${stdout}\n${stderr}`);
  }
}

/**
 * Clients in other languages, generated from proto/ the way the README shows (protoc with the Go and
 * Python plugins), against the service as a process: a tracked email (with its `sender`) reaches
 * `sent`, a bad one comes back INVALID_ARGUMENT with a google.rpc.BadRequest the client can decode,
 * the API key is needed, and grpc.health.v1 says SERVING.
 */
describe("gRPC clients generated from proto/", () => {
  let work: string;
  let database: TestDatabase | undefined;
  let sink: SmtpSink | undefined;
  let service: ServiceProcess | undefined;
  /** Only PATH and what the toolchains need: nothing cached or configured outside `work`. */
  let toolEnv: Record<string, string>;
  let clientEnv: (recipient: string) => Record<string, string>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "ew-clients-"));
    toolEnv = { PATH: process.env.PATH ?? "", HOME: work, LANG: "C.UTF-8" };
    if (go.skip && python.skip) return;
    database = await createTestDatabase("ew_clients");
    sink = await startSmtpSink();
    service = await startServiceProcess({
      DATABASE_URL: database.url,
      QUEUE_POLL_INTERVAL: "100ms",
      API_KEYS: JSON.stringify([
        { name: "clients", sha256: createHash("sha256").update(API_KEY).digest("hex"), scopes: ["send"] },
      ]),
      ...smtpSinkEnv(sink.port),
    });
    const address = service.grpcAddress;
    clientEnv = (recipient) => ({
      ...toolEnv,
      EMAIL_WORKER_ADDRESS: address,
      EMAIL_WORKER_API_KEY: API_KEY,
      EMAIL_WORKER_RECIPIENT: recipient,
      EMAIL_WORKER_DEADLINE: "60",
    });
  });

  afterAll(async () => {
    await service?.stop();
    await sink?.close();
    await database?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The one message the sink got for `recipient`. */
  const received = (recipient: string) => sink?.messages.filter((m) => m.to.includes(recipient)) ?? [];

  const expectReport = (report: ClientReport, client: string) => {
    expect(report, report.error).toMatchObject({
      client,
      ok: true,
      tracked: true,
      status: "sent",
      unauthenticated_code: "UNAUTHENTICATED",
      health: "SERVING",
    });
    expect(report.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(report.events).toContain("sent");
    expect(report.invalid?.code).toBe("INVALID_ARGUMENT");
    expect(report.invalid?.violations.map((v) => v.field)).toEqual(["recipient_email"]);
    expect(report.invalid?.violations[0]?.description).not.toBe("");
  };

  it.skipIf(go.skip)(
    `Go: sends tracked, polls to sent, decodes BadRequest, checks health${go.label}`,
    {
      timeout: 300_000,
    },
    async () => {
      // GOPATH mode over Debian's Go libraries: offline, and the build cache stays in `work`.
      const gopath = join(work, "gopath");
      mkdirSync(join(gopath, "src"), { recursive: true });
      const env = {
        ...toolEnv,
        GO111MODULE: "off",
        GOPATH: `${gopath}:${DEBIAN_GOPATH}`,
        GOCACHE: join(work, "go-cache"),
        GOENV: "off",
        GOFLAGS: "",
        GOPROXY: "off",
        GOTOOLCHAIN: "local",
      };
      // go_package puts the code at github.com/email-worker/email-worker/gen/go/emailworker/v1 under src/.
      // Health and google.rpc come from grpc-go and genproto: generating them again would register twice.
      await run(
        "protoc",
        [
          "-I",
          "proto",
          "-I",
          WELL_KNOWN_TYPES,
          `--go_out=${gopath}/src`,
          `--go-grpc_out=${gopath}/src`,
          "proto/emailworker/v1/email_worker.proto",
        ],
        env,
      );
      const binary = join(work, "go-client");
      await run("go", ["build", "-o", binary, "./test/clients/go"], env, 240_000);

      const recipient = "go-client@example.org";
      const report = await runClient(binary, [], clientEnv(recipient));
      expectReport(report, "go");
      // `sender` (field 10, the wire format's `from`) reached the message.
      expect(received(recipient)).toHaveLength(1);
      expect(received(recipient)[0]?.header("from")).toBe('"Go Client" <go-client@shop.example>');
    },
  );

  it.skipIf(python.skip)(
    `Python: sends tracked, polls to sent, decodes BadRequest, checks health${python.label}`,
    {
      timeout: 120_000,
    },
    async () => {
      const out = join(work, "python");
      mkdirSync(out, { recursive: true });
      const plugin = `--plugin=protoc-gen-grpc_python=${GRPC_PYTHON_PLUGIN}`;
      const grpcOut = [`--python_out=${out}`, `--grpc_python_out=${out}`, plugin];
      await run(
        "protoc",
        ["-I", "proto", "-I", WELL_KNOWN_TYPES, ...grpcOut, "proto/emailworker/v1/email_worker.proto"],
        toolEnv,
      );
      // google.rpc for the BadRequest (googleapis-common-protos is not packaged in Debian).
      await run(
        "protoc",
        [
          "-I",
          "proto",
          "-I",
          WELL_KNOWN_TYPES,
          `--python_out=${out}`,
          "proto/google/rpc/status.proto",
          "proto/google/rpc/error_details.proto",
        ],
        toolEnv,
      );
      // Health at the top level (health_pb2): a grpc/ package in the output would clash with grpcio's.
      await run("protoc", ["-I", "proto/grpc/health/v1", ...grpcOut, "health.proto"], toolEnv);

      const recipient = "python-client@example.org";
      const report = await runClient(PYTHON, ["test/clients/python/client.py"], {
        ...clientEnv(recipient),
        PYTHONPATH: out,
        PYTHONNOUSERSITE: "1",
        PYTHONDONTWRITEBYTECODE: "1",
      });
      expectReport(report, "python");
      expect(received(recipient)).toHaveLength(1);
      expect(received(recipient)[0]?.header("from")).toBe('"Python Client" <python-client@shop.example>');
    },
  );
});
