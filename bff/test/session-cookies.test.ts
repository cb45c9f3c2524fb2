import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { CookieJar, newSessionId } from '../src/session/cookies.js';

/** Session cookie secret rotation, including a rolling one where instances briefly disagree. */

const OLD = { id: 1, secret: 'test-only-old-session-secret-0123456789ab' };
const NEW = { id: 2, secret: 'test-only-new-session-secret-0123456789ab' };

function jar(...secrets: Array<{ id: number; secret: string }>): CookieJar {
  return new CookieJar({ secure: false, secrets, sessionTtlSeconds: 3600 });
}

async function seal(cookieJar: CookieJar, sid: string): Promise<string> {
  const app = new Hono().get('/', async (c) => {
    await cookieJar.writeSessionId(c, sid);
    return c.body(null, 204);
  });
  const res = await app.request('/');
  return /mcp_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] as string;
}

async function read(cookieJar: CookieJar, cookie: string) {
  const app = new Hono().get('/', async (c) => c.json((await cookieJar.readSessionCookie(c)) ?? null));
  return (await app.request('/', { headers: { cookie: `mcp_session=${cookie}` } })).json();
}

describe('session cookie secrets', () => {
  it('the first listed secret seals; every listed secret unseals; a removed secret reads as no cookie', async () => {
    const sid = newSessionId();
    const underOld = await seal(jar(OLD), sid);
    expect(underOld.split('*')[1]).toBe('1');

    // Rolling rotation, step 1: the new secret is accepted everywhere before anyone seals with it.
    const stepOne = jar(OLD, NEW);
    expect((await seal(stepOne, sid)).split('*')[1]).toBe('1');
    expect(await read(stepOne, underOld)).toEqual({ sid, sealedWithOldSecret: false });

    // Step 2: the new secret moves to the front; cookies under the old one are re-sealed when seen.
    const stepTwo = jar(NEW, OLD);
    const underNew = await seal(stepTwo, sid);
    expect(underNew.split('*')[1]).toBe('2');
    expect(await read(stepTwo, underOld)).toEqual({ sid, sealedWithOldSecret: true });
    // An instance still at step 1 reads what step 2 sealed.
    expect(await read(stepOne, underNew)).toEqual({ sid, sealedWithOldSecret: true });

    // Step 3: the old secret is removed: its cookies are anonymous, never an error.
    const stepThree = jar(NEW);
    expect(await read(stepThree, underNew)).toEqual({ sid, sealedWithOldSecret: false });
    expect(await read(stepThree, underOld)).toBeNull();
  });
});

describe('session cookie cache', () => {
  it('remembers only cookies that unsealed to a session id: forged, foreign and expired seals are not kept', async () => {
    const cookieJar = jar(NEW);
    const sid = newSessionId();
    const good = await seal(cookieJar, sid);
    // iron-session reads these as `{}` rather than failing: they must still be anonymous and uncached.
    const foreign = await seal(jar({ id: 2, secret: 'test-only-another-deployment-secret-0123' }), newSessionId());
    const tampered = `${good.slice(0, -4)}AAAA`;
    const expiredJar = new CookieJar({ secure: false, secrets: [NEW], sessionTtlSeconds: 1 });
    const expired = await seal(expiredJar, newSessionId());
    for (const junk of [foreign, tampered, 'Fe26.2*2*junk', 'not-a-seal']) {
      expect(await read(cookieJar, junk)).toBeNull();
    }
    expect(cookieJar.cachedSessionCookies).toBe(0);
    expect(await read(cookieJar, good)).toEqual({ sid, sealedWithOldSecret: false });
    expect(cookieJar.cachedSessionCookies).toBe(1);
    // A seal past its lifetime (iron-session allows 60 s of clock skew, so look 2 minutes ahead).
    const realNow = Date.now;
    Date.now = () => realNow() + 120_000;
    try {
      expect(await read(expiredJar, expired)).toBeNull();
    } finally {
      Date.now = realNow;
    }
    expect(expiredJar.cachedSessionCookies).toBe(0);
  });
});
