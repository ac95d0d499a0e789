import type { Logger } from "pino";
import { describe, expect, it, vi } from "vitest";
import { fakeRequest, fakeResponse } from "../../../test/http-fakes.ts";
import type { LinkEvents } from "../../tracking/link-events.ts";
import { LinkTokens, type TrackingClaims } from "../../tracking/link-tokens.ts";
import { linkAction, parseLinkPath, TrackingRoutes } from "./tracking-routes.ts";

describe("parseLinkPath", () => {
  it("reads the kind and the token, with or without .gif", () => {
    expect(parseLinkPath("/t/o/abc.def.gif")).toEqual({ kind: "o", token: "abc.def" });
    expect(parseLinkPath("/t/c/a_b-c.d_e-f")).toEqual({ kind: "c", token: "a_b-c.d_e-f" });
    expect(parseLinkPath("/t/u/abc.def")).toEqual({ kind: "u", token: "abc.def" });
  });

  it("refuses other kinds, tokens without their MAC, and anything after the token", () => {
    for (const path of ["/t/x/abc.def", "/t/o/abc", "/t/o/abc.def/more", "/t/o/abc.def.png", "/t/o/", "/t/"])
      expect(parseLinkPath(path), path).toBeUndefined();
  });
});

describe("linkAction", () => {
  const open: TrackingClaims = { k: "o", j: "job" };
  const click: TrackingClaims = { k: "c", j: "job", u: "https://example.com/" };
  const unsubscribe: TrackingClaims = { k: "u", j: "job", e: "reader@example.org" };

  it("serves the pixel and the redirect on GET only", () => {
    expect(linkAction(open, "GET")).toBe("pixel");
    expect(linkAction(open, "POST")).toBeUndefined();
    expect(linkAction(click, "GET")).toBe("redirect");
    expect(linkAction(click, "HEAD")).toBeUndefined();
    expect(linkAction({ k: "c", j: "job" }, "GET")).toBeUndefined();
  });

  it("unsubscribes on POST and only asks on GET", () => {
    expect(linkAction(unsubscribe, "POST")).toBe("unsubscribe");
    expect(linkAction(unsubscribe, "GET")).toBe("confirm-unsubscribe");
    expect(linkAction(unsubscribe, "DELETE")).toBeUndefined();
  });
});

describe("TrackingRoutes", () => {
  const tokens = new LinkTokens("unit-test-secret");

  function setUp(events: Partial<Record<keyof LinkEvents, () => Promise<void>>> = {}) {
    const calls = {
      open: vi.fn(async () => {}),
      click: vi.fn(async () => {}),
      unsubscribe: vi.fn(async () => {}),
    };
    Object.assign(calls, events);
    const logger = { warn: vi.fn() };
    const routes = new TrackingRoutes({
      links: { tokens, events: calls as unknown as LinkEvents },
      logger: logger as unknown as Logger,
    });
    const { res, reply } = fakeResponse();
    const request = (method: string, path: string) =>
      routes.handle(fakeRequest(method), res, new URL(path, "http://localhost"));
    return { calls, logger, reply, request };
  }

  it("leaves paths outside /t/ to the other routes", async () => {
    expect(await setUp().request("GET", "/v1/emails")).toBe(false);
  });

  it("answers 404 to a link of one kind under another kind's path", async () => {
    const { request, calls } = setUp();
    await expect(request("GET", `/t/c/${tokens.sign({ k: "o", j: "job" })}`)).rejects.toMatchObject({
      kind: "not_found",
    });
    expect(calls.open).not.toHaveBeenCalled();
    expect(calls.click).not.toHaveBeenCalled();
  });

  it("answers 404 to every link when none are configured", async () => {
    const routes = new TrackingRoutes({ links: undefined, logger: {} as Logger });
    const url = new URL(`/t/o/${tokens.sign({ k: "o", j: "job" })}.gif`, "http://localhost");
    await expect(routes.handle(fakeRequest("GET"), fakeResponse().res, url)).rejects.toMatchObject({
      kind: "not_found",
      message: "no such link",
    });
  });

  it("serves the pixel even when the open is not recorded, and logs it", async () => {
    const { request, reply, logger } = setUp({ open: async () => Promise.reject(new Error("db down")) });
    expect(await request("GET", `/t/o/${tokens.sign({ k: "o", j: "job" })}.gif`)).toBe(true);
    expect(reply.status).toBe(200);
    expect(reply.headers).toMatchObject({ "content-type": "image/gif" });
    expect(logger.warn).toHaveBeenCalledOnce();
  });

  it("does not confirm an unsubscribe that was not stored", async () => {
    const { request, reply } = setUp({ unsubscribe: async () => Promise.reject(new Error("db down")) });
    const token = tokens.sign({ k: "u", j: "job", e: "reader@example.org" });
    await expect(request("POST", `/t/u/${token}`)).rejects.toThrow("db down");
    expect(reply.status).toBeUndefined();
  });

  it("asks before unsubscribing on GET, without storing anything", async () => {
    const { request, reply, calls } = setUp();
    const token = tokens.sign({ k: "u", j: "job", e: "reader@example.org" });
    expect(await request("GET", `/t/u/${token}`)).toBe(true);
    expect(reply.body).toContain('<form method="post">');
    expect(calls.unsubscribe).not.toHaveBeenCalled();
  });
});
