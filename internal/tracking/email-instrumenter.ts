import { matchesGlob } from "node:path";
import type { OutgoingEmail } from "../provider/provider.ts";
import { type LinkTokens, redirectableUrl } from "./link-tokens.ts";

interface EmailInstrumenterOptions {
  tokens: LinkTokens;
  /** This service's public base URL, e.g. https://mail.example.com. */
  baseUrl: string;
  openTracking: readonly string[];
  clickTracking: readonly string[];
  unsubscribe: readonly string[];
}

const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?:\/\/[^"']+)\2/gi;

function decodeEntities(url: string): string {
  return url.replace(/&amp;/g, "&");
}

/**
 * Adds what the job type asks for: an open pixel, links rewritten through signed click redirects, and
 * List-Unsubscribe headers with one-click unsubscribe (RFC 8058). The text part keeps its links: a
 * reader copying a URL gets the real one.
 */
export class EmailInstrumenter {
  readonly #options: EmailInstrumenterOptions;
  readonly #base: string;

  constructor(options: EmailInstrumenterOptions) {
    this.#options = options;
    this.#base = options.baseUrl.replace(/\/+$/, "");
  }

  instrument(email: OutgoingEmail): OutgoingEmail {
    const matches = (globs: readonly string[]) => globs.some((glob) => matchesGlob(email.job_type, glob));
    let html = email.html;
    let headers = email.headers;
    if (html !== undefined && matches(this.#options.clickTracking)) {
      html = html.replace(ANCHOR_HREF, (whole: string, prefix: string, quote: string, url: string) => {
        // A URL with control characters or whitespace is left as written: signed, it would become
        // a redirect that injects headers or fails.
        const target = redirectableUrl(decodeEntities(url));
        if (target === undefined) return whole;
        const token = this.#options.tokens.sign({ k: "c", j: email.job_id, u: target });
        return `${prefix}${quote}${this.#base}/t/c/${token}${quote}`;
      });
    }
    if (html !== undefined && matches(this.#options.openTracking)) {
      const pixel = `<img src="${this.#base}/t/o/${this.#options.tokens.sign({ k: "o", j: email.job_id })}.gif" width="1" height="1" alt="" style="display:none">`;
      html = /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${pixel}</body>`) : `${html}${pixel}`;
    }
    if (matches(this.#options.unsubscribe)) {
      const token = this.#options.tokens.sign({ k: "u", j: email.job_id, e: email.to.email });
      headers = {
        ...headers,
        "List-Unsubscribe": `<${this.#base}/t/u/${token}>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      };
    }
    return html === email.html && headers === email.headers ? email : { ...email, html, headers };
  }
}
