import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { connectText, ManagedBy } from '../src/components/ManagedBy';

describe('enterprise-managed servers on the servers page', () => {
  it('says the organisation manages access, in text (not colour or an icon alone)', () => {
    const html = renderToStaticMarkup(createElement(ManagedBy, { connection: { managedBy: 'organisation' } }));
    expect(html).toContain('Managed by your organisation');
    expect(html).toContain("Access comes from your organisation&#x27;s sign-in; there is no separate approval for this server.");
    expect(html).toMatch(/^<p class="managed-by">/);
  });

  it('says nothing for other servers', () => {
    expect(renderToStaticMarkup(createElement(ManagedBy, { connection: {} }))).toBe('');
  });

  it('names the connect button after what it does', () => {
    expect(connectText({ managedBy: 'organisation' })).toBe('Sign in with your organisation');
    expect(connectText({})).toBe('Connect');
  });
});
