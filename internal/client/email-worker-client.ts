import {
  type ChannelCredentials,
  type ClientWritableStream,
  credentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { EmailWorkerServiceClient } from "../gen/emailworker/v1/email_worker.ts";

interface ClientOptions {
  /** host:port */
  address: string;
  apiKey?: string | undefined;
  credentials?: ChannelCredentials;
  /** Per-call deadline. */
  timeoutMs?: number;
}

/** Per-call deadline when none is given: long enough for a batch send, short enough for a person waiting. */
const DEFAULT_TIMEOUT_MS = 10_000;

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: Callback<Res>,
) => unknown;

/**
 * A promise-returning EmailWorkerService client that adds the API key and a deadline to every call
 * (used by emailctl and the tests).
 */
export class EmailWorkerClient {
  readonly raw: EmailWorkerServiceClient;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    this.raw = new EmailWorkerServiceClient(
      options.address,
      options.credentials ?? credentials.createInsecure(),
    );
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  call<Req, Res>(
    method: (client: EmailWorkerServiceClient) => UnaryMethod<Req, Res>,
    request: Req,
  ): Promise<Res> {
    const metadata = new Metadata();
    if (this.#apiKey) metadata.set("x-api-key", this.#apiKey);
    const deadline = new Date(Date.now() + this.#timeoutMs);
    const bound = method(this.raw).bind(this.raw) as UnaryMethod<Req, Res>;
    return new Promise((resolve, reject) => {
      bound(request, metadata, { deadline }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  /**
   * A client-streaming call: writes every request `pages` yields (waiting whenever the stream asks
   * it to), then resolves with the one answer. No deadline: an upload takes as long as it takes.
   */
  async stream<Req, Res>(
    method: (
      client: EmailWorkerServiceClient,
    ) => (metadata: Metadata, callback: Callback<Res>) => ClientWritableStream<Req>,
    pages: AsyncIterable<Req> | Iterable<Req>,
  ): Promise<Res> {
    const metadata = new Metadata();
    if (this.#apiKey) metadata.set("x-api-key", this.#apiKey);
    let settle: { resolve: (res: Res) => void; reject: (error: ServiceError) => void } | undefined;
    const answer = new Promise<Res>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const call = method(this.raw).call(this.raw, metadata, (error, response) =>
      error ? settle?.reject(error) : settle?.resolve(response),
    );
    let ended = false;
    void answer.catch(() => {}).finally(() => (ended = true));
    for await (const page of pages) {
      // The server answered early (a refusal): what is left would go nowhere.
      if (ended) break;
      if (!call.write(page))
        await Promise.race([new Promise((resolve) => call.once("drain", resolve)), answer.catch(() => {})]);
    }
    call.end();
    return answer;
  }

  close(): void {
    this.raw.close();
  }
}
