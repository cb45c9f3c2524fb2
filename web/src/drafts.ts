/**
 * Drafts of the forms a person fills in (a tool's arguments, a prompt's), kept in this tab's
 * sessionStorage so that a login in the middle does not lose them: "Reconnect" after the session ended
 * is a full round trip through the authorization server, and the page starts again from nothing.
 *
 * Never secrets: a field whose schema says `writeOnly: true` or `format: "password"` is not saved, nor
 * is a value edited as JSON whose schema has such a field anywhere inside (or a `$ref` when the schema
 * has one anywhere). A draft ends after a successful call that used it, and after DRAFT_TTL_MS.
 */
import { useEffect, useRef } from 'react';
import { type Field, type FormObject, type FormValue, initialValues, newItem, type SchemaNode } from './schemaForm';

const PREFIX = 'mcp-bff:draft:';

/** Longer than the BFF's default idle timeout (an hour): a session that ended while idle still finds its draft. */
export const DRAFT_TTL_MS = 2 * 60 * 60 * 1000;

interface StoredDraft {
  savedAt: number;
  values: FormObject;
}

export function toolDraftKey(server: string, tool: string): string {
  return `${PREFIX}${JSON.stringify(['tool', server, tool])}`;
}

export function promptDraftKey(server: string, prompt: string): string {
  return `${PREFIX}${JSON.stringify(['prompt', server, prompt])}`;
}

/** sessionStorage, or nothing where the browser refuses it (storage disabled): drafts are a convenience. */
function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSecret(schema: unknown): boolean {
  return isObject(schema) && (schema.writeOnly === true || schema.format === 'password');
}

/** Whether `schema` has `test` true of itself or of anything inside it. */
function anywhere(schema: unknown, test: (node: Record<string, unknown>) => boolean, depth = 0): boolean {
  if (depth > 64) return true;
  if (Array.isArray(schema)) return schema.some((item) => anywhere(item, test, depth + 1));
  if (!isObject(schema)) return false;
  return test(schema) || Object.values(schema).some((value) => typeof value === 'object' && anywhere(value, test, depth + 1));
}

/**
 * `value` without what must not be kept: undefined when all of it is secret. Follows the form's shape
 * (schemaForm.ts): objects by `properties`, arrays by `items`; text may be a scalar or a JSON-edited
 * value of a whole subschema.
 */
function keepable(schema: unknown, value: FormValue, refsMayHideSecrets: boolean): FormValue | undefined {
  if (isSecret(schema)) return undefined;
  const node = isObject(schema) ? schema : {};
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const hides = anywhere(node, isSecret) || (refsMayHideSecrets && anywhere(node, (n) => typeof n.$ref === 'string'));
    return hides ? undefined : value;
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => keepable(node.items, item, refsMayHideSecrets));
    return items.every((item) => item !== undefined) ? (items as FormValue[]) : undefined;
  }
  const properties = isObject(node.properties) ? node.properties : {};
  const kept: FormObject = {};
  for (const [name, inner] of Object.entries(value)) {
    const k = keepable(properties[name], inner, refsMayHideSecrets);
    if (k !== undefined) kept[name] = k;
  }
  return kept;
}

/** What of `values` may be saved for a form drawn from `schema` (none given: prompt arguments, all plain text). */
export function draftableValues(schema: unknown, values: FormObject): FormObject {
  const refsMayHideSecrets = anywhere(schema, isSecret);
  return (keepable(isObject(schema) ? schema : {}, values, refsMayHideSecrets) ?? {}) as FormObject;
}

