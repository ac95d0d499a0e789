import { SendGridProvider } from "../internal/provider/sendgrid/sendgrid-provider.ts";
import { type SendGridFake, startSendGridFake } from "./sendgrid-fake.ts";

/** The API key the fake accepts. */
export const SENDGRID_TEST_KEY = "SG.test-key-not-a-secret";

/**
 * A SendGrid fake that accepts SENDGRID_TEST_KEY, and a SendGridProvider on it sending as `sender`
 * with a 1 s timeout. Close the fake when done.
 */
export async function sendGridProviderOnFake(
  sender: ConstructorParameters<typeof SendGridProvider>[0]["sender"],
): Promise<{ fake: SendGridFake; provider: SendGridProvider }> {
  const fake = await startSendGridFake(SENDGRID_TEST_KEY);
  const provider = new SendGridProvider({
    apiKey: SENDGRID_TEST_KEY,
    baseUrl: fake.baseUrl,
    timeoutMs: 1_000,
    sender,
  });
  return { fake, provider };
}
