import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { generateCookie } from 'hono/cookie';
import { sealData, unsealData } from 'iron-session';
import { z } from 'zod';
import { loginReportSchema, loginTraceSchema } from '../oauth/login-trace.js';
import type { SessionSecret } from '../config.js';
import { requestCookie } from '../http/node.js';
import { stateMatches } from '../oauth/pkce.js';
import { UnsealCache } from '../store/unseal-cache.js';

/** How long a login may take from the redirect to the AS until the callback. */
export const LOGIN_TTL_SECONDS = 600;

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
    /** The client the request was made as; the code is exchanged as the same client. */
    clientId: z.string().min(1),
    /** The RFC 8707 resource sent, verbatim; null when resource indicators are off for this server. */
    resource: z.string().min(1).nullable(),
    /** Scopes requested, space-separated. */
    scope: z.string(),
    /** For a step-up: the scopes the server asked for, which count the attempts for this need. */
    stepUp: z.string().optional(),
    createdAt: z.number().int(),
    /** What the login did up to the authorization request, for the connection details (compactTrace). */
    trace: loginTraceSchema.optional(),
    /** OpenID Connect nonce: a sign-in at the enterprise IdP (enterprise/routes.ts), whose ID token must carry it. */
    nonce: z.string().min(16).optional(),
  })
  .strict();
export type LoginTransaction = z.infer<typeof loginTransactionSchema>;

/** The longest sealed value a cookie of ours may hold (browsers keep about 4 KB per cookie). */
const MAX_SEALED_LENGTH = 4096;

/**
 * A login whose tokens are in hand, waiting in a pending server-side session until the same-site
 * bounce (/bff/callback/complete) can see the browser's Strict session cookie and merge the two.
 */
export const loginCompletionSchema = z
  .object({
    completion: z.literal(true),
    pendingSessionId: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    returnTo: z.string().startsWith('/'),
    server: z.string().min(1),
  })
  .strict();
export type LoginCompletion = z.infer<typeof loginCompletionSchema>;
/** The bounce follows at once; a minute is plenty. */
export const COMPLETION_TTL_SECONDS = 60;

/** How long an offer to sign out at an AS lasts after a logout, and then how long that sign-out may take. */
export const LOGOUT_TTL_SECONDS = 600;

/**
 * A logout's sign-out at an authorization server (OpenID Connect RP-Initiated Logout), in two steps:
 * `offered` after the app's own logout, naming the pending server-side session that holds what each
 * sign-out needs (issuer, client, ID token: never in the cookie); `sent` once the browser went to one
 * AS, with the state it must bring back.
 */
export const logoutTransactionSchema = z.discriminatedUnion('phase', [
  z
    .object({
      phase: z.literal('offered'),
      pendingSessionId: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      createdAt: z.number().int(),
    })
    .strict(),
  z
    .object({
      phase: z.literal('sent'),
      state: z.string().min(22),
      server: z.string().min(1),
      createdAt: z.number().int(),
    })
    .strict(),
]);
export type LogoutTransaction = z.infer<typeof logoutTransactionSchema>;

/**
 * A login that failed, in place of its transaction: which report (a store note, keyed by the login's
 * txn) the connection details view shows this browser. The callback cannot see the browser's Strict
 * session cookie (its request comes from the AS's page), so the pointer rides the login cookie, as the
 * transaction did; the report itself stays server-side and lapses with this.
 */
export const failedLoginSchema = z
  .object({
    failedLogin: z.literal(true),
    txn: z.string().min(16),
    server: z.string().min(1),
    /** The failed login's steps (compactTrace): in the cookie, so that an anonymous browser's failures write nothing to the store. */
    report: loginReportSchema,
  })
  .strict();
export type FailedLogin = z.infer<typeof failedLoginSchema>;
/** How long a failed login's report is kept and shown. */
export const FAILED_LOGIN_TTL_SECONDS = 15 * 60;

