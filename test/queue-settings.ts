import { loadConfig } from "../internal/config/index.ts";
import { type DriverSettings, driverSettings } from "../internal/queue/open-queue.ts";

/**
 * The queue drivers' settings as a deployment with no config file and no environment gets them, so
 * that tests and benches open drivers the way the service does and override only what they are about.
 */
export function queueSettings(): DriverSettings {
  return driverSettings(loadConfig({ env: {}, file: false }).queue);
}
