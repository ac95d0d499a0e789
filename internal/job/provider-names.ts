/**
 * The providers a job may name in its `provider` field and the configuration may enable. Owned here,
 * at the bottom layer beside the job contract, so that both the job parser and the configuration
 * (which imports nothing else from `job`) can use it without either depending on the other.
 */
export const PROVIDER_NAMES = ["sendgrid", "ses", "smtp", "outbox"] as const;

export type ProviderName = (typeof PROVIDER_NAMES)[number];
