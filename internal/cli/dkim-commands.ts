import { loadConfig } from "../config/index.ts";
import { DkimKeyring } from "../provider/dkim/dkim-keyring.ts";
import { loadDkimKeys } from "../provider/dkim/dkim-keys.ts";
import { dkimDnsRecord, zoneFileLine } from "../provider/dkim/dns-record.ts";
import { InvalidInputError, UsageError } from "./cli-error.ts";
import type { Command } from "./context.ts";

/**
 * `dkim dns <domain>`: the TXT records to publish for the keys that sign mail from `domain`, read
 * from the service's own configuration (config.yaml and the environment, as the service reads them),
 * so it runs where the service runs. No request to the service: the keys never leave this process.
 */
export const dkimDns: Command = async ({ out, args }) => {
  const [domain, ...extra] = args;
  if (!domain || extra.length > 0) throw new UsageError("usage: emailctl dkim dns <domain>");
  const config = loadConfig({ env: process.env });
  const keys = new DkimKeyring(loadDkimKeys(config.email.dkim)).keysFor(domain);
  if (keys.length === 0)
    throw new InvalidInputError(`no DKIM key signs mail from ${domain}: see email.dkim in the configuration`);
  const records = keys.map(dkimDnsRecord);
  if (out.json) out.data(records);
  else out.print(records.map(zoneFileLine).join("\n"));
};
