import { type handleClientStreamingCall, type handleUnaryCall, type Metadata, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ApiScope } from "../../config/index.ts";
import type { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { permits, presentedKey } from "../auth/api-key-auth.ts";
import { toGrpcError } from "./grpc-errors.ts";

function headersOf(metadata: Metadata): Record<string, string | undefined> {
  const first = (key: string) => {
    const value = metadata.get(key)[0];
    return value === undefined ? undefined : String(value);
  };
  return { authorization: first("authorization"), "x-api-key": first("x-api-key") };
}

/** Why the call's key may not do what needs `scope`; undefined when it may. */
function refusal(auth: ApiKeyAuth, metadata: Metadata, scope: ApiScope) {
  const caller = auth.authenticate(presentedKey(headersOf(metadata)));
  if (!caller) return { code: status.UNAUTHENTICATED, details: "missing or unknown API key" };
  if (!permits(caller.scopes, scope))
    return { code: status.PERMISSION_DENIED, details: `API key "${caller.name}" lacks the ${scope} scope` };
  return undefined;
}

/**
 * Handlers that check the caller's key and scope before running, and answer a thrown error with
 * its gRPC status (see grpc-errors.ts).
 */
export function authorizedCalls(auth: ApiKeyAuth, logger: Logger) {
  return {
    unary<Req, Res>(
      scope: ApiScope,
      run: (request: Req, metadata: Metadata) => Promise<Res>,
    ): handleUnaryCall<Req, Res> {
      return (call, callback) => {
        const refused = refusal(auth, call.metadata, scope);
        if (refused) return callback(refused);
        run(call.request, call.metadata).then(
          (response) => callback(null, response),
          (error: unknown) => callback(toGrpcError(error, logger)),
        );
      };
    },

    /** A client stream: `run` reads the requests as they come and answers once. */
    clientStream<Req, Res>(
      scope: ApiScope,
      run: (requests: AsyncIterable<Req>) => Promise<Res>,
    ): handleClientStreamingCall<Req, Res> {
      return (call, callback) => {
        const refused = refusal(auth, call.metadata, scope);
        if (refused) {
          call.destroy();
          return callback(refused);
        }
        run(call as AsyncIterable<Req>).then(
          (response) => callback(null, response),
          (error: unknown) => {
            // Stop reading what the client still sends: the answer is already decided.
            call.destroy();
            callback(toGrpcError(error, logger));
          },
        );
      };
    },
  };
}
