import { checkBytes, checkSubject, normalizeSubject, type OutputLimits } from "./rendered-output.ts";
import { checkRequiredVariables, requiredVariables } from "./required-variables.ts";

/** One `{{…}}` of a flat template: the value at `path` (from the data's top), HTML-escaped or not. */
interface FlatValue {
  path: readonly string[];
  /** `{{@root.a}}` / `{{$.a}}`: never a helper call, even with one segment. */
  root: boolean;
  escape: boolean;
}

/** A part as literal text and values, in order. */
type FlatPart = readonly (string | FlatValue)[];

/**
 * Content that only fills in values: literal text and `{{name}}`, `{{a.b}}`, `{{{raw}}}`,
 * `{{@root.a}}`, or Go's `{{.a.b}}` and `{{$.a}}`, with no block, helper, partial, comment or
 * whitespace control anywhere. Filling one in costs time in proportion to its output, with no
 * Handlebars involved, so it is done where the caller is; anything else goes to a render thread.
 */
export interface FlatTemplate {
  subject: FlatPart | undefined;
  html: FlatPart | undefined;
  text: FlatPart;
  required: string[];
  /** Heap it holds on to, about, in bytes: its source's text and what reading each value made. */
  size: number;
}

export interface FlatParts {
  subject?: string | null | undefined;
  html?: string | null | undefined;
  text?: string | null | undefined;
  variables?: unknown;
}

/** A path segment Handlebars reads as a plain property name (and Go's translation leaves one). */
const SEGMENT = /^[A-Za-z_][\w-]*$/;
/** A Go field name (`.user_name`): the translation accepts only these. */
const GO_SEGMENT = /^[A-Za-z_]\w*$/;
/**
 * Names Handlebars reads as something other than a property: its helpers (called, not looked up,
 * when a mustache names one alone), literals and keywords; and Go's keywords.
 */
const RESERVED = new Set([
  "blockHelperMissing",
  "helperMissing",
  "each",
  "if",
  "unless",
  "with",
  "lookup",
  "log",
  "this",
  "true",
  "false",
  "null",
  "undefined",
  "else",
  "end",
  "range",
]);
/** What Go's translation refuses as a function call (`{{html .x}}`, and `{{html}}` alike). */
const GO_FUNCTION = /^(printf|len|index|not|and|or|eq|ne|html|js)\b/;
/** Handlebars' lexer reads `{{else` and any non-word character after it (`{{else-x}}`) as an else. */
const ELSE = /^else\b/;
/**
 * Values one part may fill in here. Reading a value costs a few objects: capped, one read of a
 * largest source stays under a millisecond; content with more goes to a thread whole.
 */
const MAX_VALUES = 1_000;
/** What one value read from a source keeps on the heap, about, beside the source's text. */
const VALUE_BYTES = 100;

function segments(dotted: string, pattern: RegExp): string[] | undefined {
  const parts = dotted.split(".");
  return parts.every((part) => pattern.test(part) && !RESERVED.has(part)) ? parts : undefined;
}

/** The value a mustache's body names, or undefined when the body is anything but a plain path. */
function value(body: string, escapes: boolean, triple: boolean): FlatValue | undefined {
  // A trailing `-` is Go's trimming to its translation (`{{end-}}` is an `end`).
  if (GO_FUNCTION.test(body) || ELSE.test(body) || body.endsWith("-")) return undefined;
  if (!triple && body.startsWith("$.")) {
    const path = segments(body.slice(2), GO_SEGMENT);
    return path && { path, root: true, escape: escapes };
  }
  if (!triple && body.startsWith(".")) {
    const path = segments(body.slice(1), GO_SEGMENT);
    return path && { path, root: false, escape: escapes };
  }
  if (body.startsWith("@root.")) {
    const path = segments(body.slice(6), SEGMENT);
    return path && { path, root: true, escape: escapes };
  }
  const path = segments(body, SEGMENT);
  return path && { path, root: false, escape: escapes };
}

/**
 * Reads a source as a flat part, left to right, each character once; undefined when any of it is
 * more than that, or it fills in more than MAX_VALUES values. `escapeHtml`: whether `{{x}}`
 * escapes (the HTML part; subject and text do not).
 */
export function flatPart(source: string, escapeHtml: boolean): FlatPart | undefined {
  if (source.includes("\0")) return undefined;
  const part: (string | FlatValue)[] = [];
  let at = 0;
  let values = 0;
  for (;;) {
    const open = source.indexOf("{{", at);
    if (open === -1) break;
    // `\{{` is Handlebars' escape and `{{{{` its raw block: both are more than values.
    if (source[open - 1] === "\\" || source.startsWith("{{{{", open)) return undefined;
    const triple = source[open + 2] === "{";
    const closer = triple ? "}}}" : "}}";
    const bodyStart = open + closer.length;
    const close = source.indexOf(closer, bodyStart);
    // A brace straight after the close makes Handlebars read a different closing token.
    if (close === -1 || source[close + closer.length] === "}") return undefined;
    const body = source.slice(bodyStart, close).trim();
    const filled = value(body, escapeHtml && !triple, triple);
    if (filled === undefined || ++values > MAX_VALUES) return undefined;
    if (open > at) part.push(source.slice(at, open));
    part.push(filled);
    at = close + closer.length;
  }
  if (at < source.length) part.push(source.slice(at));
  return part;
}

