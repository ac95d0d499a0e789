// Who is signed in. The session itself is an HttpOnly cookie; the browser keeps only what the server
// says about it, in memory. The API key passes through once, to POST /session, and is never stored.
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useMemo, useState } from "preact/hooks";
import type {
  SessionState as SessionAnswer,
  SessionView,
  SignIn,
} from "../../../internal/console/console-api.ts";
import { del, get, messageOf, post, setCsrfToken, setUnauthorizedHandler } from "./api.ts";

export type SessionState =
  | { status: "loading" }
  | { status: "error"; error: string }
  | { status: "signed-out"; notice: string | null }
  | { status: "signed-in"; session: SessionView };

interface SessionApi {
  state: SessionState;
  signIn: (apiKey: string) => Promise<string | null>;
  signOut: () => Promise<void>;
  retry: () => void;
}

const SessionContext = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [state, setState] = useState<SessionState>({ status: "loading" });

  const adopt = useCallback((session: SessionView) => {
    setCsrfToken(session.csrf_token);
    setState({ status: "signed-in", session });
  }, []);

  const signedOut = useCallback((notice: string | null) => {
    setCsrfToken("");
    setState({ status: "signed-out", notice });
  }, []);

  const check = useCallback(async () => {
    setState({ status: "loading" });
    try {
      const { session } = await get<SessionAnswer>("/session");
      if (session) adopt(session);
      else signedOut(null);
    } catch (error) {
      setState({ status: "error", error: messageOf(error) });
    }
  }, [adopt, signedOut]);

  useEffect(() => {
    setUnauthorizedHandler(() => signedOut("Your session has ended. Sign in again."));
    void check();
  }, [check, signedOut]);

  const api = useMemo<SessionApi>(
    () => ({
      state,
      retry: () => void check(),
      signIn: async (apiKey) => {
        try {
          const body: SignIn = { api_key: apiKey };
          adopt(await post<SessionView>("/session", body));
          return null;
        } catch (error) {
          return messageOf(error);
        }
      },
      signOut: async () => {
        try {
          await del<undefined>("/session");
        } finally {
          signedOut(null);
        }
      },
    }),
    [state, check, adopt, signedOut],
  );

  return <SessionContext.Provider value={api}>{children}</SessionContext.Provider>;
}

export function useSessionApi(): SessionApi {
  const api = useContext(SessionContext);
  if (api === null) throw new Error("useSessionApi outside SessionProvider");
  return api;
}

/** The signed-in session; only pages rendered behind sign-in call this. */
export function useSession(): SessionView {
  const { state } = useSessionApi();
  if (state.status !== "signed-in") throw new Error("useSession while signed out");
  return state.session;
}
