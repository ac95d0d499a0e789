import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AudienceBatch,
  type AudienceFormat,
  AudienceFormatError,
  audienceFormatOf,
  readAudience,
} from "./audience-reader.ts";

type Chunk = string | Uint8Array;

async function* stream(parts: Iterable<Chunk>): AsyncGenerator<Chunk> {
  yield* parts;
}

async function batchesOf(
  input: Chunk | Chunk[],
  format: AudienceFormat,
  options?: { batchSize?: number; maxRecordBytes?: number },
): Promise<AudienceBatch[]> {
  const batches: AudienceBatch[] = [];
  for await (const batch of readAudience(stream(Array.isArray(input) ? input : [input]), format, options))
    batches.push(batch);
  return batches;
}

/** Everything read, batches flattened, with the final counts. */
async function read(
  input: Chunk | Chunk[],
  format: AudienceFormat,
  options?: { batchSize?: number; maxRecordBytes?: number },
) {
  const batches = await batchesOf(input, format, options);
  const last = batches.at(-1);
  return {
    recipients: batches.flatMap((b) => b.recipients),
    errors: batches.flatMap((b) => b.errors),
    lines: last?.lines,
    bytes: last?.bytes,
  };
}

async function formatError(
  input: Chunk | Chunk[],
  format: AudienceFormat = "csv",
): Promise<AudienceFormatError> {
  const error = await batchesOf(input, format).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(AudienceFormatError);
  return error as AudienceFormatError;
}

/** `bytes` cut at each of `offsets` (sorted, within it). */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const offset of [...offsets, bytes.length]) {
    parts.push(bytes.subarray(from, offset));
    from = offset;
  }
  return parts;
}

const utf8 = (text: string) => Buffer.from(text);

describe("audienceFormatOf", () => {
  it("names CSV and JSON Lines by their media types, parameters and case aside", () => {
    expect(audienceFormatOf("text/csv")).toBe("csv");
    expect(audienceFormatOf(" Text/CSV ; charset=utf-8")).toBe("csv");
    expect(audienceFormatOf("application/csv")).toBe("csv");
    for (const type of [
      "application/x-ndjson",
      "application/ndjson",
      "application/jsonl",
      "application/x-jsonl",
      "application/jsonlines",
      "application/x-jsonlines; charset=UTF-8",
    ])
      expect(audienceFormatOf(type)).toBe("jsonl");
  });

  it("knows no other", () => {
    for (const type of [undefined, "", "application/json", "application/json-seq", "text/plain", "text/csvx"])
      expect(audienceFormatOf(type)).toBeUndefined();
  });
});

