import { describe, expect, it } from "vitest";
import { envelopeSender, ReturnPath } from "./return-path.ts";

const job = "0b5a3c1e-7d2f-4c7a-9e31-5f8b2d6a4c10";

describe("envelopeSender", () => {
  it("is the return path as configured without VERP", () => {
    expect(envelopeSender("bounces@bounces.shop.example", false, job)).toBe("bounces@bounces.shop.example");
  });

  it("puts the job id after a + in the local part with VERP", () => {
    expect(envelopeSender("bounces@bounces.shop.example", true, job)).toBe(
      `bounces+${job}@bounces.shop.example`,
    );
  });
});

describe("ReturnPath", () => {
  const returnPath = new ReturnPath("bounces@bounces.shop.example");

  it("accepts the return path, its VERP forms and postmaster, in any case", () => {
    expect(returnPath.accepts("bounces@bounces.shop.example")).toBe(true);
    expect(returnPath.accepts(`Bounces+${job}@BOUNCES.shop.example`)).toBe(true);
    expect(returnPath.accepts("postmaster@bounces.shop.example")).toBe(true);
  });

  it("refuses other people at its domain, and everyone elsewhere (no relaying)", () => {
    expect(returnPath.accepts("ceo@bounces.shop.example")).toBe(false);
    expect(returnPath.accepts("bouncesx@bounces.shop.example")).toBe(false);
    expect(returnPath.accepts("bounces@shop.example")).toBe(false);
    expect(returnPath.accepts("bounces@bounces.shop.example.evil.test")).toBe(false);
  });

  it("reads the job id back from a VERP address, and nothing from one without a job id", () => {
    expect(returnPath.jobIdOf(`bounces+${job.toUpperCase()}@bounces.shop.example`)).toBe(job);
    expect(returnPath.jobIdOf("bounces+hello@bounces.shop.example")).toBeUndefined();
    expect(returnPath.jobIdOf(`bounces+${job}@elsewhere.example`)).toBeUndefined();
  });
});
