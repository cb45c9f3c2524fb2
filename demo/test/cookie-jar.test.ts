import { describe, expect, it } from 'vitest';
import { CookieJar } from '../src/cookie-jar.js';

function headersWith(...setCookies: string[]): Headers {
  const h = new Headers();
  for (const c of setCookies) h.append('set-cookie', c);
  return h;
}

describe('CookieJar', () => {
  it('scopes cookies by host and path, longest path first', () => {
    const jar = new CookieJar();
    jar.store('http://127.0.0.1:4000/auth', headersWith('a=1; path=/; httponly', 'b=2; path=/interaction/xyz; samesite=lax'));
    expect(jar.header('http://127.0.0.1:4000/interaction/xyz/login')).toBe('b=2; a=1');
    expect(jar.header('http://127.0.0.1:4000/interaction/xyzzy')).toBe('a=1');
    expect(jar.header('http://localhost:4000/')).toBeUndefined();
  });

  it('forgets cookies cleared with a past Expires or Max-Age=0', () => {
    const jar = new CookieJar();
    jar.store('http://h/', headersWith('a=1; path=/', 'b=2; path=/'));
    jar.store('http://h/', headersWith('a=; path=/; expires=Thu, 01 Jan 1970 00:00:01 GMT', 'b=; path=/; max-age=0'));
    expect(jar.header('http://h/')).toBeUndefined();
  });
});
