import type { Provider } from "../internal/provider/provider.ts";
import { ProviderRouter } from "../internal/provider/provider-router.ts";
import { SmtpProvider } from "../internal/provider/smtp/smtp-provider.ts";

/** A plain-SMTP provider (no TLS, no AUTH) to a test server on loopback. */
export function loopbackSmtpProvider(
  port: number,
  options: { poolSize?: number; timeoutMs?: number; senderName?: string } = {},
): SmtpProvider {
  return new SmtpProvider({
    host: "127.0.0.1",
    port,
    useTls: false,
    accounts: [],
    sender: { email: "noreply@example.com", ...(options.senderName && { name: options.senderName }) },
    poolSize: options.poolSize ?? 2,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

/** A router that sends everything through `provider`, with the configured breaker defaults. */
export function singleProviderRouter(provider: Provider): ProviderRouter {
  return new ProviderRouter({
    providers: new Map([[provider.name, provider]]),
    routes: [],
    defaultProvider: provider.name,
    breaker: { failureThreshold: 5, halfOpenAfterMs: 30_000 },
  });
}
