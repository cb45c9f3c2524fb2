import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { sealData, unsealData } from 'iron-session';
import { z } from 'zod';
import type { SessionSecret } from '../config.js';

/** How long a login may take from the redirect to the AS until the callback. */
export const LOGIN_TTL_SECONDS = 600;
export const CALLBACK_PATH = '/bff/callback';

export interface CookieSettings {
  secure: boolean;
  secrets: SessionSecret[];
  sessionTtlSeconds: number;
}

/** Only an opaque id travels in the session cookie; everything else stays server-side. */
const sessionCookieSchema = z.object({ sid: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).strict();

/** The login transaction: what the callback needs to finish the login it belongs to. */
export const loginTransactionSchema = z
  .object({
    /** Identifies this transaction for the single-use check. */
    txn: z.string().min(16),
    state: z.string().min(22),
    codeVerifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/),
    server: z.string().min(1),
    returnTo: z.string().startsWith('/'),
    /** The issuer the authorization request went to; the callback must not talk to any other. */
    issuer: z.string().min(1),
    createdAt: z.number().int(),
  })
  .strict();
export type LoginTransaction = z.infer<typeof loginTransactionSchema>;

/** 32 random bytes, base64url: 256 bits, far over the 128 bits a session id needs. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export class CookieJar {
  readonly sessionCookieName: string;
  readonly loginCookieName: string;
  private readonly passwords: Record<string, string>;

  constructor(private readonly settings: CookieSettings) {
    // __Host- pins the cookie to this exact origin (Secure, Path=/, no Domain); browsers only accept
    // it over https. __Secure- is the strongest prefix a Path-scoped cookie may carry.
    this.sessionCookieName = settings.secure ? '__Host-mcp_session' : 'mcp_session';
    this.loginCookieName = settings.secure ? '__Secure-mcp_login' : 'mcp_login';
    this.passwords = Object.fromEntries(settings.secrets.map((s) => [String(s.id), s.secret]));
  }

  async readSessionId(c: Context): Promise<string | undefined> {
    const sealed = getCookie(c, this.sessionCookieName);
    if (!sealed) return undefined;
    const data = await this.unseal(sealed, this.settings.sessionTtlSeconds);
    const parsed = sessionCookieSchema.safeParse(data);
    return parsed.success ? parsed.data.sid : undefined;
  }

  async writeSessionId(c: Context, sid: string): Promise<void> {
    const sealed = await sealData({ sid }, { password: this.passwords, ttl: this.settings.sessionTtlSeconds });
    setCookie(c, this.sessionCookieName, sealed, {
      httpOnly: true,
      // Browsers treat http://localhost as a secure context and keep Secure cookies there, so the
      // attribute is always set; only the __Host- prefix depends on https.
      secure: true,
      sameSite: 'Strict',
      path: '/',
      maxAge: this.settings.sessionTtlSeconds,
    });
  }

  clearSessionCookie(c: Context): void {
    deleteCookie(c, this.sessionCookieName, { httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  }

  async readLoginTransaction(c: Context): Promise<LoginTransaction | undefined> {
    const sealed = getCookie(c, this.loginCookieName);
    if (!sealed) return undefined;
    const parsed = loginTransactionSchema.safeParse(await this.unseal(sealed, LOGIN_TTL_SECONDS));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * The callback is reached by a cross-site navigation started on the AS's page, on which browsers
   * withhold SameSite=Strict cookies. Lax is sent on top-level GET navigations, and Path keeps this
   * cookie off every other request.
   */
  async writeLoginTransaction(c: Context, txn: LoginTransaction): Promise<void> {
    const sealed = await sealData(txn, { password: this.passwords, ttl: LOGIN_TTL_SECONDS });
    setCookie(c, this.loginCookieName, sealed, {
      httpOnly: true,
      secure: true,
      sameSite: 'Lax',
      path: CALLBACK_PATH,
      maxAge: LOGIN_TTL_SECONDS,
    });
  }

  clearLoginTransaction(c: Context): void {
    deleteCookie(c, this.loginCookieName, { httpOnly: true, secure: true, sameSite: 'Lax', path: CALLBACK_PATH });
  }

  /** Tampered, truncated, expired or foreign seals all read as "no cookie", never as an error. */
  private async unseal(sealed: string, ttl: number): Promise<unknown> {
    if (sealed.length > 4096) return undefined;
    try {
      return await unsealData(sealed, { password: this.passwords, ttl });
    } catch {
      return undefined;
    }
  }
}
