// One polite live region for the whole console, so each outcome ("Job cancelled.", a replay's
// result) is both visible and read out, and tests find it as the page's one role="status".
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { usePath } from "./router.tsx";

type Announce = (message: string) => void;

const AnnounceContext = createContext<Announce>(() => {});

export function AnnouncerProvider({ children }: { children: ComponentChildren }) {
  const [message, setMessage] = useState("");
  const announcedAt = useRef(0);
  const announce = useCallback<Announce>((text) => {
    announcedAt.current = Date.now();
    setMessage(text);
  }, []);
  // An outcome belongs to the page it happened on, unless it is what moved us (save, then go to the
  // saved template; delete, then back to the list): only a message from a moment ago survives.
  const path = usePath();
  useEffect(() => {
    if (Date.now() - announcedAt.current > 1500) setMessage("");
  }, [path]);
  return (
    <AnnounceContext.Provider value={announce}>
      {children}
      <div class={message === "" ? "toast toast-empty" : "toast"}>
        <p role="status">{message}</p>
        {message !== "" && (
          <button type="button" class="link-button" onClick={() => setMessage("")}>
            Dismiss
          </button>
        )}
      </div>
    </AnnounceContext.Provider>
  );
}

export const useAnnounce = (): Announce => useContext(AnnounceContext);
