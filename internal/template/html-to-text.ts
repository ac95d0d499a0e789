import { compile } from "html-to-text";

/**
 * Derives the text part from rendered HTML: links keep their URL (a verification link must survive),
 * images and styles vanish, headings keep their case, lines wrap at 78 columns (RFC 5322's
 * recommendation).
 */
export function createHtmlToText(): (html: string) => string {
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
