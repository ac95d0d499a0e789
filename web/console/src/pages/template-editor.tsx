import { useEffect, useId, useMemo, useState } from "preact/hooks";
import type { TemplateEdit, TemplateView } from "../../../../internal/console/console-api.ts";
import { useAnnounce } from "../announcer.tsx";
import { ApiError, del, get, messageOf, put, segment } from "../api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { ErrorMessage, Loading, PageHeader } from "../components/feedback.tsx";
import { parseSample, TemplatePreview } from "../components/template-preview.tsx";
import { dateTime } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { Link, navigate } from "../router.tsx";
import { useSession } from "../session.tsx";

interface Draft {
  id: string;
  name: string;
  subject: string;
  html: string;
  text: string;
  variables: string;
  active: boolean;
  sample: string;
}

const BLANK: Draft = {
  id: "",
  name: "",
  subject: "",
  html: "",
  text: "",
  variables: "",
  active: true,
  sample: "{}",
};

const splitVariables = (source: string): string[] =>
  source
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");

/** Sample data naming every required variable, so a first preview renders rather than complains. */
const sampleFor = (variables: readonly string[]): string =>
  JSON.stringify(Object.fromEntries(variables.map((v) => [v, v])), null, 2);

function draftOf(t: TemplateView): Draft {
  return {
    id: t.id,
    name: t.name,
    subject: t.subject,
    html: t.html_template,
    text: t.text_template,
    variables: t.variables.join(", "),
    active: t.is_active,
    sample: sampleFor(t.variables),
  };
}

