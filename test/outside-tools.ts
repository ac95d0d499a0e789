import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";

/** True when `command` is an executable on PATH. */
export function hasCommand(command: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** True when PostgreSQL's server programs (initdb, pg_basebackup) are installed or PG_BIN_DIR names them. */
export function hasPostgresServer(): boolean {
  if (process.env.PG_BIN_DIR) return existsSync(join(process.env.PG_BIN_DIR, "initdb"));
  const root = "/usr/lib/postgresql";
  return existsSync(root) && readdirSync(root).some((v) => existsSync(join(root, v, "bin", "pg_basebackup")));
}

/** True when the Kafka tests have a broker: a real one (KAFKA_BROKERS), or the mock one built or buildable. */
export function hasKafkaBroker(): boolean {
  return (
    Boolean(process.env.KAFKA_BROKERS || process.env.KAFKA_MOCK_BROKER) ||
    (hasCommand("cc") && hasCommand("make"))
  );
}

export interface Requirement {
  /** Skip the test: what it needs is missing and this is not CI. */
  skip: boolean;
  /** Appended to the test's name: says what it needs, and why it was skipped when it was. */
  label: string;
}

/**
 * For a test that needs software from outside the project (`npm run setup:test` installs it all):
 * outside CI a missing piece skips the test, its name saying why; in CI (CI set) it runs and fails
 * naming what is missing, because CI must prove everything.
 */
export function requires(what: string, present: boolean): Requirement {
  const skip = !present && !process.env.CI;
  return {
    skip,
    label: skip ? ` (skipped: needs ${what}; npm run setup:test installs it)` : ` (needs ${what})`,
  };
}
