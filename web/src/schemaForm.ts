/**
 * From a JSON Schema (a tool's inputSchema, a prompt's arguments, a resource template's variables) to
 * a tree of form fields, and from the form's values back to JSON arguments, checked before sending.
 * Pure functions, no React.
 */

import { Validator } from '@cfworker/json-schema';

export type EnumValue = string | number | boolean | null;

interface SchemaCommon {
  title: string | undefined;
  description: string | undefined;
  default: unknown;
}

export type SchemaNode = SchemaCommon &
  (
    | { kind: 'text'; minLength?: number; maxLength?: number; pattern?: string; format?: string }
    | {
        kind: 'number' | 'integer';
        minimum?: number;
        maximum?: number;
        exclusiveMinimum?: number;
        exclusiveMaximum?: number;
      }
    | { kind: 'boolean' }
    /** `labels[i]` names `options[i]` where the schema titles its options (elicitation's titled enums). */
    | { kind: 'enum'; options: EnumValue[]; labels?: string[] }
    | { kind: 'object'; fields: Field[] }
    | { kind: 'array'; item: SchemaNode; minItems?: number; maxItems?: number }
    /** Anything the form cannot draw field by field ($ref, anyOf, free-form objects): edited as JSON. */
    | { kind: 'json' }
  );

export interface Field {
  name: string;
  required: boolean;
  schema: SchemaNode;
}

/**
 * What the form holds: text-like inputs their text, checkboxes a boolean, selects the index of the
 * chosen option as a string ('' for none), objects a record and arrays a list of their items' values.
 */
export type FormValue = string | boolean | FormValue[] | { [name: string]: FormValue };
export type FormObject = { [name: string]: FormValue };

/** Where a value sits in the form: property names and array indexes. */
export type Path = readonly (string | number)[];

export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEnumValue(value: unknown): value is EnumValue {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function schemaType(schema: JsonObject): string | undefined {
  const { type } = schema;
  if (typeof type === 'string') return type;
  // ["string", "null"] and the like: the first type that is not null.
  if (Array.isArray(type)) return type.find((t): t is string => typeof t === 'string' && t !== 'null');
  return undefined;
}

/** Deeper than this, a property is edited as JSON: a form nested ten levels deep helps nobody. */
const MAX_DEPTH = 5;

/** `oneOf`/`anyOf` made only of `{ const, title }` entries: a choice with a label per option. */
function titledOptions(list: unknown): { options: EnumValue[]; labels: string[] } | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const options: EnumValue[] = [];
  const labels: string[] = [];
  for (const entry of list) {
    if (!isObject(entry) || !isEnumValue(entry.const)) return undefined;
    options.push(entry.const);
    labels.push(typeof entry.title === 'string' ? entry.title : String(entry.const));
  }
  return { options, labels };
}

