import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { type Field, type FormObject, type FormValue, newItem, type Path, pathKey, type SchemaNode } from '../schemaForm';
import { CompletionInput, useFieldCompletion } from './CompletionInput';

interface Shared {
  errors: Record<string, string>;
  onChange: (path: Path, value: FormValue) => void;
}

/** Every field of an object schema; the top level of a form, and the inside of nested objects. */
export function SchemaFields({ fields, values, path, errors, onChange }: Shared & { fields: Field[]; values: FormObject; path: Path }) {
  return (
    <>
      {fields.map((field) => (
        <SchemaInput
          key={field.name}
          label={field.name}
          required={field.required}
          schema={field.schema}
          value={values[field.name]}
          path={[...path, field.name]}
          errors={errors}
          onChange={onChange}
        />
      ))}
    </>
  );
}

interface InputProps extends Shared {
  /** The control's accessible name: the property name, exactly (or "<array> item N"). */
  label: string;
  required: boolean;
  schema: SchemaNode;
  value: FormValue | undefined;
  path: Path;
  /** For array items: removes this item. */
  onRemove?: (() => void) | undefined;
}

function Hint({ id, schema }: { id: string; schema: SchemaNode }) {
  const parts = [schema.title && schema.title !== schema.description ? schema.title : undefined, schema.description];
  if (schema.kind === 'json') parts.push('Enter JSON.');
  const text = parts.filter(Boolean).join(' — ');
  return text ? (
    <p id={id} className="hint">
      {text}
    </p>
  ) : null;
}

function ErrorText({ id, error }: { id: string; error: string | undefined }) {
  return error ? (
    <p id={id} className="field-error">
      {error}
    </p>
  ) : null;
}

function RequiredMark({ required }: { required: boolean }) {
  // Outside the <label>, so the accessible name stays the bare property name; screen readers learn
  // "required" from the control itself.
  return required ? (
    <span className="required-mark" aria-hidden="true">
      (required)
    </span>
  ) : null;
}

function RemoveButton({ label, onRemove }: { label: string; onRemove: (() => void) | undefined }) {
  return onRemove ? (
    <button type="button" className="button-small button-secondary" onClick={onRemove}>
      Remove <span className="visually-hidden">{label}</span>
    </button>
  ) : null;
}

/** One input for one schema node: a control for scalars, a fieldset for objects and arrays. */
export function SchemaInput(props: InputProps) {
  const { schema } = props;
  if (schema.kind === 'object') return <ObjectInput {...props} schema={schema} />;
  if (schema.kind === 'array') return <ArrayInput {...props} schema={schema} />;
  return <ScalarInput {...props} />;
}

function ObjectInput({ label, required, schema, value, path, errors, onChange, onRemove }: InputProps & { schema: SchemaNode & { kind: 'object' } }) {
  const id = useId();
  const values = typeof value === 'object' && !Array.isArray(value) ? value : {};
  return (
    <fieldset className="fieldset" aria-describedby={schema.description ? `${id}-hint` : undefined}>
      <legend>
        <span className="field-name">{label}</span> <RequiredMark required={required} />
      </legend>
      <Hint id={`${id}-hint`} schema={schema} />
      <SchemaFields fields={schema.fields} values={values} path={path} errors={errors} onChange={onChange} />
      <RemoveButton label={label} onRemove={onRemove} />
    </fieldset>
  );
}

/** The first control a person can type into or choose with, inside `root`. */
function firstControl(root: Element | null | undefined): HTMLElement | null {
  // A field before any button: an item's "Remove" may come first in the markup.
  return root?.querySelector<HTMLElement>('input, select, textarea') ?? root?.querySelector<HTMLElement>('button:not(:disabled)') ?? null;
}

