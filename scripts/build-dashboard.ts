// Writes deploy/grafana/email-worker.json from deploy/grafana/dashboard.ts: `npm run dashboard`.
import { writeFileSync } from "node:fs";
import { buildDashboard } from "../deploy/grafana/dashboard.ts";

writeFileSync(
  new URL("../deploy/grafana/email-worker.json", import.meta.url),
  `${JSON.stringify(buildDashboard(), null, 2)}\n`,
);
