import { Worker } from "node:worker_threads";
import { JOB_LIMITS } from "../job/parse-job.ts";
import type { RenderedEmail } from "./compile-template.ts";
import type { RenderRequest, RenderThreadData } from "./render-messages.ts";
import { ThreadProgress } from "./thread-progress.ts";

/** Compiled templates each thread keeps; inline contents count too. */
const COMPILED_CACHE_SIZE = 1_000;
/**
 * Old generation a thread may use. The largest render within the body limits, 1.9 MB of HTML in
 * small table cells with its text part derived by html-to-text, needs 64 MB; twice that leaves room
 * for the compiled-template cache. Compiling a dense source near template_max_bytes would outgrow any
 * of these limits; it runs past the time budget first, and either way fails as render_budget.
 */
export const THREAD_HEAP_MB = 128;
/**
 * Young generation, when the process runs without --max-semi-space-size. With it (the image's CMD)
 * V8 takes the flag for every isolate in the process, this thread's too, and ignores this value.
 */
const THREAD_YOUNG_MB = 6;
/** Node's default, stated: a template nested deeper than it allows fails as a RangeError, a render_budget error. */
const THREAD_STACK_MB = 4;

/** One request and the caller waiting for it. */
export interface Job {
  request: RenderRequest;
  /** Its email's priority (PRIORITY_VALUES): higher goes to a thread first. */
  priority: number;
  resolve: (email: RenderedEmail) => void;
  reject: (error: Error) => void;
}

/** A render thread as the pool tracks it. */
export interface Thread {
  worker: Worker;
  progress: ThreadProgress;
  ready: boolean;
  /** Sent and not answered, in the order sent: the thread works through them in that order. */
  inFlight: Job[];
  /** Armed while requests are in flight: checks the one running against the budget. */
  timer: NodeJS.Timeout | undefined;
  /** Armed while it has nothing to do: ends it once the pool's idle time has passed. */
  idleTimer: NodeJS.Timeout | undefined;
  /** Why it exited, from its `error` event (an uncaught error, or out of memory). */
  failure: Error | undefined;
  retired: boolean;
}

/** The thread entry: `.ts` when running from the sources, `.js` in the compiled dist/. */
function threadFile(): URL {
  const extension = import.meta.url.endsWith(".ts") ? "ts" : "js";
  return new URL(`./render-thread.${extension}`, import.meta.url);
}

/**
 * Starts a render thread with the body limits as its output budget. Its console is not the
 * process's: whatever it prints is read and dropped, so nothing a template does reaches stdout or
 * the logs. It does not keep the process alive while idle (the pool refs it while it has work).
 */
export function startRenderThread(): Thread {
  const progress = new ThreadProgress();
  const workerData: RenderThreadData = {
    limits: JOB_LIMITS,
    cacheSize: COMPILED_CACHE_SIZE,
    progress: progress.buffer,
  };
  const worker = new Worker(threadFile(), {
    workerData,
    // codeRangeSizeMb stays V8's: the range is only reserved address space, and running out of it is
    // fatal to the whole process, not just this thread.
    resourceLimits: {
      maxOldGenerationSizeMb: THREAD_HEAP_MB,
      maxYoungGenerationSizeMb: THREAD_YOUNG_MB,
      stackSizeMb: THREAD_STACK_MB,
    },
    stdout: true,
    stderr: true,
  });
  worker.stdout.resume();
  worker.stderr.resume();
  worker.unref();
  const thread: Thread = {
    worker,
    progress,
    ready: false,
    inFlight: [],
    timer: undefined,
    idleTimer: undefined,
    failure: undefined,
    retired: false,
  };
  worker.on("error", (error) => {
    thread.failure = error;
  });
  return thread;
}
