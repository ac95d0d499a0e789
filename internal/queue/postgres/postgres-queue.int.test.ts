import { createTestDatabase } from "../../../test/postgres.ts";
import { queueSettings } from "../../../test/queue-settings.ts";
import { openMigratedRouter } from "../../../test/store.ts";
import { queueContract } from "../queue.contract.ts";
import { PostgresQueue } from "./postgres-queue.ts";

queueContract("postgres", async (timings) => {
  const database = await createTestDatabase();
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  const open = async () => new PostgresQueue({ ...queueSettings().postgres, db: router.master, ...timings });
  return {
    queue: await open(),
    anotherConsumer: open,
    async cleanup() {
      await router.destroy();
      await database.drop();
    },
  };
});
