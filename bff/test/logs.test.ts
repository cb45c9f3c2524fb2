import { Writable } from 'node:stream';
import { unsealData } from 'iron-session';
import { expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { DEMO_SESSION_SECRET, startStack } from '../../demo/src/stack.js';
import { expireSoon, INITIALIZE, MCP_HEADERS, TestBrowser } from './support.js';

it('logs no token, code, state, verifier, secret or cookie through a whole session', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const stack = await startStack({ log: createLogger('trace', sink) });
  const secrets: string[] = [DEMO_SESSION_SECRET, 'demo-only-client-secret-not-for-production'];
  try {
    const browser = new TestBrowser(stack.appUrl);
    const login = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const loginCookie = login.headers.getSetCookie()[0]?.split(';')[0]?.split('=')[1] as string;
    const txn = await unsealData<{ state: string; codeVerifier: string }>(loginCookie, { password: { 1: DEMO_SESSION_SECRET } });
    secrets.push(loginCookie, txn.state, txn.codeVerifier);
    const { loginThroughForms } = await import('../../demo/src/login-driver.js');
    const callback = await loginThroughForms(login.headers.get('location') as string);
    secrets.push(callback.searchParams.get('code') as string);
    await browser.finishLogin(callback);
    const sid = await browser.sessionId();
    secrets.push(sid, browser.jar.header(stack.appUrl)?.split('=')[1] as string);
    const first = await stack.store.getConnection(sid, 'default');
    secrets.push(first?.accessToken as string, first?.refreshToken as string);

    await expireSoon(stack, sid);
    const res = await browser.request('/mcp/default', {
      method: 'POST',
      headers: MCP_HEADERS,
      body: INITIALIZE,
    });
    expect(res.status).toBe(200);
    const second = await stack.store.getConnection(sid, 'default');
    secrets.push(second?.accessToken as string, second?.refreshToken as string);
    await browser.request('/bff/logout', { method: 'POST' });
    // A forged callback is logged as a security event, without its parameters.
    await browser.request(`/bff/callback/default?code=${callback.searchParams.get('code')}&state=forged`, { csrf: false });
  } finally {
    await stack.close();
  }
  const log = lines.join('');
  expect(log).toMatch(/"event":"token_refreshed"/);
  expect(log).toMatch(/"event":"security"/);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(10);
    expect(log).not.toContain(secret);
  }
  // The request line skips redaction (its fields are fixed): it must carry exactly these fields, and
  // its path never a query string (the callback's holds the code and state).
  const requests = log
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.event === 'request');
  expect(requests.length).toBeGreaterThan(5);
  for (const entry of requests) {
    expect(Object.keys(entry).sort()).toEqual(['event', 'level', 'method', 'ms', 'path', 'reqId', 'service', 'status', 'time']);
    expect(entry.path).not.toContain('?');
  }
  expect(requests.map((entry) => entry.path)).toContain('/bff/callback/default');
});
