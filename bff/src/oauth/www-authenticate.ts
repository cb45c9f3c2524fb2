/**
 * A parser for WWW-Authenticate (RFC 9110 §11.6.1): several challenges in one header, auth-params with
 * token or quoted-string values, token68. Never throws: what it cannot read, it skips.
 */
export interface Challenge {
  /** Lower-cased auth scheme, e.g. "bearer". */
  scheme: string;
  /** Lower-cased parameter names; the first occurrence wins. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;
const MAX_HEADER = 16 * 1024;

export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  if (!header || header.length > MAX_HEADER) return [];
  const out: Challenge[] = [];
  let rest = header;
  const skipSpaceAndCommas = () => {
    rest = rest.replace(/^[\s,]+/, '');
  };
  skipSpaceAndCommas();
  while (rest.length > 0) {
    const scheme = TOKEN.exec(rest)?.[0];
    if (!scheme) {
      // Garbage: drop up to the next comma and carry on.
      const comma = rest.indexOf(',');
      if (comma < 0) break;
      rest = rest.slice(comma + 1);
      skipSpaceAndCommas();
      continue;
    }
    rest = rest.slice(scheme.length);
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    // token68 after the scheme: e.g. "Basic abc=="
    const t68 = /^ +([A-Za-z0-9._~+/-]+=*)\s*(?=,|$)/.exec(rest);
    if (t68 && !/^ +[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=\s*[^=]/.test(rest)) {
      challenge.token68 = t68[1];
      rest = rest.slice(t68[0].length);
      skipSpaceAndCommas();
      continue;
    }
    // auth-params until something that is not `name = value` (the next challenge's scheme).
    for (;;) {
      const m = /^[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(rest);
      if (!m) break;
      const afterName = rest.slice(m[0].length);
      let value: string | undefined;
      let consumed = 0;
      if (afterName.startsWith('"')) {
        let i = 1;
        let v = '';
        for (; i < afterName.length; i++) {
          const ch = afterName[i] as string;
          if (ch === '\\' && i + 1 < afterName.length) {
            v += afterName[++i];
          } else if (ch === '"') {
            break;
          } else {
            v += ch;
          }
        }
        if (i >= afterName.length) {
          // Unterminated quote: take what is there and stop.
          value = v;
          consumed = afterName.length;
        } else {
          value = v;
          consumed = i + 1;
        }
      } else {
        const tok = TOKEN.exec(afterName)?.[0];
        if (tok === undefined) break;
        value = tok;
        consumed = tok.length;
      }
      const name = (m[1] as string).toLowerCase();
      if (!(name in challenge.params)) challenge.params[name] = value;
      rest = afterName.slice(consumed);
    }
    skipSpaceAndCommas();
  }
  return out;
}

/**
 * The parameters of the first Bearer challenge, else of the first DPoP one (RFC 9449 §7.1: a server
 * that takes only DPoP-bound tokens challenges with that scheme, with the same parameters), or an
 * empty object.
 */
export function bearerChallenge(header: string | null | undefined): Record<string, string> {
  const challenges = parseWwwAuthenticate(header);
  return (challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'dpop'))?.params ?? {};
}
