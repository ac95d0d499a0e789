import { readFileSync } from "node:fs";
import { type Config, enabledProviders } from "../config/index.ts";
import type { RedisClient } from "../queue/redis/connect-redis.ts";
import type { DkimSigner } from "./dkim/dkim-signer.ts";
import { OutboxProvider } from "./outbox/outbox-provider.ts";
import type { Provider } from "./provider.ts";
import { ProviderGate } from "./provider-gate.ts";
import { SmtpProvider } from "./smtp/smtp-provider.ts";

/** The private relay CA, read at start-up so that a wrong path stops the service, naming the key. */
function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`email.providers.smtp.tls_ca_file: cannot read ${path} (${(error as Error).message})`);
  }
}

function sender(settings: { from_email: string; from_name: string }, fallback: string) {
  const email = settings.from_email || fallback;
  return settings.from_name ? { email, name: settings.from_name } : { email };
}

/** Each enabled provider's rate and concurrency limits; Redis makes the rate hold across replicas. */
export function createProviderGates(
  email: Config["email"],
  redis: RedisClient | undefined,
  keyPrefix: string,
  /** How long a send may wait for its turn before the job goes back to the queue. */
  maxWaitMs: number,
  /** The longest a send can take: a concurrency slot held longer than this is freed. */
  leaseMs: number,
): Map<string, ProviderGate> {
  const gates = new Map<string, ProviderGate>();
  for (const name of enabledProviders(email)) {
    const { rate_limit, max_concurrency } = email.providers[name];
    if (rate_limit === 0 && max_concurrency === 0) continue;
    gates.set(
      name,
      new ProviderGate({
        provider: name,
        ratePerSecond: rate_limit,
        maxConcurrency: max_concurrency,
        redis,
        keyPrefix,
        maxWaitMs,
        leaseMs,
      }),
    );
  }
  return gates;
}

/**
 * One adapter per provider the configuration enables (see enabledProviders). The SendGrid and SES
 * SDKs are loaded only when enabled: the AWS SDK alone is about 20 MB of a worker's memory.
 */
export async function createProviders(
  email: Config["email"],
  /** Signs what SMTP, the outbox and SES Raw send; absent: no DKIM keys configured. */
  dkim?: DkimSigner,
): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>();
  const { outbox, smtp, sendgrid, ses } = email.providers;
  for (const name of enabledProviders(email)) {
    switch (name) {
      case "outbox":
        providers.set(
          name,
          new OutboxProvider({ dir: outbox.dir, sender: sender(outbox, "noreply@localhost"), dkim }),
        );
        break;
      case "smtp": {
        const accounts =
          smtp.accounts.length > 0
            ? smtp.accounts
            : smtp.username
              ? [{ username: smtp.username, password: smtp.password, daily_limit: 0 }]
              : [];
        providers.set(
          name,
          new SmtpProvider({
            host: smtp.host,
            port: smtp.port,
            useTls: smtp.use_tls,
            accounts,
            sender: sender(smtp, smtp.username.includes("@") ? smtp.username : `noreply@${smtp.host}`),
            dkim,
            poolSize: smtp.pool_size,
            timeoutMs: smtp.timeout,
            ca: smtp.tls_ca_file ? readCaFile(smtp.tls_ca_file) : undefined,
            servername: smtp.tls_servername || undefined,
            returnPath: smtp.return_path || undefined,
            verp: smtp.verp,
          }),
        );
        break;
      }
      case "sendgrid": {
        const { SendGridProvider } = await import("./sendgrid/sendgrid-provider.ts");
        providers.set(
          name,
          new SendGridProvider({
            apiKey: sendgrid.api_key,
            baseUrl: sendgrid.base_url,
            timeoutMs: sendgrid.timeout,
            sender: sender(sendgrid, sendgrid.from_email),
          }),
        );
        break;
      }
      case "ses": {
        const { SesProvider } = await import("./ses/ses-provider.ts");
        providers.set(
          name,
          new SesProvider({
            region: ses.region,
            accessKeyId: ses.access_key || undefined,
            secretAccessKey: ses.secret_key || undefined,
            endpoint: ses.endpoint || undefined,
            configurationSet: ses.configuration_set || undefined,
            sender: sender(ses, ses.from_email),
            dkim,
          }),
        );
        break;
      }
    }
  }
  return providers;
}
