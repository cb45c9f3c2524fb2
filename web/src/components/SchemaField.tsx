import { type ReactNode, useId } from 'react';
import type { Field, FieldValue } from '../schemaForm';

interface Props {
  field: Field;
  value: FieldValue | undefined;
  error: string | undefined;
  onChange: (value: FieldValue) => void;
}

/**
 * One input for one inputSchema property, labelled with exactly the property name.
 */
export function SchemaField({ field, value, error, onChange }: Props) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy =
    [field.description ? hintId : undefined, error ? errorId : undefined].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: field.name,
    'aria-describedby': describedBy,
    'aria-invalid': error ? true : undefined,
  } as const;
  const text = typeof value === 'string' ? value : '';

  // The marker sits outside the <label> so that the label's text, and so the control's accessible
  // name, is the bare property name; screen readers learn "required" from the control itself.
  const label = (
    <span className="field-label">
      <label htmlFor={id}>{field.name}</label>
      {field.required && (
        <span className="required-mark" aria-hidden="true">
          (required)
        </span>
      )}
    </span>
  );

  let control: ReactNode;
  switch (field.kind) {
    case 'boolean':
      control = (
        <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
      );
      break;
    case 'enum':
      control = (
        <select {...common} required={field.required} value={text} onChange={(e) => onChange(e.target.value)}>
          <option value="">{field.required ? 'Choose…' : '(none)'}</option>
          {field.options.map((option, index) => (
            <option key={JSON.stringify(option)} value={String(index)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
      break;
    case 'number':
    case 'integer':
      control = (
        <input
          {...common}
          type="number"
          inputMode={field.kind === 'integer' ? 'numeric' : 'decimal'}
          step={field.kind === 'integer' ? 1 : 'any'}
          min={field.minimum}
          max={field.maximum}
          required={field.required}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      );
      break;
    case 'json':
      control = (
        <textarea
          {...common}
          className="json-input"
          rows={4}
          spellCheck={false}
          required={field.required}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      );
      break;
    case 'text':
      control = (
        <input
          {...common}
          type="text"
          required={field.required}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      );
      break;
  }

  return (
    <div className={field.kind === 'boolean' ? 'field field-checkbox' : 'field'}>
      {field.kind === 'boolean' ? (
        <>
          {control}
          {label}
        </>
      ) : (
        <>
          {label}
          {control}
        </>
      )}
      {field.description && (
        <p id={hintId} className="hint">
          {field.description}
          {field.kind === 'json' && ' (JSON)'}
        </p>
      )}
      {!field.description && field.kind === 'json' && <p className="hint">Enter JSON.</p>}
      {error && (
        <p id={errorId} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}
