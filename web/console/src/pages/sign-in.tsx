import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ErrorMessage } from "../components/feedback.tsx";
import { useTitle } from "../hooks.ts";
import { useSessionApi } from "../session.tsx";

export function SignInPage({ notice }: { notice: string | null }) {
  useTitle("Sign in");
  const { signIn } = useSessionApi();
  const inputId = useId();
  const [apiKey, setApiKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  // The page has one thing to do: the key field is where typing goes, from the start and after a
  // refused key.
  useEffect(() => {
    if (!busy) input.current?.focus();
  }, [busy]);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const key = apiKey;
    // The key lives only in this input until it is sent; clear it either way.
    setApiKey("");
    setBusy(true);
    setError(null);
    const failure = await signIn(key);
    setBusy(false);
    if (failure !== null) setError(failure);
  };

  return (
    <main id="main" class="sign-in">
      <form class="card" onSubmit={(event) => void submit(event)}>
        <h1>Sign in</h1>
        <p class="muted">Email worker operator console. Sign in with an API key.</p>
        {notice !== null && error === null && <p class="notice">{notice}</p>}
        <label for={inputId}>API key</label>
        <input
          ref={input}
          id={inputId}
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={apiKey}
          onInput={(event) => setApiKey(event.currentTarget.value)}
        />
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
