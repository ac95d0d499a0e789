import type { ProviderName } from "../job/provider-names.ts";
import type { Config } from "./config.ts";

/**
 * The providers the configuration turns on: the outbox always; SMTP with a host; SendGrid with an
 * API key; SES with a sender address (credentials may come from the default AWS chain).
 */
export function enabledProviders(email: Config["email"]): ProviderName[] {
  const { smtp, sendgrid, ses } = email.providers;
  return [
    "outbox" as const,
    ...(smtp.host ? ["smtp" as const] : []),
    ...(sendgrid.api_key ? ["sendgrid" as const] : []),
    ...(ses.from_email ? ["ses" as const] : []),
  ];
}
