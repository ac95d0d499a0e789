import { Buffer, isUtf8 } from "node:buffer";
import { KindedError } from "../errors/error-kind.ts";
import { JobValidationError } from "../job/job-validation-error.ts";
import { type CampaignRecipient, parseRecipient } from "./recipient.ts";

/**
 * How an audience is written. CSV (RFC 4180): a header row naming an `email` column, an optional
 * `name` and `template_data` (a JSON object), and any other column as a string of template_data.
 * JSONL: one `{"email", "name"?, "template_data"?}` object per line.
 */
export type AudienceFormat = "csv" | "jsonl";

export interface AudienceRecipient extends CampaignRecipient {
  /** 1-based line where the record starts. */
  line: number;
}

/** A record that is not a recipient; the rest of the audience is read on. */
export interface AudienceRowError {
  line: number;
  /** What is wrong, e.g. `email: must be a valid email address`. */
  reason: string;
}

export interface AudienceBatch {
  recipients: AudienceRecipient[];
  errors: AudienceRowError[];
  /** Lines read so far: through the last record of this batch, and all of them in the last batch. */
  lines: number;
  /** Bytes read so far, counted the same way (a byte order mark included). */
  bytes: number;
}

/** An upload that cannot be read at all: a CSV without a usable header row. */
export class AudienceFormatError extends KindedError<"invalid_argument"> {
  override readonly name = "AudienceFormatError";

  constructor(message: string) {
    super("invalid_argument", message, { code: "invalid_audience" });
  }
}

const CSV_TYPES = new Set(["text/csv", "application/csv"]);
/**
 * The names JSON Lines goes by. Not application/json-seq (RFC 7464): its records start with a
 * record separator byte, which this reader would take for part of the JSON.
 */
const JSONL_TYPES = new Set([
  "application/jsonl",
  "application/x-jsonl",
  "application/jsonlines",
  "application/x-jsonlines",
  "application/ndjson",
  "application/x-ndjson",
]);

