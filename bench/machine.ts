import { cpus } from "node:os";

/** The machine a report was measured on, so figures from different runs are not compared blindly. */
export function machineDescription(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`;
}
