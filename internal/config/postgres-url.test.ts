import { describe, expect, it } from "vitest";
import { parseMultiHostUrl, postgresUrlProblem } from "./postgres-url.ts";

describe("parseMultiHostUrl", () => {
  it("lists every host with its port, defaulting to 5432, and reads target_session_attrs", () => {
    const url = parseMultiHostUrl(
      "postgres://app:pw@h1:5433,h2,[::1]:5434/mail?target_session_attrs=read-write",
    );
    expect(url?.hosts).toEqual([
      { host: "h1", port: 5433 },
      { host: "h2", port: 5432 },
      { host: "::1", port: 5434 },
    ]);
    expect(url?.targetSessionAttrs).toBe("read-write");
  });

  it("gives node-postgres a single-host URL per host, keeping credentials and other parameters", () => {
    const url = parseMultiHostUrl(
      "postgresql://app:p%40ss@h1:5433,[::1]:5434/mail?sslmode=require&target_session_attrs=primary",
    );
    expect(url?.forHost({ host: "h1", port: 5433 })).toBe(
      "postgresql://app:p%40ss@h1:5433/mail?sslmode=require",
    );
    expect(url?.forHost({ host: "::1", port: 5434 })).toBe(
      "postgresql://app:p%40ss@[::1]:5434/mail?sslmode=require",
    );
  });

  it("treats several hosts without target_session_attrs as libpq does: any server will do", () => {
    expect(parseMultiHostUrl("postgres://u@a:1,b:2/db")?.targetSessionAttrs).toBe("any");
  });

  it("takes a single host with target_session_attrs, so that a lone server of the wrong role is refused", () => {
    expect(parseMultiHostUrl("postgres://u@a/db?target_session_attrs=standby")?.hosts).toEqual([
      { host: "a", port: 5432 },
    ]);
  });

  it("leaves ordinary single-host URLs to node-postgres", () => {
    expect(parseMultiHostUrl("postgres://u:p@a:5432/db?sslmode=require")).toBeUndefined();
    expect(parseMultiHostUrl("")).toBeUndefined();
    expect(parseMultiHostUrl("postgres:///db?host=/var/run/postgresql")).toBeUndefined();
  });
});

describe("postgresUrlProblem", () => {
  it("names an unknown target_session_attrs and the accepted ones", () => {
    expect(postgresUrlProblem("postgres://u@a,b/db?target_session_attrs=master")).toBe(
      'target_session_attrs "master" is not one of any, read-write, read-only, primary, standby',
    );
  });

  it("names an empty host or a bad port without quoting the password", () => {
    const emptyHost = postgresUrlProblem("postgres://u:secret@a,,b/db");
    expect(emptyHost).toContain("empty");
    expect(postgresUrlProblem("postgres://u:secret@a:5432,b:99999/db")).toBe(
      'host "b" has an invalid port "99999"',
    );
    expect(emptyHost).not.toContain("secret");
  });

  it("accepts the empty default and well-formed URLs", () => {
    expect(postgresUrlProblem("")).toBeUndefined();
    expect(postgresUrlProblem("postgres://u@a:1,b:2/db?target_session_attrs=read-only")).toBeUndefined();
  });
});
