// A wallet-binding partner's own token from the test provider (client credentials), as e-Signet
// partners authenticate: a JWT for "esignd-devices" with the requested scope.
//
//   node partner-token.mjs ISSUER CLIENT_ID [SCOPE]   (SCOPE defaults to wallet_binding)
const [issuer, clientId, scope = 'wallet_binding'] = process.argv.slice(2);
const response = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: 'urn:esignd-devices' }).toString(),
});
const tokens = await response.json();
if (!tokens.access_token) throw new Error(`token endpoint: ${JSON.stringify(tokens)}`);
console.log(tokens.access_token);
