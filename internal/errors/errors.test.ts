import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ERROR_KINDS, KindedError, kindOf, NotFoundError, UnavailableError } from "./error-kind.ts";
import { ERROR_RESPONSES, EXIT_CODES, exitCodeOfCall, responseTo } from "./error-responses.ts";

describe("error kinds", () => {
  it("read the kind an error carries, and call anything else internal", () => {
    expect(kindOf(new NotFoundError("no job"))).toBe("not_found");
    expect(kindOf(new UnavailableError("down"))).toBe("unavailable");
    expect(kindOf({ kind: "throttled" })).toBe("throttled");
    expect(kindOf(new Error("boom"))).toBe("internal");
    expect(kindOf({ kind: "made_up" })).toBe("internal");
    expect(kindOf(undefined)).toBe("internal");
    expect(kindOf("a string")).toBe("internal");
  });

  it("give an error a stable code, the kind unless named", () => {
    expect(new KindedError("payload_too_large", "too big").code).toBe("payload_too_large");
    expect(new NotFoundError("no template", "template_not_found").code).toBe("template_not_found");
  });
});

describe("the error table", () => {
  it.each([
    ["invalid_argument", status.INVALID_ARGUMENT, 400, EXIT_CODES.invalid],
    ["invalid_template", status.INVALID_ARGUMENT, 400, EXIT_CODES.invalid],
    ["not_found", status.NOT_FOUND, 404, EXIT_CODES.notFound],
    ["conflict", status.ALREADY_EXISTS, 409, EXIT_CODES.invalid],
    ["failed_precondition", status.FAILED_PRECONDITION, 409, EXIT_CODES.invalid],
    ["unauthenticated", status.UNAUTHENTICATED, 401, EXIT_CODES.denied],
    ["permission_denied", status.PERMISSION_DENIED, 403, EXIT_CODES.denied],
    ["payload_too_large", status.RESOURCE_EXHAUSTED, 413, EXIT_CODES.invalid],
    ["throttled", status.RESOURCE_EXHAUSTED, 429, EXIT_CODES.unavailable],
    ["unavailable", status.UNAVAILABLE, 503, EXIT_CODES.unavailable],
    ["internal", status.INTERNAL, 500, EXIT_CODES.failed],
  ] as const)("answers %s with gRPC %i, HTTP %i, exit %i", (kind, grpc, http, exit) => {
    expect(ERROR_RESPONSES[kind]).toMatchObject({ grpc, http, exit });
  });

  it("has a row for every kind, and only an unexpected error is not self-explanatory", () => {
    expect(Object.keys(ERROR_RESPONSES).sort()).toEqual([...ERROR_KINDS].sort());
    const needsStack = ERROR_KINDS.filter((kind) => !ERROR_RESPONSES[kind].selfExplanatory);
    expect(needsStack).toEqual(["internal"]);
  });

  it("answers an error of no known kind as internal", () => {
    expect(responseTo(new TypeError("x is undefined"))).toMatchObject({ kind: "internal", http: 500 });
  });

  it("gives a failed call's exit code by the kind the server named, else by its status", () => {
    expect(exitCodeOfCall(status.RESOURCE_EXHAUSTED, "throttled")).toBe(EXIT_CODES.unavailable);
    expect(exitCodeOfCall(status.RESOURCE_EXHAUSTED, "payload_too_large")).toBe(EXIT_CODES.invalid);
    // grpc-js refusing a message over its size limit names no kind
    expect(exitCodeOfCall(status.RESOURCE_EXHAUSTED, undefined)).toBe(EXIT_CODES.invalid);
    expect(exitCodeOfCall(status.DEADLINE_EXCEEDED, undefined)).toBe(EXIT_CODES.unavailable);
    expect(exitCodeOfCall(status.NOT_FOUND, undefined)).toBe(EXIT_CODES.notFound);
    expect(exitCodeOfCall(status.UNKNOWN, undefined)).toBe(EXIT_CODES.failed);
  });
});

describe("the README's error table", () => {
  it("is the table the edges use", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("### Errors"));
    const rows = [...section.matchAll(/^\| `(\w+)` \| [^|]+ \| (\w+) \| (\d+) \| (\d+) \|$/gm)].map(
      ([, kind, grpc, http, exit]) => [kind, grpc, Number(http), Number(exit)],
    );
    const table = ERROR_KINDS.map((kind) => {
      const { grpc, http, exit } = ERROR_RESPONSES[kind];
      return [kind, status[grpc], http, exit];
    });
    expect(rows).toEqual(table);
  });
});
