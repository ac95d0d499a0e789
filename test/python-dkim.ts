import { execFileSync } from "node:child_process";

const SCRIPT = `
import dkim, json, sys
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    value = records.get(name.rstrip("."))
    return None if value is None else value.encode()
message = sys.stdin.buffer.read()
count = sum(1 for name, _ in dkim.DKIM(message).headers if name.lower() == b"dkim-signature")
results = []
for index in range(count):
    try:
        results.append(bool(dkim.DKIM(message).verify(idx=index, dnsfunc=dnsfunc)))
    except Exception:
        results.append(False)
json.dump(results, sys.stdout)
`;

/**
 * Verifies every DKIM-Signature of `message` with dkimpy (Debian's python3-dkim), answering its key
 * lookups from `records` (`selector._domainkey.domain` → TXT value) instead of DNS. One result per
 * signature, top first; an empty list when the message carries none.
 */
export function verifyWithPythonDkim(message: Buffer, records: Record<string, string>): boolean[] {
  return JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", SCRIPT, JSON.stringify(records)], {
      input: message,
      encoding: "utf8",
    }),
  );
}

/** True when Debian's python3 can import dkim. */
export function hasPythonDkim(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import dkim"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