export function schemaNode(raw: unknown, depth = 0): SchemaNode {
  const schema = isObject(raw) ? raw : {};
  const common: SchemaCommon = {
    title: str(schema.title),
    description: str(schema.description),
    default: schema.default,
  };
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    const options = schema.enum.filter(isEnumValue);
    // enumNames: the older way of titling options (elicitation's legacy titled enum).
    const names = Array.isArray(schema.enumNames) ? schema.enumNames : [];
    const labelled = names.length === options.length && names.every((n) => typeof n === 'string');
    return { ...common, kind: 'enum', options, ...(labelled ? { labels: names as string[] } : {}) };
  }
  const titled = titledOptions(schema.oneOf) ?? titledOptions(schema.anyOf);
  if (titled) return { ...common, kind: 'enum', ...titled };
  if (schema.const !== undefined && isEnumValue(schema.const)) {
    return { ...common, kind: 'enum', options: [schema.const] };
  }
  if (depth > MAX_DEPTH || '$ref' in schema || 'anyOf' in schema || 'oneOf' in schema || 'allOf' in schema) {
    return { ...common, kind: 'json' };
  }
  switch (schemaType(schema)) {
    case 'string':
      return {
        ...common,
        kind: 'text',
        ...optional('minLength', num(schema.minLength)),
        ...optional('maxLength', num(schema.maxLength)),
        ...optional('pattern', str(schema.pattern)),
        ...optional('format', str(schema.format)),
      };
    case 'number':
    case 'integer':
      return {
        ...common,
        kind: schemaType(schema) === 'integer' ? 'integer' : 'number',
        ...optional('minimum', num(schema.minimum)),
        ...optional('maximum', num(schema.maximum)),
        ...optional('exclusiveMinimum', num(schema.exclusiveMinimum)),
        ...optional('exclusiveMaximum', num(schema.exclusiveMaximum)),
      };
    case 'boolean':
      return { ...common, kind: 'boolean' };
    case 'object':
      // An object without declared properties is a free-form map: JSON is the honest editor.
      if (!isObject(schema.properties) || Object.keys(schema.properties).length === 0) {
        return { ...common, kind: 'json' };
      }
      return { ...common, kind: 'object', fields: fieldsOf(schema, depth + 1) };
    case 'array':
      if (!isObject(schema.items)) return { ...common, kind: 'json' };
      return {
        ...common,
        kind: 'array',
        item: schemaNode(schema.items, depth + 1),
        ...optional('minItems', num(schema.minItems)),
        ...optional('maxItems', num(schema.maxItems)),
      };
    default:
      return { ...common, kind: 'json' };
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

/** The fields of an object schema (a tool's inputSchema is one), in declaration order. */
export function fieldsOf(objectSchema: unknown, depth = 0): Field[] {
  if (!isObject(objectSchema) || !isObject(objectSchema.properties)) return [];
  const required = new Set(
    Array.isArray(objectSchema.required) ? objectSchema.required.filter((r) => typeof r === 'string') : [],
  );
  return Object.entries(objectSchema.properties).map(([name, raw]) => ({
    name,
    required: required.has(name),
    schema: schemaNode(raw, depth),
  }));
}

/** The form value that shows `value` (a default, usually); an empty form value when it does not fit. */
export function toFormValue(schema: SchemaNode, value: unknown): FormValue {
  switch (schema.kind) {
    case 'boolean':
      return value === true;
    case 'enum': {
      const index = schema.options.indexOf(value as EnumValue);
      return index >= 0 ? String(index) : '';
    }
    case 'text':
      return typeof value === 'string' ? value : '';
    case 'number':
    case 'integer':
      return typeof value === 'number' ? String(value) : '';
    case 'json':
      return value === undefined ? '' : JSON.stringify(value, null, 2);
    case 'object': {
      const given = isObject(value) ? value : {};
      return Object.fromEntries(
        schema.fields.map((field) => [
          field.name,
          toFormValue(field.schema, field.name in given ? given[field.name] : field.schema.default),
        ]),
      );
    }
    case 'array':
      return Array.isArray(value) ? value.map((item) => toFormValue(schema.item, item)) : [];
  }
}

/** The form's starting values: every default filled in. */
export function initialValues(fields: Field[]): FormObject {
  return Object.fromEntries(fields.map((field) => [field.name, initialValue(field)]));
}

function initialValue(field: Field): FormValue {
  const value = toFormValue(field.schema, field.schema.default);
  // A required choice with a single option has nothing to decide.
  if (field.schema.kind === 'enum' && value === '' && field.required && field.schema.options.length === 1) return '0';
  return value;
}

/** A new, empty array item (its defaults filled in). */
export function newItem(item: SchemaNode): FormValue {
  return toFormValue(item, item.default);
}

/** `values` with the value at `path` replaced; the objects and arrays on the way are copied. */
export function setIn(values: FormValue, path: Path, value: FormValue): FormValue {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(values) && typeof head === 'number') {
    const copy = [...values];
    copy[head] = setIn(values[head] ?? '', rest, value);
    return copy;
  }
  const object = typeof values === 'object' && !Array.isArray(values) ? values : {};
  return { ...object, [String(head)]: setIn(object[String(head)] ?? '', rest, value) };
}

