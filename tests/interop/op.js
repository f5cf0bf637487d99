// The real authorization server of mod_claims' interop tests: npm oidc-provider (pinned by
// package-lock.json), run over HTTPS on 127.0.0.1 with the certificate the Python side made
// from its per-run CA (tests/integration/idp.py make_ca_and_cert).
//
//   node op.js CONFIG.json [PORT]        PORT 0 (the default): the system picks a free one
//
// When listening it prints one JSON line on stdout and nothing else there:
//   {"ready": true, "issuer": "https://127.0.0.1:PORT", "port": PORT}
// oidc-provider's own notices and the request log (CONFIG "log": true) go to stderr.
// SIGTERM / SIGINT: closes the listener and exits 0.
//
// The configuration (all keys optional except tls.cert / tls.key) is described in README.md;
// everything a test can set is JSON: the functions oidc-provider wants are written here.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';

import Provider, { errors } from 'oidc-provider';

// oidc-provider prints notices with console.info/log: keep stdout for the ready line only
console.info = console.error;
console.log = console.error;

function die(msg) {
  process.stderr.write(`op.js: ${msg}\n`);
  process.exit(2);
}

const [configPath, portArg = '0'] = process.argv.slice(2);
if (!configPath) die('usage: node op.js CONFIG.json [PORT]');
const port = Number.parseInt(portArg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) die(`bad port ${portArg}`);

let config;
try {
  config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
} catch (err) {
  die(`cannot read ${configPath}: ${err.message}`);
}
if (!config.tls?.cert || !config.tls?.key) die('config.tls.cert and config.tls.key are required');

const features = config.features ?? {
  clientCredentials: true, introspection: true, jwtIntrospection: true, dPoP: true,
};
const on = (name) => features[name] !== undefined && features[name] !== false;
const opts = (name) => (typeof features[name] === 'object' && features[name] !== null ? features[name] : {});
const mtls = on('mTLS');

// ---- signing keys: generated per run unless a private JWK Set is given -------------------

const KEY_TYPES = {
  RS256: ['rsa', { modulusLength: 2048 }],
  PS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  ES384: ['ec', { namedCurve: 'P-384' }],
  ES512: ['ec', { namedCurve: 'P-521' }],
  EdDSA: ['ed25519', {}],
  Ed25519: ['ed25519', {}],
};

function thumbprint(jwk) {
  const members = {
    RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'],
  }[jwk.kty];
  const canon = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return crypto.createHash('sha256').update(canon).digest('base64url');
}

function signingKeys() {
  if (config.jwks_file) {
    return JSON.parse(fs.readFileSync(config.jwks_file, 'utf8'));
  }
  const keys = [];
  const seen = new Set();
  for (const alg of config.signing_keys ?? ['RS256', 'ES256', 'EdDSA']) {
    const spec = KEY_TYPES[alg];
    if (!spec) die(`signing_keys: unsupported ${alg} (one of ${Object.keys(KEY_TYPES).join(', ')})`);
    const id = JSON.stringify(spec);
    if (seen.has(id)) continue; // one RSA key serves RS256 and PS256
    seen.add(id);
    const { privateKey } = crypto.generateKeyPairSync(spec[0], spec[1]);
    const jwk = privateKey.export({ format: 'jwk' });
    keys.push({ ...jwk, kid: thumbprint(jwk).slice(0, 16), use: 'sig' });
  }
  return { keys };
}

// ---- resources (RFC 8707): what a token for each resource looks like --------------------

const resources = config.resources ?? {};
const defaultAlg = config.access_token_alg ?? 'RS256';

async function getResourceServerInfo(ctx, resourceIndicator) {
  // "*": any other resource (e.g. an MCP server's URL known only once it listens)
  const rs = Object.hasOwn(resources, resourceIndicator) ? resources[resourceIndicator] : resources['*'];
  if (!rs) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
  const format = rs.format ?? 'jwt';
  const info = { scope: rs.scope ?? '', accessTokenFormat: format };
  if (rs.audience !== undefined) info.audience = rs.audience;
  if (rs.ttl !== undefined) info.accessTokenTTL = rs.ttl;
  if (format === 'jwt') info.jwt = { sign: { alg: rs.alg ?? defaultAlg } };
  return info;
}

// ---- mutual TLS (RFC 8705): the certificate of this connection --------------------------

function peerCertificate(ctx) {
  const sock = ctx.req.socket;
  if (typeof sock.getPeerX509Certificate !== 'function') return undefined;
  return sock.getPeerX509Certificate() || undefined;
}

// "CN=a, O=b" or "O=b,CN=a" or Node's "O=b\nCN=a": the same set of attribute=value pairs
function dnSet(dn) {
  return dn.split(/[\n,]/).map((s) => s.trim()).filter(Boolean)
    .map((s) => { const i = s.indexOf('='); return `${s.slice(0, i).trim().toUpperCase()}=${s.slice(i + 1).trim()}`; })
    .sort().join('\n');
}

function certificateSubjectMatches(ctx, property, expected) {
  const cert = peerCertificate(ctx);
  if (!cert) return false;
  const san = (cert.subjectAltName ?? '').split(', ');
  switch (property) {
    case 'tls_client_auth_subject_dn': return dnSet(cert.subject) === dnSet(expected);
    case 'tls_client_auth_san_dns': return san.includes(`DNS:${expected}`);
    case 'tls_client_auth_san_ip': return san.includes(`IP Address:${expected}`);
    case 'tls_client_auth_san_email': return san.includes(`email:${expected}`);
    case 'tls_client_auth_san_uri': return san.includes(`URI:${expected}`);
    default: return false;
  }
}

// ---- the oidc-provider configuration ----------------------------------------------------

