import { useId } from "preact/hooks";

interface Props {
  /** The form's accessible name. */
  ariaLabel: string;
  label: string;
  button: string;
  value: string;
  onInput: (value: string) => void;
  busy: boolean;
  /** Called instead of the browser's own submit. */
  onSubmit: () => void;
  /** Only where a page asked for it, so the other pages' markup stays as it was. */
  autocomplete?: "off" | undefined;
}

/** A one-field "contains" search above a list. */
export function SearchForm({
  ariaLabel,
  label,
  button,
  value,
  onInput,
  busy,
  onSubmit,
  autocomplete,
}: Props) {
  const inputId = useId();
  return (
    <form
      class="filters"
      aria-label={ariaLabel}
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      <div class="field">
        <label for={inputId}>{label}</label>
        <input
          id={inputId}
          type="search"
          autocomplete={autocomplete}
          value={value}
          onInput={(event) => onInput(event.currentTarget.value)}
        />
      </div>
      <div class="field buttons">
        <button type="submit" disabled={busy}>
          {button}
        </button>
      </div>
    </form>
  );
}