export type ArgumentsResult =
  | { ok: true; arguments: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

type Read = { kind: 'missing' } | { kind: 'value'; value: unknown } | { kind: 'invalid' };

const missing: Read = { kind: 'missing' };
const invalidRead: Read = { kind: 'invalid' };
const given = (value: unknown): Read => ({ kind: 'value', value });

class Reader {
  readonly errors: Record<string, string> = {};

  fail(path: Path, message: string): Read {
    this.errors[pathKey(path)] = message;
    return invalidRead;
  }

  read(schema: SchemaNode, value: FormValue | undefined, path: Path, required = false): Read {
    switch (schema.kind) {
      case 'boolean':
        return given(value === true);
      case 'object':
        return this.readObject(schema.fields, typeof value === 'object' && !Array.isArray(value) ? value : {}, path);
      case 'array':
        return this.readArray(schema, Array.isArray(value) ? value : [], path);
      default:
        return this.readScalar(schema, typeof value === 'string' ? value : '', path, required);
    }
  }

  readScalar(schema: SchemaNode, text: string, path: Path, required = false): Read {
    switch (schema.kind) {
      case 'enum': {
        const index = text === '' ? -1 : Number(text);
        return index >= 0 && index < schema.options.length ? given(schema.options[index]) : missing;
      }
      case 'text': {
        if (text === '') {
          // An empty string is a string: a required field may be sent empty unless the schema says
          // otherwise (a minimum length, a pattern or a format that "" cannot meet).
          if (!required || (schema.minLength ?? 0) > 0 || schema.format !== undefined) return missing;
          if (schema.pattern !== undefined && !matches(schema.pattern, '')) return missing;
          return given('');
        }
        if (schema.minLength !== undefined && [...text].length < schema.minLength) {
          return this.fail(path, `Enter at least ${schema.minLength} characters.`);
        }
        if (schema.maxLength !== undefined && [...text].length > schema.maxLength) {
          return this.fail(path, `Enter at most ${schema.maxLength} characters.`);
        }
        if (schema.format === 'email' && !/^[^\s@]+@[^\s@]+$/.test(text)) return this.fail(path, 'Enter an email address.');
        if ((schema.format === 'uri' || schema.format === 'url') && !URL.canParse(text)) return this.fail(path, 'Enter a full URL.');
        if (schema.pattern !== undefined && !matches(schema.pattern, text)) {
          return this.fail(path, `Enter text in the expected format (${schema.pattern}).`);
        }
        if (schema.format === 'date-time') {
          const stamp = rfc3339(text);
          return stamp === undefined ? this.fail(path, 'Enter a date and time.') : given(stamp);
        }
        return given(text);
      }
      case 'json':
        if (text.trim() === '') return missing;
        try {
          return given(JSON.parse(text));
        } catch {
          return this.fail(path, 'Enter valid JSON.');
        }
      case 'number':
      case 'integer': {
        if (text.trim() === '') return missing;
        const number = Number(text.trim());
        if (!Number.isFinite(number)) return this.fail(path, `“${text.trim()}” is not a number.`);
        if (schema.kind === 'integer' && !Number.isInteger(number)) return this.fail(path, 'Enter a whole number.');
        if (schema.minimum !== undefined && number < schema.minimum) return this.fail(path, `Enter ${schema.minimum} or more.`);
        if (schema.maximum !== undefined && number > schema.maximum) return this.fail(path, `Enter ${schema.maximum} or less.`);
        if (schema.exclusiveMinimum !== undefined && number <= schema.exclusiveMinimum) {
          return this.fail(path, `Enter more than ${schema.exclusiveMinimum}.`);
        }
        if (schema.exclusiveMaximum !== undefined && number >= schema.exclusiveMaximum) {
          return this.fail(path, `Enter less than ${schema.exclusiveMaximum}.`);
        }
        return given(number);
      }
      default:
        return missing;
    }
  }

  /**
   * An object whose fields are all left empty is itself missing (so an optional one is left out);
   * once anything in it is filled in, its own required fields are required.
   */
  readObject(fields: Field[], values: FormObject, path: Path, forceRequired = false): Read {
    const reads = fields.map((field) => ({ field, read: this.read(field.schema, values[field.name], [...path, field.name], field.required) }));
    const anyGiven = reads.some(({ field, read }) => read.kind === 'value' && !isUntouchedDefault(field, read.value));
    const anyInvalid = reads.some(({ read }) => read.kind === 'invalid');
    if (!anyGiven && !anyInvalid && !forceRequired) return missing;
    const object: Record<string, unknown> = {};
    let ok = !anyInvalid;
    for (const { field, read } of reads) {
      if (read.kind === 'value') object[field.name] = read.value;
      else if (read.kind === 'missing' && field.required) {
        // A required group left empty is sent empty when that is valid; otherwise its own required
        // fields say what is needed.
        const value = values[field.name];
        const forced =
          field.schema.kind === 'object'
            ? this.readObject(field.schema.fields, typeof value === 'object' && !Array.isArray(value) ? value : {}, [...path, field.name], true)
            : this.fail([...path, field.name], 'This field is required.');
        if (forced.kind === 'value') object[field.name] = forced.value;
        else ok = false;
      }
    }
    return ok ? given(object) : invalidRead;
  }

  readArray(schema: SchemaNode & { kind: 'array' }, items: FormValue[], path: Path): Read {
    const out: unknown[] = [];
    let ok = true;
    items.forEach((item, index) => {
      const itemPath = [...path, index];
      const read =
        schema.item.kind === 'object'
          ? this.readObject(schema.item.fields, typeof item === 'object' && !Array.isArray(item) ? item : {}, itemPath, true)
          : this.read(schema.item, item, itemPath);
      if (read.kind === 'value') out.push(read.value);
      else {
        ok = false;
        if (read.kind === 'missing') this.fail(itemPath, 'Fill in this item or remove it.');
      }
    });
    if (!ok) return invalidRead;
    if (schema.minItems !== undefined && out.length < schema.minItems && out.length > 0) {
      return this.fail(path, `Add at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}.`);
    }
    if (schema.maxItems !== undefined && out.length > schema.maxItems) {
      return this.fail(path, `Remove items: at most ${schema.maxItems} allowed.`);
    }
    return out.length === 0 ? missing : given(out);
  }
}

/** A boolean left as it started does not, alone, make an optional object "filled in". */
function isUntouchedDefault(field: Field, value: unknown): boolean {
  return field.schema.kind === 'boolean' && value === (field.schema.default === true);
}

/**
 * A `datetime-local` value (local wall time, no zone) as RFC 3339 with this browser's offset, which is
 * what `format: date-time` means; a value that already carries a zone is kept as it is.
 */
export function rfc3339(text: string): string | undefined {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text)) return text;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec] = m;
  const local = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0));
  if (Number.isNaN(local.getTime()) || local.getMonth() !== Number(mo) - 1 || local.getDate() !== Number(d)) return undefined;
  const offset = -local.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  return `${y}-${mo}-${d}T${h}:${mi}:${sec ?? '00'}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

function matches(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(text);
  } catch {
    // A pattern this browser cannot compile is left to the server to check.
    return true;
  }
}

/**
 * Checks the form (required fields, numbers, lengths, patterns, item counts, JSON syntax) and builds
 * the arguments. Errors are keyed by pathKey() of the field they belong to.
 */
export function toArguments(fields: Field[], values: FormObject): ArgumentsResult {
  const reader = new Reader();
  const read = reader.readObject(fields, values, [], true);
  if (read.kind !== 'value') return { ok: false, errors: reader.errors };
  return { ok: true, arguments: read.value as Record<string, unknown> };
}

/**
 * The fields for string-only arguments (prompt arguments, URI template variables). These are not
 * JSON Schemas: a required one means "give a value", so an empty one is missing, not "".
 */
export function stringFields(args: ReadonlyArray<{ name: string; description?: string | undefined; required?: boolean | undefined }>): Field[] {
  return args.map((arg) => ({
    name: arg.name,
    required: arg.required === true,
    schema: { kind: 'text', title: undefined, description: arg.description, default: undefined, ...(arg.required ? { minLength: 1 } : {}) },
  }));
}

/** Keywords that only say "something below failed": the error that says what is wrong is deeper. */
const SUMMARY_KEYWORDS = new Set(['properties', 'items', 'prefixItems', 'additionalProperties', 'allOf', '$ref', 'unevaluatedProperties']);

/**
 * Checks built arguments against the whole schema (what the form cannot: `oneOf`, `anyOf`, `enum` and
 * `const` inside JSON-edited values, `not`, dependent keywords), before anything is sent. Errors are
 * keyed like toArguments' (by the nearest field the form has); an empty object when all is well, and
 * also when the schema cannot be compiled here (the server checks then).
 */
export function checkAgainstSchema(fields: Field[], schema: unknown, args: Record<string, unknown>): Record<string, string> {
  if (!isObject(schema)) return {};
  let result: ReturnType<Validator['validate']>;
  try {
    result = new Validator(schema as ConstructorParameters<typeof Validator>[0], '2020-12', false).validate(args);
  } catch {
    return {};
  }
  if (result.valid) return {};
  const errors: Record<string, string> = {};
  for (const unit of result.errors) {
    if (SUMMARY_KEYWORDS.has(unit.keyword)) continue;
    const segments = unit.instanceLocation
      .replace(/^#\/?/, '')
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s.replace(/~1/g, '/').replace(/~0/g, '~')));
    const key = pathKey(nearestField(fields, segments));
    errors[key] ??= describe(unit.keyword, unit.error);
  }
  // Nothing specific: say so at the first field rather than not at all.
  if (Object.keys(errors).length === 0 && fields[0]) errors[pathKey([fields[0].name])] = 'This does not match what the server accepts.';
  return errors;
}

/** The longest prefix of `segments` that is a field of the form (array indexes as numbers). */
function nearestField(fields: Field[], segments: string[]): Path {
  const path: (string | number)[] = [];
  let level: Field[] | undefined = fields;
  let node: SchemaNode | undefined;
  for (const segment of segments) {
    if (node?.kind === 'array' && /^\d+$/.test(segment)) {
      path.push(Number(segment));
      node = node.item;
      level = node.kind === 'object' ? node.fields : undefined;
      continue;
    }
    const field: Field | undefined = level?.find((f) => f.name === segment);
    if (!field) break;
    path.push(segment);
    node = field.schema;
    level = node.kind === 'object' ? node.fields : undefined;
  }
  if (path.length === 0 && fields[0]) path.push(fields[0].name);
  return path;
}

function describe(keyword: string, error: string): string {
  switch (keyword) {
    case 'enum':
    case 'const':
      return 'Choose one of the allowed values.';
    case 'oneOf':
    case 'anyOf':
      return 'This does not match any of the allowed shapes.';
    default:
      return error;
  }
}
