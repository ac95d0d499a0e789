import type { IncomingMessage, ServerResponse } from "node:http";

/** What a route wrote through a fakeResponse(). */
export interface Reply {
  status?: number;
  headers?: Record<string, unknown>;
  body?: unknown;
}

/** For unit tests of routes: a request that is only its method, headers and body chunks. */
export function fakeRequest(
  method: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): IncomingMessage {
  async function* chunks(): AsyncGenerator<Buffer> {
    if (options.body !== undefined) yield Buffer.from(options.body);
  }
  return Object.assign(chunks(), { method, headers: options.headers ?? {} }) as unknown as IncomingMessage;
}

/** For unit tests of routes: a response that keeps what was written to it in `reply`. */
export function fakeResponse(): { res: ServerResponse; reply: Reply } {
  const reply: Reply = {};
  const res = {
    writeHead: (status: number, headers: Record<string, unknown>) =>
      Object.assign(reply, { status, headers }),
    end: (body?: unknown) => Object.assign(reply, { body }),
  } as unknown as ServerResponse;
  return { res, reply };
}
