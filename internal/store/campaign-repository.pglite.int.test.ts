import { openMigratedRouter } from "../../test/store.ts";
import { campaignRepositoryContract } from "./campaign-repository.contract.ts";

campaignRepositoryContract("PGlite (embedded)", async () => {
  const router = await openMigratedRouter({ DB_EMBEDDED_DIR: "memory://" });
  return { router, close: () => router.destroy() };
});
