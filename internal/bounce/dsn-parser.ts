import { bodyText, header, type MimeEntity, parseHeaderBlock, parseMime, walk } from "./mime-entity.ts";

/** A 5.x.x status with Action failed ends delivery for good; everything else may yet get through. */
export type BounceKind = "hard" | "soft";

export interface BouncedRecipient {
  /** The address that bounced, lower-cased (Final-Recipient, or the address the text names). */
  recipient: string;
  /** The address as first given to the reporting MTA (Original-Recipient), when reported. */
  original_recipient: string | undefined;
  action: "failed" | "delayed";
  /** The enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string;
  kind: BounceKind;
  /** The remote server's words (Diagnostic-Code, or the line the status code was found on). */
  diagnostic: string | undefined;
}

export interface ParsedBounce {
  /** Whether the message is a delivery report at all (an auto-reply or spam is not). */
  is_bounce: boolean;
  /** rfc3464: a multipart/report with a delivery-status part; text: recognised in the prose. */
  format: "rfc3464" | "text" | undefined;
  /** Failed and delayed recipients; delivered, relayed and expanded ones are left out. */
  recipients: BouncedRecipient[];
  /** Original-Envelope-Id: the ENVID the original was sent with. */
  envelope_id: string | undefined;
  /** Fields of the returned original, when the bounce quotes it. */
  original: { job_id: string | undefined; message_id: string | undefined };
  /** The bounce's own addressing: To may be the VERP address even when the envelope is lost. */
  to: string[];
  message_id: string | undefined;
}

