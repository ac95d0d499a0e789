import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import {
  type EmailWorkerServiceServer,
  EmailWorkerServiceService,
} from "../../gen/emailworker/v1/email_worker.ts";
import { DescriptorReflection } from "./descriptor-reflection.ts";
import { readDescriptorSet } from "./descriptor-set.ts";
import { GRPC_MAX_RECEIVE_MESSAGE_BYTES } from "./message-limits.ts";

const EMAIL_WORKER_SERVICE = "emailworker.v1.EmailWorkerService";
const HEALTH_SERVICE = "grpc.health.v1.Health";

interface GrpcTlsOptions {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  clientCaFile?: string | undefined;
}

interface GrpcServerOptions {
  port: number;
  host?: string;
  handlers: EmailWorkerServiceServer;
  tls?: GrpcTlsOptions | undefined;
  logger: Logger;
}

function credentials(tls: GrpcTlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.clientCaFile ? readFileSync(tls.clientCaFile) : null,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    tls.clientCaFile !== undefined,
  );
}

/**
 * The gRPC server: EmailWorkerService, the standard grpc.health.v1.Health (its status follows
 * readiness) and server reflection. Health and reflection need no API key.
 */
export class GrpcServer {
  readonly #options: GrpcServerOptions;
  readonly #server = new grpc.Server({ "grpc.max_receive_message_length": GRPC_MAX_RECEIVE_MESSAGE_BYTES });
  readonly #health = new HealthImplementation({ "": "SERVING", [EMAIL_WORKER_SERVICE]: "SERVING" });
  /** Open Health.Watch streams: they never end by themselves, so stop() ends them. */
  readonly #watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  constructor(options: GrpcServerOptions) {
    this.#options = options;
    this.#server.addService(EmailWorkerServiceService, options.handlers);
    this.#health.addToServer(this.#watchesKept());
    new DescriptorReflection(readDescriptorSet(), [EMAIL_WORKER_SERVICE, HEALTH_SERVICE]).addToServer(
      this.#server,
    );
  }

  async start(): Promise<number> {
    const address = `${this.#options.host ?? "0.0.0.0"}:${this.#options.port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, credentials(this.#options.tls), (error, port) =>
        error ? reject(error) : resolve(port),
      );
    });
  }

  /** What grpc.health.v1 reports, for the whole server and for EmailWorkerService. */
  setServing(serving: boolean): void {
    const value = serving ? "SERVING" : "NOT_SERVING";
    this.#health.setStatus("", value);
    this.#health.setStatus(EMAIL_WORKER_SERVICE, value);
  }

  /**
   * The server as the health implementation sees it, with its Watch handler wrapped so the server
   * knows the open streams.
   */
  #watchesKept(): grpc.Server {
    const addService: grpc.Server["addService"] = (definition, handlers) => {
      const watch = handlers.watch as grpc.handleServerStreamingCall<unknown, unknown>;
      this.#server.addService(definition, {
        ...handlers,
        watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          this.#watches.add(call);
          call.on("close", () => this.#watches.delete(call));
          call.on("cancelled", () => this.#watches.delete(call));
          watch(call);
        },
      });
    };
    return { addService } as grpc.Server;
  }

  /**
   * Lets calls in progress finish until the deadline, then cancels them. Health.Watch streams are
   * ended at once (with OK, after their NOT_SERVING update from draining): they would otherwise hold
   * shutdown for the whole deadline, and their clients reconnect to another instance anyway.
   */
  async stop(deadlineMs: number): Promise<void> {
    for (const call of this.#watches) call.end();
    this.#watches.clear();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#options.logger.warn("gRPC calls still running at the deadline: cancelling them");
        this.#server.forceShutdown();
        resolve();
      }, deadlineMs);
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
