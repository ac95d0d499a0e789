import { KindedError } from "../errors/error-kind.ts";
import { isJobId } from "../job/job-id.ts";

interface KeysetPosition {
  /** Postgres' own text of the timestamp: a JS Date would drop the microseconds and skip rows. */
  created_at: string;
  id: string;
}

export class InvalidCursorError extends KindedError<"invalid_argument"> {
  override readonly name = "InvalidCursorError";
  /**
   * The request field at fault, for the caller's field violation: every cursor reaches the store
   * from an API's `page_token` (ListEmailJobs, ListSuppressions, ListDeadLetters, ListTemplates).
   */
  readonly field = "page_token";

  constructor(message: string) {
    super("invalid_argument", message, { code: "invalid_cursor" });
  }
}

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.created_at, position.id])).toString("base64url");
}

export function decodeCursor(cursor: string): KeysetPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2) {
      const [createdAt, id] = value;
      if (typeof createdAt === "string" && !Number.isNaN(Date.parse(createdAt)) && typeof id === "string") {
        if (isJobId(id)) return { created_at: createdAt, id };
      }
    }
  } catch {
    // falls through to the error below
  }
  throw new InvalidCursorError("cursor is not one returned by a previous page");
}

/**
 * One page of rows read newest first by (created_at, id), `limit + 1` of them: the extra row only
 * says that another page follows. Each row carries Postgres' own text of its created_at as
 * `cursor_created_at`, which the cursor keeps and the page leaves out.
 */
export function keysetPage<T extends { id: string; cursor_created_at: string }>(
  rows: readonly T[],
  limit: number,
): { rows: Omit<T, "cursor_created_at">[]; next_cursor: string | undefined } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    rows: page.map(({ cursor_created_at: _, ...row }) => row),
    next_cursor:
      rows.length > limit && last
        ? encodeCursor({ created_at: last.cursor_created_at, id: last.id })
        : undefined,
  };
}
