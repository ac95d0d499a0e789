import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { errorResponse, noRoute } from "./http-errors.ts";
import { type RouteFamily, sendJson } from "./http-io.ts";

export interface HttpListenerOptions {
  port: number;
  host?: string;
  /** Asked in order; the first that answers a request owns it. */
  routes: readonly RouteFamily[];
  logger: Logger;
}

/**
 * The listening socket: hands each request to the first route family that takes it and turns
 * whatever a route throws into the reply. It knows no route itself, so a worker process, which serves
 * only its probes, loads none of the API's modules.
 */
export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #server: Server;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => this.#fail(error, req, res));
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port, this.#options.host ?? "0.0.0.0", resolve);
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    for (const routes of this.#options.routes) if (await routes.handle(req, res, url)) return;
    throw noRoute(req.method, url.pathname);
  }

  #fail(error: unknown, req: IncomingMessage, res: ServerResponse): void {
    const { status, body } = errorResponse(error);
    // Every other status is an answer the service meant to give; a 500 is a fault to look into.
    if (status === 500) this.#options.logger.error({ err: error, path: req.url }, "request failed");
    // Refused before its body was read (unsigned, unauthenticated, too large): hang up rather than
    // read and discard the rest, so a refused upload costs neither memory nor time.
    if (!req.complete) res.setHeader("connection", "close");
    sendJson(res, status, body);
  }
}
