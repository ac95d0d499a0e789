// A rendered message. Its HTML is untrusted (template authors, variables from API callers), so it
// only ever runs inside an iframe with an empty sandbox: no script, no origin, no forms, no popups.
import type { RenderedView } from "../../../../internal/console/console-api.ts";

export function MessagePreview({ rendered, label }: { rendered: RenderedView; label: string }) {
  return (
    <div class="preview">
      <p class="preview-subject">
        <span class="muted">Subject: </span>
        <strong>{rendered.subject}</strong>
      </p>
      <iframe class="preview-html" sandbox="" srcdoc={rendered.html} title={`${label}: HTML version`} />
      <h3>Text version</h3>
      <pre class="preview-text">{rendered.text === "" ? "(empty)" : rendered.text}</pre>
    </div>
  );
}
