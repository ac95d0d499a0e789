// The editor's live preview: asks the server to render the draft ~300 ms after the last keystroke.
import { useEffect, useState } from "preact/hooks";
import type {
  TemplatePreviewRequest,
  TemplatePreviewView,
} from "../../../../internal/console/console-api.ts";
import { messageOf, post } from "../api.ts";
import { useDebounced } from "../hooks.ts";
import { ErrorMessage } from "./feedback.tsx";
import { MessagePreview } from "./message-preview.tsx";

export interface PreviewDraft {
  subject: string;
  html: string;
  text: string;
  variables: string[];
  sample: string;
}

type Sample = { ok: true; data: Record<string, unknown> } | { ok: false; error: string };

export function parseSample(source: string): Sample {
  if (source.trim() === "") return { ok: true, data: {} };
  try {
    const data: unknown = JSON.parse(source);
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      return { ok: false, error: 'Sample data must be a JSON object, like {"name": "Ada"}.' };
    }
    return { ok: true, data: data as Record<string, unknown> };
  } catch (e) {
    return { ok: false, error: `Sample data is not valid JSON: ${messageOf(e)}` };
  }
}

export function TemplatePreview({ draft }: { draft: PreviewDraft }) {
  const settled = useDebounced(draft, 300);
  const [view, setView] = useState<TemplatePreviewView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const sample = parseSample(settled.sample);

  useEffect(() => {
    const parsed = parseSample(settled.sample);
    // Bad JSON is the operator's typo, reported beside the textarea; the server need not hear of it.
    if (!parsed.ok) return;
    let current = true;
    const body: TemplatePreviewRequest = {
      template: {
        subject: settled.subject,
        html_template: settled.html,
        text_template: settled.text,
        variables: settled.variables,
      },
      data: parsed.data,
    };
    setBusy(true);
    post<TemplatePreviewView>("/templates/preview", body).then(
      (answer) => {
        if (!current) return;
        setView(answer);
        setError(null);
        setBusy(false);
      },
      (e: unknown) => {
        if (!current) return;
        setError(messageOf(e));
        setBusy(false);
      },
    );
    return () => {
      current = false;
    };
  }, [settled]);

  return (
    <section class="panel preview-panel" aria-labelledby="live-preview" aria-busy={busy}>
      <h2 id="live-preview">Preview</h2>
      {!sample.ok ? (
        <p class="muted">The preview waits for valid sample data.</p>
      ) : (
        <>
          <ErrorMessage error={error} />
          {view !== null && view.error !== null && (
            <p role="alert" class="error">
              {view.error}
            </p>
          )}
          {view !== null && view.missing_variables.length > 0 && (
            <p class="warning">Missing variables in the sample data: {view.missing_variables.join(", ")}</p>
          )}
          {view?.rendered != null && <MessagePreview rendered={view.rendered} label="Template preview" />}
          {view?.translated != null && (
            <details class="translated">
              <summary>Go syntax, as run</summary>
              <h3>Subject</h3>
              <pre>{view.translated.subject}</pre>
              <h3>HTML</h3>
              <pre>{view.translated.html_template}</pre>
              <h3>Text</h3>
              <pre>{view.translated.text_template}</pre>
            </details>
          )}
          {view === null && error === null && <p class="muted">Rendering…</p>}
        </>
      )}
    </section>
  );
}
