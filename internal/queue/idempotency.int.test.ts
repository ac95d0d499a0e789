import type { Redis } from "ioredis";
import { createTestDatabase, type TestDatabase } from "../../test/postgres.ts";
import { connectRedis, deleteKeys, uniquePrefix } from "../../test/redis.ts";
import { openMigratedRouter } from "../../test/store.ts";
import type { DatabaseRouter } from "../store/database-router.ts";
import { idempotencyContract } from "./idempotency.contract.ts";
import { PostgresIdempotencyStore } from "./postgres/postgres-idempotency-store.ts";
import { RedisIdempotencyStore } from "./redis/redis-idempotency-store.ts";

idempotencyContract("Redis", async () => {
  const redis: Redis = await connectRedis();
  const name = uniquePrefix("idem");
  return {
    store: new RedisIdempotencyStore(redis, name),
    async close() {
      await deleteKeys(redis, name);
      redis.disconnect();
    },
  };
});

idempotencyContract("PostgreSQL", async () => {
  const database: TestDatabase = await createTestDatabase();
  const router: DatabaseRouter = await openMigratedRouter({ DATABASE_URL: database.url });
  return {
    store: new PostgresIdempotencyStore(router.master),
    async close() {
      await router.destroy();
      await database.drop();
    },
  };
});
