// A small history router under /admin/: the server answers index.html for every console path, so
// pushState URLs survive a reload. Search state is kept out of URLs on purpose (it may name addresses).
import { type ComponentChildren, createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";

export const BASE = "/admin";

/** The console path ("/jobs/…") of a browser path, "/" outside the base. */
function consolePath(pathname: string): string {
  if (pathname === BASE || pathname === `${BASE}/`) return "/";
  return pathname.startsWith(`${BASE}/`) ? pathname.slice(BASE.length).replace(/\/+$/, "") : "/";
}

export const href = (path: string): string => (path === "/" ? `${BASE}/` : `${BASE}${path}`);

const RouteContext = createContext<string>("/");

export function navigate(path: string): void {
  const target = href(path);
  if (target !== location.pathname) history.pushState(null, "", target);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** Follows in-console links without a reload; modified clicks and other targets behave as usual. */
function interceptClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.target instanceof Element ? event.target.closest("a") : null;
  if (anchor === null || anchor.target !== "" || anchor.hasAttribute("download")) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`)) return;
  if (url.pathname.startsWith(`${BASE}/api/`) || url.pathname.startsWith(`${BASE}/assets/`)) return;
  event.preventDefault();
  navigate(consolePath(url.pathname));
}

export function Router({ children }: { children: ComponentChildren }) {
  const [path, setPath] = useState(() => consolePath(location.pathname));
  useEffect(() => {
    const update = (): void => setPath(consolePath(location.pathname));
    addEventListener("popstate", update);
    document.addEventListener("click", interceptClick);
    return () => {
      removeEventListener("popstate", update);
      document.removeEventListener("click", interceptClick);
    };
  }, []);
  return <RouteContext.Provider value={path}>{children}</RouteContext.Provider>;
}

export const usePath = (): string => useContext(RouteContext);

/** Matches "/jobs/:id"-style patterns; the captured segments come back decoded. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const have = path.split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const actual = have[i] ?? "";
    if (part.startsWith(":")) {
      if (actual === "") return null;
      try {
        params[part.slice(1)] = decodeURIComponent(actual);
      } catch {
        return null;
      }
    } else if (part !== actual) {
      return null;
    }
  }
  return params;
}

export function Link(props: { to: string; class?: string; children: ComponentChildren; current?: boolean }) {
  return (
    <a href={href(props.to)} class={props.class} aria-current={props.current ? "page" : undefined}>
      {props.children}
    </a>
  );
}