/**
 * The content as a flat template, or undefined when some part is not flat or there is no text part
 * (deriving text from HTML is real work, done in a render thread).
 */
export function flatTemplate(parts: FlatParts): FlatTemplate | undefined {
  if (!parts.text) return undefined;
  const text = flatPart(parts.text, false);
  const html = parts.html ? flatPart(parts.html, true) : undefined;
  const subject = parts.subject ? flatPart(parts.subject, false) : undefined;
  if (text === undefined || (parts.html && html === undefined) || (parts.subject && subject === undefined))
    return undefined;
  return {
    subject,
    html,
    text,
    required: requiredVariables(parts.variables),
    size: heldBytes(subject) + heldBytes(html) + heldBytes(text),
  };
}

/** What a read part keeps on the heap, about: its text (two bytes a unit) and its values. */
function heldBytes(part: FlatPart | undefined): number {
  let bytes = 0;
  for (const piece of part ?? []) bytes += typeof piece === "string" ? 2 * piece.length : VALUE_BYTES;
  return bytes;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#x27;",
  "`": "&#x60;",
  "=": "&#x3D;",
};
const ESCAPED = /[&<>"'`=]/g;

/** Handlebars' escapeExpression, for the strings a flat template fills in. */
function escapeHtml(text: string): string {
  return text.replace(ESCAPED, (char) => ESCAPES[char] as string);
}

/**
 * What Handlebars reads at `path`: a property only if the object holds it itself (inherited ones
 * read as missing). Past a missing value a path reads that value; a `@root` path (a data variable
 * to Handlebars) stops at any falsy one instead, so `{{@root.a.b}}` with `a: false` reads `false`.
 */
function lookup(data: unknown, value: FlatValue): unknown {
  let current = data;
  for (const name of value.path) {
    if (value.root ? !current : current === null || current === undefined) return current;
    const next: unknown = (current as Record<string, unknown>)[name];
    current = next === null || next === undefined || Object.hasOwn(Object(current), name) ? next : undefined;
  }
  return current;
}

/** Not filled in here: an object or array, which Handlebars turns to text its own way. */
const DEFER = Symbol("defer");

/**
 * Fills a part in, stopping once it is longer than `stopAfter` (the caller refuses it, or defers).
 * DEFER when a value is not a string, number, boolean or missing.
 */
function fill(part: FlatPart, data: Record<string, unknown>, stopAfter: number): string | typeof DEFER {
  // Handlebars compiles a part to `return a + b + …`: numbers and booleans filled in unescaped
  // before any text are added up (`{{a}}{{b}}` with 1 and 2 is "3"); from the first text on, `+`
  // joins. `head` is that leading sum while no text has come.
  let head: number | boolean | undefined;
  let out: string | undefined;
  for (const piece of part) {
    let next: string | number | boolean;
    if (typeof piece === "string") next = piece;
    else {
      const found = lookup(data, piece);
      if (found === null || found === undefined) next = "";
      else if (typeof found === "string") next = piece.escape ? escapeHtml(found) : found;
      else if (typeof found === "number" || typeof found === "boolean")
        next = piece.escape ? String(found) : found;
      else return DEFER;
    }
    if (out === undefined) {
      if (typeof next !== "string") {
        head = head === undefined ? next : Number(head) + Number(next);
        continue;
      }
      out = head === undefined ? "" : String(head);
    }
    out += String(next);
    if (out.length > stopAfter) return out;
  }
  return out ?? (head === undefined ? "" : String(head));
}

/**
 * Renders a flat template as a render thread would, refusing output over `limits` with the same
 * errors; undefined when it is the thread's to do after all (a value that is an object or array, or
 * a subject far over its limit before its line breaks are folded).
 */
export function renderFlat(
  template: FlatTemplate,
  data: Record<string, unknown>,
  templateId: string | undefined,
  limits: OutputLimits,
): { subject: string; html: string | undefined; text: string } | undefined {
  checkRequiredVariables(template.required, data, templateId);
  let html: string | undefined;
  if (template.html !== undefined) {
    const filled = fill(template.html, data, limits.html_bytes);
    if (filled === DEFER) return undefined;
    checkBytes(filled, limits.html_bytes, "html", templateId);
    html = filled;
  }
  let subject = "";
  if (template.subject !== undefined) {
    // Folding line breaks shortens a subject: one too long before it is the thread's to judge.
    const filled = fill(template.subject, data, 4 * limits.subject_length);
    if (filled === DEFER || filled.length > 4 * limits.subject_length) return undefined;
    subject = normalizeSubject(filled);
  }
  checkSubject(subject, limits.subject_length, templateId);
  const text = fill(template.text, data, limits.text_bytes);
  if (text === DEFER) return undefined;
  checkBytes(text, limits.text_bytes, "text", templateId);
  return { subject, html, text };
}
