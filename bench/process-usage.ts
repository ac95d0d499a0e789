import { readFileSync } from "node:fs";

function statusMb(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** A process's peak resident set (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  return statusMb(pid, "VmHWM");
}

/** A process's resident set now, in MB. */
export function rssMb(pid: number): number {
  return statusMb(pid, "VmRSS");
}

/**
 * User plus system CPU time a process has used, in milliseconds. Steadier than wall time on a shared
 * machine: it says what a job costs the worker, whatever else the machine is doing.
 */
export function cpuMs(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}
