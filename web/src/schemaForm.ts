/**
 * From a tool's inputSchema (JSON Schema) to form fields, and from the form's values back to the
 * tool's arguments. Pure functions, no React.
 */

export type FieldKind = 'text' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';
export type EnumValue = string | number | boolean | null;

export interface Field {
  name: string;
  kind: FieldKind;
  required: boolean;
  description: string | undefined;
  /** For kind 'enum'. */
  options: EnumValue[];
  minimum: number | undefined;
  maximum: number | undefined;
  default: unknown;
}

/**
 * What the form holds per field: text inputs hold their text, checkboxes a boolean, selects the
 * index of the chosen option as a string ('' for none).
 */
export type FieldValue = string | boolean;
export type FormValues = Record<string, FieldValue>;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function schemaType(schema: JsonObject): string | undefined {
  const { type } = schema;
  if (typeof type === 'string') return type;
  // ["string", "null"] and the like: the first type that is not null.
  if (Array.isArray(type)) return type.find((t): t is string => typeof t === 'string' && t !== 'null');
  return undefined;
}

function isEnumValue(value: unknown): value is EnumValue {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function kindOf(schema: JsonObject): FieldKind {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return 'enum';
  switch (schemaType(schema)) {
    case 'string':
      return 'text';
    case 'number':
      return 'number';
    case 'integer':
      return 'integer';
    case 'boolean':
      return 'boolean';
    default:
      return 'json';
  }
}

export function fieldsOf(inputSchema: unknown): Field[] {
  if (!isObject(inputSchema) || !isObject(inputSchema.properties)) return [];
  const required = new Set(
    Array.isArray(inputSchema.required) ? inputSchema.required.filter((r) => typeof r === 'string') : [],
  );
  return Object.entries(inputSchema.properties).map(([name, raw]) => {
    const schema = isObject(raw) ? raw : {};
    return {
      name,
      kind: kindOf(schema),
      required: required.has(name),
      description: typeof schema.description === 'string' ? schema.description : undefined,
      options: Array.isArray(schema.enum) ? schema.enum.filter(isEnumValue) : [],
      minimum: typeof schema.minimum === 'number' ? schema.minimum : undefined,
      maximum: typeof schema.maximum === 'number' ? schema.maximum : undefined,
      default: schema.default,
    };
  });
}

function initialValue(field: Field): FieldValue {
  const value = field.default;
  switch (field.kind) {
    case 'boolean':
      return value === true;
    case 'enum': {
      const index = field.options.indexOf(value as EnumValue);
      if (index >= 0) return String(index);
      // A required choice with a single option has nothing to decide.
      return field.required && field.options.length === 1 ? '0' : '';
    }
    case 'text':
      return typeof value === 'string' ? value : '';
    case 'number':
    case 'integer':
      return typeof value === 'number' ? String(value) : '';
    case 'json':
      return value === undefined ? '' : JSON.stringify(value, null, 2);
  }
}

export function initialValues(fields: Field[]): FormValues {
  return Object.fromEntries(fields.map((field) => [field.name, initialValue(field)]));
}

export type ArgumentsResult =
  | { ok: true; arguments: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

type Read = { kind: 'missing' } | { kind: 'value'; value: unknown } | { kind: 'invalid'; message: string };

const missing: Read = { kind: 'missing' };
const given = (value: unknown): Read => ({ kind: 'value', value });
const invalid = (message: string): Read => ({ kind: 'invalid', message });

/** One field's value as the tool expects it. */
function readField(field: Field, value: FieldValue | undefined): Read {
  if (field.kind === 'boolean') return given(value === true);
  const text = typeof value === 'string' ? value : '';
  if (field.kind === 'enum') {
    const index = text === '' ? -1 : Number(text);
    return index >= 0 && index < field.options.length ? given(field.options[index]) : missing;
  }
  if (field.kind === 'text') return text === '' ? missing : given(text);
  if (text.trim() === '') return missing;
  if (field.kind === 'json') {
    try {
      return given(JSON.parse(text));
    } catch {
      return invalid('Enter valid JSON.');
    }
  }
  const number = Number(text);
  if (!Number.isFinite(number)) return invalid('Enter a number.');
  if (field.kind === 'integer' && !Number.isInteger(number)) return invalid('Enter a whole number.');
  if (field.minimum !== undefined && number < field.minimum) return invalid(`Enter ${field.minimum} or more.`);
  if (field.maximum !== undefined && number > field.maximum) return invalid(`Enter ${field.maximum} or less.`);
  return given(number);
}

/** Checks the form (required fields, number and JSON syntax) and builds the tool's arguments. */
export function toArguments(fields: Field[], values: FormValues): ArgumentsResult {
  const args: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const read = readField(field, values[field.name]);
    if (read.kind === 'value') args[field.name] = read.value;
    else if (read.kind === 'invalid') errors[field.name] = read.message;
    else if (field.required) errors[field.name] = 'This field is required.';
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, arguments: args };
}
