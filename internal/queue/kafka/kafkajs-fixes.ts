import { createRequire } from "node:module";

/** The part of kafkajs's internal RequestQueue this fix touches. */
interface RequestQueueInternals {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's interval for re-checking requests held back by broker throttling. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;
const fixed = Symbol.for("email-worker.kafkajs.pending-request-loop-fixed");

/**
 * kafkajs 2.2.4 re-schedules its pending-request check every millisecond for as long as a broker
 * connection lives, even with nothing pending (tulios/kafkajs#1704, #1751: a negative delay that
 * Node 24 also warns about). An idle worker spent 7% of a core on it. The check only matters when
 * requests wait, or while the broker throttles us; this makes it run only then. Idempotent.
 */
export function fixKafkajsPendingRequestLoop(): void {
  const require = createRequire(import.meta.url);
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as {
    prototype: RequestQueueInternals & { [fixed]?: true };
  };
  const proto = RequestQueue.prototype;
  if (proto[fixed]) return;
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueInternals) {
    if (this.throttleCheckTimeoutId) return;
    let delay = this.throttledUntil - Date.now();
    if (this.pending.length > 0) delay = delay > 0 ? delay : CHECK_PENDING_REQUESTS_INTERVAL;
    else if (delay <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delay);
  };
  proto[fixed] = true;
}
