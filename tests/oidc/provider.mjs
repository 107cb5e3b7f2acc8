// A real OpenID provider (oidc-provider) on loopback for esignd's tests.
//
//   node provider.mjs PORT STATE_DIR
//
// Clients (all client_secret_basic, secret "<client_id>-secret"):
//   esignd          the daemon's own client (browser flow); redirect URIs from $ESIGND_REDIRECT_URIS;
//                   private_key_jwt with the keys at $ESIGND_JWKS_URI when that is set
//   eservice-jwt    an eService whose access tokens are RS256 JWTs for audience "esignd",
//                   carrying the `name` claim
//   eservice-opaque an eService whose access tokens are opaque, for audience "esignd"
//                   (introspection names it)
//   eservice-lowtrust  any other relying party of the provider: opaque access tokens for no
//                   audience but userinfo (which accepts them): esignd must refuse them
//   eservice-quarantined  like eservice-opaque, but introspection calls its tokens inactive
//                   (userinfo still accepts them): shows whose verdict esignd follows
//   wallet-app      the citizen's own app: JWT access tokens for audience "esignd-devices"
//                   (device management), with the login's auth_time
//   mimoto, other-partner  wallet-binding partners: client-credentials tokens for
//                   "esignd-devices" with the wallet_binding scope (partner-token.mjs)
// Users: any login; `sub` is the login and `name` comes from NAMES below (or "User <login>").
// The signing key is written to STATE_DIR/signing-key.json so tests can mint tokens the
// provider would have signed (expired ones, wrong audiences) with mint.mjs.
import { writeFileSync } from 'node:fs';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const [port, stateDir] = [Number(process.argv[2]), process.argv[3]];
const issuer = `http://127.0.0.1:${port}`;
const NAMES = { jane: 'Jane Doe', 'o-brien': "Seán O'Brien, Jr.", 'accent': 'Jüri Õunapuu' };
const nameOf = (sub) => NAMES[sub] ?? `User ${sub}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
writeFileSync(`${stateDir}/signing-key.json`, JSON.stringify({ issuer, key: signingKey }));

// The resource (and so the audience "esignd") each eService's access tokens are for; none for
// eservice-lowtrust.
const RESOURCES = {
  'eservice-jwt': 'urn:esignd', 'eservice-opaque': 'urn:esignd-opaque', 'eservice-quarantined': 'urn:esignd-opaque',
  'wallet-app': 'urn:esignd-devices', mimoto: 'urn:esignd-devices', 'other-partner': 'urn:esignd-devices',
};

const partnerClient = (clientId) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  redirect_uris: [],
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'wallet_binding',
});

const eserviceClient = (clientId) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  redirect_uris: ['http://127.0.0.1/eservice/callback'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [
    {
      ...eserviceClient('esignd'),
      redirect_uris: (process.env.ESIGND_REDIRECT_URIS ?? 'http://127.0.0.1/sign/oidc/callback').split(','),
      ...(process.env.ESIGND_JWKS_URI
        ? { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: process.env.ESIGND_JWKS_URI, client_secret: undefined }
        : {}),
    },
    eserviceClient('eservice-jwt'),
    eserviceClient('eservice-opaque'),
    eserviceClient('eservice-lowtrust'),
    eserviceClient('eservice-quarantined'),
    eserviceClient('wallet-app'),
    partnerClient('mimoto'),
    partnerClient('other-partner'),
  ],
  jwks: { keys: [signingKey] },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, name: nameOf(sub) }) }),
  claims: { openid: ['sub'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'profile', 'wallet_binding'],
  conformIdTokenClaims: false,
  pkce: { required: () => false },
  cookies: { keys: ['esignd-test-cookie-key'] },
  ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 300, Session: 600, Grant: 600 },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId !== 'eservice-quarantined',
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => RESOURCES[client.clientId],
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: resource === 'urn:esignd-devices' ? 'openid profile wallet_binding' : 'openid profile',
        audience: resource === 'urn:esignd-devices' ? 'esignd-devices' : 'esignd',
        accessTokenTTL: 300,
        ...(resource === 'urn:esignd-opaque'
          ? { accessTokenFormat: 'opaque' }
          : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      }),
    },
  },
  extraTokenClaims: async (ctx, token) =>
    token.kind === 'AccessToken' && token.aud
      ? { name: nameOf(token.accountId), auth_time: ctx.oidc.entities.AuthorizationCode?.authTime }
      : undefined,
});
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
