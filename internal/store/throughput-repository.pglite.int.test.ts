import { openMigratedRouter } from "../../test/store.ts";
import { throughputRepositoryContract } from "./throughput-repository.contract.ts";

throughputRepositoryContract("PGlite (embedded)", async () => {
  const router = await openMigratedRouter({ DB_EMBEDDED_DIR: "memory://" });
  return { router, close: () => router.destroy() };
});
