import { KindedError } from "../errors/error-kind.ts";
import type { RenderedEmail } from "./compile-template.ts";
import { TemplateError } from "./errors.ts";
import {
  type ReadyMessage,
  type RenderRequest,
  type RenderResponse,
  receiveError,
} from "./render-messages.ts";
import { type Job, startRenderThread, THREAD_HEAP_MB, type Thread } from "./render-worker.ts";

interface RenderPoolOptions {
  /** Threads rendering at once (email.template_render_threads); at least one. */
  threads: number;
  /** Budget for one email's compile and render (email.template_render_timeout). */
  timeoutMs: number;
  /**
   * Requests one thread holds at once. Requests made in the same turn of the event loop go to a
   * thread in one message and come back in one: the message, not the render, is most of a small
   * email's cost. A thread over budget fails only the request it is on; the others are sent again.
   */
  depth?: number;
  /** A thread with nothing to do for this long is ended; the next render that needs one starts one. */
  idleMs?: number;
}

const DEFAULT_DEPTH = 16;
/**
 * A minute: a thread costs ~25 MB, and most replicas render most emails without one (see
 * TemplateRenderer), so one started for an occasional template should not stay for good; starting
 * one again costs about 100 ms, not charged to a render's budget.
 */
const DEFAULT_IDLE_MS = 60_000;

function where(request: RenderRequest | undefined): string {
  if (request === undefined) return "template";
  return request.templateId === undefined ? "inline content" : `template "${request.templateId}"`;
}

/**
 * Worker threads that compile and render templates, so Handlebars (synchronous, and exponential in
 * a template's nesting) never runs on the event loop. Each email has a time budget: a thread over it
 * is terminated and replaced, and that email fails with a `render_budget` TemplateError. Threads
 * start on `start()` or on first use, end after `idleMs` with nothing to do (the next render starts
 * them again), and do not keep the process alive while idle.
 */
export class RenderPool {
  readonly #threadCount: number;
  readonly #timeoutMs: number;
  readonly #depth: number;
  readonly #idleMs: number;
  readonly #threads: Thread[] = [];
  /** Requests waiting for a ready thread with room. */
  #waiting: Job[] = [];
  #flushQueued = false;
  #nextId = 1;
  #state: "new" | "running" | "stopped" = "new";

