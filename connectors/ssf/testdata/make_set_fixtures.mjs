// Writes set_fixtures.json: a JWKS and Security Event Tokens signed by the
// npm `jose` package (an implementation independent of cjose), so that the
// verifier's tests do not merely agree with our own signer.
//
//   connectors/ssf/testdata/make_set_fixtures.sh   (installs jose, runs this)
//
// Every token is valid at `now` except in the one way its name says. Keys are
// generated afresh on each run; the tests only depend on the names.
import * as jose from 'jose';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const now = 1800000000;
const issuer = 'https://idp.example.com/';
const audience = 'https://keywarden.example.com/ssf/corp-ssf';
const DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';

async function rsa() { return jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true }); }

const rsa1 = await rsa();          // kid rsa-1, JWKS alg RS256
const rsa2 = await rsa();          // kid rsa-2, no alg in the JWKS: any RSA alg fits
const rsaEnc = await rsa();        // kid rsa-enc, use "enc": never a signing key
const rsaOutside = await rsa();    // kid rsa-9, not in the JWKS
const ec1 = await jose.generateKeyPair('ES256', { extractable: true });   // kid ec-1, P-256
const ec384 = await jose.generateKeyPair('ES384', { extractable: true }); // kid ec-384, P-384

async function pub(key, extra) { return { ...(await jose.exportJWK(key.publicKey)), ...extra }; }
const jwks = {
  keys: [
    await pub(rsa1, { kid: 'rsa-1', alg: 'RS256', use: 'sig' }),
    await pub(rsa2, { kid: 'rsa-2' }),
    await pub(rsaEnc, { kid: 'rsa-enc', use: 'enc' }),
    await pub(ec1, { kid: 'ec-1', alg: 'ES256' }),
    await pub(ec384, { kid: 'ec-384' }),
    // A symmetric key in a JWKS is never trusted, whatever it claims.
    { kty: 'oct', kid: 'oct-1', k: jose.base64url.encode('0123456789abcdef0123456789abcdef') },
  ],
};

function claims(overrides = {}) {
  const c = {
    iss: issuer,
    jti: 'jti-' + Math.random().toString(16).slice(2),
    iat: now - 5,
    aud: audience,
    txn: '8675309',
    sub_id: { format: 'email', email: 'alice@example.com' },
    events: { [DISABLED]: { reason: 'hijacking' } },
    ...overrides,
  };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
  return c;
}

async function sign(key, header, payload) {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(key.privateKey);
}

const b64 = (obj) => jose.base64url.encode(JSON.stringify(obj));
const rs = { alg: 'RS256', kid: 'rsa-1', typ: 'secevent+jwt' };
const tokens = {};

tokens.good_rs256 = await sign(rsa1, rs, claims());
tokens.good_ps256 = await sign(rsa2, { alg: 'PS256', kid: 'rsa-2', typ: 'application/secevent+jwt' }, claims());
tokens.good_ps512 = await sign(rsa2, { alg: 'PS512', kid: 'rsa-2', typ: 'secevent+jwt' }, claims());
tokens.good_es256 = await sign(ec1, { alg: 'ES256', kid: 'ec-1', typ: 'secevent+jwt' }, claims());
tokens.good_es384 = await sign(ec384, { alg: 'ES384', kid: 'ec-384', typ: 'secevent+jwt' }, claims());
tokens.good_aud_array = await sign(rsa1, rs, claims({ aud: ['other-receiver', audience] }));
tokens.good_iat_4min_ahead = await sign(rsa1, rs, claims({ iat: now + 240 }));
tokens.good_exp_ahead = await sign(rsa1, rs, claims({ exp: now + 60 }));
tokens.good_typ_upper = await sign(rsa1, { ...rs, typ: 'Application/SecEvent+JWT' }, claims());

// alg "none": the signature part is empty.
tokens.alg_none = `${b64({ alg: 'none', kid: 'rsa-1', typ: 'secevent+jwt' })}.${b64(claims())}.`;
// HS256 keyed with the RSA public key (PEM and JWK modulus): the classic
// algorithm-confusion forgery.
const pemSecret = new TextEncoder().encode(await jose.exportSPKI(rsa1.publicKey));
tokens.hs256_rsa_public_pem = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims())))
  .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1', typ: 'secevent+jwt' })
  .sign(pemSecret);
