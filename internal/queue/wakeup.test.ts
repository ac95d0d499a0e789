import { describe, expect, it } from "vitest";
import { Wakeup } from "./wakeup.ts";

describe("Wakeup", () => {
  it("ends every wait when woken, when stopped, or when its time is up", async () => {
    const wakeup = new Wakeup();
    const order: string[] = [];
    const controller = new AbortController();
    const woken = wakeup.wait(60_000).then(() => order.push("woken"));
    const stopped = wakeup.wait(60_000, controller.signal).then(() => order.push("stopped"));
    const timedOut = wakeup.wait(1).then(() => order.push("timed out"));
    await timedOut;
    controller.abort();
    await stopped;
    wakeup.wakeAll();
    await woken;
    expect(order).toEqual(["timed out", "stopped", "woken"]);
  });
});
