// One-off cross-check that the integration tests' transmitter stand-in
// (tests/integration/ssf_standin.py, signing with the openssl CLI) makes SETs
// an independent JOSE implementation accepts. Input: a JSON file
// {"jwks", "set", "issuer", "audience"}; run with the npm `jose` package
// installed (see make_set_fixtures.sh).
import * as jose from 'jose';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(process.argv[2]));
const { payload, protectedHeader } = await jose.jwtVerify(input.set, jose.createLocalJWKSet(input.jwks), {
  issuer: input.issuer, audience: input.audience, typ: 'secevent+jwt', algorithms: ['RS256'],
});
console.log('jose accepts the stand-in SET:', protectedHeader.kid, Object.keys(payload.events));
