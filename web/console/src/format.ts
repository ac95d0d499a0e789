// How values read on screen; absent ones show as an en dash so empty cells are visibly empty.

export const DASH = "–";

export function dateTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === "") return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export const text = (value: string | null | undefined): string =>
  value === null || value === undefined || value === "" ? DASH : value;

export const list = (values: readonly string[] | null | undefined): string =>
  values === null || values === undefined || values.length === 0 ? DASH : values.join(", ");

export const count = (n: number): string => n.toLocaleString();

export const percent = (share: number): string => `${(share * 100).toFixed(1)} %`;

export const yesNo = (value: boolean): string => (value ? "Yes" : "No");

/** A datetime-local value ("2026-01-02T03:04", the browser's zone) as an ISO instant. */
export function localToIso(value: string): string | undefined {
  if (value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** A payload as the operator wants to read it: indented when it is JSON, as it came otherwise. */
export function prettyPayload(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
