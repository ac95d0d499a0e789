import { createTestDatabase } from "../../test/postgres.ts";
import { openMigratedRouter } from "../../test/store.ts";
import { throughputRepositoryContract } from "./throughput-repository.contract.ts";

throughputRepositoryContract("PostgreSQL", async () => {
  const database = await createTestDatabase();
  const router = await openMigratedRouter({ DATABASE_URL: database.url });
  return {
    router,
    async close() {
      await router.destroy();
      await database.drop();
    },
  };
});
