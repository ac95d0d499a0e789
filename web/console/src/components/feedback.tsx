import type { ComponentChildren } from "preact";

export function ErrorMessage({ error }: { error: string | null | undefined }) {
  if (error === null || error === undefined) return null;
  return (
    <p role="alert" class="error">
      {error}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  );
}

/** A page's heading and the actions that belong to it. */
export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      {children !== undefined && <div class="page-actions">{children}</div>}
    </div>
  );
}

export function Forbidden({ what, scope }: { what: string; scope: string }) {
  return (
    <section>
      <PageHeader title={what} />
      <p role="alert" class="error">
        {what} need the {scope} scope, which this API key does not have.
      </p>
    </section>
  );
}
