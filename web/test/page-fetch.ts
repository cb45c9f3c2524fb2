import type { TestBrowser } from '../../bff/test/support.js';

/**
 * The page's `fetch`, for SPA modules run in Node against the real BFF: a URL is read as the page reads
 * it (a path is the app's); a request to the app carries the browser's cookies and stores the ones the
 * answer sets (redirects not followed); any other goes out as it is.
 */
export function pageFetch(browser: TestBrowser, realFetch: typeof fetch): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input), browser.appUrl);
    if (url.origin !== browser.appUrl) return realFetch(input, init);
    const headers = new Headers(init?.headers);
    const cookie = browser.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await realFetch(url, { ...init, headers, redirect: 'manual' });
    browser.jar.store(url, res.headers);
    return res;
  }) as typeof fetch;
}
