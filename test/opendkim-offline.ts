import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasCommand } from "./outside-tools.ts";

/**
 * A DNS server on 127.0.0.1:53 answering TXT queries from RECORDS (JSON: name → value), NXDOMAIN
 * otherwise; it writes READY_FILE once listening.
 */
const DNS_STUB = `
const dgram = require("node:dgram");
const fs = require("node:fs");
const records = JSON.parse(process.env.RECORDS);
const socket = dgram.createSocket("udp4");
socket.on("message", (query, peer) => {
  let at = 12;
  const labels = [];
  while (query[at] !== 0) { labels.push(query.subarray(at + 1, at + 1 + query[at]).toString()); at += query[at] + 1; }
  const questionEnd = at + 5;
  const value = records[labels.join(".").toLowerCase()];
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(value === undefined ? 0x8183 : 0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(value === undefined ? 0 : 1, 6);
  header.writeUInt32BE(0, 8);
  const parts = [header, query.subarray(12, questionEnd)];
  if (value !== undefined) {
    const strings = [];
    for (let i = 0; i < value.length; i += 255) {
      const chunk = Buffer.from(value.slice(i, i + 255));
      strings.push(Buffer.from([chunk.length]), chunk);
    }
    const rdata = Buffer.concat(strings);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0);
    fixed.writeUInt16BE(16, 2);
    fixed.writeUInt16BE(1, 4);
    fixed.writeUInt32BE(60, 6);
    fixed.writeUInt16BE(rdata.length, 10);
    parts.push(fixed, rdata);
  }
  socket.send(Buffer.concat(parts), peer.port, peer.address);
});
socket.bind(53, "127.0.0.1", () => fs.writeFileSync(process.env.READY_FILE, "ready"));
`;

/** Inside fresh user, mount and network namespaces: loopback up, resolv.conf pointing at the stub. */
const SCRIPT = `
set -e
ip link set lo up
mount --bind "$DIR/resolv.conf" /etc/resolv.conf
"$NODE" -e "$DNS_STUB" &
stub=$!
for _ in $(seq 100); do [ -f "$READY_FILE" ] && break; sleep 0.05; done
set +e
opendkim-testmsg < "$DIR/message.eml"
status=$?
kill $stub
exit $status
`;

/** True when opendkim-testmsg can be run against a private DNS stub: it is installed and namespaces are allowed. */
export function canRunOpendkimOffline(): boolean {
  if (!hasCommand("opendkim-testmsg") || !hasCommand("unshare") || !hasCommand("ip")) return false;
  return spawnSync("unshare", ["-rmn", "true"], { stdio: "ignore" }).status === 0;
}

/**
 * Verifies `message` with OpenDKIM's own library (opendkim-testmsg), which looks keys up in DNS: it
 * runs in private namespaces whose resolver is a stub serving `records`, so nothing leaves the machine.
 * Resolves with the exit status (0: verified) and what it printed.
 */
export function verifyWithOpendkim(
  message: Buffer,
  records: Record<string, string>,
): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "ew-opendkim-"));
  try {
    writeFileSync(join(dir, "resolv.conf"), "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n");
    // opendkim-testmsg reads the message with Unix line ends.
    writeFileSync(join(dir, "message.eml"), message.toString("latin1").replaceAll("\r\n", "\n"), "latin1");
    const result = spawnSync("unshare", ["-rmn", "sh", "-c", SCRIPT], {
      encoding: "utf8",
      timeout: 20_000,
      env: {
        PATH: process.env.PATH ?? "",
        DIR: dir,
        NODE: process.execPath,
        DNS_STUB,
        READY_FILE: join(dir, "ready"),
        RECORDS: JSON.stringify(
          Object.fromEntries(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v])),
        ),
      },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
