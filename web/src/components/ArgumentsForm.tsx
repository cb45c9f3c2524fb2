import { type FormEvent, type ReactNode, useRef, useState } from 'react';
import type { Completer } from '../completions';
import { clearDraft, readDraft, useSaveDraft } from '../drafts';
import { checkAgainstSchema, type Field, type FormObject, type FormValue, initialValues, type Path, pathKey, setIn, toArguments } from '../schemaForm';
import { CompletionProvider } from './CompletionInput';
import { SchemaFields } from './SchemaField';

interface Props {
  fields: Field[];
  /** The whole JSON Schema the fields came from: the arguments are checked against it before sending. */
  schema?: unknown;
  /** The submit button's name, e.g. "Run". */
  submitLabel: string;
  busy?: boolean;
  /** Said when there are no fields. */
  emptyText: string;
  onSubmit: (args: Record<string, unknown>) => void;
  /** More buttons next to the submit button (Cancel). */
  children?: ReactNode;
  className?: string;
  /** Suggests values for the top-level text fields as the person types (prompt arguments, template variables). */
  completer?: Completer | undefined;
  /**
   * Keeps what is typed (secrets aside) in this tab under this key (drafts.ts), and starts from it:
   * a login in the middle, such as Reconnect after the session ended, does not lose it.
   */
  draftKey?: string;
}

/**
 * A form generated from fields; checks the values before handing over the arguments, and says what is
 * wrong next to each field (and how many problems, at the top) instead of sending.
 */
export function ArgumentsForm({ fields, schema, submitLabel, busy = false, emptyText, onSubmit, children, className, completer, draftKey }: Props) {
  const [draft] = useState(() => (draftKey === undefined ? undefined : readDraft(draftKey, fields)));
  const [values, setValues] = useState<FormObject>(() => draft ?? initialValues(fields));
  const [restored, setRestored] = useState(draft !== undefined);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const formRef = useRef<HTMLFormElement>(null);
  useSaveDraft(draftKey, schema, values);

  function startOver() {
    if (draftKey !== undefined) clearDraft(draftKey);
    setValues(initialValues(fields));
    setErrors({});
    setRestored(false);
    formRef.current?.querySelector<HTMLElement>('input, select, textarea')?.focus();
  }

  function onChange(path: Path, value: FormValue) {
    setValues((previous) => setIn(previous, path, value) as FormObject);
    setErrors((previous) => {
      const key = pathKey(path);
      if (!(key in previous)) return previous;
      const { [key]: _removed, ...rest } = previous;
      return rest;
    });
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    const built = toArguments(fields, values);
    const checked = built.ok && schema !== undefined ? schemaErrors(fields, schema, built.arguments) : built;
    if (!checked.ok) {
      setErrors(checked.errors);
      // After React has marked them: focus the first field in error, in document order.
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setErrors({});
    onSubmit(checked.arguments);
  }

  const problems = Object.keys(errors).length;
  return (
    <form ref={formRef} className={className ?? 'arguments-form'} noValidate onSubmit={submit}>
      {problems > 0 && (
        <p role="alert" className="error form-summary">
          {problems === 1 ? 'One field needs attention.' : `${problems} fields need attention.`}
        </p>
      )}
      {restored && (
        <p className="muted">
          Filled in as you left it.{' '}
          <button type="button" className="button-secondary button-small" onClick={startOver}>
            Start over
          </button>
        </p>
      )}
      {fields.length === 0 && <p className="muted">{emptyText}</p>}
      <CompletionProvider completer={completer} values={values}>
        <SchemaFields fields={fields} values={values} path={[]} errors={errors} onChange={onChange} />
      </CompletionProvider>
      <div className="actions">
        <button type="submit" disabled={busy}>
          {submitLabel}
        </button>
        {children}
      </div>
    </form>
  );
}

function schemaErrors(fields: Field[], schema: unknown, args: Record<string, unknown>) {
  const errors = checkAgainstSchema(fields, schema, args);
  return Object.keys(errors).length > 0 ? ({ ok: false, errors } as const) : ({ ok: true, arguments: args } as const);
}

function focusFirstInvalid(form: HTMLFormElement | null): void {
  const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
  // A list in error (too few items) is a fieldset: its first control takes the focus.
  const target = invalid instanceof HTMLFieldSetElement ? invalid.querySelector<HTMLElement>('input, select, textarea, button') : invalid;
  target?.focus();
}
