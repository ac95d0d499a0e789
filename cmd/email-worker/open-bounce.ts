import { BounceIntake } from "../../internal/bounce/bounce-intake.ts";
import { BounceListener } from "../../internal/bounce/bounce-listener.ts";
import { ReturnPath } from "../../internal/bounce/return-path.ts";
import type { Config } from "../../internal/config/index.ts";
import type { Logger } from "../../internal/log/logger.ts";
import type { Metrics } from "../../internal/metrics/metrics.ts";
import { UnattributedBounceRepository } from "../../internal/store/unattributed-bounce-repository.ts";
import { EventRecorder } from "../../internal/tracking/event-recorder.ts";
import type { Storage } from "./open-storage.ts";

/**
 * Bounces come back to return_path; they are recorded like the providers' webhook events. Imported
 * only when bounce.listen_port is set, so that the SMTP server library is not loaded otherwise.
 */
export function createBounceListener(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  storage: Storage,
): BounceListener {
  const { jobs, tracking, suppressions } = storage;
  const bounceLogger = logger.child({ component: "bounces" });
  const returnPath = new ReturnPath(config.email.providers.smtp.return_path);
  return new BounceListener({
    host: config.bounce.listen_host,
    port: config.bounce.listen_port,
    returnPath,
    maxMessageBytes: config.bounce.max_message_bytes,
    intake: new BounceIntake({
      returnPath,
      recorder: new EventRecorder({
        jobs,
        tracking,
        suppressions,
        logger: bounceLogger,
        onEvent: (event) => metrics.providerEvents.inc({ provider: event.provider, type: event.type }),
      }),
      kept: new UnattributedBounceRepository(storage.database),
      logger: bounceLogger,
      onOutcome: (outcome) => metrics.bouncesReceived.inc({ outcome }),
    }),
    logger: bounceLogger,
  });
}
