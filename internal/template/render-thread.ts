// A worker-thread entry point, not a library module: it runs its message loop at top level, started
// by RenderPool (through render-worker.ts) with `new Worker(...)`. Compiling and rendering happen
// here, so a template that is slow to render blocks this thread, which the pool can terminate, and
// never the process's event loop.
import { hash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { LRUCache } from "lru-cache";
import {
  type CompiledTemplate,
  compileTemplate,
  renderCompiled,
  sandboxedHandlebars,
} from "./compile-template.ts";
import { TemplateError } from "./errors.ts";
import { createHtmlToText } from "./html-to-text.ts";
import type { ReadyMessage, RenderRequest, RenderResponse, RenderThreadData } from "./render-messages.ts";
import { sendError } from "./render-messages.ts";
import { ThreadProgress } from "./thread-progress.ts";

const { limits, cacheSize, progress: progressBuffer } = workerData as RenderThreadData;
const progress = new ThreadProgress(progressBuffer);
const handlebars = sandboxedHandlebars();
/** Built on the first template without a text part of its own (see createHtmlToText). */
let htmlToText: ((html: string) => string) | undefined;
function deriveText(html: string): string {
  htmlToText ??= createHtmlToText();
  return htmlToText(html);
}
const compiled = new LRUCache<string, CompiledTemplate>({ max: cacheSize });

function compiledFor(request: RenderRequest): CompiledTemplate {
  const key =
    request.op === "stored"
      ? request.key
      : request.op === "inline"
        ? `i:${hash("sha256", JSON.stringify([request.parts.subject, request.parts.html, request.parts.text]), "base64url")}`
        : undefined;
  const cached = key === undefined ? undefined : compiled.get(key);
  if (cached !== undefined) return cached;
  const fresh = compileTemplate(handlebars, request.templateId, request.parts);
  if (key !== undefined) compiled.set(key, fresh);
  return fresh;
}

function handle(request: RenderRequest): RenderResponse {
  progress.begin(request.id);
  try {
    const template = compiledFor(request);
    const email =
      request.op === "check"
        ? { subject: "", html: undefined, text: "" }
        : renderCompiled(template, request.data, request.templateId, limits, deriveText);
    return { id: request.id, ok: true, email };
  } catch (error) {
    return { id: request.id, ok: false, error: sendError(asTemplateError(error, request.templateId)) };
  }
}

/**
 * Errors from the template itself are the caller's: a Handlebars exception at render time (a helper
 * that does not exist) or an output too long for a string or too deep for the stack.
 */
function asTemplateError(error: unknown, templateId: string | undefined): unknown {
  if (error instanceof TemplateError) return error;
  const where = templateId === undefined ? "inline content" : `template "${templateId}"`;
  const message = (error as Error)?.message?.split("\n")[0] ?? String(error);
  if (error instanceof RangeError)
    return new TemplateError("render_budget", `${where}: rendering exceeded a limit (${message})`, {
      template_id: templateId,
    });
  if (error instanceof handlebars.Exception)
    return new TemplateError("template_syntax", `${where}: ${message}`, { template_id: templateId });
  return error;
}

const port = parentPort;
if (port === null) throw new Error("render-thread.ts runs as a worker thread (see render-worker.ts)");
// One message per batch each way: the per-message cost, not rendering, is most of a small email's.
port.on("message", (batch: RenderRequest[]) => {
  const responses = batch.map(handle);
  progress.idle();
  port.postMessage(responses);
});
port.postMessage({ ready: true } satisfies ReadyMessage);
