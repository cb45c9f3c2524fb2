import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

/**
 * What a browser moves over the wire to show the app's first page, as Chromium itself counts it
 * (DevTools' `encodedDataLength`: headers plus the body as sent, compressed), once with an empty cache
 * and once more in the same browser (the hashed assets are immutable, so only what is not cached moves).
 */
export interface LoadBytes {
  /** Every response the page loaded. */
  requests: number;
  /** Bytes over the wire: response headers and bodies as sent. */
  wireBytes: number;
  /** The same responses' bodies after decompression. */
  bodyBytes: number;
  /** JavaScript alone: as sent, and decompressed. */
  jsWireBytes: number;
  jsBodyBytes: number;
  /** How many responses came compressed, and with which encodings. */
  encodings: Record<string, number>;
  /** Responses served from the browser's cache without a request. */
  fromCache: number;
}
export interface FirstLoad {
  url: string;
  cold: LoadBytes;
  warm: LoadBytes;
}

/** Debian's Chromium unless CHROMIUM_PATH says otherwise (empty: Playwright's own), as the e2e suite. */
function chromiumPath(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured !== undefined) return configured || undefined;
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;
}

interface Seen {
  mimeType: string;
  encoding: string;
  wire: number;
  body: number;
  cached: boolean;
  done: boolean;
}

/** Loads `url` twice in one fresh browser profile and counts the bytes of each load. */
export async function measureFirstLoad(url: string): Promise<FirstLoad> {
  const executablePath = chromiumPath();
  const browser = await chromium.launch({
    ...(executablePath ? { executablePath } : {}),
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let seen = new Map<string, Seen>();
    const entry = (id: string): Seen => {
      let s = seen.get(id);
      if (!s) {
        s = { mimeType: '', encoding: 'identity', wire: 0, body: 0, cached: false, done: false };
        seen.set(id, s);
      }
      return s;
    };
    cdp.on('Network.responseReceived', (e) => {
      const s = entry(e.requestId);
      s.mimeType = e.response.mimeType;
      const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
      s.encoding = headers['content-encoding'] ?? 'identity';
      s.cached ||= Boolean(e.response.fromDiskCache);
    });
    cdp.on('Network.dataReceived', (e) => {
      entry(e.requestId).body += e.dataLength;
    });
    cdp.on('Network.loadingFinished', (e) => {
      const s = entry(e.requestId);
      s.wire = e.encodedDataLength;
      s.done = true;
    });
    cdp.on('Network.requestServedFromCache', (e) => {
      entry(e.requestId).cached = true;
    });

    const count = (): LoadBytes => {
      const all = [...seen.values()].filter((s) => s.done);
      const js = all.filter((s) => s.mimeType.includes('javascript'));
      const sum = (list: Seen[], key: 'wire' | 'body') => list.reduce((total, s) => total + s[key], 0);
      const encodings: Record<string, number> = {};
      for (const s of all) encodings[s.encoding] = (encodings[s.encoding] ?? 0) + 1;
      return {
        requests: all.length,
        wireBytes: sum(all, 'wire'),
        bodyBytes: sum(all, 'body'),
        jsWireBytes: sum(js, 'wire'),
        jsBodyBytes: sum(js, 'body'),
        encodings,
        fromCache: all.filter((s) => s.cached).length,
      };
    };

    await page.goto(url, { waitUntil: 'networkidle' });
    const cold = count();
    seen = new Map();
    await page.goto(url, { waitUntil: 'networkidle' });
    const warm = count();
    if (cold.requests === 0) throw new Error(`${url}: the browser saw no responses`);
    return { url: new URL(url).pathname, cold, warm };
  } finally {
    await browser.close();
  }
}
