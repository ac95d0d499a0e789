import { createSign, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type SnsMessage, snsStringToSign } from "../internal/tracking/sns-verifier.ts";
import { selfSignedCertificate } from "./tls.ts";

export interface SnsSigner {
  /** Where the signing certificate is served, as AWS serves it (here over loopback HTTP). */
  certUrl: string;
  /** Subscription confirmations received. */
  confirmations: string[];
  baseUrl: string;
  sign(
    fields: Omit<
      SnsMessage,
      "Signature" | "SignatureVersion" | "SigningCertURL" | "MessageId" | "Timestamp"
    > &
      Partial<Pick<SnsMessage, "MessageId" | "Timestamp">>,
  ): SnsMessage;
  close(): Promise<void>;
}

/** Signs SNS messages with a test certificate and serves that certificate like SNS does. */
export async function startSnsSigner(): Promise<SnsSigner> {
  const { key, cert } = await selfSignedCertificate();
  const confirmations: string[] = [];
  const server = createServer((req, res) => {
    if (req.url === "/cert.pem") {
      res.writeHead(200, { "content-type": "application/x-pem-file" });
      return res.end(cert);
    }
    if (req.url?.startsWith("/confirm")) {
      confirmations.push(req.url);
      res.writeHead(200);
      return res.end("<ConfirmSubscriptionResponse/>");
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    certUrl: `${baseUrl}/cert.pem`,
    confirmations,
    baseUrl,
    sign(fields) {
      const message = {
        MessageId: randomUUID(),
        Timestamp: new Date().toISOString(),
        ...fields,
        SignatureVersion: "2",
        SigningCertURL: `${baseUrl}/cert.pem`,
      } as SnsMessage;
      const signer = createSign("RSA-SHA256");
      signer.update(snsStringToSign(message));
      return { ...message, Signature: signer.sign(key, "base64") };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
