import { describe, expect, it } from "vitest";
import { abortable } from "./abortable.ts";
import { DeliveryError } from "./delivery-error.ts";

const resolvesAfter = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(resolve, ms, value));

describe("abortable", () => {
  it("gives up at the abort with an ambiguous, transient failure", async () => {
    const controller = new AbortController();
    const waiting = abortable(resolvesAfter(1_000, "sent"), controller.signal);
    controller.abort();
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ kind: "transient", code: "send_timeout", ambiguous: true });
  });

  it("with a grace, takes the request's own outcome when it comes within it, and gives up after it otherwise", async () => {
    const controller = new AbortController();
    const finishing = abortable(resolvesAfter(50, "sent"), controller.signal, 500);
    controller.abort();
    expect(await finishing).toBe("sent");
    const aborted = AbortSignal.abort();
    const stuck = abortable(resolvesAfter(2_000, "late"), aborted, 50);
    await expect(stuck).rejects.toMatchObject({ code: "send_timeout", ambiguous: true });
  });
});
