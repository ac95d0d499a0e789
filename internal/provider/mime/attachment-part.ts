import { detectMimeType } from "nodemailer/lib/mime-funcs";
import type { Attachment } from "../../job/email-job.ts";
import { base64Lines, fitsSevenBit } from "./body-encoding.ts";
import { headerParameter } from "./header-parameter.ts";
import { canonicalBytes } from "./line-endings.ts";

/** One part of a multipart body: its header lines (CRLF-joined, no trailing CRLF) and encoded body. */
export interface MimePart {
  header: string;
  body: string;
}

const MESSAGE_TYPE = /^message\//i;

/**
 * The body of an attachment. RFC 2046 §5.2.1 allows a message/* part only 7bit, 8bit or binary,
 * so one that fits 7bit (line ends made CRLF: it is a message) goes as it is; any other content,
 * a message/* one included that cannot (8-bit bytes or lines over 998 octets, which the SMTP relay
 * may not carry), goes as base64, which every reader decodes for any type.
 */
function attachmentBody(attachment: Attachment): { encoding: string; body: string } {
  const bytes = Buffer.from(attachment.content, "base64");
  if (attachment.content_type && MESSAGE_TYPE.test(attachment.content_type)) {
    const text = canonicalBytes(bytes).toString("latin1");
    if (fitsSevenBit(text)) return { encoding: "7bit", body: text };
  }
  return { encoding: "base64", body: base64Lines(bytes) };
}

/**
 * An attachment as a MIME part: the file name as a parameter of both Content-Type (`name`, which
 * older clients read) and Content-Disposition (`filename`, RFC 2183), each parameter on a line of
 * its own so no line grows past 78 characters for a long or non-ASCII name.
 */
export function attachmentPart(attachment: Attachment): MimePart {
  const type = attachment.content_type ?? detectMimeType(attachment.filename);
  const { encoding, body } = attachmentBody(attachment);
  const params = (name: string) =>
    headerParameter(name, attachment.filename)
      .map((p) => `;\r\n ${p}`)
      .join("");
  return {
    header:
      `Content-Type: ${type}${params("name")}\r\n` +
      `Content-Disposition: attachment${params("filename")}\r\n` +
      `Content-Transfer-Encoding: ${encoding}`,
    body,
  };
}
