import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { fixKafkajsPendingRequestLoop } from "./kafkajs-fixes.ts";

type Queue = {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

function requestQueue(): Queue {
  const RequestQueue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js") as {
    prototype: Queue;
  };
  const queue = Object.create(RequestQueue.prototype) as Queue;
  Object.assign(queue, { throttledUntil: -1, throttleCheckTimeoutId: null, pending: [] });
  return queue;
}

describe("kafkajs pending-request loop fix", () => {
  it("schedules no check when nothing waits and the broker does not throttle", () => {
    fixKafkajsPendingRequestLoop();
    fixKafkajsPendingRequestLoop();
    const queue = requestQueue();
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it("still checks soon when requests wait, and when the throttle ends", async () => {
    fixKafkajsPendingRequestLoop();
    const waiting = requestQueue();
    let checks = 0;
    waiting.checkPendingRequests = () => {
      checks++;
    };
    waiting.pending = [{}];
    waiting.scheduleCheckPendingRequests();
    expect(waiting.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(checks).toBe(1);

    const throttled = requestQueue();
    throttled.throttledUntil = Date.now() + 1_000;
    throttled.scheduleCheckPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(throttled.throttleCheckTimeoutId ?? undefined);
  });
});
