import type { TestBrowser } from '../../bff/test/support.js';

/**
 * The page's `fetch`, for SPA modules run in Node against the real BFF: a request to the app carries
 * the browser's cookies and stores the ones the answer sets (redirects not followed); any other goes
 * out as it is. `adjust` may change a request to the app before it goes out (it sees the headers as
 * they will be sent) and returns the init to send it with.
 */
export function pageFetch(browser: TestBrowser, realFetch: typeof fetch, adjust?: (headers: Headers, init: RequestInit) => RequestInit): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== browser.appUrl) return realFetch(input, init);
    const headers = new Headers(init?.headers);
    const cookie = browser.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const sent: RequestInit = { ...init, headers, redirect: 'manual' };
    const res = await realFetch(url, adjust ? adjust(headers, sent) : sent);
    browser.jar.store(url, res.headers);
    return res;
  }) as typeof fetch;
}
