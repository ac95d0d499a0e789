import type { Config } from "../../config/index.ts";
import type { Logger } from "../../log/logger.ts";
import { DkimKeyring } from "./dkim-keyring.ts";
import { loadDkimKeys } from "./dkim-keys.ts";
import { DkimSigner } from "./dkim-signer.ts";

/**
 * The signer for start-up: every configured key loaded and checked (a bad one throws, naming its
 * domain and selector), or undefined when none is configured. Logs which keys sign, never the keys.
 */
export function openDkimSigner(settings: Config["email"]["dkim"], logger: Logger): DkimSigner | undefined {
  const keys = loadDkimKeys(settings);
  if (keys.length === 0) return undefined;
  logger.info(
    { keys: keys.map(({ domain, selector, algorithm }) => ({ domain, selector, algorithm })) },
    "DKIM signing enabled",
  );
  return new DkimSigner(new DkimKeyring(keys), {
    // Once per domain: a sender domain without keys is a configuration gap, not a per-message event.
    onUnsignedDomain: (domain) =>
      logger.warn(
        { domain },
        "mail from this domain goes out without DKIM: no key for it or a parent domain",
      ),
  });
}
