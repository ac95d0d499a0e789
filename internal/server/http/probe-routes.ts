import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { HealthMonitor } from "./health-monitor.ts";
import { type RouteFamily, sendJson } from "./http-io.ts";

export interface ProbeRoutesOptions {
  health: HealthMonitor;
  registry: Registry;
}

/**
 * `GET /livez`, `/readyz`, `/health` and `/metrics`. None of them stops while the service drains, so
 * the orchestrator can watch the drain: a draining instance is live but not ready.
 */
export class ProbeRoutes implements RouteFamily {
  readonly #options: ProbeRoutesOptions;

  constructor(options: ProbeRoutesOptions) {
    this.#options = options;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (req.method !== "GET") return false;
    const { health, registry } = this.#options;
    switch (url.pathname) {
      case "/livez": {
        const live = health.live();
        sendJson(res, live.live ? 200 : 503, live);
        return true;
      }
      case "/readyz": {
        const { ready, report } = await health.ready();
        sendJson(res, ready ? 200 : 503, report);
        return true;
      }
      case "/health": {
        const report = await health.health();
        sendJson(res, report.status === "unhealthy" ? 503 : 200, report);
        return true;
      }
      case "/metrics": {
        const text = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(text);
        return true;
      }
      default:
        return false;
    }
  }
}
