import { openMigratedRouter } from "../../test/store.ts";
import { jobTagsContract } from "./job-tags.contract.ts";

jobTagsContract("PGlite (embedded)", async () => {
  const router = await openMigratedRouter({ DB_EMBEDDED_DIR: "memory://" });
  return { router, close: () => router.destroy() };
});