/** The format a Content-Type names, parameters such as `charset` aside; undefined for any other. */
export function audienceFormatOf(contentType: string | undefined): AudienceFormat | undefined {
  const type = contentType?.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  if (CSV_TYPES.has(type)) return "csv";
  if (JSONL_TYPES.has(type)) return "jsonl";
  return undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const BOM = [0xef, 0xbb, 0xbf];

// Where a CSV scan stands inside a record, which decides what a quote or a line feed there means.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** Just after a quote inside a quoted field: its end, or the first half of a `""`. */
const QUOTE_CLOSED = 3;

interface RawRecord {
  /** 1-based line where the record starts. */
  line: number;
  /** Its bytes without the line end; undefined when it was longer than allowed and skipped. */
  bytes: Buffer | undefined;
  /** The input ended inside one of its quoted fields. */
  unterminated: boolean;
}

/**
 * Cuts a byte stream into records (lines; for CSV, line feeds inside quoted fields stay in theirs)
 * as the chunks arrive, holding at most one partial record: native indexOf finds the line ends, and
 * only a line with a quote in it is walked byte by byte. A record longer than the limit is dropped
 * as it goes and handed out empty, so one huge line costs no memory.
 */
class RecordSplitter {
  /** Bytes and lines through the end of the last record handed out, or of the input once ended. */
  bytes = 0;
  lines = 0;
  readonly #csv: boolean;
  readonly #maxBytes: number;
  /** Bytes of the first chunks until they show whether the input opens with a byte order mark. */
  #head: Buffer | undefined = Buffer.alloc(0);
  /** Offset in the input of the chunk being split. */
  #offset = 0;
  #lineFeeds = 0;
  /** Whether the input so far ends with a line feed, which then ends its last line. */
  #atLineStart = true;
  #recordLine = 1;
  #state = FIELD_START;
  /** Copies of the current record's parts from earlier chunks, unless it is already too long. */
  #parts: Buffer[] = [];
  #partsLength = 0;
  #oversize = false;

  constructor(csv: boolean, maxBytes: number) {
    this.#csv = csv;
    this.#maxBytes = maxBytes;
  }

  *split(input: Buffer): Generator<RawRecord> {
    let chunk = input;
    if (this.#head !== undefined) {
      chunk = this.#head.length === 0 ? input : Buffer.concat([this.#head, input]);
      if (chunk.length < BOM.length && BOM.slice(0, chunk.length).every((byte, i) => chunk[i] === byte)) {
        this.#head = chunk;
        return;
      }
      this.#head = undefined;
      if (BOM.every((byte, i) => chunk[i] === byte)) {
        chunk = chunk.subarray(BOM.length);
        this.#offset = BOM.length;
      }
    }
    yield* this.#splitChunk(chunk);
  }

  *end(): Generator<RawRecord> {
    if (this.#head !== undefined) {
      const head = this.#head;
      this.#head = undefined;
      yield* this.#splitChunk(head);
    }
    this.lines = this.#lineFeeds + (this.#atLineStart ? 0 : 1);
    this.bytes = this.#offset;
    if (this.#partsLength === 0 && !this.#oversize) return;
    const record = this.#take(Buffer.alloc(0), 0, 0);
    record.unterminated = this.#state === QUOTED;
    if (record.unterminated || !isBlank(record.bytes)) yield record;
  }

  *#splitChunk(chunk: Buffer): Generator<RawRecord> {
    if (chunk.length > 0) this.#atLineStart = chunk.at(-1) === LF;
    let start = 0;
    let nextQuote = this.#csv ? chunk.indexOf(QUOTE) : -1;
    while (start < chunk.length) {
      let lineFeed: number;
      if (nextQuote !== -1 && nextQuote < start) nextQuote = chunk.indexOf(QUOTE, start);
      if (this.#state === FIELD_START || this.#state === UNQUOTED) {
        lineFeed = chunk.indexOf(LF, start);
        if (nextQuote === -1 || (lineFeed !== -1 && lineFeed < nextQuote)) {
          // No quote before the line end: the line is the record.
          if (lineFeed === -1 && this.#csv) this.#state = chunk.at(-1) === COMMA ? FIELD_START : UNQUOTED;
        } else {
          lineFeed = this.#scan(chunk, start);
        }
      } else {
        lineFeed = this.#scan(chunk, start);
      }
      if (lineFeed === -1) {
        this.#keep(chunk, start, chunk.length);
        break;
      }
      this.#lineFeeds++;
      const record = this.#take(chunk, start, lineFeed);
      this.lines = this.#lineFeeds;
      this.bytes = this.#offset + lineFeed + 1;
      this.#recordLine = this.#lineFeeds + 1;
      this.#state = FIELD_START;
      start = lineFeed + 1;
      if (!isBlank(record.bytes)) yield record;
    }
    this.#offset += chunk.length;
  }

  /**
   * Walks a CSV record byte by byte from `from`, keeping the quote state across chunks and jumping
   * through quoted text with indexOf; the index of the line feed that ends the record, or -1.
   */
  #scan(chunk: Buffer, from: number): number {
    let state = this.#state;
    for (let i = from; i < chunk.length; i++) {
      if (state === QUOTED) {
        const quote = chunk.indexOf(QUOTE, i);
        const stop = quote === -1 ? chunk.length : quote;
        for (let lf = chunk.indexOf(LF, i); lf !== -1 && lf < stop; lf = chunk.indexOf(LF, lf + 1))
          this.#lineFeeds++;
        if (quote === -1) break;
        i = quote;
        state = QUOTE_CLOSED;
        continue;
      }
      const byte = chunk[i];
      if (byte === LF) {
        this.#state = state;
        return i;
      }
      if (byte === COMMA) state = FIELD_START;
      else if (byte === QUOTE) state = state === UNQUOTED ? UNQUOTED : QUOTED;
      else state = UNQUOTED;
    }
    this.#state = state;
    return -1;
  }

  /** Holds on to the part of the current record in this chunk (a copy: the chunk may be large). */
  #keep(chunk: Buffer, start: number, end: number): void {
    this.#partsLength += end - start;
    // One byte over the limit is allowed for the CR of a CRLF, which is not the record's.
    if (this.#partsLength > this.#maxBytes + 1) {
      this.#oversize = true;
      this.#parts = [];
    }
    if (!this.#oversize && end > start) this.#parts.push(Buffer.from(chunk.subarray(start, end)));
  }

  /** The current record, ending at `end` in `chunk`; and a fresh start for the next one. */
  #take(chunk: Buffer, start: number, end: number): RawRecord {
    const length = this.#partsLength + end - start;
    let bytes: Buffer | undefined;
    if (!this.#oversize && length <= this.#maxBytes + 1) {
      bytes =
        this.#parts.length === 0
          ? chunk.subarray(start, end)
          : Buffer.concat([...this.#parts, chunk.subarray(start, end)], length);
      if (bytes.at(-1) === CR) bytes = bytes.subarray(0, -1);
      if (bytes.length > this.#maxBytes) bytes = undefined;
    }
    const record: RawRecord = { line: this.#recordLine, bytes, unterminated: false };
    this.#parts = [];
    this.#partsLength = 0;
    this.#oversize = false;
    return record;
  }
}

/** An empty line, or one of spaces and tabs only: skipped in both formats. */
function isBlank(bytes: Buffer | undefined): boolean {
  if (bytes === undefined) return false;
  for (const byte of bytes) if (byte !== SPACE && byte !== TAB) return false;
  return true;
}

/**
 * The record's text, or undefined when it is not UTF-8. Decoding replaces bad bytes with U+FFFD,
 * so only a record that comes out with one is checked strictly: the check costs nothing otherwise.
 */
function decode(bytes: Buffer): string | undefined {
  const text = bytes.toString("utf8");
  return text.includes("\uFFFD") && !isUtf8(bytes) ? undefined : text;
}

function recipientAt(input: unknown, line: number): AudienceRecipient | AudienceRowError {
  try {
    const { email, name, template_data } = parseRecipient(input);
    return name === undefined ? { line, email, template_data } : { line, email, name, template_data };
  } catch (error) {
    if (!(error instanceof JobValidationError)) throw error;
    return { line, reason: error.violations.map((v) => `${v.field}: ${v.description}`).join("; ") };
  }
}

/** A record's recipient, its error, or undefined when it holds none (a CSV row of empty cells). */
type RecordReader = (line: number, text: string) => AudienceRecipient | AudienceRowError | undefined;

function readJsonLine(line: number, text: string): AudienceRecipient | AudienceRowError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's message quotes the line, and with it someone's address: the line number says where.
    return { line, reason: "not valid JSON" };
  }
  return recipientAt(value, line);
}

/** The fields of one CSV record, or what is wrong with its quotes. */
function csvFields(text: string): string[] | string {
  if (!text.includes('"')) return text.split(",");
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) {
      // A quote inside an unquoted field is a character like any other.
      const comma = text.indexOf(",", i);
      if (comma === -1) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, comma));
      i = comma + 1;
      continue;
    }
    let value = "";
    let from = i + 1;
    for (;;) {
      const quote = text.indexOf('"', from);
      if (quote === -1) return `column ${fields.length + 1}: quoted field is not closed`;
      if (text.charCodeAt(quote + 1) !== QUOTE) {
        value += text.slice(from, quote);
        i = quote + 1;
        break;
      }
      value += text.slice(from, quote + 1);
      from = quote + 2;
    }
    fields.push(value);
    if (i === text.length) return fields;
    if (text.charCodeAt(i) !== COMMA) return `column ${fields.length}: text after the closing quote`;
    i++;
  }
}

