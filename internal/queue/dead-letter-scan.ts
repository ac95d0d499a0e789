import { type DeadLetter, type JobQueue, positionOf } from "./queue.ts";

/**
 * Letters one filtered request reads at most. A filter that matches little would otherwise read the
 * whole store (Kafka's reads every message each time); past this the page ends early, maybe empty,
 * with a position to go on from.
 */
export const DEAD_LETTER_SCAN_LIMIT = 10_000;

/** Letters read per round trip while filtering. */
const SCAN_CHUNK = 1_000;

export interface DeadLetterScan {
  limit: number;
  /** The position to start after (exclusive); absent: the newest letter. */
  after?: string | undefined;
  /** Absent: every letter matches. */
  matches?: ((letter: DeadLetter) => boolean | Promise<boolean>) | undefined;
  /** Letters read at most; DEAD_LETTER_SCAN_LIMIT unless told. */
  scanLimit?: number | undefined;
}

export interface DeadLetterScanPage {
  letters: DeadLetter[];
  /**
   * Where the next page starts: after the last letter returned, or after the last one read when
   * the scan limit ended the page. Absent: there is nothing older to read.
   */
  next: string | undefined;
}

/** Up to `limit` matching dead letters, newest first, reading the queue's keyset pages. */
export async function scanDeadLetters(queue: JobQueue, scan: DeadLetterScan): Promise<DeadLetterScanPage> {
  const { limit, matches } = scan;
  // Without a filter one read of limit + 1 says whether anything follows the page.
  const budget = matches ? (scan.scanLimit ?? DEAD_LETTER_SCAN_LIMIT) : limit + 1;
  const found: DeadLetter[] = [];
  let position = scan.after;
  let read = 0;
  while (read < budget) {
    const want = matches ? Math.min(SCAN_CHUNK, budget - read) : budget;
    const chunk = await queue.listDeadLetters(want, position);
    for (const letter of chunk) {
      read++;
      if (matches && !(await matches(letter))) {
        position = positionOf(letter);
        continue;
      }
      // A match beyond the page: the page is full and more follow it.
      if (found.length === limit) return { letters: found, next: position };
      found.push(letter);
      position = positionOf(letter);
    }
    if (chunk.length < want) return { letters: found, next: undefined };
  }
  return { letters: found, next: position };
}