export function TemplateEditorPage({ id }: { id: string | null }) {
  const isNew = id === null;
  useTitle(isNew ? "New template" : `Template ${id}`);
  const session = useSession();
  const announce = useAnnounce();
  const readOnly = !session.can.admin;
  const [draft, setDraft] = useState<Draft | null>(isNew ? BLANK : null);
  const [saved, setSaved] = useState<TemplateView | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<ApiError | string | null>(null);
  const [saving, setSaving] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const ids = {
    id: useId(),
    name: useId(),
    subject: useId(),
    html: useId(),
    text: useId(),
    variables: useId(),
    active: useId(),
    sample: useId(),
    sampleError: useId(),
  };

  useEffect(() => {
    if (id === null) return;
    let current = true;
    get<{ template: TemplateView }>(`/templates/${segment(id)}`).then(
      ({ template }) => {
        if (!current) return;
        setSaved(template);
        setDraft(draftOf(template));
      },
      (e: unknown) => {
        if (current) setLoadError(messageOf(e));
      },
    );
    return () => {
      current = false;
    };
  }, [id]);

  // The preview hears only of what it renders, so renaming or (de)activating does not re-render it.
  const subject = draft?.subject ?? "";
  const html = draft?.html ?? "";
  const textPart = draft?.text ?? "";
  const variables = draft?.variables ?? "";
  const sampleSource = draft?.sample ?? "";
  const previewDraft = useMemo(
    () => ({ subject, html, text: textPart, variables: splitVariables(variables), sample: sampleSource }),
    [subject, html, textPart, variables, sampleSource],
  );

  if (draft === null) {
    return (
      <section>
        <p class="crumbs">
          <Link to="/templates">← Templates</Link>
        </p>
        <PageHeader title={`Template ${id ?? ""}`} />
        <ErrorMessage error={loadError} />
        {loadError === null && <Loading what="the template" />}
      </section>
    );
  }

  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => setDraft({ ...draft, [key]: value });
  const sample = parseSample(draft.sample);

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    const targetId = draft.id.trim();
    if (targetId === "") {
      setSaveError("A template needs an id.");
      return;
    }
    const body: TemplateEdit = {
      name: draft.name,
      subject: draft.subject,
      html_template: draft.html,
      text_template: draft.text,
      variables: splitVariables(draft.variables),
      is_active: draft.active,
      create: isNew,
    };
    setSaving(true);
    setSaveError(null);
    try {
      const { template } = await put<{ template: TemplateView }>(`/templates/${segment(targetId)}`, body);
      setSaved(template);
      announce(`Template ${template.id} saved.`);
      if (isNew) navigate(`/templates/${segment(template.id)}`);
    } catch (e) {
      setSaveError(e instanceof ApiError ? e : messageOf(e));
    } finally {
      setSaving(false);
    }
  };

  const remove = async (): Promise<void> => {
    if (id === null) return;
    await del<unknown>(`/templates/${segment(id)}`);
    announce(`Template ${id} deleted.`);
    navigate("/templates");
  };

  const textField = (key: "name" | "subject") => ({
    value: draft[key],
    readOnly,
    onInput: (event: { currentTarget: HTMLInputElement }) => set(key, event.currentTarget.value),
  });
  const area = (key: "html" | "text") => ({
    value: draft[key],
    readOnly,
    spellcheck: false,
    onInput: (event: { currentTarget: HTMLTextAreaElement }) => set(key, event.currentTarget.value),
  });

  return (
    <section>
      <p class="crumbs">
        <Link to="/templates">← Templates</Link>
      </p>
      <PageHeader title={isNew ? "New template" : `Template ${id}`}>
        {saved !== null && <span class="muted">Updated {dateTime(saved.updated_at)}</span>}
        {!readOnly && !isNew && (
          <button type="button" class="danger" onClick={() => setDeleting(true)}>
            Delete
          </button>
        )}
      </PageHeader>
      {readOnly && (
        <p class="notice">
          Read only: editing templates needs the admin scope. The preview follows the sample data.
        </p>
      )}
      <div class="editor">
        <form class="panel editor-form" aria-label="Template" onSubmit={(event) => void save(event)}>
          <div class="field">
            <label for={ids.id}>Id</label>
            <input
              id={ids.id}
              value={draft.id}
              readOnly={!isNew || readOnly}
              required
              autocomplete="off"
              onInput={(event) => set("id", event.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for={ids.name}>Name</label>
            <input id={ids.name} {...textField("name")} autocomplete="off" />
          </div>
          <div class="field">
            <label for={ids.subject}>Subject</label>
            <input id={ids.subject} class="mono" {...textField("subject")} autocomplete="off" />
          </div>
          <div class="field">
            <label for={ids.html}>HTML</label>
            <textarea id={ids.html} class="mono" rows={10} {...area("html")} />
          </div>
          <div class="field">
            <label for={ids.text}>Text</label>
            <textarea id={ids.text} class="mono" rows={6} {...area("text")} />
          </div>
          <div class="field">
            <label for={ids.variables}>Required variables</label>
            <input
              id={ids.variables}
              value={draft.variables}
              readOnly={readOnly}
              autocomplete="off"
              placeholder="name, order_id"
              onInput={(event) => set("variables", event.currentTarget.value)}
            />
          </div>
          <div class="field checkbox">
            <input
              id={ids.active}
              type="checkbox"
              checked={draft.active}
              disabled={readOnly}
              onChange={(event) => set("active", event.currentTarget.checked)}
            />
            <label for={ids.active}>Active</label>
          </div>
          <div class="field">
            <label for={ids.sample}>Sample data (JSON)</label>
            <textarea
              id={ids.sample}
              class="mono"
              rows={5}
              spellcheck={false}
              value={draft.sample}
              aria-invalid={!sample.ok}
              aria-describedby={sample.ok ? undefined : ids.sampleError}
              onInput={(event) => set("sample", event.currentTarget.value)}
            />
            {!sample.ok && (
              <p id={ids.sampleError} role="alert" class="error">
                {sample.error}
              </p>
            )}
          </div>
          <SaveError error={saveError} />
          {!readOnly && (
            <div class="buttons">
              <button type="submit" class="primary" disabled={saving}>
                {saving ? "Saving…" : "Save"}
              </button>
            </div>
          )}
        </form>
        <TemplatePreview draft={previewDraft} />
      </div>

      {deleting && (
        <ConfirmDialog
          title="Delete this template?"
          confirmLabel="Confirm"
          onConfirm={remove}
          onClose={() => setDeleting(false)}
        >
          <p>
            Template <code>{id}</code> will be deleted. Jobs that name it will fail to render.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function SaveError({ error }: { error: ApiError | string | null }) {
  if (error === null) return null;
  if (typeof error === "string") return <ErrorMessage error={error} />;
  return (
    <div role="alert" class="error">
      <p>The template was not saved: {error.message}</p>
      {error.violations.length > 0 && (
        <ul>
          {error.violations.map((v) => (
            <li key={`${v.field}:${v.description}`}>
              <strong>{v.field}</strong>: {v.description}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
