// The signed-in frame (header, navigation, main) and which page each path shows.
import { useEffect, useRef } from "preact/hooks";
import { AnnouncerProvider } from "./announcer.tsx";
import { ErrorMessage, Forbidden, Loading, PageHeader } from "./components/feedback.tsx";
import { useTitle } from "./hooks.ts";
import { CampaignsPage } from "./pages/campaigns.tsx";
import { DeadLettersPage } from "./pages/dead-letters.tsx";
import { JobPage } from "./pages/job.tsx";
import { JobsPage } from "./pages/jobs.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { SignInPage } from "./pages/sign-in.tsx";
import { SuppressionsPage } from "./pages/suppressions.tsx";
import { TemplateEditorPage } from "./pages/template-editor.tsx";
import { NEW_TEMPLATE_PATH, TemplatesPage } from "./pages/templates.tsx";
import { Link, match, Router, usePath } from "./router.tsx";
import { SessionProvider, useSession, useSessionApi } from "./session.tsx";

export function App() {
  return (
    <Router>
      <SessionProvider>
        <AnnouncerProvider>
          <Gate />
        </AnnouncerProvider>
      </SessionProvider>
    </Router>
  );
}

function Gate() {
  const { state, retry } = useSessionApi();
  switch (state.status) {
    case "loading":
      return (
        <main id="main">
          <Loading what="the console" />
        </main>
      );
    case "error":
      return (
        <main id="main">
          <ErrorMessage error={`The console could not reach the server: ${state.error}`} />
          <button type="button" onClick={retry}>
            Try again
          </button>
        </main>
      );
    case "signed-out":
      return <SignInPage notice={state.notice} />;
    case "signed-in":
      return <Shell />;
  }
}

interface NavItem {
  to: string;
  label: string;
  visible: boolean;
}

function Shell() {
  const session = useSession();
  const { signOut } = useSessionApi();
  const path = usePath();
  const nav: NavItem[] = [
    { to: "/", label: "Overview", visible: true },
    { to: "/jobs", label: "Jobs", visible: true },
    { to: "/dead-letters", label: "Dead letters", visible: session.can.admin },
    { to: "/templates", label: "Templates", visible: true },
    { to: "/suppressions", label: "Suppressions", visible: session.can.admin },
    { to: "/campaigns", label: "Campaigns", visible: session.can.campaigns },
  ];
  const active = (to: string): boolean =>
    to === "/" ? path === "/" : path === to || path.startsWith(`${to}/`);

  // After a client-side navigation, put focus on the new page's heading as a full load would.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>("main h1")?.focus();
  }, [path]);

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Email worker</span>
        <nav aria-label="Main">
          <ul class="nav-list">
            {nav
              .filter((item) => item.visible)
              .map((item) => (
                <li key={item.to}>
                  <Link to={item.to} current={active(item.to)}>
                    {item.label}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            Signed in as <strong>{session.name}</strong>
          </span>
          {session.auth_required && (
            <button type="button" onClick={() => void signOut()}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main">
        <Page path={path} />
      </main>
    </>
  );
}

function Page({ path }: { path: string }) {
  const session = useSession();
  if (path === "/") return <OverviewPage />;
  if (path === "/jobs") return <JobsPage />;
  const job = match("/jobs/:id", path);
  if (job?.id !== undefined) return <JobPage key={job.id} id={job.id} />;
  if (path === "/dead-letters")
    return session.can.admin ? <DeadLettersPage /> : <Forbidden what="Dead letters" scope="admin" />;
  if (path === "/templates") return <TemplatesPage />;
  if (path === NEW_TEMPLATE_PATH) return <TemplateEditorPage key="new" id={null} />;
  const template = match("/templates/:id", path);
  if (template?.id !== undefined) return <TemplateEditorPage key={template.id} id={template.id} />;
  if (path === "/suppressions")
    return session.can.admin ? <SuppressionsPage /> : <Forbidden what="Suppressions" scope="admin" />;
  if (path === "/campaigns")
    return session.can.campaigns ? <CampaignsPage /> : <Forbidden what="Campaigns" scope="campaign" />;
  return <NotFound />;
}

function NotFound() {
  useTitle("Not found");
  return (
    <section>
      <PageHeader title="Page not found" />
      <p>
        There is no console page here. <Link to="/">Go to the overview</Link>.
      </p>
    </section>
  );
}
