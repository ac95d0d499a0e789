import type {
  AbortableOperationOptions,
  CompiledQuery,
  ControlConnectionProvider,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from "kysely";
import { asUnavailable } from "./errors.ts";

/**
 * Wraps a dialect so that failures to reach the server surface as DatabaseUnavailableError. The
 * replica router falls back on exactly these, and the API maps them to UNAVAILABLE.
 */
export class UnavailableErrorDialect implements Dialect {
  readonly #inner: Dialect;
  readonly #where: string;

  constructor(inner: Dialect, where: string) {
    this.#inner = inner;
    this.#where = where;
  }

  createAdapter(): DialectAdapter {
    return this.#inner.createAdapter();
  }

  createDriver(): Driver {
    return new UnavailableErrorDriver(this.#inner.createDriver(), this.#where);
  }

  createQueryCompiler(): QueryCompiler {
    return this.#inner.createQueryCompiler();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface takes Kysely<any>.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.#inner.createIntrospector(db);
  }
}

class WrappedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #where: string;

  constructor(inner: DatabaseConnection, where: string) {
    this.inner = inner;
    this.#where = where;
  }

  async executeQuery<R>(query: CompiledQuery, options?: AbortableOperationOptions): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query, options);
    } catch (error) {
      throw asUnavailable(error, this.#where);
    }
  }

  streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
    options?: AbortableOperationOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize, options);
  }

  async cancelQuery(provider: ControlConnectionProvider): Promise<void> {
    await this.inner.cancelQuery?.(provider);
  }

  async killSession(provider: ControlConnectionProvider): Promise<void> {
    await this.inner.killSession?.(provider);
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof WrappedConnection ? connection.inner : connection;
}

class UnavailableErrorDriver implements Driver {
  readonly #inner: Driver;
  readonly #where: string;

  constructor(inner: Driver, where: string) {
    this.#inner = inner;
    this.#where = where;
  }

  async init(options?: AbortableOperationOptions): Promise<void> {
    try {
      await this.#inner.init(options);
    } catch (error) {
      throw asUnavailable(error, this.#where);
    }
  }

  async acquireConnection(options?: AbortableOperationOptions): Promise<DatabaseConnection> {
    try {
      return new WrappedConnection(await this.#inner.acquireConnection(options), this.#where);
    } catch (error) {
      throw asUnavailable(error, this.#where, true);
    }
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(connection);
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]) {
    await this.#inner.savepoint?.(connection, name, compile);
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#inner.rollbackToSavepoint?.(connection, name, compile);
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ) {
    await this.#inner.releaseSavepoint?.(connection, name, compile);
  }

  releaseConnection(connection: DatabaseConnection, options?: AbortableOperationOptions): Promise<void> {
    return this.#inner.releaseConnection(unwrap(connection), options);
  }

  destroy(options?: AbortableOperationOptions): Promise<void> {
    return this.#inner.destroy(options);
  }
}
