/** A plain text table: columns sized to their content, no borders (greppable). */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((row) =>
    row.map((cell) => (cell === undefined || cell === null ? "" : String(cell))),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join("\n");
}

export function formatTime(date: Date | undefined): string {
  return date
    ? date
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    : "";
}

export interface Output {
  json: boolean;
  /** Human output (stdout). */
  print(text: string): void;
  /** Machine output (stdout), with --json. */
  data(value: unknown): void;
  /** Progress and warnings (stderr: never mixed into data). */
  note(text: string): void;
  /**
   * A progress line on stderr that replaces the last one on a terminal (one line per call
   * elsewhere, so logs stay readable); `done` ends it.
   */
  progress(text: string, done?: boolean): void;
}

export function consoleOutput(
  json: boolean,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
): Output {
  return {
    json,
    print: (text) => stdout.write(`${text}\n`),
    data: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (text) => stderr.write(`${text}\n`),
    progress: (text, done = false) =>
      stderr.write(stderr.isTTY ? `\r${text}\u001b[K${done ? "\n" : ""}` : `${text}\n`),
  };
}

/** A bar `width` characters wide, `fraction` of it filled. */
export function progressBar(fraction: number, width = 30): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(Math.min(Math.max(fraction, 0), 1) * 100).toFixed(0).padStart(3)}%`;
}
