import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as emulatorModule from "aws-ses-v2-local";

type Start = (config?: { host?: string; port?: number }) => Promise<Server>;

/** The package is CommonJS with a `default` export; reach it the same way under any loader. */
function startFunction(): Start {
  let candidate: unknown = emulatorModule;
  for (let depth = 0; depth < 3 && typeof candidate !== "function"; depth++) {
    candidate = (candidate as { default?: unknown }).default;
  }
  if (typeof candidate !== "function") throw new Error("aws-ses-v2-local exports no server function");
  return candidate as Start;
}

export interface SesEmulator {
  url: string;
  close(): Promise<void>;
}

/** The account GetAccount describes: the emulator reads it from its process's environment. */
const SANDBOX_ACCOUNT = {
  DedicatedIpAutoWarmupEnabled: false,
  Details: {
    AdditionalContactEmailAddresses: [],
    ContactLanguage: "EN",
    MailType: "TRANSACTIONAL",
    ReviewDetails: { CaseId: "case-1", Status: "PENDING" },
    UseCaseDescription: "tests",
    WebsiteURL: "https://shop.example",
  },
  EnforcementStatus: "HEALTHY",
  ProductionAccessEnabled: false,
  SendingEnabled: true,
  SendQuota: { Max24HourSend: 200, MaxSendRate: 1, SentLast24Hours: 0 },
  SuppressionAttributes: { SuppressedReasons: [] },
};

/** aws-ses-v2-local on a free loopback port: the SES v2 API, storing what it receives (GET /store). */
export async function startSesEmulator(): Promise<SesEmulator> {
  process.env.AWS_SES_ACCOUNT ??= JSON.stringify(SANDBOX_ACCOUNT);
  const server = await startFunction()({ host: "127.0.0.1", port: 0 });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
