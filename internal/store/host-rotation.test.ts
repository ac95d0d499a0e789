import { describe, expect, it } from "vitest";
import { HostRotation, sessionMatches } from "./host-rotation.ts";

const primary = { inRecovery: false, readOnly: false };
const standby = { inRecovery: true, readOnly: true };
const readOnlyPrimary = { inRecovery: false, readOnly: true };

describe("sessionMatches", () => {
  it("judges each target_session_attrs as libpq does", () => {
    expect(sessionMatches("any", standby)).toBe(true);
    expect(sessionMatches("read-write", primary)).toBe(true);
    expect(sessionMatches("read-write", standby)).toBe(false);
    expect(sessionMatches("read-write", readOnlyPrimary)).toBe(false);
    expect(sessionMatches("read-only", readOnlyPrimary)).toBe(true);
    expect(sessionMatches("read-only", primary)).toBe(false);
    expect(sessionMatches("primary", readOnlyPrimary)).toBe(true);
    expect(sessionMatches("primary", standby)).toBe(false);
    expect(sessionMatches("standby", standby)).toBe(true);
    expect(sessionMatches("standby", primary)).toBe(false);
  });
});

describe("HostRotation", () => {
  const hosts = [
    { host: "a", port: 1 },
    { host: "b", port: 2 },
    { host: "c", port: 3 },
  ];

  it("starts at the first host and stays on a host until it fails", () => {
    const rotation = new HostRotation(hosts);
    expect(rotation.current()).toBe(0);
    expect(rotation.current()).toBe(0);
    rotation.failed(0);
    expect(rotation.host(rotation.current())).toEqual({ host: "b", port: 2 });
  });

  it("moves on once when several connections fail on the same host together", () => {
    const rotation = new HostRotation(hosts);
    rotation.failed(0);
    rotation.failed(0);
    rotation.failed(0);
    expect(rotation.current()).toBe(1);
  });

  it("wraps round after the last host, so a failed-over primary that returns is found again", () => {
    const rotation = new HostRotation(hosts);
    rotation.failed(0);
    rotation.failed(1);
    rotation.failed(2);
    expect(rotation.current()).toBe(0);
  });

  it("refuses an empty host list", () => {
    expect(() => new HostRotation([])).toThrow("at least one host");
  });
});
