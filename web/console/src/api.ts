// The console's only door to the server: same-origin JSON, the CSRF header on every change, and one
// place that notices a lapsed session.
import type { ErrorView } from "../../../internal/console/console-api.ts";

export const API_BASE = "/admin/api";

/** An answer other than 2xx, carrying the server's ErrorView when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly kind: string;
  readonly violations: { field: string; description: string }[];

  constructor(status: number, view: Partial<ErrorView> | null) {
    super(view?.error ?? `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.kind = view?.kind ?? "http";
    this.violations = view?.violations ?? [];
  }
}

let csrfToken = "";
let onUnauthorized: () => void = () => {};

/** The session's token is kept in memory only, so a reload asks the server for it again. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called on any 401 outside sign-in, so the whole console falls back to the sign-in page. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") {
    headers["x-csrf-token"] = csrfToken;
    headers["content-type"] = "application/json";
  }
  const init: RequestInit = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);

  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, init);
  } catch {
    throw new ApiError(0, { error: "The server could not be reached.", kind: "network" });
  }
  if (response.status === 401 && path !== "/session") onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, await errorView(response));
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

async function errorView(response: Response): Promise<Partial<ErrorView> | null> {
  try {
    const view: unknown = await response.json();
    return typeof view === "object" && view !== null ? (view as Partial<ErrorView>) : null;
  } catch {
    return null;
  }
}

export const get = <T>(path: string): Promise<T> => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => request<T>("POST", path, body);
export const put = <T>(path: string, body: unknown): Promise<T> => request<T>("PUT", path, body);
export const del = <T>(path: string): Promise<T> => request<T>("DELETE", path);

/** A query string from the set values only. */
export function query(params: Record<string, string | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** Path segments are ids from the server or the operator: escape them so "/" or "?" stay inside one. */
export const segment = (id: string): string => encodeURIComponent(id);

export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : "Something went wrong.";

export function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}
