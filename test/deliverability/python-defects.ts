import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** What Python's email package (policy=default) finds in a message, part by part. */
export interface PythonDefects {
  /** "<content type>: <defect class>" or "<content type> <header>: <defect class>"; empty when clean. */
  defects: string[];
  /** get_filename() of every part that has one, decoded from RFC 2231 or RFC 2047. */
  filenames: string[];
  /** The top-level header fields, decoded (the last of a name wins). */
  headers: Record<string, string>;
}

// Header defects live on the header objects, not on the part, and decoding a body can fail where
// parsing did not: all three are collected.
const SCRIPT = `
import email, email.policy, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
defects, filenames = [], []
for part in m.walk():
    kind = part.get_content_type()
    defects += [f"{kind}: {type(d).__name__}" for d in part.defects]
    for name, value in part.items():
        defects += [f"{kind} {name}: {type(d).__name__}" for d in getattr(value, "defects", ())]
    if not part.is_multipart():
        try:
            part.get_content()
        except Exception as error:
            defects.append(f"{kind}: {type(error).__name__}: {error}")
    if part.get_filename() is not None:
        filenames.append(part.get_filename())
json.dump({"defects": defects, "filenames": filenames, "headers": {k: str(v) for k, v in m.items()}}, sys.stdout)
`;

/** Reads `raw` with Debian's python3, whose email package the system's mail tools use. */
export async function pythonDefects(raw: Buffer): Promise<PythonDefects> {
  const child = run("/usr/bin/python3", ["-c", SCRIPT], { maxBuffer: 16 * 1024 * 1024 });
  child.child.stdin?.end(raw);
  return JSON.parse((await child).stdout);
}
