import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

export interface RunningProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the output contains `text`; rejects on timeout or if the process ends first. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a TypeScript entry point on the same Node as the tests (Node 24, type stripping). */
export function startProcess(
  entry: string,
  options: { cwd: string; env: Record<string, string>; nodeArgs?: string[] },
): RunningProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));

  return {
    child,
    output: () => output,
    waitFor(text, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (output.includes(text)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${JSON.stringify(text)}; output:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        exited.then(() => {
          if (!output.includes(text)) {
            cleanup();
            reject(new Error(`process exited before ${JSON.stringify(text)}; output:\n${output}`));
          }
        }, reject);
        check();
      });
    },
    exit: () => exited,
  };
}
