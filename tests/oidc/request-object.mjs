// An eService's RFC 9101 request object, signed by the npm `jose` library (not esignd's code):
// the GovStack query form's parameters as claims, typ oauth-authz-req+jwt.
//
//   node request-object.mjs PRIVATE_JWK '{"iss":"eservice-a","aud":"http://…","hash":"…",…}'
import { SignJWT, importJWK } from 'jose';

const [jwk, claims] = process.argv.slice(2).map((arg) => JSON.parse(arg));
const key = await importJWK(jwk, 'ES256');
console.log(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'oauth-authz-req+jwt' }).sign(key));
