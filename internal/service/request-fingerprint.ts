import { hash } from "node:crypto";

/**
 * A hash of what a send request asks for, stored with its idempotency key: a retry of the request
 * matches it, a different request reusing the key does not. The job id is left out (a retry that
 * lets the server choose the id gets a fresh one each time) and object keys are sorted, so field
 * order does not matter.
 */
export function requestFingerprint(input: unknown): string {
  const { id: _id, ...request } = input as Record<string, unknown>;
  return hash("sha256", canonicalJson(request), "hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString("base64"));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