interface CsvHeader {
  columns: number;
  email: number;
  name: number;
  templateData: number;
  /** The other columns: their index and the template_data key they fill. */
  extra: [index: number, key: string][];
}

function csvHeader(record: RawRecord): CsvHeader {
  const at = `CSV header (line ${record.line})`;
  if (record.bytes === undefined) throw new AudienceFormatError(`${at} is too long`);
  if (record.unterminated) throw new AudienceFormatError(`${at}: quoted field is not closed`);
  const text = decode(record.bytes);
  if (text === undefined) throw new AudienceFormatError(`${at} is not valid UTF-8`);
  const fields = csvFields(text);
  if (typeof fields === "string") throw new AudienceFormatError(`${at}: ${fields}`);
  const header: CsvHeader = { columns: fields.length, email: -1, name: -1, templateData: -1, extra: [] };
  const seen = new Set<string>();
  fields.forEach((field, index) => {
    const key = field.trim();
    const name = key.toLowerCase();
    if (name === "") throw new AudienceFormatError(`${at}: column ${index + 1} has no name`);
    if (seen.has(name)) throw new AudienceFormatError(`${at}: column "${key}" appears twice`);
    seen.add(name);
    if (name === "email") header.email = index;
    else if (name === "name") header.name = index;
    else if (name === "template_data") header.templateData = index;
    else header.extra.push([index, key]);
  });
  if (header.email === -1) throw new AudienceFormatError(`${at} has no email column`);
  return header;
}

/**
 * Reads CSV records after the header. Email and name cells are trimmed (whitespace is never part of
 * either) and an empty one is absent; other cells are kept as written, an empty one as "", so every
 * column the header names is in every row's template_data. The template_data column's keys win over
 * another column of the same name: it is the more specific of the two. A row of empty cells only is
 * skipped like a blank line.
 */
