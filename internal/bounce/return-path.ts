import { isJobId } from "../job/job-id.ts";

/** An address split at its last "@": the local part may itself hold an "@" when quoted. */
function split(address: string): { local: string; domain: string } | undefined {
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return undefined;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * The envelope sender (MAIL FROM) for a job: the return path as configured, or with VERP its
 * `<local>+<job_id>@<domain>` form, so that a bounce, which goes to MAIL FROM, names the job even when
 * it quotes nothing of the original.
 */
export function envelopeSender(returnPath: string, verp: boolean, jobId: string): string {
  const parts = split(returnPath);
  if (!verp || !parts) return returnPath;
  return `${parts.local}+${jobId}@${parts.domain}`;
}

/** The addresses a bounce listener for `returnPath` takes mail for, and what a recipient tells it. */
export class ReturnPath {
  readonly address: string;
  readonly #local: string;
  readonly #domain: string;

  constructor(returnPath: string) {
    const parts = split(returnPath.trim());
    if (!parts) throw new Error(`return path ${JSON.stringify(returnPath)} is not an address`);
    this.address = returnPath.trim();
    this.#local = parts.local.toLowerCase();
    this.#domain = parts.domain.toLowerCase();
  }

  /**
   * The return path itself, any of its VERP forms, and postmaster at its domain (RFC 5321 §4.5.1
   * requires that one). Nothing else: the listener is no relay.
   */
  accepts(recipient: string): boolean {
    const parts = split(recipient.toLowerCase());
    if (!parts || parts.domain !== this.#domain) return false;
    return (
      parts.local === this.#local || parts.local.startsWith(`${this.#local}+`) || parts.local === "postmaster"
    );
  }

  /** The job id a VERP recipient carries, if it is one of ours and carries one. */
  jobIdOf(recipient: string): string | undefined {
    const parts = split(recipient.trim());
    if (!parts || parts.domain.toLowerCase() !== this.#domain) return undefined;
    const prefix = `${this.#local}+`;
    if (!parts.local.toLowerCase().startsWith(prefix)) return undefined;
    const tag = parts.local.slice(prefix.length).toLowerCase();
    return isJobId(tag) ? tag : undefined;
  }
}
