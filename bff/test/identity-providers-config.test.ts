import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, RESERVED_AUTHORIZATION_PARAMS } from '../src/config.js';
import { tokenResponseReader } from '../src/oauth/http.js';

/** Test-only session secret, public in this repository. */
const SECRET = 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC';
const base = { PUBLIC_URL: 'https://app.example.com', SESSION_SECRET: SECRET };
const single = { ...base, MCP_SERVER_URL: 'https://mcp.example.com/mcp' };
const several = (entry: Record<string, unknown>, env: Record<string, string> = {}) => ({
  ...base,
  ...env,
  MCP_SERVERS: JSON.stringify([{ id: 'crm', url: 'https://crm.example.com/mcp', ...entry }]),
});

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('identity provider settings', () => {
  it('reads extra authorization parameters, per server and for MCP_SERVER_URL', () => {
    expect(loadConfig(several({ authorizationParams: { audience: 'https://api.example.com', prompt: 'login' } })).servers[0]).toMatchObject({
      authorizationParams: { audience: 'https://api.example.com', prompt: 'login' },
    });
    const env = { ...single, OAUTH_AUTHORIZATION_PARAMS: 'audience=https%3A%2F%2Fapi.example.com&prompt=consent' };
    expect(loadConfig(env).servers[0]?.authorizationParams).toEqual({ audience: 'https://api.example.com', prompt: 'consent' });
    expect(loadConfig(single).servers[0]?.authorizationParams).toEqual({});
  });

  it("refuses extra parameters that would replace the protocol's own", () => {
    for (const name of RESERVED_AUTHORIZATION_PARAMS) {
      expect(problems(several({ authorizationParams: { [name]: 'x' } }))).toEqual([
        expect.stringMatching(new RegExp(`^MCP_SERVERS\\[0\\]\\.authorizationParams: "${name}" is set by the BFF itself`)),
      ]);
    }
    expect(problems({ ...single, OAUTH_AUTHORIZATION_PARAMS: 'scope=openid' })).toEqual([
      'OAUTH_AUTHORIZATION_PARAMS: "scope" is set by the BFF itself and cannot be overridden (use scopes instead)',
    ]);
    expect(problems({ ...single, OAUTH_AUTHORIZATION_PARAMS: 'prompt=login&prompt=consent' })).toEqual([
      'OAUTH_AUTHORIZATION_PARAMS: "prompt" is given twice',
    ]);
    expect(problems(several({ authorizationParams: { 'bad name': 'x' } }))[0]).toMatch(/parameter name "bad name" must be/);
    expect(problems(several({ authorizationParams: { audience: 1 } }))[0]).toMatch(/authorizationParams values must be strings/);
  });

  it('reads the initial access token from the variable an entry names, and never echoes it', () => {
    const token = 'iat-value-that-must-not-be-echoed';
    expect(loadConfig(several({ initialAccessTokenEnv: 'CRM_IAT' }, { CRM_IAT: token })).servers[0]?.initialAccessToken).toBe(token);
    expect(loadConfig({ ...single, OAUTH_INITIAL_ACCESS_TOKEN: token }).servers[0]?.initialAccessToken).toBe(token);
    expect(loadConfig(single).servers[0]?.initialAccessToken).toBeUndefined();
    expect(problems(several({ initialAccessTokenEnv: 'CRM_IAT' }))).toEqual([
      'MCP_SERVERS[0].initialAccessTokenEnv: the environment variable CRM_IAT it names is not set',
    ]);
    const bad = problems(several({ initialAccessTokenEnv: 'CRM_IAT' }, { CRM_IAT: `${token} with spaces` }));
    expect(bad).toEqual(['MCP_SERVERS[0].initialAccessTokenEnv: CRM_IAT must be a token of visible ASCII characters']);
    expect(problems(several({ initialAccessTokenEnv: 'not a name' }))[0]).toMatch(/must name an environment variable/);
    // The token itself is not a setting: it could end up in a file or a log with the rest of MCP_SERVERS.
    expect(problems(several({ initialAccessToken: token }))[0]).toMatch(/Unrecognized key/);
    expect(problems(several({ initialAccessToken: token })).join('\n')).not.toContain(token);
  });

  it('turns resource indicators off per server, and takes Entra ID style api:// scopes', () => {
    const entra = loadConfig(several({ resourceIndicator: false, scopes: 'api://6e1d0c8a-5f0e-4c1b-9d8e-1a2b3c4d5e6f/mcp.tools offline_access' })).servers[0];
    expect(entra?.scopes).toEqual(['api://6e1d0c8a-5f0e-4c1b-9d8e-1a2b3c4d5e6f/mcp.tools', 'offline_access']);
    expect(loadConfig(several({ resourceIndicator: false })).servers[0]?.resourceIndicator).toBe(false);
    expect(loadConfig({ ...single, OAUTH_RESOURCE_INDICATOR: '0' }).servers[0]?.resourceIndicator).toBe(false);
  });
});

describe('token responses whatever their content type', () => {
  const answer = (body: string, status: number, type: string) => tokenResponseReader(async () => new Response(body, { status, headers: { 'content-type': type } }));
  const read = async (f: typeof fetch) => {
    const response = await f('https://as.example.com/token');
    return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
  };

  it('reads a form-encoded answer as the JSON it means', async () => {
    const form = answer('access_token=at&token_type=bearer&scope=repo%20user&expires_in=3600', 200, 'application/x-www-form-urlencoded; charset=utf-8');
    const out = await read(form);
    expect(out.type).toBe('application/json');
    expect(JSON.parse(out.body)).toEqual({ access_token: 'at', token_type: 'bearer', scope: 'repo user', expires_in: '3600' });
  });

  it('reads JSON whatever it is labelled, and turns an error answered with 200 into the error it is', async () => {
    expect(JSON.parse((await read(answer('{"access_token":"at","token_type":"Bearer"}', 200, 'text/plain'))).body)).toEqual({ access_token: 'at', token_type: 'Bearer' });
    const error = await read(answer('error=bad_verification_code&error_description=The+code+is+wrong', 200, 'application/x-www-form-urlencoded'));
    expect(error.status).toBe(400);
    expect(JSON.parse(error.body)).toMatchObject({ error: 'bad_verification_code' });
    expect((await read(answer('{"error":"invalid_grant"}', 200, 'application/json'))).status).toBe(400);
    expect((await read(answer('error=invalid_client', 401, 'application/x-www-form-urlencoded'))).type).toBe('application/json');
  });

  it('hands on what is no token response as it came', async () => {
    expect(await read(answer('<html>oops</html>', 200, 'text/html'))).toEqual({ status: 200, type: 'text/html', body: '<html>oops</html>' });
    expect(await read(answer('busy', 503, 'text/plain'))).toEqual({ status: 503, type: 'text/plain', body: 'busy' });
  });
});
