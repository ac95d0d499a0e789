import { openMigratedRouter } from "../../test/store.ts";
import { repositoryContract } from "./repositories.contract.ts";

repositoryContract("PGlite (embedded)", async () => {
  const router = await openMigratedRouter({ DB_EMBEDDED_DIR: "memory://" });
  return { router, close: () => router.destroy() };
});
