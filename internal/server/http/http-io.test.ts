import { describe, expect, it } from "vitest";
import { fakeResponse } from "../../../test/http-fakes.ts";
import {
  MAX_BODY_BYTES,
  parseJson,
  readBody,
  readJson,
  sendJson,
  WEBHOOK_MAX_BODY_BYTES,
} from "./http-io.ts";

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  yield* parts;
}

/** `count` chunks of `size` bytes: one buffer, repeated, so a 16 MiB body costs 1 MiB. */
function repeated(count: number, size: number): Buffer[] {
  const chunk = Buffer.alloc(size, 0x61);
  return Array.from({ length: count }, () => chunk);
}

describe("readBody", () => {
  it("joins the chunks", async () => {
    expect((await readBody(chunks(Buffer.from("ab"), Buffer.from("cd")))).toString()).toBe("abcd");
  });

  it("takes a body of exactly MAX_BODY_BYTES", async () => {
    const body = await readBody(chunks(...repeated(8, MAX_BODY_BYTES / 8)));
    expect(body.length).toBe(MAX_BODY_BYTES);
  });

  it("answers 413 one byte over MAX_BODY_BYTES", async () => {
    const over = readBody(chunks(...repeated(8, MAX_BODY_BYTES / 8), Buffer.from("x")));
    await expect(over).rejects.toMatchObject({
      kind: "payload_too_large",
      message: `request body over ${MAX_BODY_BYTES} bytes`,
    });
  });
});

describe("readBody with a limit", () => {
  it("stops one byte past the given limit, having read no further", async () => {
    let read = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (const chunk of repeated(32, 64 * 1024)) {
        read += chunk.length;
        yield chunk;
      }
    }
    await expect(readBody(counted(), WEBHOOK_MAX_BODY_BYTES)).rejects.toMatchObject({
      kind: "payload_too_large",
      message: `request body over ${WEBHOOK_MAX_BODY_BYTES} bytes`,
    });
    expect(read).toBe(WEBHOOK_MAX_BODY_BYTES + 64 * 1024);
  });

  it("refuses a declared Content-Length over the limit without reading a byte", async () => {
    let read = false;
    async function* body(): AsyncGenerator<Buffer> {
      read = true;
      yield Buffer.from("x");
    }
    const req = Object.assign(body(), { headers: { "content-length": String(WEBHOOK_MAX_BODY_BYTES + 1) } });
    await expect(readBody(req, WEBHOOK_MAX_BODY_BYTES)).rejects.toMatchObject({ kind: "payload_too_large" });
    expect(read).toBe(false);
  });
});

describe("parseJson and readJson", () => {
  it("parse UTF-8 JSON", async () => {
    expect(parseJson(Buffer.from('{"name":"Zoë"}'))).toEqual({ name: "Zoë" });
    expect(await readJson(chunks(Buffer.from("[1,"), Buffer.from("2]")))).toEqual([1, 2]);
  });

  it("answer 400 to a body that is not JSON", () => {
    expect(() => parseJson(Buffer.from("{"))).toThrow(
      expect.objectContaining({ kind: "invalid_argument", message: "request body is not JSON" }),
    );
  });

  it("answer 400 naming an integer JSON numbers cannot hold exactly, instead of changing it", () => {
    expect(() => parseJson(Buffer.from('{"metadata":{"booking_id":9007199254740993}}'))).toThrow(
      expect.objectContaining({
        kind: "invalid_argument",
        code: "inexact_number",
        message: expect.stringContaining("9007199254740993"),
      }),
    );
    // Exact ones pass: the largest safe integer, long digit runs in strings, and decimals.
    expect(
      parseJson(Buffer.from('{"a":9007199254740991,"b":"12345678901234567890","c":1234567890123456.5}')),
    ).toEqual({ a: 9007199254740991, b: "12345678901234567890", c: 1234567890123456.5 });
  });

  it("answer 400 to invalid UTF-8 instead of replacing it, the sender's text unchanged or refused", () => {
    const body = Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(() => parseJson(body)).toThrow(
      expect.objectContaining({ kind: "invalid_argument", message: "request body is not valid UTF-8" }),
    );
  });
});

describe("sendJson", () => {
  it("asks a client to come back in a few seconds with every 503", () => {
    const { res, reply } = fakeResponse();
    sendJson(res, 503, { error: "a dependency is unavailable; try again" });
    expect(reply.headers).toMatchObject({ "retry-after": "5" });
  });

  it("writes the body with its length in bytes, not characters", () => {
    const { res, reply } = fakeResponse();
    sendJson(res, 202, { name: "Zoë" });
    expect(reply).toEqual({
      status: 202,
      headers: { "content-type": "application/json", "content-length": 15 },
      body: '{"name":"Zoë"}',
    });
  });
});
