import { describe, expect, it } from "vitest";
import { classifySmtpError } from "./smtp-errors.ts";

describe("classifySmtpError", () => {
  it.each([
    [
      { code: "EENVELOPE", responseCode: 550, response: "550 5.1.1 <bob@example.com>: no such user" },
      "permanent",
      "smtp_550",
    ],
    [{ code: "EMESSAGE", responseCode: 552, response: "552 message too big" }, "permanent", "smtp_552"],
    [{ code: "EENVELOPE", responseCode: 451, response: "451 try later" }, "throttled", "smtp_451"],
    [{ code: "EENVELOPE", responseCode: 452, response: "452 too many" }, "throttled", "smtp_452"],
    [{ code: "ECONNECTION", responseCode: 421, response: "421 closing" }, "throttled", "smtp_421"],
    [{ code: "EENVELOPE", responseCode: 450, response: "450 mailbox busy" }, "transient", "smtp_450"],
    [{ code: "EAUTH", responseCode: 535, response: "535 bad credentials" }, "config", "smtp_auth_535"],
    [{ code: "ESOCKET", message: "self-signed certificate" }, "config", "smtp_tls"],
    [{ code: "ECONNECTION", message: "connect ECONNREFUSED 127.0.0.1:25" }, "transient", "smtp_econnection"],
    [{ code: "ETIMEDOUT", message: "Timeout", command: "CONN" }, "transient", "smtp_etimedout"],
    [new Error("something odd"), "transient", "smtp_unclassified"],
  ])("%o → %s %s", (error, kind, code) => {
    expect(classifySmtpError(error)).toMatchObject({ kind, code });
  });

  it("marks a timeout during DATA as ambiguous, and masks quoted addresses", () => {
    expect(classifySmtpError({ code: "ETIMEDOUT", command: "DATA" }).ambiguous).toBe(true);
    expect(classifySmtpError({ code: "ETIMEDOUT", command: "CONN" }).ambiguous).toBe(false);
    expect(
      classifySmtpError({ responseCode: 550, response: "550 <bob.smith@example.com> unknown" }).message,
    ).toBe("550 <b***@example.com> unknown");
  });
});
