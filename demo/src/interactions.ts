import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { PAGE_CSP, renderConsentPage, renderErrorPage, renderLoginPage } from './auth-pages.js';
import { checkDemoCredentials } from './demo-users.js';
import { BodyTooLargeError, readBody } from './http-body.js';

/**
 * The demo authorization server's own login and consent pages (oidc-provider's devInteractions are off).
 *
 *   GET  /interaction/:uid          login or consent page, whichever prompt oidc-provider is at
 *   POST /interaction/:uid/login    username + password
 *   POST /interaction/:uid/confirm  decision=allow|deny
 *
 * Each POST ends with interactionFinished(), a 303 back to the provider's /auth/:uid, which either shows
 * the next prompt or redirects to the client's redirect_uri. A cross-site attacker cannot drive these
 * forms: the interaction is found through oidc-provider's SameSite=Lax interaction cookie, scoped to
 * this interaction's path.
 */
export const INTERACTION_PREFIX = '/interaction/';

const FORM_LIMIT = 16 * 1024;

export function createInteractionHandler(provider: Provider) {
  return async function handleInteraction(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const [uid, action, ...rest] = pathname.slice(INTERACTION_PREFIX.length).split('/');
    if (!uid || rest.length > 0) return sendPage(res, 404, renderErrorPage('Not found', {}));

    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(req, res);
    } catch {
      // SessionNotFound: no or expired interaction cookie (another browser, a replayed link, a timeout).
      return sendPage(
        res,
        400,
        renderErrorPage('Sign-in expired', {
          error: 'This sign-in attempt has expired or was started elsewhere. Go back to the application and start again.',
        }),
      );
    }
    if (interaction.uid !== uid) {
      return sendPage(res, 400, renderErrorPage('Sign-in mismatch', { error: 'This page does not belong to the current sign-in attempt.' }));
    }

    const promptName = interaction.prompt.name;
    if (req.method === 'GET' && action === undefined) {
      if (promptName === 'login') return sendPage(res, 200, await loginPage(provider, interaction));
      if (promptName === 'consent') return sendPage(res, 200, await consentPage(provider, interaction));
      return sendPage(res, 400, renderErrorPage('Unsupported step', { prompt: promptName }));
    }
    if (req.method !== 'POST' || (action !== 'login' && action !== 'confirm')) {
      res.setHeader('Allow', action === undefined ? 'GET' : 'POST');
      return sendPage(res, 405, renderErrorPage('Method not allowed', {}));
    }
    // A POST for a step that is not the current one (a stale tab, a double submit) must not be applied.
    if ((action === 'login' && promptName !== 'login') || (action === 'confirm' && promptName !== 'consent')) {
      return sendPage(res, 400, renderErrorPage('Out of order', { error: 'This step is not the current one; go back and reload.' }));
    }

    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      const tooLarge = err instanceof BodyTooLargeError;
      return sendPage(res, tooLarge ? 413 : 400, renderErrorPage('Bad request', { error: tooLarge ? 'Form too large' : 'Expected a form submission' }));
    }

    if (action === 'login') {
      const username = form.get('username') ?? '';
      const user = checkDemoCredentials(username, form.get('password') ?? '');
      if (!user) {
        return sendPage(res, 200, await loginPage(provider, interaction, { username, error: 'Wrong username or password.' }));
      }
      return provider.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
    }

    if (form.get('decision') !== 'allow') {
      return provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User denied the authorization request' },
        { mergeWithLastSubmission: false },
      );
    }
    const grantId = await saveGrant(provider, interaction);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  };
}

async function clientLabel(provider: Provider, clientId: unknown): Promise<{ clientId: string; clientName: string }> {
  const id = typeof clientId === 'string' ? clientId : '';
  const client = id ? await provider.Client.find(id) : undefined;
  return { clientId: id, clientName: client?.clientName ?? id };
}

async function loginPage(provider: Provider, interaction: Interaction, extra: { username?: string; error?: string } = {}): Promise<string> {
  const { clientName } = await clientLabel(provider, interaction.params.client_id);
  return renderLoginPage({ action: `${INTERACTION_PREFIX}${interaction.uid}/login`, clientName, ...extra });
}

async function consentPage(provider: Provider, interaction: Interaction): Promise<string> {
  const { clientId, clientName } = await clientLabel(provider, interaction.params.client_id);
  const scope = typeof interaction.params.scope === 'string' ? interaction.params.scope : '';
  const resource = typeof interaction.params.resource === 'string' ? interaction.params.resource : undefined;
  return renderConsentPage({
    action: `${INTERACTION_PREFIX}${interaction.uid}/confirm`,
    clientId,
    clientName,
    username: interaction.session?.accountId ?? '',
    scopes: scope.split(' ').filter(Boolean),
    resource,
  });
}

/** Grants exactly what oidc-provider reports as missing: OIDC scopes/claims and per-resource scopes. */
async function saveGrant(provider: Provider, interaction: Interaction): Promise<string> {
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant =
    existing ??
    new provider.Grant({
      accountId: interaction.session?.accountId,
      clientId: typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined,
    });
  if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  return grant.save();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new Error('not a form');
  return new URLSearchParams(await readBody(req, FORM_LIMIT));
}

export function sendPage(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.end(html);
}