function csvRowReader(header: CsvHeader): RecordReader {
  return (line, text) => {
    const cells = csvFields(text);
    if (typeof cells === "string") return { line, reason: cells };
    if (cells.length !== header.columns)
      return {
        line,
        reason: `has ${cells.length} ${cells.length === 1 ? "field" : "fields"}, the header has ${header.columns}`,
      };
    const input: Record<string, unknown> = {};
    const email = cells[header.email]?.trim();
    if (email) input.email = email;
    else if (cells.every((cell) => cell.trim() === "")) return undefined;
    const name = cells[header.name]?.trim();
    if (name) input.name = name;
    let columns: Record<string, string> | undefined;
    for (const [i, key] of header.extra) {
      columns ??= {};
      const cell = cells[i] ?? "";
      // A column named __proto__ is a key like any other, not the object's prototype.
      if (key === "__proto__")
        Object.defineProperty(columns, key, { value: cell, enumerable: true, writable: true });
      else columns[key] = cell;
    }
    let data: unknown = columns;
    const json = cells[header.templateData]?.trim();
    if (json) {
      try {
        data = JSON.parse(json);
      } catch {
        return { line, reason: "template_data: must be a JSON object (not valid JSON)" };
      }
      // Anything but an object goes to parseRecipient as it is, to be refused there.
      if (columns !== undefined && typeof data === "object" && data !== null && !Array.isArray(data))
        data = { ...columns, ...data };
    }
    if (data !== undefined) input.template_data = data;
    return recipientAt(input, line);
  };
}

/** What a record is: a row error when it could not be read, else whatever its format makes of it. */
function readRecord(
  record: RawRecord,
  maxRecordBytes: number,
  read: RecordReader,
): AudienceRecipient | AudienceRowError | undefined {
  if (record.bytes === undefined)
    return { line: record.line, reason: `record is longer than ${maxRecordBytes} bytes` };
  if (record.unterminated)
    return { line: record.line, reason: "quoted field is not closed at the end of the input" };
  const text = decode(record.bytes);
  if (text === undefined) return { line: record.line, reason: "not valid UTF-8" };
  return read(record.line, text);
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === "string") return Buffer.from(chunk);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Reads an uploaded audience as its chunks arrive, in batches of `batchSize` recipients with the
 * row errors met on the way, then a last batch with the rest (possibly empty) and the final counts.
 * It holds one batch and one record at a time, whatever the upload's size: a record longer than
 * `maxRecordBytes` is skipped as it streams past and reported as a row error. A batch is also handed
 * over when it has gathered `batchSize` errors, so an upload of nothing but bad rows stays as flat.
 * A CSV whose header cannot be used throws AudienceFormatError; any other problem is a row's.
 */
export async function* readAudience(
  source: AsyncIterable<Uint8Array | string>,
  format: AudienceFormat,
  options: { batchSize?: number; maxRecordBytes?: number } = {},
): AsyncGenerator<AudienceBatch> {
  const batchSize = options.batchSize ?? 1000;
  const maxRecordBytes = options.maxRecordBytes ?? 64 * 1024;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError("batchSize must be at least 1");
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1)
    throw new RangeError("maxRecordBytes must be at least 1");
  const splitter = new RecordSplitter(format === "csv", maxRecordBytes);
  // CSV rows are read by the header's columns, once the first record has named them.
  let read: RecordReader | undefined = format === "jsonl" ? readJsonLine : undefined;
  let recipients: AudienceRecipient[] = [];
  let errors: AudienceRowError[] = [];

  const add = (record: RawRecord): boolean => {
    if (read === undefined) {
      read = csvRowReader(csvHeader(record));
      return false;
    }
    const outcome = readRecord(record, maxRecordBytes, read);
    if (outcome === undefined) return false;
    if ("reason" in outcome) errors.push(outcome);
    else recipients.push(outcome);
    return recipients.length >= batchSize || errors.length >= batchSize;
  };
  const batch = (): AudienceBatch => {
    const full = { recipients, errors, lines: splitter.lines, bytes: splitter.bytes };
    recipients = [];
    errors = [];
    return full;
  };

  for await (const chunk of source) {
    for (const record of splitter.split(toBuffer(chunk))) if (add(record)) yield batch();
  }
  for (const record of splitter.end()) if (add(record)) yield batch();
  if (read === undefined) throw new AudienceFormatError("the CSV has no header row");
  yield batch();
}
