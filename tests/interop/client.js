// A real OAuth client for mod_claims' interop tests: npm openid-client (pinned by
// package-lock.json) doing what an API client does, so tests need not trust our own client code.
//
//   node client.js REQUEST.json          (or the request as JSON on stdin when no argument)
//
// Trust: the authorization server's CA comes from NODE_EXTRA_CA_CERTS (Node reads it at start);
// with "cert"/"key" (mutual TLS) requests go through node:https with "ca" instead.
//
// REQUEST (JSON):
//   issuer          the authorization server's issuer (its metadata is discovered)
//   client_id, client_secret
//   auth            client_secret_basic (default) | client_secret_post | private_key_jwt |
//                   tls_client_auth | none
//   private_jwk     private_key_jwt: the client's private JWK (its alg, else RS256/ES256/EdDSA)
//   cert, key, ca   PEM file paths: the client certificate for mutual TLS (tls_client_auth,
//                   certificate-bound tokens) and the CA that signed the server's certificate
//   metadata        more client metadata, e.g. {"introspection_signed_response_alg": "RS256"}
//   parameters      client_credentials parameters, e.g. {"resource": "https://api/", "scope": "read"}
//   dpop            false (default) | true (ES256) | an alg: sender-constrain with a fresh DPoP key
//                   (openid-client retries by itself on use_dpop_nonce)
//   introspect      true: introspect the new access token as this client (RFC 7662; a JWT
//                   answer, RFC 9701, when metadata asks for introspection_signed_response_alg)
//   fetch           {"url", "method" (GET), "headers" {}, "body"}: call a protected resource with
//                   the new token (Bearer, or DPoP with a proof per request)
//
// Prints one JSON object on stdout:
//   {"token": {token endpoint response}, "dpop": {"jkt", "public_jwk"} | null,
//    "introspection": {...} | null, "fetch": {"status", "headers", "body"} | null}
// or, exit status 1, {"error": {"name", "message", "code", "error", "error_description", "status"}}.

import * as fs from 'node:fs';
import * as https from 'node:https';

import * as jose from 'jose';
import * as client from 'openid-client';

async function readRequest() {
  const arg = process.argv[2];
  if (arg) return JSON.parse(fs.readFileSync(arg, 'utf8'));
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// fetch over node:https with a client certificate (Node's global fetch cannot present one)
function mtlsFetch(tls) {
  const agent = new https.Agent({ ...tls, keepAlive: false });
  return (url, options = {}) => new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== 'https:') {
      fetch(url, options).then(resolve, reject);
      return;
    }
    const headers = {};
    new Headers(options.headers).forEach((v, k) => { headers[k] = v; });
    const req = https.request(u, { method: options.method ?? 'GET', headers, agent }, (res) => {
      const body = [];
      res.on('data', (d) => body.push(d));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const status = res.statusCode;
        const payload = [204, 205, 304].includes(status) ? null : Buffer.concat(body);
        const response = new Response(payload, { status, headers: h });
        Object.defineProperty(response, 'url', { value: u.href });
        resolve(response);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    options.signal?.addEventListener('abort', () => req.destroy(options.signal.reason));
    if (options.body !== undefined && options.body !== null) req.write(String(options.body));
    req.end();
  });
}

function clientAuth(r) {
  switch (r.auth ?? 'client_secret_basic') {
    case 'client_secret_basic': return client.ClientSecretBasic(r.client_secret);
    case 'client_secret_post': return client.ClientSecretPost(r.client_secret);
    case 'none': return client.None();
    case 'tls_client_auth': return client.TlsClientAuth();
    case 'private_key_jwt': return null; // needs an async key import, below
    default: throw new TypeError(`unsupported auth ${r.auth}`);
  }
}

async function privateKeyJwt(jwk) {
  const alg = jwk.alg ?? ({ RSA: 'RS256', EC: 'ES256', OKP: 'EdDSA' })[jwk.kty];
  const key = await jose.importJWK(jwk, alg);
  return client.PrivateKeyJwt({ key, kid: jwk.kid });
}

async function main() {
  const r = await readRequest();
  const options = {};
  let customFetch;
  if (r.cert || r.key) {
    customFetch = mtlsFetch({
      cert: fs.readFileSync(r.cert), key: fs.readFileSync(r.key), ca: r.ca ? fs.readFileSync(r.ca) : undefined,
    });
    options[client.customFetch] = customFetch;
  }
  const auth = clientAuth(r) ?? await privateKeyJwt(r.private_jwk);
  const metadata = { ...(r.metadata ?? {}) };
  if (r.client_secret !== undefined) metadata.client_secret = r.client_secret;
  if (r.auth) metadata.token_endpoint_auth_method = r.auth;

  const config = await client.discovery(new URL(r.issuer), r.client_id, metadata, auth, options);
  if (r.fetch?.url?.startsWith('http:')) {
    // a resource on plain http (e.g. apache2 on loopback in the tests); AS calls stay https
    client.allowInsecureRequests(config);
  }

  const out = {
    token: null, dpop: null, introspection: null, fetch: null,
  };
  let DPoP;
  if (r.dpop) {
    const alg = r.dpop === true ? 'ES256' : r.dpop;
    const keyPair = await client.randomDPoPKeyPair(alg);
    DPoP = client.getDPoPHandle(config, keyPair);
    const publicJwk = await jose.exportJWK(keyPair.publicKey);
    out.dpop = { alg, jkt: await jose.calculateJwkThumbprint(publicJwk, 'sha256'), public_jwk: publicJwk };
  }

  const tokens = await client.clientCredentialsGrant(config, r.parameters ?? {}, DPoP ? { DPoP } : undefined);
  out.token = { ...tokens };

  if (r.introspect) {
    out.introspection = { ...(await client.tokenIntrospection(config, tokens.access_token)) };
  }

  if (r.fetch) {
    const headers = new Headers(r.fetch.headers ?? {});
    const res = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(r.fetch.url),
      r.fetch.method ?? 'GET',
      r.fetch.body,
      headers,
      DPoP ? { DPoP } : undefined,
    );
    out.fetch = {
      status: res.status,
      headers: Object.fromEntries(res.headers.entries()),
      body: await res.text(),
    };
  }
  return out;
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (err) {
  const e = {
    name: err.name,
    message: err.message,
    code: err.code,
    error: err.error,
    error_description: err.error_description,
    status: err.status,
  };
  if (err.cause && typeof err.cause === 'object' && !(err.cause instanceof Error)) e.cause = err.cause;
  else if (err.cause) e.cause = String(err.cause);
  process.stdout.write(`${JSON.stringify({ error: e })}\n`);
  process.exitCode = 1;
}
