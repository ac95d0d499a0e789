import { JOB_LIMITS } from "../../job/parse-job.ts";

/**
 * Room for what a SendEmail request holds besides its byte-capped fields: up to 100 headers of up to
 * 998 characters, subject, addresses, ids, template data of ordinary size, and protobuf's own tags
 * and lengths.
 */
const ENVELOPE_BYTES = 1024 * 1024;

/**
 * The largest request the gRPC server reads (`grpc.max_receive_message_length`), derived from a job's
 * own limits so that they are stated once (JOB_LIMITS). Attachments travel as raw bytes in protobuf,
 * not base64 as in the JSON wire format, so the largest valid job is
 *
 *   attachment_bytes_total + html_bytes + text_bytes + metadata_bytes + ENVELOPE_BYTES
 *   = 10 MiB + 2 MiB + 1 MiB + 16 KiB + 1 MiB ≈ 14 MiB
 *
 * A request over a job's limits but under this one reaches the handler, whose validation answers
 * INVALID_ARGUMENT with a BadRequest naming the field and its limit. Only a request larger than any
 * valid job could be is refused by grpc-js itself (RESOURCE_EXHAUSTED), from its length prefix,
 * before it is read into memory. A SendBatch request shares the same ceiling.
 */
export const GRPC_MAX_RECEIVE_MESSAGE_BYTES =
  JOB_LIMITS.attachment_bytes_total +
  JOB_LIMITS.html_bytes +
  JOB_LIMITS.text_bytes +
  JOB_LIMITS.metadata_bytes +
  ENVELOPE_BYTES;
