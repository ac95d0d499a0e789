import { createRequire } from "node:module";
import { type DestinationStream, type Logger, pino, stdSerializers } from "pino";
import { maskEmail, maskEmailsInText } from "./mask.ts";

export type { Logger } from "pino";

interface LoggerOptions {
  level: string;
  format: "json" | "pretty";
  /** Where lines go (pretty ones too); stdout when absent. Tests pass a stream they can read. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
  /** Fields added to every line when they exist then: the active trace's ids. */
  context?: () => Record<string, unknown> | undefined;
}

const SECRET_KEYS = ["password", "api_key", "apiKey", "token", "secret", "authorization", "x-api-key"];
const ADDRESS_KEYS = ["recipient", "recipient_email", "to", "email", "cc", "bcc", "reply_to"];

function paths(keys: string[]): string[] {
  return keys.flatMap((key) => {
    const access = /^[A-Za-z_]\w*$/.test(key) ? key : `["${key}"]`;
    const join = (prefix: string) => (access.startsWith("[") ? `${prefix}${access}` : `${prefix}.${access}`);
    return [access.startsWith("[") ? `*${access}` : access, join("*"), join("*.*")];
  });
}

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1] ?? "";
  if (!ADDRESS_KEYS.includes(key)) return "[REDACTED]";
  if (typeof value === "string") return maskEmail(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? maskEmail(v) : "[REDACTED]"));
  return "[REDACTED]";
}

/**
 * The message followed by its causes' messages, as pino joins them, but leaving out a cause whose
 * message its wrapper already says: errors wrapped to give them a kind keep the original's words.
 */
function messageWithCauses(error: Error): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let at: unknown = error; at instanceof Error && !seen.has(at); at = at.cause) {
    seen.add(at);
    const message = at.message;
    if (!parts.some((part) => part.includes(message))) parts.push(message);
  }
  return parts.join(": ");
}

function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const out = stdSerializers.err(error);
  out.message = maskEmailsInText(messageWithCauses(error));
  if (out.stack) out.stack = maskEmailsInText(out.stack);
  return out;
}

/** For people at a terminal only: loaded when asked for, so production processes do not carry it. */
function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  const { PinoPretty } = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
  return PinoPretty({
    colorize: destination === undefined && process.stdout.isTTY,
    translateTime: "SYS:standard",
    ignore: "pid,hostname",
    ...(destination && { destination }),
  });
}

/**
 * One logger per process, built by the composition root and handed down; components take
 * `logger.child({ component })`. Secrets are replaced and recipient addresses masked by key, wherever
 * they sit up to two levels deep; code should still log job ids rather than addresses.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.format === "pretty" ? prettyStream(options.destination) : options.destination;
  return pino(
    {
      level: options.level,
      base: { service: "email-worker", ...options.base },
      ...(options.context && { mixin: () => options.context?.() ?? {} }),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError, error: serializeError },
      redact: { paths: paths([...SECRET_KEYS, ...ADDRESS_KEYS]), censor },
    },
    destination,
  );
}
