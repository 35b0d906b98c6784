// One-off cross-check that the integration tests' transmitter stand-in
// (tests/integration/ssf_standin.py, signing with the openssl CLI) makes SETs
// an independent JOSE implementation accepts. Input: a JSON file
// {"jwks", "sets": [...], "issuer", "audience"} (or one "set"); run with the
// npm `jose` package installed (see make_set_fixtures.sh). Covers the
// stand-in's RS256, PS256 (openssl -sigopt rsa_padding_mode:pss) and ES256
// (openssl's DER signature converted to R || S).
import * as jose from 'jose';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(process.argv[2]));
for (const set of input.sets ?? [input.set]) {
  const { payload, protectedHeader } = await jose.jwtVerify(set, jose.createLocalJWKSet(input.jwks), {
    issuer: input.issuer, audience: input.audience, typ: 'secevent+jwt', algorithms: ['RS256', 'PS256', 'ES256'],
  });
  console.log('jose accepts the stand-in SET:', protectedHeader.alg, protectedHeader.kid, Object.keys(payload.events));
}
