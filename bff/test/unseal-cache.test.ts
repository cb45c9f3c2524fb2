import { describe, expect, it } from 'vitest';
import { UnsealCache } from '../src/store/unseal-cache.js';

describe('unseal cache', () => {
  const counting = (value: string | undefined) => {
    const calls = { n: 0 };
    const unseal = async () => {
      calls.n++;
      return value;
    };
    return { calls, unseal };
  };

  it('unseals a cookie once while the entry lives, then again', async () => {
    let now = 1_000;
    const cache = new UnsealCache<string>({ ttlMs: 100, now: () => now });
    const { calls, unseal } = counting('sid-1');
    expect(await cache.get('seal', unseal)).toBe('sid-1');
    now += 99;
    expect(await cache.get('seal', unseal)).toBe('sid-1');
    expect(calls.n).toBe(1);
    now += 1;
    expect(await cache.get('seal', unseal)).toBe('sid-1');
    expect(calls.n).toBe(2);
  });

  it('never keeps a cookie that did not unseal', async () => {
    const cache = new UnsealCache<string>();
    const { calls, unseal } = counting(undefined);
    expect(await cache.get('forged', unseal)).toBeUndefined();
    expect(await cache.get('forged', unseal)).toBeUndefined();
    expect(calls.n).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const cache = new UnsealCache<string>({ maxEntries: 2 });
    await cache.get('a', async () => 'A');
    await cache.get('b', async () => 'B');
    await cache.get('c', async () => 'C');
    expect(cache.size).toBe(2);
    const again = counting('A2');
    expect(await cache.get('a', again.unseal)).toBe('A2');
    expect(again.calls.n).toBe(1);
  });

  it('keys on the whole cookie value', async () => {
    const cache = new UnsealCache<string>();
    await cache.get('seal-x', async () => 'X');
    expect(await cache.get('seal-y', async () => undefined)).toBeUndefined();
  });
});
