import { execFileSync } from "node:child_process";

/** What Python's `email` package (policy=default, as mail tooling uses it) reads from a message. */
export interface PythonReading {
  from: { name: string; address: string }[];
  to: { name: string; address: string }[];
  subject: string;
  /** Content types of every part, the root included, in walk order. */
  parts: string[];
  /** The text/plain body, CRLF line ends as the message has them. */
  text: string | null;
  /** Defect class names, of the message, its parts and its address headers. */
  defects: string[];
}

const SCRIPT = `
import email, email.policy, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
def addresses(field):
    h = m[field]
    return [] if h is None else [{"name": a.display_name, "address": a.addr_spec} for a in h.addresses]
defects = [type(d).__name__ for p in m.walk() for d in p.defects]
defects += [type(d).__name__ for f in ("From", "To") if m[f] is not None for d in m[f].defects]
body = m.get_body(preferencelist=("plain",))
json.dump({
    "from": addresses("From"), "to": addresses("To"), "subject": str(m["Subject"] or ""),
    "parts": [p.get_content_type() for p in m.walk()],
    "text": None if body is None else body.get_payload(decode=True).decode("utf-8"),
    "defects": defects,
}, sys.stdout)
`;

/** Parses `raw` with Debian's python3 (always present on the build and test machines). */
export function readWithPython(raw: Buffer): PythonReading {
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", SCRIPT], { input: raw, encoding: "utf8" }));
}
