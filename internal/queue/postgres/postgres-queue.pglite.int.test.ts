import { queueSettings } from "../../../test/queue-settings.ts";
import { openMigratedRouter } from "../../../test/store.ts";
import { queueContract } from "../queue.contract.ts";
import { PostgresQueue } from "./postgres-queue.ts";

queueContract("postgres on the embedded PGlite", async (timings) => {
  const router = await openMigratedRouter({ DB_EMBEDDED_DIR: "memory://" });
  const open = async () => new PostgresQueue({ ...queueSettings().postgres, db: router.master, ...timings });
  return { queue: await open(), anotherConsumer: open, cleanup: () => router.destroy() };
});