/** `stored` where it fits the field's shape now (the tool may have changed since), else `initial`. */
function fit(schema: SchemaNode, initial: FormValue | undefined, stored: unknown): FormValue {
  const fallback = initial ?? newItem(schema);
  switch (schema.kind) {
    case 'boolean':
      return typeof stored === 'boolean' ? stored : fallback;
    case 'object': {
      const given = isObject(stored) ? stored : {};
      const start = isObject(fallback) ? (fallback as FormObject) : {};
      return Object.fromEntries(schema.fields.map((f) => [f.name, fit(f.schema, start[f.name], given[f.name])]));
    }
    case 'array':
      return Array.isArray(stored) ? stored.map((item) => fit(schema.item, undefined, item)) : fallback;
    case 'enum':
      return typeof stored === 'string' && (stored === '' || Number(stored) < schema.options.length) && /^\d*$/.test(stored)
        ? stored
        : fallback;
    default:
      return typeof stored === 'string' ? stored : fallback;
  }
}

/** The draft kept under `key`, fitted to `fields`; undefined when there is none (or it is too old). */
export function readDraft(key: string, fields: Field[], now = Date.now()): FormObject | undefined {
  const store = storage();
  let draft: StoredDraft | undefined;
  try {
    const parsed: unknown = JSON.parse(store?.getItem(key) ?? 'null');
    if (isObject(parsed) && typeof parsed.savedAt === 'number' && isObject(parsed.values)) draft = parsed as unknown as StoredDraft;
  } catch {
    draft = undefined;
  }
  if (!draft) return undefined;
  if (now - draft.savedAt > DRAFT_TTL_MS) {
    store?.removeItem(key);
    return undefined;
  }
  const initial = initialValues(fields);
  const values = draft.values;
  return Object.fromEntries(fields.map((f) => [f.name, fit(f.schema, initial[f.name], values[f.name])]));
}

export function saveDraft(key: string, schema: unknown, values: FormObject, now = Date.now()): void {
  const store = storage();
  if (!store) return;
  dropStaleDrafts(store, now);
  const draft: StoredDraft = { savedAt: now, values: draftableValues(schema, values) };
  try {
    store.setItem(key, JSON.stringify(draft));
  } catch {
    // Full, or refused: the form simply is not kept.
  }
}

/** Drops the draft under `key`; with `usedAt`, only if it was last saved no later (a call made with it). */
export function clearDraft(key: string, usedAt?: number): void {
  const store = storage();
  if (!store) return;
  if (usedAt !== undefined) {
    try {
      const parsed: unknown = JSON.parse(store.getItem(key) ?? 'null');
      if (isObject(parsed) && typeof parsed.savedAt === 'number' && parsed.savedAt > usedAt) return;
    } catch {
      // Unreadable: dropped below.
    }
  }
  store.removeItem(key);
}

function dropStaleDrafts(store: Storage, now: number): void {
  for (let i = store.length - 1; i >= 0; i--) {
    const key = store.key(i);
    if (!key?.startsWith(PREFIX)) continue;
    try {
      const parsed: unknown = JSON.parse(store.getItem(key) ?? 'null');
      if (isObject(parsed) && typeof parsed.savedAt === 'number' && now - parsed.savedAt <= DRAFT_TTL_MS) continue;
    } catch {
      // Unreadable: dropped.
    }
    store.removeItem(key);
  }
}

/** Saves the form's values under `key` each time they change (not the values it started with). */
export function useSaveDraft(key: string | undefined, schema: unknown, values: FormObject): void {
  const start = useRef(values);
  useEffect(() => {
    if (key === undefined || values === start.current) return;
    saveDraft(key, schema, values);
  }, [key, schema, values]);
}

/**
 * A tool's draft, for ToolRunner: its key, and the draft dropped once a call started after its last
 * change has succeeded (`succeededCallStartedAt`). A call that ended in an error keeps it.
 */
export function useToolDraft(server: string, tool: string, succeededCallStartedAt: number | undefined): string {
  const key = toolDraftKey(server, tool);
  useEffect(() => {
    if (succeededCallStartedAt !== undefined) clearDraft(key, succeededCallStartedAt);
  }, [key, succeededCallStartedAt]);
  return key;
}
