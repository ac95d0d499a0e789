// The console's only confirmation: a modal <dialog> (focus trapped, page inert, Escape cancels)
// instead of window.confirm, which the browser tests treat as a failure.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { messageOf } from "../api.ts";

export interface ConfirmProps {
  title: string;
  children?: ComponentChildren;
  confirmLabel?: string;
  /** Rejecting keeps the dialog open with the error shown; resolving closes it. */
  onConfirm: () => Promise<void>;
  onClose: () => void;
  /** Nothing to confirm (e.g. a dry run found no ids): Confirm is disabled. */
  disabled?: boolean;
}

export function ConfirmDialog(props: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { onClose } = props;

  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    // The element that opened the dialog gets focus back when it closes.
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    cancelRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const runConfirm = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      onClose();
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        // Escape: let us unmount it rather than the browser closing it behind Preact's back.
        event.preventDefault();
        if (!busy) onClose();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      {error !== null && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <div class="dialog-buttons">
        <button
          type="button"
          class="primary"
          disabled={busy || props.disabled === true}
          onClick={() => void runConfirm()}
        >
          {busy ? "Working…" : (props.confirmLabel ?? "Confirm")}
        </button>
        <button type="button" ref={cancelRef} disabled={busy} onClick={onClose}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
