// Log a user in at the test provider as an eService would, and print its tokens as JSON.
//
//   node login.mjs ISSUER CLIENT_ID LOGIN
import { browse } from './agent.mjs';

const [issuer, clientId, login] = process.argv.slice(2);
const redirectUri = 'http://127.0.0.1/eservice/callback';
const authorize = new URL(`${issuer}/auth`);
authorize.search = new URLSearchParams({
  client_id: clientId, response_type: 'code', scope: 'openid profile', redirect_uri: redirectUri,
  state: 'test-state', nonce: 'test-nonce', prompt: 'consent',
}).toString();
const callback = new URL((await browse(authorize.toString(), { login, stopAt: redirectUri })).url);
const code = callback.searchParams.get('code');
if (!code) throw new Error(`no code in ${callback}`);
const response = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }).toString(),
});
const tokens = await response.json();
if (!tokens.access_token) throw new Error(`token endpoint: ${JSON.stringify(tokens)}`);
console.log(JSON.stringify(tokens));