function featureConfig() {
  const f = {
    // always on: a token is audience-bound to a resource only through a resource indicator
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf ?? config.default_resource ?? undefined,
      getResourceServerInfo,
      useGrantedResource: async () => true,
    },
    clientCredentials: { enabled: on('clientCredentials') },
    introspection: { enabled: on('introspection') },
    jwtIntrospection: { enabled: on('jwtIntrospection') },
    revocation: { enabled: on('revocation') },
    dPoP: {
      enabled: on('dPoP'),
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => opts('dPoP').requireNonce === true,
      allowReplay: opts('dPoP').allowReplay === true,
    },
    mTLS: {
      enabled: mtls,
      certificateBoundAccessTokens: opts('mTLS').certificateBoundAccessTokens ?? mtls,
      tlsClientAuth: opts('mTLS').tlsClientAuth ?? mtls,
      selfSignedTlsClientAuth: opts('mTLS').selfSignedTlsClientAuth ?? false,
      getCertificate: peerCertificate,
      certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
      certificateSubjectMatches,
    },
    registration: {
      enabled: on('registration'),
      initialAccessToken: opts('registration').initialAccessToken ?? false,
      issueRegistrationAccessToken: opts('registration').issueRegistrationAccessToken ?? true,
    },
  };
  const handled = new Set(Object.keys(f));
  for (const [name, value] of Object.entries(features)) {
    if (handled.has(name)) continue;
    // anything else oidc-provider knows, with JSON-only options, e.g. {"userinfo": false},
    // {"registrationManagement": {"rotateRegistrationAccessToken": false}}; the rest keeps
    // oidc-provider's defaults (devInteractions and userinfo on)
    f[name] = { ...(typeof value === 'object' ? value : {}), enabled: value !== false };
  }
  return f;
}

const clientAuthMethods = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt',
  'private_key_jwt', 'none'];
if (mtls && (opts('mTLS').tlsClientAuth ?? true)) clientAuthMethods.push('tls_client_auth');
if (mtls && opts('mTLS').selfSignedTlsClientAuth) clientAuthMethods.push('self_signed_tls_client_auth');

const clients = (config.clients ?? []).map((c) => ({
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  ...c,
}));

const extraTokenClaims = config.extra_token_claims;

function providerConfig() {
  const c = {
    clients,
    jwks: signingKeys(),
    features: featureConfig(),
    clientAuthMethods,
    scopes: ['openid', 'offline_access', ...(config.scopes ?? [])],
    enabledJWA: {
      // EdDSA and Ed25519 both name Ed25519 signatures (RFC 8037 / RFC 9864)
      dPoPSigningAlgValues: ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'Ed25519', 'EdDSA'],
    },
  };
  // seconds by model name, e.g. {"ClientCredentials": 60}; a resource's own "ttl" comes first
  const ttl = { ...(config.ttl ?? {}) };
  for (const [model, fallback] of [['ClientCredentials', 600], ['AccessToken', 3600]]) {
    const seconds = ttl[model] ?? fallback;
    ttl[model] = (ctx, token) => token.resourceServer?.accessTokenTTL || seconds;
  }
  c.ttl = ttl;
  if (extraTokenClaims) c.extraTokenClaims = async () => extraTokenClaims;
  return c;
}

// ---- the HTTPS server --------------------------------------------------------------------

const read = (p) => fs.readFileSync(p);
const tlsOptions = {
  cert: read(config.tls.cert),
  key: read(config.tls.key),
};
if (mtls) {
  // ask for a certificate, but let connections without one (or with an unknown one) through:
  // oidc-provider decides per client (ctx.req.socket.authorized, tls_client_auth)
  tlsOptions.requestCert = true;
  tlsOptions.rejectUnauthorized = false;
  tlsOptions.ca = (config.tls.client_ca ?? []).map(read);
}

let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = https.createServer(tlsOptions, (req, res) => handler(req, res));
server.keepAliveTimeout = 2000;

server.on('error', (err) => die(`listen: ${err.message}`));
server.listen(port, config.host ?? '127.0.0.1', () => {
  const actual = server.address().port;
  const issuer = (config.issuer ?? 'https://127.0.0.1:{port}').replace('{port}', String(actual));
  let provider;
  try {
    provider = new Provider(issuer, providerConfig());
  } catch (err) {
    die(`oidc-provider configuration: ${err.stack}`);
  }
  provider.on('server_error', (ctx, err) => process.stderr.write(`op.js: server_error ${err.stack}\n`));
  if (config.log) {
    for (const ev of ['grant.error', 'introspection.error', 'registration_create.error', 'jwks.error']) {
      provider.on(ev, (ctx, err) => process.stderr.write(`op.js: ${ev}: ${err.message} ${err.error_description ?? ''} ${err.error_detail ?? ''}\n`));
    }
  }

  // an issuer with a path (https://127.0.0.1:PORT/op) is served under that path, its metadata
  // also at the RFC 8414 path-insertion locations (/.well-known/oauth-authorization-server/op)
  const prefix = new URL(issuer).pathname.replace(/\/$/, '');
  const callback = provider.callback();
  handler = (req, res) => {
    if (config.log) process.stderr.write(`op.js: ${req.method} ${req.url}\n`);
    if (prefix) {
      const [path, query] = req.url.split(/\?(.*)/s, 2);
      for (const wk of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        if (path === wk + prefix) {
          req.url = prefix + wk + (query !== undefined ? `?${query}` : '');
        }
      }
      if (req.url !== prefix && !req.url.startsWith(`${prefix}/`) && !req.url.startsWith(`${prefix}?`)) {
        res.statusCode = 404;
        res.end();
        return;
      }
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length) || '/';
    }
    callback(req, res);
  };

  process.stdout.write(`${JSON.stringify({ ready: true, issuer, port: actual })}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
