import { generateKeyPairSync, sign } from "node:crypto";

/** A key pair like SendGrid's Event Webhook uses, and a signer producing its headers. */
export function sendGridWebhookKeys() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicKeyBase64 = publicKey.export({ format: "der", type: "spki" }).toString("base64");
  return {
    publicKeyBase64,
    sign(body: string, timestamp = String(Math.floor(Date.now() / 1000))) {
      const signature = sign("sha256", Buffer.from(timestamp + body), {
        key: privateKey,
        dsaEncoding: "der",
      });
      return {
        "x-twilio-email-event-webhook-signature": signature.toString("base64"),
        "x-twilio-email-event-webhook-timestamp": timestamp,
      };
    },
  };
}
