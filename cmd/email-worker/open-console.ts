import type { Config } from "../../internal/config/index.ts";
import { ConsoleAssets, defaultConsoleAssetsDir } from "../../internal/console/console-assets.ts";
import { ConsoleHandlers } from "../../internal/console/console-handlers.ts";
import { ConsoleRoutes } from "../../internal/console/console-routes.ts";
import { ConsoleSessions } from "../../internal/console/console-session.ts";
import type { Logger } from "../../internal/log/logger.ts";
import type { ApiKeyAuth } from "../../internal/server/auth/api-key-auth.ts";
import type { HealthMonitor } from "../../internal/server/http/health-monitor.ts";
import type { Delivery } from "./open-delivery.ts";
import type { Storage } from "./open-storage.ts";

/** The operator console at /admin; its pages are the build's, read once now. */
export async function openConsole(
  config: Config,
  logger: Logger,
  storage: Storage,
  delivery: Delivery,
  auth: ApiKeyAuth,
  health: HealthMonitor,
): Promise<ConsoleRoutes> {
  const consoleLogger = logger.child({ component: "console" });
  const assetsDir = defaultConsoleAssetsDir();
  const assets = await ConsoleAssets.load(assetsDir);
  if (!assets.built)
    consoleLogger.warn(
      { dir: assetsDir },
      "the console's files are not built (npm run console:build): /admin says so",
    );
  if (auth.enabled && !config.server.console.session_secret)
    consoleLogger.info(
      "server.console.session_secret is not set: console sign-ins last until this process restarts and work only on this replica",
    );
  return new ConsoleRoutes({
    auth,
    sessions: new ConsoleSessions({
      secret: config.server.console.session_secret,
      ttlMs: config.server.console.session_ttl,
    }),
    assets,
    handlers: new ConsoleHandlers({
      emails: delivery.service,
      templates: delivery.templates,
      campaigns: delivery.campaigns,
      health,
      throughput: storage.throughput,
    }),
    logger: consoleLogger,
  });
}