/**
 * The Set-Cookie values written to this request's context. An answer the proxy writes straight to the
 * Node response carries them itself: reading them back through `c.res` would make Hono build a
 * Response that replaces the proxy's "already sent" marker, and the adapter would then try to answer
 * a second time.
 */
export function pendingSetCookies(c: Context): string[] {
  return (c.get('setCookies' as never) as string[] | undefined) ?? [];
}

const SESSION_COOKIE = 'mcp_session';
const LOGIN_COOKIE = 'mcp_login';
const LOGOUT_COOKIE = 'mcp_logout';

/** 32 random bytes, base64url: 256 bits, far over the 128 bits a session id needs. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export class CookieJar {
  readonly sessionCookieName: string;
  readonly loginCookieName: string;
  readonly logoutCookieName: string;
  /** Every configured secret, by id: any of them unseals. */
  private readonly passwords: Record<string, string>;
  /**
   * Session ids of cookies unsealed recently, keyed by the exact cookie value. Only the id: every
   * request still asks the store whether that session is live, so logout and expiry act at once.
   */
  private readonly unsealedSessions = new UnsealCache<string>();
  /** The first configured secret only: iron-session seals with the highest id of the map it is given. */
  private readonly sealingPassword: Record<string, string>;
  private readonly sealingSecretId: string;

  constructor(private readonly settings: CookieSettings) {
    // Under https every cookie is __Host-: browsers accept such a cookie only from this exact host,
    // Secure, with Path=/ and no Domain. Any other name (__Secure- included) can be set for this host
    // by a sibling subdomain with Domain=<parent>, and a planted login transaction or completion is
    // login CSRF. Over http (loopback dev) no prefix is possible.
    this.sessionCookieName = settings.secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
    this.loginCookieName = settings.secure ? `__Host-${LOGIN_COOKIE}` : LOGIN_COOKIE;
    this.logoutCookieName = settings.secure ? `__Host-${LOGOUT_COOKIE}` : LOGOUT_COOKIE;
    this.passwords = Object.fromEntries(settings.secrets.map((s) => [String(s.id), s.secret]));
    // The first listed secret seals, whatever its id (as the first TOKEN_ENCRYPTION_KEYS key encrypts):
    // a rolling rotation can first add a new secret behind the old one, then move it to the front.
    const [first] = settings.secrets;
    if (!first) throw new Error('"secrets" must contain at least one secret');
    this.sealingSecretId = String(first.id);
    this.sealingPassword = { [this.sealingSecretId]: first.secret };
  }

  /** How many session cookies are remembered as unsealed (for tests). */
  get cachedSessionCookies(): number {
    return this.unsealedSessions.size;
  }

  async readSessionId(c: Context): Promise<string | undefined> {
    return (await this.readSessionCookie(c))?.sid;
  }

  /**
   * The session id in the cookie, and whether the cookie was sealed with another secret than the one
   * that seals now (then the caller seals it again). A cookie whose secret was removed reads as no cookie.
   */
  async readSessionCookie(c: Context): Promise<{ sid: string; sealedWithOldSecret: boolean } | undefined> {
    const sealed = requestCookie(c, this.sessionCookieName);
    if (!sealed) return undefined;
    // Only a cookie that unsealed to a well-formed session id is cached: iron-session reads a forged
    // or expired seal as `{}`, and junk must not fill the cache.
    const sid = await this.unsealedSessions.get(sealed, async () => {
      const parsed = sessionCookieSchema.safeParse(await this.unseal(sealed, this.settings.sessionTtlSeconds));
      return parsed.success ? parsed.data.sid : undefined;
    });
    if (sid === undefined) return undefined;
    return { sid, sealedWithOldSecret: !this.sealedWithCurrentSecret(sealed) };
  }

  /**
   * readSessionCookie's answer without waiting, when the cookie's seal was unsealed recently (the
   * cache's hit); undefined otherwise, which means "ask readSessionCookie", not "no session".
   */
  cachedSessionCookie(c: Context): { sid: string; sealedWithOldSecret: boolean } | undefined {
    const sealed = requestCookie(c, this.sessionCookieName);
    const sid = sealed ? this.unsealedSessions.peek(sealed) : undefined;
    return sid === undefined ? undefined : { sid, sealedWithOldSecret: !this.sealedWithCurrentSecret(sealed as string) };
  }

  /** iron-session's seal is "Fe26.2*<password id>*...": the id says which secret sealed it. */
  private sealedWithCurrentSecret(sealed: string): boolean {
    const start = sealed.indexOf('*') + 1;
    const id = this.sealingSecretId;
    return start > 0 && sealed.startsWith(id, start) && sealed.charCodeAt(start + id.length) === 0x2a;
  }

  /** @param maxAgeSeconds how long the browser keeps it: the rest of the session's absolute lifetime. */
  async writeSessionId(c: Context, sid: string, maxAgeSeconds = this.settings.sessionTtlSeconds): Promise<void> {
    const sealed = await sealData({ sid }, { password: this.sealingPassword, ttl: this.settings.sessionTtlSeconds });
    this.write(c, SESSION_COOKIE, sealed, 'Strict', Math.max(1, Math.min(maxAgeSeconds, this.settings.sessionTtlSeconds)));
  }

  clearSessionCookie(c: Context): void {
    this.write(c, SESSION_COOKIE, '', 'Strict', 0);
  }

  async readLoginTransaction(c: Context): Promise<LoginTransaction | undefined> {
    const sealed = requestCookie(c, this.loginCookieName);
    if (!sealed) return undefined;
    const parsed = loginTransactionSchema.safeParse(await this.unseal(sealed, LOGIN_TTL_SECONDS));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * What an authorization response's callback does first with this browser's login in progress: a
   * callback whose `state` (exactly one) is not that login's (another tab's older login, or an attacker's
   * own callback URL) is refused without touching it, so its own callback still works; otherwise the
   * transaction is used up (cleared, whatever happens next) and must be there and not too old.
   */
  async takeLoginTransaction(
    c: Context,
    states: string[],
  ): Promise<{ transaction: LoginTransaction } | { refused: 'state_mismatch' | 'login_expired'; reason: string }> {
    const transaction = await this.readLoginTransaction(c);
    if (transaction && !(states.length === 1 && stateMatches(states[0] as string, transaction.state))) {
      return { refused: 'state_mismatch', reason: 'state missing, duplicated or not the expected one' };
    }
    this.clearLoginTransaction(c);
    if (!transaction) return { refused: 'login_expired', reason: 'no valid login transaction cookie' };
    if (Date.now() - transaction.createdAt > LOGIN_TTL_SECONDS * 1000) return { refused: 'login_expired', reason: 'login transaction too old' };
    return { transaction };
  }

  /**
   * The callback is reached by a cross-site navigation started on the AS's page, on which browsers
   * withhold SameSite=Strict cookies; Lax is sent on top-level GET navigations. Path=/ (which __Host-
   * requires) means the browser also sends it to the app's other routes for the few minutes of a
   * login; only the callback reads it, and the proxy never forwards the Cookie header.
   */
  async writeLoginTransaction(c: Context, txn: LoginTransaction): Promise<void> {
    let sealed = await sealData(txn, { password: this.sealingPassword, ttl: LOGIN_TTL_SECONDS });
    if (sealed.length > MAX_SEALED_LENGTH && txn.trace) {
      // The trace only feeds the connection details view: a long returnTo keeps its place before it.
      const { trace: _trace, ...rest } = txn;
      sealed = await sealData(rest, { password: this.sealingPassword, ttl: LOGIN_TTL_SECONDS });
    }
    this.write(c, LOGIN_COOKIE, sealed, 'Lax', LOGIN_TTL_SECONDS);
  }

  async readLoginCompletion(c: Context): Promise<LoginCompletion | undefined> {
    const sealed = requestCookie(c, this.loginCookieName);
    if (!sealed) return undefined;
    const parsed = loginCompletionSchema.safeParse(await this.unseal(sealed, COMPLETION_TTL_SECONDS));
    return parsed.success ? parsed.data : undefined;
  }

  /** Same cookie as the transaction it replaces: one login in flight per browser. */
  async writeLoginCompletion(c: Context, completion: LoginCompletion): Promise<void> {
    const sealed = await sealData(completion, { password: this.sealingPassword, ttl: COMPLETION_TTL_SECONDS });
    this.write(c, LOGIN_COOKIE, sealed, 'Lax', COMPLETION_TTL_SECONDS);
  }

  async readFailedLogin(c: Context): Promise<FailedLogin | undefined> {
    const sealed = requestCookie(c, this.loginCookieName);
    if (!sealed) return undefined;
    const parsed = failedLoginSchema.safeParse(await this.unseal(sealed, FAILED_LOGIN_TTL_SECONDS));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Replaces whatever the login cookie held (the failed login's transaction, used up): after the
   * transaction's clearing in the same answer, which browsers apply in order.
   */
  async writeFailedLogin(c: Context, failed: FailedLogin): Promise<void> {
    const sealed = await sealData(failed, { password: this.sealingPassword, ttl: FAILED_LOGIN_TTL_SECONDS });
    this.write(c, LOGIN_COOKIE, sealed, 'Lax', FAILED_LOGIN_TTL_SECONDS);
  }

  clearLoginTransaction(c: Context): void {
    this.write(c, LOGIN_COOKIE, '', 'Lax', 0);
  }

  async readLogoutTransaction(c: Context): Promise<LogoutTransaction | undefined> {
    const sealed = requestCookie(c, this.logoutCookieName);
    if (!sealed) return undefined;
    const parsed = logoutTransactionSchema.safeParse(await this.unseal(sealed, LOGOUT_TTL_SECONDS));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Lax, like the login transaction: the browser comes back from the AS's sign-out page by a navigation
   * that page started. A cookie of its own, so that a login started meanwhile does not lose its own.
   */
  async writeLogoutTransaction(c: Context, txn: LogoutTransaction): Promise<void> {
    const sealed = await sealData(txn, { password: this.sealingPassword, ttl: LOGOUT_TTL_SECONDS });
    this.write(c, LOGOUT_COOKIE, sealed, 'Lax', LOGOUT_TTL_SECONDS);
  }

  clearLogoutTransaction(c: Context): void {
    this.write(c, LOGOUT_COOKIE, '', 'Lax', 0);
  }

  /**
   * Every cookie the BFF sets goes through here: HttpOnly, Secure, Path=/, no Domain, and under https
   * the __Host- prefix (hono's generateCookie then enforces its rules). Recorded, so that
   * `pendingSetCookies` sees all of them. Browsers treat http://localhost as a secure context and keep
   * Secure cookies there, so Secure is set in local dev too.
   */
  private write(c: Context, name: string, value: string, sameSite: 'Strict' | 'Lax', maxAge: number): void {
    const cookie = generateCookie(name, value, {
      ...(this.settings.secure ? { prefix: 'host' as const } : {}),
      httpOnly: true,
      secure: true,
      sameSite,
      path: '/',
      maxAge,
    });
    c.header('Set-Cookie', cookie, { append: true });
    c.set('setCookies' as never, [...pendingSetCookies(c), cookie] as never);
  }

  /** Tampered, truncated, expired or foreign seals all read as "no cookie", never as an error. */
  private async unseal(sealed: string, ttl: number): Promise<unknown> {
    if (sealed.length > MAX_SEALED_LENGTH) return undefined;
    try {
      return await unsealData(sealed, { password: this.passwords, ttl });
    } catch {
      return undefined;
    }
  }
}
