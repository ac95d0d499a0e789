import { createRequire } from "node:module";
import type { compile as compileHtmlToText } from "html-to-text";

/**
 * Derives the text part from rendered HTML: links keep their URL (a verification link must survive),
 * images and styles vanish, headings keep their case, lines wrap at 78 columns (RFC 5322's
 * recommendation).
 *
 * html-to-text and its parser (htmlparser2, domutils, selderee, entities: ~12 MB resident in a render
 * thread) are loaded here, on the first call, not when this module is: most templates have a text
 * part of their own and never need them. `require` keeps the load synchronous, so the call that
 * needs it can still be answered in the same turn.
 */
export function createHtmlToText(): (html: string) => string {
  const { compile } = createRequire(import.meta.url)("html-to-text") as {
    compile: typeof compileHtmlToText;
  };
  return compile({
    wordwrap: 78,
    selectors: [
      { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
      // Headings keep their case: shouting the recipient's name reads badly.
      ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({
        selector,
        options: { uppercase: false },
      })),
      { selector: "img", format: "skip" },
      { selector: "style", format: "skip" },
      { selector: "script", format: "skip" },
    ],
  });
}
