import type { Config } from "../config/index.ts";
import { OutboxProvider } from "./outbox/outbox-provider.ts";
import type { Provider } from "./provider.ts";
import { SmtpProvider } from "./smtp/smtp-provider.ts";

function sender(settings: { from_email: string; from_name: string }, fallback: string) {
  const email = settings.from_email || fallback;
  return settings.from_name ? { email, name: settings.from_name } : { email };
}

/** The providers the configuration enables: the outbox always, SMTP when a host is set. */
export function createProviders(email: Config["email"]): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  const { outbox, smtp } = email.providers;
  providers.set(
    "outbox",
    new OutboxProvider({ dir: outbox.dir, sender: sender(outbox, "noreply@localhost") }),
  );
  if (smtp.host) {
    const accounts =
      smtp.accounts.length > 0
        ? smtp.accounts
        : smtp.username
          ? [{ username: smtp.username, password: smtp.password, daily_limit: 0 }]
          : [];
    providers.set(
      "smtp",
      new SmtpProvider({
        host: smtp.host,
        port: smtp.port,
        useTls: smtp.use_tls,
        accounts,
        sender: sender(smtp, smtp.username.includes("@") ? smtp.username : `noreply@${smtp.host}`),
        poolSize: smtp.pool_size,
        timeoutMs: smtp.timeout,
      }),
    );
  }
  return providers;
}