function ArrayInput({ label, required, schema, value, path, errors, onChange, onRemove }: InputProps & { schema: SchemaNode & { kind: 'array' } }) {
  const id = useId();
  const items = Array.isArray(value) ? value : [];
  const listRef = useRef<HTMLOListElement>(null);
  const addRef = useRef<HTMLButtonElement>(null);
  // Where focus goes once React has drawn the change: the new item, or the neighbour of a removed one.
  const [focusTarget, setFocusTarget] = useState<number | 'add' | undefined>();
  useEffect(() => {
    if (focusTarget === undefined) return;
    const target = focusTarget === 'add' ? addRef.current : firstControl(listRef.current?.children[focusTarget]);
    target?.focus();
    setFocusTarget(undefined);
  }, [focusTarget]);
  const error = errors[pathKey(path)];
  const full = schema.maxItems !== undefined && items.length >= schema.maxItems;
  const limits = [
    schema.minItems !== undefined ? `at least ${schema.minItems}` : undefined,
    schema.maxItems !== undefined ? `at most ${schema.maxItems}` : undefined,
  ].filter(Boolean);
  const describedBy = [schema.description ? `${id}-hint` : undefined, error ? `${id}-error` : undefined].filter(Boolean).join(' ');
  return (
    <fieldset className="fieldset" aria-describedby={describedBy || undefined} aria-invalid={error ? true : undefined}>
      <legend>
        <span className="field-name">{label}</span> <RequiredMark required={required} />
      </legend>
      <Hint id={`${id}-hint`} schema={schema} />
      {items.length === 0 ? (
        <p className="muted">No items{limits.length > 0 ? ` (${limits.join(', ')})` : ''}.</p>
      ) : (
        <ol className="array-items" ref={listRef}>
          {items.map((item, index) => (
            // Items have no identity beyond their position; removing one re-labels the rest.
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            <li key={index}>
              <SchemaInput
                label={`${label} item ${index + 1}`}
                required={false}
                schema={schema.item}
                value={item}
                path={[...path, index]}
                errors={errors}
                onChange={onChange}
                onRemove={() => {
                  onChange(
                    path,
                    items.filter((_, i) => i !== index),
                  );
                  // The item that took its place, else the one before it, else "Add".
                  setFocusTarget(items.length === 1 ? 'add' : Math.min(index, items.length - 2));
                }}
              />
            </li>
          ))}
        </ol>
      )}
      <ErrorText id={`${id}-error`} error={error} />
      <div className="actions">
        <button
          ref={addRef}
          type="button"
          className="button-small button-secondary"
          disabled={full}
          onClick={() => {
            onChange(path, [...items, newItem(schema.item)]);
            setFocusTarget(items.length);
          }}
        >
          Add to {label}
        </button>
        <RemoveButton label={label} onRemove={onRemove} />
      </div>
    </fieldset>
  );
}

const inputTypeForFormat: Record<string, string> = { email: 'email', uri: 'url', url: 'url', date: 'date', 'date-time': 'datetime-local' };

function ScalarInput({ label, required, schema, value, path, errors, onChange, onRemove }: InputProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const error = errors[pathKey(path)];
  const hasHint = Boolean(schema.title || schema.description || schema.kind === 'json');
  const describedBy = [hasHint ? hintId : undefined, error ? errorId : undefined].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: pathKey(path),
    'aria-describedby': describedBy,
    'aria-invalid': error ? true : undefined,
    'aria-required': required || undefined,
  } as const;
  const text = typeof value === 'string' ? value : '';
  const set = (next: FormValue) => onChange(path, next);
  const completion = useFieldCompletion(path);

  let control: ReactNode;
  switch (schema.kind) {
    case 'boolean':
      control = <input {...common} type="checkbox" checked={value === true} onChange={(e) => set(e.target.checked)} />;
      break;
    case 'enum':
      control = (
        <select {...common} value={text} onChange={(e) => set(e.target.value)}>
          <option value="">{required ? 'Choose…' : '(none)'}</option>
          {schema.options.map((option, index) => (
            <option key={JSON.stringify(option)} value={String(index)}>
              {schema.labels?.[index] ?? String(option)}
            </option>
          ))}
        </select>
      );
      break;
    case 'number':
    case 'integer':
      control = (
        // Text, not type=number: a number input hands over "" for "1e" or "12,5", and the form would
        // then say "required" instead of "not a number". The keyboard still comes up numeric.
        <input
          {...common}
          type="text"
          inputMode={schema.kind === 'integer' ? 'numeric' : 'decimal'}
          autoComplete="off"
          spellCheck={false}
          value={text}
          onChange={(e) => set(e.target.value)}
        />
      );
      break;
    case 'json':
      control = <textarea {...common} className="json-input" rows={4} spellCheck={false} value={text} onChange={(e) => set(e.target.value)} />;
      break;
    default: {
      const format = schema.kind === 'text' ? schema.format : undefined;
      const long = schema.kind === 'text' && (schema.maxLength === undefined || schema.maxLength > 200) && /text|body|content|code|prompt/i.test(label);
      control = long ? (
        <textarea {...common} rows={4} value={text} onChange={(e) => set(e.target.value)} />
      ) : completion && !format ? (
        <CompletionInput
          {...common}
          field={completion}
          maxLength={schema.kind === 'text' ? schema.maxLength : undefined}
          value={text}
          onValueChange={set}
        />
      ) : (
        <input
          {...common}
          type={(format && inputTypeForFormat[format]) || 'text'}
          maxLength={schema.kind === 'text' ? schema.maxLength : undefined}
          value={text}
          onChange={(e) => set(e.target.value)}
        />
      );
    }
  }

  const labelRow = (
    <span className="field-label">
      <label htmlFor={id} className="field-name">
        {label}
      </label>
      <RequiredMark required={required} />
      <RemoveButton label={label} onRemove={onRemove} />
    </span>
  );
  return (
    <div className={schema.kind === 'boolean' ? 'field field-checkbox' : 'field'}>
      {schema.kind === 'boolean' ? (
        <>
          {control}
          {labelRow}
        </>
      ) : (
        <>
          {labelRow}
          {control}
        </>
      )}
      <Hint id={hintId} schema={schema} />
      <ErrorText id={errorId} error={error} />
    </div>
  );
}
