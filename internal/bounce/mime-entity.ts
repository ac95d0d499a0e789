/**
 * Just enough MIME (RFC 2045/2046) to read bounces: header fields, multipart bodies, the transfer
 * encodings, and messages nested in message/rfc822. A bounce is read once, after it was accepted
 * within the listener's size limit, so everything is held in memory.
 */

export interface MimeEntity {
  /** Lower-cased field name → unfolded values, in order. */
  headers: Map<string, string[]>;
  /** Lower-cased media type, text/plain when absent (RFC 2045 §5.2). */
  type: string;
  params: Map<string, string>;
  /** The body after its Content-Transfer-Encoding is undone. */
  body: Buffer;
  /** Parts of a multipart body, or the one message a message/rfc822 body holds. */
  children: MimeEntity[];
}

/** Parts nested deeper than this are read as opaque bodies: no bounce needs more. */
const MAX_DEPTH = 8;

export function header(entity: { headers: Map<string, string[]> }, name: string): string | undefined {
  return entity.headers.get(name.toLowerCase())?.[0];
}

/** Header fields of a block (unfolded); lines that are not fields are skipped, not fatal. */
export function parseHeaderBlock(text: string): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  const unfolded = text.replace(/\r?\n(?=[ \t])/g, "");
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[!-9;-~]+$/.test(name)) continue;
    const value = line.slice(colon + 1).trim();
    const values = headers.get(name);
    if (values) values.push(value);
    else headers.set(name, [value]);
  }
  return headers;
}

/** Splits at the first empty line; a message with none is all header, one starting with it has none. */
function splitHead(raw: Buffer): { head: string; body: Buffer } {
  const text = raw.toString("latin1");
  if (/^\r?\n/.test(text)) return { head: "", body: raw.subarray(text.indexOf("\n") + 1) };
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return { head: text, body: Buffer.alloc(0) };
  return { head: text.slice(0, match.index), body: raw.subarray(match.index + match[0].length) };
}

function parseContentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (!value) return { type: "text/plain", params };
  const [type = "", ...rest] = value.split(";");
  for (const param of rest) {
    const eq = param.indexOf("=");
    if (eq <= 0) continue;
    const name = param.slice(0, eq).trim().toLowerCase();
    const value = param.slice(eq + 1).trim();
    params.set(name, /^"(.*)"$/.exec(value)?.[1] ?? value.replace(/^"/, ""));
  }
  return { type: type.trim().toLowerCase() || "text/plain", params };
}

function decodeQuotedPrintable(body: Buffer): Buffer {
  const text = body.toString("latin1").replace(/=\r?\n/g, "");
  return Buffer.from(
    text.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    "latin1",
  );
}

function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case "base64":
      return Buffer.from(body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, ""), "base64");
    case "quoted-printable":
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString("latin1");
  const delimiter = `--${boundary}`;
  const parts: Buffer[] = [];
  let start = -1;
  let offset = 0;
  for (const line of text.split("\n")) {
    const end = offset + line.length + 1;
    const bare = line.replace(/\r$/, "").trimEnd();
    if (bare === delimiter || bare === `${delimiter}--`) {
      // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
      if (start >= 0)
        parts.push(body.subarray(start, Math.max(start, offset - (text[offset - 2] === "\r" ? 2 : 1))));
      if (bare !== delimiter) return parts;
      start = end;
    }
    offset = end;
  }
  // No closing delimiter (a bounce that returned only part of the original): keep what is there.
  if (start >= 0 && start < body.length) parts.push(body.subarray(start));
  return parts;
}

export function parseMime(raw: Buffer, depth = 0): MimeEntity {
  const { head, body: encoded } = splitHead(raw);
  const headers = parseHeaderBlock(head);
  const { type, params } = parseContentType(header({ headers }, "content-type"));
  const body = decodeBody(encoded, header({ headers }, "content-transfer-encoding"));
  let children: MimeEntity[] = [];
  if (depth < MAX_DEPTH) {
    const boundary = params.get("boundary");
    if (type.startsWith("multipart/") && boundary)
      children = splitMultipart(body, boundary).map((part) => parseMime(part, depth + 1));
    else if (type === "message/rfc822" || type === "message/global") children = [parseMime(body, depth + 1)];
  }
  return { headers, type, params, body, children };
}

/** Every entity, depth first, the root included. */
export function* walk(entity: MimeEntity): Generator<MimeEntity> {
  yield entity;
  for (const child of entity.children) yield* walk(child);
}

/**
 * A text body as a string, with LF line ends (what arrives over SMTP has CRLF, and line-anchored
 * patterns would otherwise see the CR): UTF-8 unless it names a charset Node reads as latin1.
 */
export function bodyText(entity: MimeEntity): string {
  const charset = entity.params.get("charset")?.toLowerCase();
  return entity.body
    .toString(
      charset === "iso-8859-1" || charset === "windows-1252" || charset === "us-ascii" ? "latin1" : "utf8",
    )
    .replace(/\r\n/g, "\n");
}
