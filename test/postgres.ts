import { randomBytes } from "node:crypto";
import pg from "pg";

/** The server tests create their throwaway databases on; override with TEST_DATABASE_URL. */
export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function admin<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `tests need PostgreSQL at ${url} (trust auth); start it (pg_ctlcluster 15 main start) or set TEST_DATABASE_URL`,
      { cause: error },
    );
  }
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database for one test file; `drop()` removes it even if connections remain. */
export async function createTestDatabase(prefix = "ew_test", base = adminUrl()): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await admin(base, (client) => client.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: withDatabase(base, name),
    drop: () =>
      admin(base, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}
