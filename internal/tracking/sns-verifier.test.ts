import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SnsSigner, startSnsSigner } from "../../test/sns-signing.ts";
import { type SnsMessage, SnsVerifier } from "./sns-verifier.ts";

const AWS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

describe("SnsVerifier.checkCertificateUrl", () => {
  const verifier = new SnsVerifier({ certificateHost: AWS_HOST, maxAgeMs: 300_000 });

  it("takes AWS's certificate URLs, on the default port", () => {
    for (const url of [
      "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
      "https://sns.eu-west-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
      "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    ])
      expect(verifier.checkCertificateUrl(url).hostname, url).toMatch(AWS_HOST);
  });

  it("refuses other ports, user info, other paths, plain HTTP and other hosts", () => {
    for (const url of [
      "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
      "https://user:pw@sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
      "https://sns.eu-west-1.amazonaws.com/admin",
      "https://sns.eu-west-1.amazonaws.com/cert.pem?x=1",
      "https://sns.eu-west-1.amazonaws.com/cert.pem#x",
      "http://sns.eu-west-1.amazonaws.com/cert.pem",
      "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
      "https://s3.amazonaws.com/cert.pem",
      "not a url",
      undefined,
    ])
      expect(() => verifier.checkCertificateUrl(url), String(url)).toThrow(
        expect.objectContaining({ kind: "permission_denied" }),
      );
  });
});

describe("SnsVerifier certificate fetching", () => {
  let signer: SnsSigner;
  let server: Server;
  let base: string;
  const hits: string[] = [];

  beforeAll(async () => {
    signer = await startSnsSigner();
    server = createServer((req, res) => {
      hits.push(req.url ?? "");
      if (req.url === "/silent.pem") return; // never answers
      if (req.url === "/huge.pem") {
        res.writeHead(200);
        return res.end(Buffer.alloc(1024 * 1024, 0x41));
      }
      if (req.url === "/moved.pem") {
        res.writeHead(302, { location: signer.certUrl });
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await signer?.close();
  });

  const message = (): SnsMessage =>
    signer.sign({ Type: "Notification", TopicArn: "arn:aws:sns:eu-west-1:1:t", Message: "{}" });

  it("gives up on a silent host, an oversize answer and a redirect", async () => {
    const verifier = new SnsVerifier({
      certificateHost: /^127\.0\.0\.1$/,
      maxAgeMs: 300_000,
      certificateTimeoutMs: 200,
    });
    for (const path of ["/silent.pem", "/huge.pem", "/moved.pem"]) {
      const started = Date.now();
      await expect(
        verifier.verify({ ...message(), SigningCertURL: `${base}${path}` }),
        path,
      ).rejects.toMatchObject({ kind: "permission_denied", message: expect.stringContaining("fetched") });
      expect(Date.now() - started).toBeLessThan(3_000);
    }
  });

  it("fetches each certificate URL once", async () => {
    let fetches = 0;
    const verifier = new SnsVerifier({
      certificateHost: /^127\.0\.0\.1$/,
      maxAgeMs: 300_000,
      fetchText: async (url) => {
        fetches++;
        return (await fetch(url)).text();
      },
    });
    await verifier.verify(message());
    await verifier.verify(message());
    expect(fetches).toBe(1);
  });

  it("refuses a message that is not an object as unsigned", async () => {
    const verifier = new SnsVerifier({ certificateHost: /^127\.0\.0\.1$/, maxAgeMs: 300_000 });
    await expect(verifier.verify(null as unknown as SnsMessage)).rejects.toMatchObject({
      kind: "unauthenticated",
    });
  });
});
