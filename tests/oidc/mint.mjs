// Sign a JWT with the test provider's key, with whatever claims a test needs (an expired
// token, another audience...).
//
//   node mint.mjs STATE_DIR '{"sub":"jane","aud":"esignd","exp":0}' [TYP]   (typ at+jwt by default)
import { readFileSync } from 'node:fs';
import { SignJWT, importJWK } from 'jose';

const [stateDir, claims, typ = 'at+jwt'] = process.argv.slice(2);
const { issuer, key } = JSON.parse(readFileSync(`${stateDir}/signing-key.json`, 'utf8'));
const privateKey = await importJWK(key, 'RS256');
const payload = { iss: issuer, iat: Math.floor(Date.now() / 1000), ...JSON.parse(claims) };
console.log(await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ }).sign(privateKey));
