import { describe, expect, it } from 'vitest';
import { checkAgainstSchema, fieldsOf, initialValues, rfc3339, schemaNode, toArguments } from '../src/schemaForm.js';

/** The form machinery the tool pages and the input dialog share: from a schema to checked arguments. */

function submit(schema: Record<string, unknown>, values: Record<string, unknown>) {
  const fields = fieldsOf(schema);
  const built = toArguments(fields, { ...initialValues(fields), ...(values as Record<string, string>) });
  if (!built.ok) return built;
  const errors = checkAgainstSchema(fields, schema, built.arguments);
  return Object.keys(errors).length > 0 ? { ok: false as const, errors } : built;
}

describe('strings', () => {
  it('an empty string is a valid value for a required string the schema does not restrict', () => {
    expect(submit({ type: 'object', properties: { note: { type: 'string' } }, required: ['note'] }, { note: '' })).toEqual({
      ok: true,
      arguments: { note: '' },
    });
  });

  it('but not where the schema forbids it (minLength, pattern), and an optional empty field is left out', () => {
    const min = submit({ type: 'object', properties: { note: { type: 'string', minLength: 1 } }, required: ['note'] }, { note: '' });
    expect(min.ok).toBe(false);
    const pattern = submit({ type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]+$' } }, required: ['code'] }, { code: '' });
    expect(pattern.ok).toBe(false);
    expect(submit({ type: 'object', properties: { note: { type: 'string' } } }, { note: '' })).toEqual({ ok: true, arguments: {} });
  });
});

describe('numbers', () => {
  it('a malformed number says it is not a number, not that the field is required', () => {
    const result = submit({ type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, { n: '12,5' });
    expect(result.ok).toBe(false);
    expect(Object.values((result as { errors: Record<string, string> }).errors)[0]).toMatch(/not a number/);
  });

  it('a well-formed one is sent as a number', () => {
    expect(submit({ type: 'object', properties: { n: { type: 'number' } } }, { n: ' 1e3 ' })).toEqual({ ok: true, arguments: { n: 1000 } });
  });
});

describe('date-time', () => {
  it('a datetime-local value is sent as RFC 3339 with the offset of the moment it names', () => {
    const stamp = rfc3339('2026-07-28T09:30');
    expect(stamp).toMatch(/^2026-07-28T09:30:00[+-]\d{2}:\d{2}$/);
    // The same instant as the local wall time.
    expect(new Date(stamp as string).getTime()).toBe(new Date(2026, 6, 28, 9, 30).getTime());
    expect(rfc3339('2026-07-28T09:30:00Z')).toBe('2026-07-28T09:30:00Z');
    expect(rfc3339('2026-02-30T09:30')).toBeUndefined();
    const result = submit({ type: 'object', properties: { at: { type: 'string', format: 'date-time' } } }, { at: '2026-12-04T17:05' });
    if (!result.ok) throw new Error('expected the form to pass');
    expect(result.arguments.at).toMatch(/^2026-12-04T17:05:00[+-]\d{2}:\d{2}$/);
  });
});

describe('the whole schema', () => {
  it('a value outside a oneOf is refused before sending, at the field it belongs to', () => {
    const schema = {
      type: 'object',
      properties: {
        shape: {
          oneOf: [
            { type: 'object', properties: { kind: { const: 'circle' }, r: { type: 'number' } }, required: ['kind', 'r'] },
            { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'number' } }, required: ['kind', 'side'] },
          ],
        },
      },
      required: ['shape'],
    };
    const bad = submit(schema, { shape: '{"kind":"triangle"}' });
    expect(bad.ok).toBe(false);
    expect(Object.keys((bad as { errors: Record<string, string> }).errors)).toEqual(['["shape"]']);
    expect(submit(schema, { shape: '{"kind":"circle","r":2}' })).toEqual({ ok: true, arguments: { shape: { kind: 'circle', r: 2 } } });
  });

  it('an enum inside a JSON-edited value is checked too', () => {
    const schema = { type: 'object', properties: { tags: { anyOf: [{ type: 'array', items: { enum: ['a', 'b'] } }, { type: 'null' }] } } };
    expect(submit(schema, { tags: '["a","z"]' }).ok).toBe(false);
    expect(submit(schema, { tags: '["a","b"]' }).ok).toBe(true);
  });
});

describe('titled options (elicitation)', () => {
  it('oneOf of const + title and legacy enumNames become a choice with labels', () => {
    expect(schemaNode({ type: 'string', oneOf: [{ const: 'eu', title: 'Europe' }, { const: 'us', title: 'United States' }] })).toMatchObject({
      kind: 'enum',
      options: ['eu', 'us'],
      labels: ['Europe', 'United States'],
    });
    expect(schemaNode({ type: 'string', enum: ['a', 'b'], enumNames: ['Alpha', 'Beta'] })).toMatchObject({ labels: ['Alpha', 'Beta'] });
  });
});
