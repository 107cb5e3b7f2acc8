// Check a webhook body with an independent JOSE implementation (panva/jose): verify a JWS
// against esignd's published JWKS, or first decrypt a JWE with the eService's private key.
//
//   node verify.mjs JWKS_URL TOKEN [PRIVATE_KEY_PEM_FILE]
import { readFileSync } from 'node:fs';
import { compactDecrypt, compactVerify, createRemoteJWKSet, importPKCS8 } from 'jose';

const [jwksUrl, token, privateKeyFile] = process.argv.slice(2);
let jws = token;
let header;
if (privateKeyFile) {
  const key = await importPKCS8(readFileSync(privateKeyFile, 'utf8'), 'RSA-OAEP-256');
  const { plaintext, protectedHeader } = await compactDecrypt(token, key);
  header = protectedHeader;
  jws = new TextDecoder().decode(plaintext);
}
const { payload, protectedHeader } = await compactVerify(jws, createRemoteJWKSet(new URL(jwksUrl)));
console.log(JSON.stringify({ jwe: header ?? null, jws: protectedHeader, payload: JSON.parse(new TextDecoder().decode(payload)) }));
