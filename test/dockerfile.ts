import { readFileSync } from "node:fs";

/** The runtime stage's CMD of the project's Dockerfile, as its exec-form array. */
export function dockerfileCmd(): string[] {
  const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
  return JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]") as string[];
}