tokens.hs256_oct_key = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims())))
  .setProtectedHeader({ alg: 'HS256', kid: 'oct-1', typ: 'secevent+jwt' })
  .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef'));
tokens.unknown_kid = await sign(rsaOutside, { ...rs, kid: 'rsa-9' }, claims());
tokens.no_kid = await sign(rsa1, { alg: 'RS256', typ: 'secevent+jwt' }, claims());
tokens.es_key_rs_alg = await sign(rsa1, { ...rs, kid: 'ec-1' }, claims());
tokens.rsa_key_es_alg = await sign(ec1, { alg: 'ES256', kid: 'rsa-2', typ: 'secevent+jwt' }, claims());
tokens.es384_key_es256_alg = await sign(ec1, { alg: 'ES256', kid: 'ec-384', typ: 'secevent+jwt' }, claims());
tokens.ps256_key_names_rs256 = await sign(rsa1, { alg: 'PS256', kid: 'rsa-1', typ: 'secevent+jwt' }, claims());
tokens.enc_key = await sign(rsaEnc, { ...rs, kid: 'rsa-enc' }, claims());
tokens.wrong_signer_same_kid = await sign(rsaOutside, rs, claims());
{
  const [h, , s] = tokens.good_rs256.split('.');
  tokens.tampered_payload = `${h}.${b64(claims({ sub_id: { format: 'email', email: 'bob@example.com' } }))}.${s}`;
}
tokens.wrong_typ = await sign(rsa1, { ...rs, typ: 'JWT' }, claims());
tokens.missing_typ = await sign(rsa1, { alg: 'RS256', kid: 'rsa-1' }, claims());
tokens.wrong_iss = await sign(rsa1, rs, claims({ iss: 'https://idp.example.com' }));
tokens.missing_iss = await sign(rsa1, rs, claims({ iss: undefined }));
tokens.wrong_aud = await sign(rsa1, rs, claims({ aud: 'https://someone-else.example.com/' }));
tokens.wrong_aud_array = await sign(rsa1, rs, claims({ aud: ['a', 'b'] }));
tokens.missing_aud = await sign(rsa1, rs, claims({ aud: undefined }));
tokens.iat_far_ahead = await sign(rsa1, rs, claims({ iat: now + 600 }));
tokens.missing_iat = await sign(rsa1, rs, claims({ iat: undefined }));
tokens.iat_string = await sign(rsa1, rs, claims({ iat: String(now) }));
tokens.expired = await sign(rsa1, rs, claims({ exp: now - 10 }));
tokens.missing_jti = await sign(rsa1, rs, claims({ jti: undefined }));
tokens.empty_jti = await sign(rsa1, rs, claims({ jti: '' }));
tokens.missing_events = await sign(rsa1, rs, claims({ events: undefined }));
tokens.empty_events = await sign(rsa1, rs, claims({ events: {} }));
tokens.event_not_object = await sign(rsa1, rs, claims({ events: { [DISABLED]: 'yes' } }));
tokens.payload_not_object = await new jose.CompactSign(new TextEncoder().encode('[1,2,3]'))
  .setProtectedHeader(rs).sign(rsa1.privateKey);

// A critical header extension we do not understand must be refused (RFC 7515
// §4.1.11). jose will not sign one it does not know, so node's crypto signs
// this one directly with the same RSA key.
{
  const input = `${b64({ ...rs, crit: ['urn:example:must-understand'], 'urn:example:must-understand': true })}.${b64(claims())}`;
  const pem = await jose.exportPKCS8(rsa1.privateKey);
  const signature = createSign('RSA-SHA256').update(input).sign(pem);
  tokens.unknown_crit = `${input}.${jose.base64url.encode(signature)}`;
}
tokens.malformed_two_parts = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0';
tokens.malformed_garbage = 'this is not a JWS at all';
tokens.malformed_header_json = `${jose.base64url.encode('{"alg":')}.${b64(claims())}.AAAA`;
tokens.json_serialization = JSON.stringify({ payload: b64(claims()), signatures: [] });

writeFileSync(new URL('./set_fixtures.json', import.meta.url),
  JSON.stringify({ generator: 'connectors/ssf/testdata/make_set_fixtures.mjs (npm jose)',
                   now, issuer, audience, jwks, tokens }, null, 1) + '\n');
console.log(`wrote ${Object.keys(tokens).length} tokens`);