  constructor(options: RenderPoolOptions) {
    this.#threadCount = Math.max(1, options.threads);
    this.#timeoutMs = options.timeoutMs;
    this.#depth = Math.max(1, options.depth ?? DEFAULT_DEPTH);
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** Threads running now (started, or starting). */
  get threads(): number {
    return this.#threads.length;
  }

  start(): void {
    if (this.#state !== "new") return;
    this.#state = "running";
    this.#fill();
  }

  /** Ends every thread; renders not finished fail as `unavailable`. Idempotent, safe before start. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    const stopping = new KindedError("unavailable", "template rendering is shutting down");
    const threads = this.#threads.splice(0);
    for (const job of [...this.#waiting.splice(0), ...threads.flatMap((t) => t.inFlight.splice(0))])
      job.reject(stopping);
    await Promise.all(threads.map((thread) => this.#retire(thread)));
  }

  /**
   * `priority` (higher first): a request waiting for a thread goes ahead of every less urgent one,
   * so a critical email's render does not queue behind a campaign's.
   */
  render(request: Omit<RenderRequest, "id">, priority = 0): Promise<RenderedEmail> {
    if (this.#state === "stopped")
      return Promise.reject(new KindedError("unavailable", "template rendering is stopped"));
    this.start();
    this.#fill();
    return new Promise((resolve, reject) => {
      const job: Job = { request: { ...request, id: this.#nextId++ }, priority, resolve, reject };
      // Behind every waiting request of this priority or higher (appending, the common case, first).
      let at = this.#waiting.length;
      while (at > 0 && (this.#waiting[at - 1]?.priority ?? 0) < priority) at--;
      this.#waiting.splice(at, 0, job);
      // Sent after this turn's I/O callbacks, so the renders a read batch starts share a message
      // (a microtask would send most of them alone: +20% CPU per email in bench/delivery.ts).
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        setImmediate(() => {
          this.#flushQueued = false;
          this.#dispatch();
        });
      }
    });
  }

  /** Brings the threads up to their number: after a start-up failure, the next render tries again. */
  #fill(): void {
    while (this.#threads.length < this.#threadCount) this.#threads.push(this.#spawn());
  }

  #spawn(): Thread {
    const thread = startRenderThread();
    thread.worker.on("message", (message: RenderResponse[] | ReadyMessage) =>
      this.#onMessage(thread, message),
    );
    thread.worker.on("exit", (code) => this.#onExit(thread, code));
    return thread;
  }

  /** Sends waiting requests, as one batch per thread, to the ready threads with room, least busy first. */
  #dispatch(): void {
    for (;;) {
      const thread = this.#leastBusy();
      if (thread === undefined || this.#waiting.length === 0) return;
      const room = this.#depth - thread.inFlight.length;
      const share = Math.ceil(this.#waiting.length / this.#readyWithRoom());
      const batch = this.#waiting.splice(0, Math.min(room, share));
      if (thread.inFlight.length === 0) thread.worker.ref();
      clearTimeout(thread.idleTimer);
      thread.idleTimer = undefined;
      thread.inFlight.push(...batch);
      thread.worker.postMessage(batch.map((job) => job.request));
      this.#watch(thread);
    }
  }

  #leastBusy(): Thread | undefined {
    let best: Thread | undefined;
    for (const thread of this.#threads)
      if (thread.ready && thread.inFlight.length < this.#depth)
        if (best === undefined || thread.inFlight.length < best.inFlight.length) best = thread;
    return best;
  }

  #readyWithRoom(): number {
    return this.#threads.filter((t) => t.ready && t.inFlight.length < this.#depth).length;
  }

  #onMessage(thread: Thread, message: RenderResponse[] | ReadyMessage): void {
    // Answers a replaced thread sent before it was terminated: its requests were sent again.
    if (thread.retired) return;
    if ("ready" in message) thread.ready = true;
    else {
      for (const response of message) {
        const job = thread.inFlight.shift();
        if (job === undefined) break;
        if (response.ok) job.resolve(response.email);
        else job.reject(receiveError(response.error));
      }
      if (thread.inFlight.length === 0) thread.worker.unref();
    }
    this.#dispatch();
    if (thread.inFlight.length === 0) this.#idle(thread);
  }

  /** Arms the thread's idle timer: it ends unless work reaches it first. */
  #idle(thread: Thread): void {
    if (thread.idleTimer !== undefined || thread.retired) return;
    thread.idleTimer = setTimeout(() => {
      thread.idleTimer = undefined;
      if (thread.retired || thread.inFlight.length > 0) return;
      this.#remove(thread);
      void this.#retire(thread);
    }, this.#idleMs);
    thread.idleTimer.unref();
  }

  /** Arms the thread's budget check, unless armed: it stays armed while requests are in flight. */
  #watch(thread: Thread, delayMs = this.#timeoutMs): void {
    if (thread.timer !== undefined) return;
    thread.timer = setTimeout(() => this.#check(thread), Math.max(1, delayMs));
    thread.timer.unref();
  }

  /**
   * Whatever ran when the timer was armed has been given its budget by now; the request running now
   * is over it, or is checked again when its own budget ends.
   */
  #check(thread: Thread): void {
    thread.timer = undefined;
    if (thread.retired || thread.inFlight.length === 0) return;
    const running = thread.progress.current();
    const left = running ? running.startedAt + this.#timeoutMs - Date.now() : this.#timeoutMs;
    if (left > 0 || running === undefined) {
      this.#watch(thread, left);
      return;
    }
    const job = this.#culprit(thread);
    const message = `${where(job?.request)}: rendering took longer than ${this.#timeoutMs} ms`;
    this.#replace(
      thread,
      job,
      new TemplateError("render_budget", message, { template_id: job?.request.templateId }),
    );
  }

  #onExit(thread: Thread, code: number): void {
    if (thread.retired) return;
    if (!thread.ready) {
      // It never started (a broken install, say): fail what waits rather than respawn in a loop.
      const error = new Error(
        `template render thread failed to start: ${thread.failure?.message ?? `exit code ${code}`}`,
      );
      this.#remove(thread);
      const stranded = this.#threads.length === 0 ? this.#waiting.splice(0) : [];
      for (const job of [...thread.inFlight.splice(0), ...stranded]) job.reject(error);
      return;
    }
    const job = this.#culprit(thread);
    const outOfMemory =
      (thread.failure as { code?: string } | undefined)?.code === "ERR_WORKER_OUT_OF_MEMORY";
    const error = outOfMemory
      ? new TemplateError(
          "render_budget",
          `${where(job?.request)}: rendering used more than ${THREAD_HEAP_MB} MB of memory`,
          { template_id: job?.request.templateId },
        )
      : new Error(`template render thread exited: ${thread.failure?.message ?? `exit code ${code}`}`);
    this.#replace(thread, job, error);
  }

  /**
   * The request the thread is on. Failing to find it fails the oldest one instead: something must
   * fail, or a request that kills its thread would be sent again forever.
   */
  #culprit(thread: Thread): Job | undefined {
    const running = thread.progress.current();
    const job = running && thread.inFlight.find((j) => j.request.id === running.id);
    return job ?? thread.inFlight[0];
  }

  /** Fails `culprit`, sends the thread's other requests again, and puts a new thread in its place. */
  #replace(thread: Thread, culprit: Job | undefined, error: Error): void {
    const others = thread.inFlight.splice(0).filter((job) => job !== culprit);
    this.#remove(thread);
    void this.#retire(thread);
    if (this.#state === "running") this.#fill();
    this.#waiting.unshift(...others);
    culprit?.reject(error);
    this.#dispatch();
  }

  #remove(thread: Thread): void {
    const index = this.#threads.indexOf(thread);
    if (index >= 0) this.#threads.splice(index, 1);
  }

  async #retire(thread: Thread): Promise<void> {
    thread.retired = true;
    clearTimeout(thread.timer);
    clearTimeout(thread.idleTimer);
    thread.timer = thread.idleTimer = undefined;
    await thread.worker.terminate().catch(() => {});
  }
}