describe("readAudience: CSV", () => {
  it("reads recipients with their line, name and other columns as template_data", async () => {
    const input = "email,name,city\nada@example.org,Ada,London\nbob@example.org,Bob,Paris\n";
    expect(await read(input, "csv")).toEqual({
      recipients: [
        { line: 2, email: "ada@example.org", name: "Ada", template_data: { city: "London" } },
        { line: 3, email: "bob@example.org", name: "Bob", template_data: { city: "Paris" } },
      ],
      errors: [],
      lines: 3,
      bytes: utf8(input).length,
    });
  });

  it("matches header names without case or surrounding spaces, in any order, past a byte order mark", async () => {
    const input = "\uFEFF City , EMAIL ,Name\r\nLondon,ada@example.org,Ada\r\n";
    expect(await read(input, "csv")).toMatchObject({
      recipients: [{ line: 2, email: "ada@example.org", name: "Ada", template_data: { City: "London" } }],
      bytes: utf8(input).length,
    });
  });

  it("takes CRLF or LF, a last line without a line end, and skips blank lines", async () => {
    const input = "email\r\n\r\na@b.io\r\n  \t\n\nc@d.io\ne@f.io";
    const result = await read(input, "csv");
    expect(result.recipients.map((r) => [r.line, r.email])).toEqual([
      [3, "a@b.io"],
      [6, "c@d.io"],
      [7, "e@f.io"],
    ]);
    expect(result).toMatchObject({ errors: [], lines: 7 });
  });

  it('reads quoted fields: "" escapes, commas and line breaks inside, later line numbers right', async () => {
    const input = [
      "email,name,note",
      'a@b.io,"Lovelace, Ada","said ""hi"""',
      'c@d.io,Bob,"two\r\nlines"',
      '"e@f.io","Eve","three',
      "",
      'lines"',
      "g@h.io,Gus,",
    ].join("\n");
    expect((await read(input, "csv")).recipients).toEqual([
      { line: 2, email: "a@b.io", name: "Lovelace, Ada", template_data: { note: 'said "hi"' } },
      { line: 3, email: "c@d.io", name: "Bob", template_data: { note: "two\r\nlines" } },
      { line: 5, email: "e@f.io", name: "Eve", template_data: { note: "three\n\nlines" } },
      { line: 8, email: "g@h.io", name: "Gus", template_data: { note: "" } },
    ]);
  });

  it("takes a quote inside an unquoted field as a character", async () => {
    const input = 'email,size\na@b.io,5" screen\nc@d.io,7\n';
    expect((await read(input, "csv")).recipients).toMatchObject([
      { line: 2, template_data: { size: '5" screen' } },
      { line: 3, template_data: { size: "7" } },
    ]);
  });

  it("trims email and name, takes an empty name for none, keeps other cells as written", async () => {
    const input = "email,name,city,code\n  ada@example.org , ,  ,007\n";
    expect((await read(input, "csv")).recipients).toEqual([
      { line: 2, email: "ada@example.org", template_data: { city: "  ", code: "007" } },
    ]);
  });

  it("merges a template_data column of JSON objects with the other columns, its keys winning", async () => {
    const input = [
      "email,template_data,city,plan",
      'a@b.io,"{""city"": ""Rome"", ""visits"": 3}",Paris,pro',
      "c@d.io,,Oslo,free",
      'e@f.io,"{""nested"": {""a"": [1, null]}}",,',
    ].join("\n");
    expect((await read(input, "csv")).recipients.map((r) => r.template_data)).toEqual([
      { city: "Rome", visits: 3, plan: "pro" },
      { city: "Oslo", plan: "free" },
      { city: "", plan: "", nested: { a: [1, null] } },
    ]);
  });

  it("reports a template_data cell that is not a JSON object", async () => {
    const input = 'email,template_data\na@b.io,{nope\nc@d.io,[1]\ne@f.io,"""x"""\ng@h.io,{}\n';
    expect(await read(input, "csv")).toMatchObject({
      recipients: [{ line: 5, email: "g@h.io", template_data: {} }],
      errors: [
        { line: 2, reason: "template_data: must be a JSON object (not valid JSON)" },
        { line: 3, reason: "template_data: must be an object" },
        { line: 4, reason: "template_data: must be an object" },
      ],
    });
  });

  it("keeps a column named __proto__ as a key", async () => {
    const [recipient] = (await read("email,__proto__\na@b.io,x\n", "csv")).recipients;
    expect(Object.getPrototypeOf(recipient?.template_data)).toBe(Object.prototype);
    expect(Object.entries(recipient?.template_data ?? {})).toEqual([["__proto__", "x"]]);
  });

  it("reports bad rows by line and reads on", async () => {
    const input = [
      "email,name,city",
      "not-an-address,Ada,London",
      "a@b.io,Ada",
      "c@d.io,Bob,Paris,extra",
      ",Nobody,Oslo",
      ",,",
      'e@f.io,"Eve"x,Rome',
      "g@h.io,Gus\u0001,Bern",
      "i@j.io,Ian,Kyiv",
    ].join("\n");
    expect(await read(input, "csv")).toEqual({
      recipients: [{ line: 9, email: "i@j.io", name: "Ian", template_data: { city: "Kyiv" } }],
      errors: [
        { line: 2, reason: "email: must be a valid email address" },
        { line: 3, reason: "has 2 fields, the header has 3" },
        { line: 4, reason: "has 4 fields, the header has 3" },
        { line: 5, reason: "email: is required" },
        { line: 7, reason: "column 2: text after the closing quote" },
        { line: 8, reason: "name: must not contain control characters (U+0001)" },
      ],
      lines: 9,
      bytes: utf8(input).length,
    });
  });

  it("reports a quoted field left open at the end of the input at the line it opened", async () => {
    const input = 'email,note\na@b.io,fine\nc@d.io,"open\nand on\n';
    expect(await read(input, "csv")).toMatchObject({
      recipients: [{ line: 2, email: "a@b.io" }],
      errors: [{ line: 3, reason: "quoted field is not closed at the end of the input" }],
      lines: 4,
    });
  });

  it("reports a row that is not UTF-8, and keeps a U+FFFD that is", async () => {
    const input = Buffer.concat([
      utf8("email,name\na@b.io,Ad"),
      Buffer.from([0xc3, 0x28]),
      utf8("\nc@d.io,\uFFFD Zoë\n"),
    ]);
    expect(await read(input, "csv")).toMatchObject({
      recipients: [{ line: 3, email: "c@d.io", name: "\uFFFD Zoë" }],
      errors: [{ line: 2, reason: "not valid UTF-8" }],
    });
  });

  describe("refuses the whole upload when the header is unusable", () => {
    it("no header row", async () => {
      expect((await formatError("")).message).toBe("the CSV has no header row");
      expect((await formatError("\uFEFF\r\n\n  \n")).message).toBe("the CSV has no header row");
    });

    it("no email column", async () => {
      expect((await formatError("name,city\nAda,London\n")).message).toBe(
        "CSV header (line 1) has no email column",
      );
      // A first row of data is not a header.
      expect((await formatError("ada@example.org,Ada\n")).message).toContain("has no email column");
    });

    it("a column named twice, or not at all", async () => {
      expect((await formatError("email,City, city \n")).message).toBe(
        'CSV header (line 1): column "city" appears twice',
      );
      expect((await formatError("Email,EMAIL\n")).message).toContain('column "EMAIL" appears twice');
      expect((await formatError("email,,city\n")).message).toBe("CSV header (line 1): column 2 has no name");
    });

    it("broken quotes, bytes that are not UTF-8, or a header longer than a record may be", async () => {
      expect((await formatError('email,"name\n')).message).toContain("quoted field is not closed");
      expect((await formatError('email,"name"x\n')).message).toContain("text after the closing quote");
      expect((await formatError(Buffer.from([0x65, 0xff, 0x0a]))).message).toContain("not valid UTF-8");
      const error = await batchesOf(`email,${"x".repeat(100)}\n`, "csv", { maxRecordBytes: 50 }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(AudienceFormatError);
      expect(error.message).toBe("CSV header (line 1) is too long");
    });

    it("as an invalid_argument", async () => {
      const error = await formatError("name\n");
      expect(error.kind).toBe("invalid_argument");
      expect(error.code).toBe("invalid_audience");
    });
  });
});

describe("readAudience: JSON Lines", () => {
  it("reads one recipient per line, skipping blank lines, with CRLF or LF", async () => {
    const input = [
      '\uFEFF{"email": "ada@example.org", "name": "Ada", "template_data": {"plan": "pro", "n": [1]}}',
      "",
      '  {"email":"bob@example.org"}  ',
      "   ",
      '{"email":"eve@example.org","name":""}',
    ].join("\r\n");
    expect(await read(input, "jsonl")).toEqual({
      recipients: [
        { line: 1, email: "ada@example.org", name: "Ada", template_data: { plan: "pro", n: [1] } },
        { line: 3, email: "bob@example.org", template_data: {} },
        { line: 5, email: "eve@example.org", template_data: {} },
      ],
      errors: [],
      lines: 5,
      bytes: utf8(input).length,
    });
  });

  it("reports lines that are not JSON or not a recipient, by line, and reads on", async () => {
    const input = [
      '{"email": "a@b.io"',
      '["a@b.io"]',
      '{"email": "nope", "city": "Paris"}',
      '{"email": "c@d.io", "template_data": {"x": 1e999}}',
      '{"email": "e@f.io", "name": "Eve\\nBcc: x@y.io"}',
      '{"email": "g@h.io"}',
      '{"email": "i@j.io", "name": "é"}',
    ].join("\n");
    expect(await read(input, "jsonl")).toEqual({
      recipients: [
        { line: 6, email: "g@h.io", template_data: {} },
        { line: 7, email: "i@j.io", name: "é", template_data: {} },
      ],
      errors: [
        { line: 1, reason: "not valid JSON" },
        { line: 2, reason: "recipient: must be a JSON object" },
        {
          line: 3,
          reason:
            "city: is not a recipient field (email, name, template_data); email: must be a valid email address",
        },
        { line: 4, reason: expect.stringMatching(/^template_data\.x: must hold only JSON values/) },
        { line: 5, reason: "name: must not contain line breaks (header injection)" },
      ],
      lines: 7,
      bytes: utf8(input).length,
    });
  });

  it("reads an empty upload as no recipients", async () => {
    expect(await batchesOf([], "jsonl")).toEqual([{ recipients: [], errors: [], lines: 0, bytes: 0 }]);
    expect(await batchesOf("\n\n", "jsonl")).toEqual([{ recipients: [], errors: [], lines: 2, bytes: 2 }]);
    expect(await batchesOf("\uFEFF", "jsonl")).toEqual([{ recipients: [], errors: [], lines: 0, bytes: 3 }]);
    expect(await batchesOf(["\uFEFF", "  "], "jsonl")).toEqual([
      { recipients: [], errors: [], lines: 1, bytes: 5 },
    ]);
  });
});

describe("readAudience: records longer than maxRecordBytes", () => {
  it("skips one as a row error and reads on, in both formats", async () => {
    const csv = `email,note\na@b.io,${"x".repeat(100)}\nc@d.io,"${"y\n".repeat(50)}"\ne@f.io,short\n`;
    expect(await read(csv, "csv", { maxRecordBytes: 60 })).toMatchObject({
      recipients: [{ line: 54, email: "e@f.io" }],
      errors: [
        { line: 2, reason: "record is longer than 60 bytes" },
        { line: 3, reason: "record is longer than 60 bytes" },
      ],
      lines: 54,
    });
    const jsonl = `{"email":"a@b.io","name":"${"x".repeat(100)}"}\n{"email":"c@d.io"}\n`;
    expect(await read(jsonl, "jsonl", { maxRecordBytes: 60 })).toMatchObject({
      recipients: [{ line: 2, email: "c@d.io" }],
      errors: [{ line: 1, reason: "record is longer than 60 bytes" }],
    });
  });

  it("allows a record of exactly maxRecordBytes, its CRLF aside", async () => {
    const row = `a@b.io,${"x".repeat(13)}`;
    expect(row).toHaveLength(20);
    const result = await read(`email,note\r\n${row}\r\n${row}x\r\n`, "csv", { maxRecordBytes: 20 });
    expect(result.recipients.map((r) => r.line)).toEqual([2]);
    expect(result.errors).toEqual([{ line: 3, reason: "record is longer than 20 bytes" }]);
  });

  it("streams past a huge record without holding it", async () => {
    const chunk = "z".repeat(64 * 1024);
    async function* huge() {
      yield "email,note\nhead@b.io,";
      for (let i = 0; i < 320; i++) yield chunk; // 20 MiB on one line
      yield "\nnext@b.io,after\n";
    }
    const batches: AudienceBatch[] = [];
    for await (const batch of readAudience(huge(), "csv")) batches.push(batch);
    expect(batches.flatMap((b) => b.errors)).toEqual([
      { line: 2, reason: "record is longer than 65536 bytes" },
    ]);
    expect(batches.flatMap((b) => b.recipients.map((r) => r.email))).toEqual(["next@b.io"]);
  });
});

describe("readAudience: batches", () => {
  const rows = (count: number) =>
    `email\n${Array.from({ length: count }, (_, i) => `user${i}@example.org`).join("\n")}\n`;

  it("hands over batchSize recipients at a time, errors with the batch they came in, then the rest", async () => {
    const input = "email\na@b.io\nbad\nc@d.io\nd@e.io\nbad2\ne@f.io\n";
    const batches = await batchesOf(input, "csv", { batchSize: 2 });
    expect(batches).toEqual([
      {
        recipients: [
          expect.objectContaining({ email: "a@b.io" }),
          expect.objectContaining({ email: "c@d.io" }),
        ],
        errors: [{ line: 3, reason: "email: must be a valid email address" }],
        lines: 4,
        bytes: "email\na@b.io\nbad\nc@d.io\n".length,
      },
      {
        recipients: [
          expect.objectContaining({ email: "d@e.io" }),
          expect.objectContaining({ email: "e@f.io" }),
        ],
        errors: [{ line: 6, reason: "email: must be a valid email address" }],
        lines: 7,
        bytes: input.length,
      },
      { recipients: [], errors: [], lines: 7, bytes: input.length },
    ]);
  });

  it("defaults to batches of 1000", async () => {
    const batches = await batchesOf(rows(2500), "csv");
    expect(batches.map((b) => b.recipients.length)).toEqual([1000, 1000, 500]);
  });

  it("hands over a batch of batchSize errors too, so bad rows alone stay flat", async () => {
    async function* bad() {
      yield "email\n";
      // Each bad row costs a thrown validation error (~10 µs): 20,000 make the point.
      for (let i = 0; i < 20_000; i += 1000) yield "x\n".repeat(1000);
    }
    let errors = 0;
    for await (const batch of readAudience(bad(), "csv", { batchSize: 500 })) {
      expect(batch.errors.length).toBeLessThanOrEqual(500);
      errors += batch.errors.length;
    }
    expect(errors).toBe(20_000);
  });

  it("reads a lazily made audience batch by batch, never far ahead of its consumer", async () => {
    const total = 200_000;
    const rowsPerChunk = 100;
    let produced = 0;
    async function* lazy() {
      yield "email,name,city\n";
      while (produced < total) {
        let chunk = "";
        for (let i = 0; i < rowsPerChunk; i++, produced++)
          chunk += `user${produced}@example.org,User ${produced},City ${produced % 50}\n`;
        yield utf8(chunk);
      }
    }
    let read = 0;
    let batches = 0;
    for await (const batch of readAudience(lazy(), "csv", { batchSize: 1000 })) {
      expect(batch.recipients.length).toBeLessThanOrEqual(1000);
      read += batch.recipients.length;
      batches++;
      // What was made but not handed over fits in the chunk being split.
      expect(produced - read).toBeLessThanOrEqual(rowsPerChunk);
      expect(batch.lines).toBe(read + 1);
    }
    expect(read).toBe(total);
    expect(batches).toBe(total / 1000 + 1);
  });

  it("checks its options", async () => {
    await expect(batchesOf("email\n", "csv", { batchSize: 0 })).rejects.toThrow(RangeError);
    await expect(batchesOf("email\n", "csv", { maxRecordBytes: 0.5 })).rejects.toThrow(RangeError);
  });
});

describe("readAudience: chunk boundaries", () => {
  const csv = Buffer.concat([
    utf8('\uFEFFEmail,Name,note\r\nada@example.org,"Lovelace, Ada","multi\r\nline ""quoted"""\r\n\r\n'),
    utf8('bad-address,Bob,x\r\nzoe@example.org,Zoë ✓ 🎉,""\r\n'),
    Buffer.from([0x6e, 0x40, 0x62, 0x2e, 0x69, 0x6f, 0x2c, 0xe2, 0x82, 0x2c, 0x78, 0x0a]),
    utf8(`long@example.org,x,${"y".repeat(80)}\n`),
    utf8('"q@example.org",Q,"a\nb\nc"\nshort@example.org,S,"unterminated\n'),
  ]);
  const jsonl = Buffer.concat([
    utf8('\uFEFF{"email":"ada@example.org","name":"Ada ✓"}\r\n\r\n{"email":"nope"}\n{oops\n'),
    Buffer.from([0x7b, 0xff, 0x7d, 0x0a]),
    utf8(
      `{"email":"long@example.org","name":"${"y".repeat(80)}"}\n{"email":"last@example.org","template_data":{"k":"🎉"}}`,
    ),
  ]);
  const options = { batchSize: 1, maxRecordBytes: 64 };

  it("reads the fixtures as expected whole", async () => {
    expect(await read(csv, "csv", options)).toMatchObject({
      recipients: [
        { line: 2, email: "ada@example.org", template_data: { note: 'multi\r\nline "quoted"' } },
        { line: 6, email: "zoe@example.org", name: "Zoë ✓ 🎉", template_data: { note: "" } },
        { line: 9, email: "q@example.org", template_data: { note: "a\nb\nc" } },
      ],
      errors: [
        { line: 5, reason: "email: must be a valid email address" },
        { line: 7, reason: "not valid UTF-8" },
        { line: 8, reason: "record is longer than 64 bytes" },
        { line: 12, reason: "quoted field is not closed at the end of the input" },
      ],
      lines: 12,
      bytes: csv.length,
    });
    expect(await read(jsonl, "jsonl", options)).toMatchObject({
      recipients: [
        { line: 1, email: "ada@example.org", name: "Ada ✓" },
        { line: 7, email: "last@example.org", template_data: { k: "🎉" } },
      ],
      errors: [
        { line: 3, reason: "email: must be a valid email address" },
        { line: 4, reason: "not valid JSON" },
        { line: 5, reason: "not valid UTF-8" },
        { line: 6, reason: "record is longer than 64 bytes" },
      ],
      lines: 7,
      bytes: jsonl.length,
    });
  });

  for (const [format, input] of [
    ["csv", csv],
    ["jsonl", jsonl],
  ] as const) {
    it(`${format}: the same batches cut at every byte offset`, async () => {
      const whole = await batchesOf(input, format, options);
      for (let offset = 0; offset <= input.length; offset++)
        expect(await batchesOf(cut(input, [offset]), format, options)).toEqual(whole);
    });

    it(`${format}: the same batches one byte at a time, or as strings`, async () => {
      const whole = await batchesOf(input, format, options);
      expect(
        await batchesOf(
          cut(
            input,
            Array.from({ length: input.length }, (_, i) => i),
          ),
          format,
          options,
        ),
      ).toEqual(whole);
      // Up to the bytes that are not UTF-8, which a string cannot carry.
      const valid = input.subarray(
        0,
        input.indexOf(Buffer.from(format === "csv" ? [0x6e, 0x40, 0x62] : [0x7b, 0xff])),
      );
      expect(await batchesOf(valid.toString(), format, options)).toEqual(
        await batchesOf(valid, format, options),
      );
    });

    it(`${format}: the same batches cut anywhere (property)`, async () => {
      const whole = await batchesOf(input, format, options);
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.integer({ min: 0, max: input.length }), { maxLength: 40 }),
          async (cuts) => {
            const parts = cut(
              input,
              cuts.sort((a, b) => a - b),
            );
            expect(await batchesOf(parts, format, options)).toEqual(whole);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("the same records from any CSV cut anywhere (property)", async () => {
    const cell = fc.constantFrom("a", "b", " ", ",", '"', "\n", "\r\n", "é", "🎉", "x@y.io", "");
    const text = fc.array(cell, { maxLength: 60 }).map((cells) => `email,note\n${cells.join("")}`);
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(), { maxLength: 10 }), async (input, cutAt) => {
        const bytes = utf8(input);
        const offsets = [...new Set(cutAt.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b);
        const options = { batchSize: 2, maxRecordBytes: 16 };
        expect(await batchesOf(cut(bytes, offsets), "csv", options)).toEqual(
          await batchesOf(bytes, "csv", options),
        );
      }),
      { numRuns: 500 },
    );
  });
});
