import { parse } from 'hono/utils/cookie';
import { describe, expect, it } from 'vitest';
import { cookieValue } from '../src/http/node.js';

const NAME = '__Host-mcp_session';

/** Hono's reading of one cookie: what requestCookie returned before cookieValue. */
const hono = (header: string, name: string): string | undefined => parse(header, name)[name];

describe('cookieValue reads a cookie as hono/utils/cookie does', () => {
  const cases = [
    `${NAME}=Fe26.2*1*abc*def~1`,
    `a=1; ${NAME}=v; b=2`,
    `a=1;${NAME}=v;b=2`,
    `a=1;  \t${NAME}  =  v  ; b=2`,
    `x${NAME}=no; ${NAME}=yes`,
    `a=${NAME}=inside; ${NAME}=real`,
    `${NAME}="quoted"`,
    `${NAME}="`,
    `${NAME}=`,
    `${NAME}`,
    `${NAME};${NAME}=later`,
    `${NAME}=bad,comma; ${NAME}=good`,
    `${NAME}=bad\\slash; ${NAME}=good`,
    `${NAME}=first; ${NAME}=second`,
    `${NAME}=a%20b`,
    `${NAME}=a%zzb%41`,
    `${NAME}=%E0%A4%A`,
    `other=1`,
    ``,
    `;;; ${NAME}=v;;;`,
    `${NAME}x=no`,
    `${NAME} x=no; ${NAME}=yes`,
  ];
  it.each(cases)('%s', (header) => {
    expect(cookieValue(header, NAME)).toBe(hono(header, NAME));
  });

  it('agrees on generated headers', () => {
    // Deterministic: pieces that stress the pair boundaries, spaces, quotes, encodings and invalid values.
    const pieces = [NAME, '=', ';', ' ', '\t', '"', '%', '%41', ',', '\\', 'a', 'b=', 'Fe26.2*1*x', `${NAME}=`, '; '];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed;
    };
    for (let n = 0; n < 5000; n++) {
      let header = '';
      const length = next() % 12;
      for (let i = 0; i < length; i++) header += pieces[next() % pieces.length];
      expect(cookieValue(header, NAME), header).toBe(hono(header, NAME));
    }
  });
});