const ADDRESS = /[A-Za-z0-9._%+'=!#$&*/?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
/** An enhanced status code not inside an IP address, a version number or a date. */
const ENHANCED = /(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)/;
/** A bare SMTP reply code where bounces quote the remote server, for MTAs that give no enhanced code. */
const BASIC = /(?:said|error|returned|response|reply|answered)[\s\S]{0,120}?(?<![\d.])([45][0-5]\d)(?=[ -])/i;

/** Where the prose of a plain-text bounce ends and the copy of the original begins. */
const ORIGINAL_MARKERS = [
  /^[ \t]*-+ ?This is a copy of the message, including all the headers\.? ?-*$/im, // Exim
  /^[ \t]*-+ ?Below this line is a copy of the message\.?$/im, // qmail
  /^[ \t]*-+ ?(?:Original message|Unsent message|Returned message|Message header) follows -*$/im, // Sendmail
  /^[ \t]*-+ ?Original message -*$/im, // Gmail
  /^[ \t]*Original message headers:$/im, // Exchange
];

const DAEMON = /^(?:mailer-daemon|postmaster|mail-daemon|microsoftexchange[0-9a-f]*)@/i;
const DAEMON_NAME = /mail delivery (?:system|subsystem)|mailer[- ]daemon|postmaster/i;
const BOUNCE_SUBJECT =
  /undeliver|delivery status notification|delivery (?:failure|has failed|failed|notification)|failure notice|returned mail|mail delivery failed|non-?delivery|could not be delivered|delayed mail|delivery delayed|warning: could not send/i;

function addresses(text: string): string[] {
  return [...text.matchAll(ADDRESS)].map((match) => match[0].toLowerCase());
}

/** `rfc822; <ada@example.org>` → ada@example.org */
function typedAddress(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const afterType = value.includes(";") ? value.slice(value.indexOf(";") + 1) : value;
  return addresses(afterType)[0] ?? (afterType.trim().replace(/^<|>$/g, "").toLowerCase() || undefined);
}

function clean(text: string | undefined, max = 1_000): string | undefined {
  const collapsed = text?.replace(/\s+/g, " ").trim();
  return collapsed ? collapsed.slice(0, max) : undefined;
}

function classify(status: string, action: "failed" | "delayed"): BounceKind {
  return status.startsWith("5") && action === "failed" ? "hard" : "soft";
}

function statusIn(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const enhanced = ENHANCED.exec(text);
  if (enhanced) return `${enhanced[1]}.${enhanced[2]}.${enhanced[3]}`;
  const basic = BASIC.exec(text);
  return basic?.[1] ? `${basic[1][0]}.0.0` : undefined;
}

/** The returned original's job id and Message-ID, from whichever copy of its header the bounce has. */
function originalFields(entity: MimeEntity, prose: string[]): ParsedBounce["original"] {
  const candidates: Map<string, string[]>[] = [];
  for (const part of walk(entity)) {
    if (part === entity) continue;
    if (part.type === "message/rfc822" || part.type === "message/global") {
      const nested = part.children[0];
      if (nested) candidates.push(nested.headers);
    } else if (part.type === "text/rfc822-headers" || part.type === "message/global-headers") {
      candidates.push(parseHeaderBlock(bodyText(part)));
    }
  }
  const copies = prose.flatMap((text) => {
    const start = ORIGINAL_MARKERS.map((marker) => marker.exec(text))
      .filter((match) => match !== null)
      .sort((x, y) => x.index - y.index)[0];
    return start ? [text.slice(start.index + start[0].length).replace(/^\s*\n/, "")] : [];
  });
  for (const copy of copies) candidates.push(parseHeaderBlock(copy));
  let jobId: string | undefined;
  let messageId: string | undefined;
  for (const headers of candidates) {
    jobId ??= UUID.exec(header({ headers }, "x-email-job-id") ?? "")?.[0]?.toLowerCase();
    messageId ??= /<[^<>\s]+>/.exec(header({ headers }, "message-id") ?? "")?.[0];
  }
  // Some bounces indent or quote (">") the copy, or quote it with no marker: our header line is
  // still recognisable there, and the Message-ID in the copy.
  for (const text of prose)
    jobId ??= /^[ \t>]*X-Email-Job-Id:[ \t]*([0-9a-f-]{36})\b/im.exec(text)?.[1]?.toLowerCase();
  for (const copy of copies) messageId ??= /^[ \t>]*Message-ID:\s*(<[^<>\s]+>)/im.exec(copy)?.[1];
  return { job_id: jobId, message_id: messageId };
}

function fromDeliveryStatus(part: MimeEntity): {
  recipients: BouncedRecipient[];
  envelopeId: string | undefined;
} {
  const blocks = bodyText(part)
    .split(/\r?\n[ \t]*\r?\n/)
    .map(parseHeaderBlock)
    .filter((fields) => fields.size > 0);
  let envelopeId: string | undefined;
  const recipients: BouncedRecipient[] = [];
  for (const headers of blocks) {
    envelopeId ??= clean(header({ headers }, "original-envelope-id"));
    const recipient = typedAddress(
      header({ headers }, "final-recipient") ?? header({ headers }, "original-recipient"),
    );
    if (!recipient) continue;
    const reported = header({ headers }, "action")?.trim().toLowerCase();
    if (reported !== "failed" && reported !== "delayed") continue;
    const diagnosticField = header({ headers }, "diagnostic-code");
    const diagnostic = clean(diagnosticField?.replace(/^[\w-]+;\s*/, ""));
    const status = statusIn(header({ headers }, "status")) ?? statusIn(diagnostic);
    if (!status) continue;
    recipients.push({
      recipient,
      original_recipient: typedAddress(header({ headers }, "original-recipient")),
      action: reported,
      status,
      kind: classify(status, reported),
      diagnostic,
    });
  }
  return { recipients, envelopeId };
}

/** The text a person would read: text parts outside the returned original, HTML only when no plain text. */
function proseOf(entity: MimeEntity): string[] {
  const plain: string[] = [];
  const html: string[] = [];
  const visit = (part: MimeEntity) => {
    if (part.type === "message/rfc822" || part.type === "message/global") return;
    if (part.children.length > 0) {
      for (const child of part.children) visit(child);
      return;
    }
    if (part.type === "text/plain") plain.push(bodyText(part));
    else if (part.type === "text/html")
      html.push(
        bodyText(part)
          .replace(/<(?:br|\/p|\/div|\/tr)[^>]*>/gi, "\n")
          .replace(/<[^>]*>/g, " ")
          .replace(/&lt;/g, "<")
          .replace(/&gt;/g, ">")
          .replace(/&amp;/g, "&")
          .replace(/&nbsp;/g, " "),
      );
  };
  visit(entity);
  return plain.length > 0 ? plain : html;
}

/** The prose before the copy of the original, where the failure is described. */
function reportText(text: string): string {
  let end = text.length;
  for (const marker of ORIGINAL_MARKERS) {
    const match = marker.exec(text);
    if (match && match.index < end) end = match.index;
  }
  return text.slice(0, end);
}

function looksLikeBounce(entity: MimeEntity): boolean {
  if (header(entity, "x-failed-recipients")) return true;
  const from = `${header(entity, "from") ?? ""} ${header(entity, "sender") ?? ""}`;
  if (addresses(from).some((address) => DAEMON.test(address)) || DAEMON_NAME.test(from)) return true;
  return BOUNCE_SUBJECT.test(header(entity, "subject") ?? "");
}

function lineAround(text: string, index: number): string | undefined {
  const start = text.lastIndexOf("\n", index) + 1;
  const end = text.indexOf("\n", index);
  return clean(text.slice(start, end < 0 ? undefined : end));
}

/** How far after an address its error is looked for: MTAs put it on the same or the next few lines. */
const NEARBY_LINES = 8;

/** From `at` to the end of the NEARBY_LINES-th line after it, stopping at `end`. */
function nearby(text: string, at: number, end: number): string {
  let stop = at;
  for (let line = 0; line < NEARBY_LINES && stop >= 0 && stop < end; line++)
    stop = text.indexOf("\n", stop + 1);
  return text.slice(at, stop < 0 ? end : Math.min(stop, end));
}

/**
 * Failed recipients from the prose, each with the status code nearest after its first mention. An
 * address with no code near it counts only when it is the only one the text names (or the
 * X-Failed-Recipients header names it): help text may mention other addresses, and suppressing one
 * of them on a guess would stop mail to someone who never bounced.
 */
function fromProse(entity: MimeEntity, prose: string[]): BouncedRecipient[] {
  const text = prose.map(reportText).join("\n");
  const own = new Set(addresses(`${header(entity, "to") ?? ""} ${header(entity, "from") ?? ""}`));
  const named = addresses(header(entity, "x-failed-recipients") ?? "");
  const found = named.length > 0 ? named : addresses(text).filter((a) => !own.has(a) && !DAEMON.test(a));
  const recipients = [...new Set(found)];
  const lower = text.toLowerCase();
  const positions = recipients.map((recipient) => lower.indexOf(recipient));
  const delayed =
    /will (?:keep trying|retry|be retried|continue)|not yet been delivered|delayed|warning/i.test(text);
  const result: BouncedRecipient[] = [];
  recipients.forEach((recipient, i) => {
    const at = positions[i] ?? -1;
    const next = Math.min(...positions.filter((p) => p > at), text.length);
    const region = at >= 0 ? nearby(text, at, next) : "";
    const scope = statusIn(region) || !(named.length > 0 || recipients.length === 1) ? region : text;
    const status = statusIn(scope);
    if (!status) return;
    const codeAt = scope.search(ENHANCED) >= 0 ? scope.search(ENHANCED) : scope.search(BASIC);
    const action = status.startsWith("5") || !delayed ? "failed" : "delayed";
    result.push({
      recipient,
      original_recipient: undefined,
      action,
      status,
      kind: classify(status, action),
      diagnostic: codeAt >= 0 ? lineAround(scope, codeAt) : undefined,
    });
  });
  return result;
}

/**
 * Reads a message sent to the return path as a delivery report: RFC 3464 when it is one, else the
 * prose bounces of MTAs that never adopted it (qmail, Exim, older Sendmail and Postfix, Exchange,
 * Gmail), by the enhanced status codes and addresses in their text.
 */
export function parseBounce(raw: Buffer): ParsedBounce {
  const entity = parseMime(raw);
  const prose = proseOf(entity);
  const base = {
    original: originalFields(entity, prose),
    to: addresses(header(entity, "to") ?? ""),
    message_id: /<[^<>\s]+>/.exec(header(entity, "message-id") ?? "")?.[0],
  };
  const statusPart = [...walk(entity)].find(
    (part) => part.type === "message/delivery-status" || part.type === "message/global-delivery-status",
  );
  if (statusPart) {
    const { recipients, envelopeId } = fromDeliveryStatus(statusPart);
    return { ...base, is_bounce: true, format: "rfc3464", recipients, envelope_id: envelopeId };
  }
  if (!looksLikeBounce(entity))
    return { ...base, is_bounce: false, format: undefined, recipients: [], envelope_id: undefined };
  return {
    ...base,
    is_bounce: true,
    format: "text",
    recipients: fromProse(entity, prose),
    envelope_id: undefined,
  };
}
