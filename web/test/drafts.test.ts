import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearDraft, DRAFT_TTL_MS, draftableValues, readDraft, saveDraft, toolDraftKey } from '../src/drafts.js';
import { fieldsOf, initialValues } from '../src/schemaForm.js';

/** Drafts of tool and prompt forms, kept in the tab across a login: never a secret, never for long. */

class MemoryStorage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  dump(): string {
    return JSON.stringify([...this.items]);
  }
}

let storage: MemoryStorage;
beforeEach(() => {
  storage = new MemoryStorage();
  vi.stubGlobal('window', { sessionStorage: storage });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

const schema = {
  type: 'object',
  properties: {
    user: { type: 'string' },
    password: { type: 'string', format: 'password' },
    apiKey: { type: 'string', writeOnly: true },
    notify: { type: 'boolean' },
    account: {
      type: 'object',
      properties: { name: { type: 'string' }, pin: { type: 'string', writeOnly: true } },
    },
    tokens: { type: 'array', items: { type: 'string', format: 'password' } },
    people: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, secret: { type: 'string', writeOnly: true } } } },
    /** Edited as JSON: a secret somewhere inside means the whole value is not kept. */
    extra: { anyOf: [{ type: 'object', properties: { token: { type: 'string', writeOnly: true } } }, { type: 'null' }] },
    plain: { anyOf: [{ type: 'string' }, { type: 'number' }] },
  },
};

describe('what a draft keeps', () => {
  it('never a field the schema marks writeOnly or format: password, at any depth', () => {
    const kept = draftableValues(schema, {
      user: 'ada',
      password: 'hunter2',
      apiKey: 'sk-live-1',
      notify: true,
      account: { name: 'main', pin: '1234' },
      tokens: ['t1', 't2'],
      people: [{ name: 'Grace', secret: 's1' }],
      extra: '{"token":"x"}',
      plain: '42',
    });
    expect(kept).toEqual({ user: 'ada', notify: true, account: { name: 'main' }, people: [{ name: 'Grace' }], plain: '42' });
    const text = JSON.stringify(kept);
    for (const secret of ['hunter2', 'sk-live-1', '1234', 't1', 's1', '"x"']) expect(text).not.toContain(secret);
  });

  it('a value behind a $ref is not kept when the schema has a secret anywhere; it is otherwise', () => {
    const withSecret = {
      type: 'object',
      $defs: { creds: { type: 'object', properties: { key: { type: 'string', writeOnly: true } } } },
      properties: { creds: { $ref: '#/$defs/creds' }, note: { type: 'string' } },
    };
    expect(draftableValues(withSecret, { creds: '{"key":"k"}', note: 'n' })).toEqual({ note: 'n' });
    const without = { type: 'object', $defs: { x: { type: 'string' } }, properties: { x: { $ref: '#/$defs/x' } } };
    expect(draftableValues(without, { x: '"y"' })).toEqual({ x: '"y"' });
  });

  it('prompt arguments (no schema) are plain text, kept as they are', () => {
    expect(draftableValues(undefined, { topic: 'tides' })).toEqual({ topic: 'tides' });
  });
});

describe('saving and restoring', () => {
  const fields = fieldsOf(schema);
  const key = toolDraftKey('default', 'sign_up');

  it('restores what was saved, with secrets back at their defaults, and stores no secret', () => {
    const values = { ...initialValues(fields), user: 'ada', password: 'hunter2', account: { name: 'main', pin: '1234' } };
    saveDraft(key, schema, values, 1_000);
    expect(storage.dump()).not.toContain('hunter2');
    expect(storage.dump()).not.toContain('1234');
    expect(readDraft(key, fields, 2_000)).toEqual({ ...initialValues(fields), user: 'ada', account: { name: 'main', pin: '' } });
  });

  it('fits a draft to the form as it is now: values of the wrong shape fall back to the defaults', () => {
    storage.setItem(key, JSON.stringify({ savedAt: 1_000, values: { user: 5, notify: 'yes', people: 'no', account: { name: 'x' } } }));
    expect(readDraft(key, fields, 2_000)).toEqual({ ...initialValues(fields), account: { name: 'x', pin: '' } });
    storage.setItem(key, 'not json');
    expect(readDraft(key, fields, 2_000)).toBeUndefined();
  });

  it('ends after the time bound, and after a call that used it, but not when it changed since', () => {
    saveDraft(key, schema, { user: 'ada' }, 1_000);
    expect(readDraft(key, fields, 1_000 + DRAFT_TTL_MS + 1)).toBeUndefined();
    expect(storage.getItem(key)).toBeNull();

    saveDraft(key, schema, { user: 'ada' }, Date.now() + 60_000);
    clearDraft(key, Date.now());
    expect(storage.getItem(key)).not.toBeNull();
    clearDraft(key, Date.now() + 120_000);
    expect(storage.getItem(key)).toBeNull();
  });

  it('one draft per server and tool; stale ones are swept when another is saved', () => {
    saveDraft(toolDraftKey('a', 'echo'), undefined, { message: 'old' }, 1_000);
    saveDraft(toolDraftKey('b', 'echo'), undefined, { message: 'new' }, 1_000 + DRAFT_TTL_MS + 1);
    expect(storage.getItem(toolDraftKey('a', 'echo'))).toBeNull();
    expect(readDraft(toolDraftKey('b', 'echo'), fieldsOf({ properties: { message: { type: 'string' } } }), 2_000 + DRAFT_TTL_MS)).toEqual({
      message: 'new',
    });
  });
});
