"""The real authorization server for mod_claims' interop tests: npm oidc-provider (panva's
certified OpenID provider, pinned by tests/interop/package-lock.json) started as
`node tests/interop/op.js CONFIG 0` over HTTPS on 127.0.0.1, with a certificate from a CA made
for the run (tests/integration/idp.py make_ca_and_cert), plus helpers that get tokens from it
the way a client does (client_credentials with client_secret_basic / client_secret_post /
private_key_jwt / tls_client_auth, RFC 8707 resources, RFC 9449 DPoP proofs with the
use_dpop_nonce retry, RFC 8705 certificate-bound tokens), introspect them (RFC 7662, RFC 9701),
and run the real client library (npm openid-client, tests/interop/client.js).

Use it from a test module with the module-scoped `oidc_provider` fixture, imported into the
module: `from oidc_provider import oidc_provider` (no conftest.py here: tests/integration's
modules import theirs as `conftest`, and a second one would shadow it in a combined run).
A module may set OIDC_PROVIDER = {...} (keyword arguments of OidcProvider) to change the
configuration. Run with Debian's /usr/bin/python3 (python3-pytest, -requests, -jwcrypto,
-cryptography). See README.md.
"""
import base64
import datetime
import functools
import hashlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from idp import make_ca_and_cert  # noqa: E402  (the integration suite's per-run CA)

NODE = os.environ.get("CLAIMS_NODE") or shutil.which("node") or "/usr/bin/node"
NODE_MODULES = os.path.join(HERE, "node_modules")
OP_JS = os.path.join(HERE, "op.js")
CLIENT_JS = os.path.join(HERE, "client.js")
START_TIMEOUT = 20

# the standard configuration's resources (RFC 8707): a token asked for one of them has it as aud
RESOURCE = "https://api.test/orders"            # JWT access token (RFC 9068), RS256
RESOURCE_ES256 = "https://api.test/es256"       # JWT access token, ES256
RESOURCE_EDDSA = "https://api.test/eddsa"       # JWT access token, EdDSA (Ed25519)
RESOURCE_OPAQUE = "https://api.test/opaque"     # opaque access token with an audience
SCOPES = "read write"

INTROSPECTION_JWT = "application/token-introspection+jwt"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NODE_MIN = (20, 18)       # oidc-provider 9 uses URL.parse and crypto.hash


@functools.lru_cache(maxsize=None)
def node_version():
    """(major, minor) of NODE, or None when it does not run."""
    try:
        out = subprocess.run([NODE, "-p", "process.versions.node"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        return tuple(int(x) for x in out.split(".")[:2])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def interop_missing():
    """Why the interop parts cannot run here (None when they can)."""
    if not (NODE and os.access(NODE, os.X_OK)):
        return "node not found (install Node.js >= 20.18, or set CLAIMS_NODE)"
    version = node_version()
    if version is None or version < NODE_MIN:
        return "%s is Node.js %s; tests/interop needs >= %d.%d" % (
            NODE, ".".join(map(str, version or ())) or "?", *NODE_MIN)
    for pkg in ("oidc-provider", "openid-client", "jose", "@modelcontextprotocol/sdk", "zod"):
        if not os.path.isfile(os.path.join(NODE_MODULES, pkg, "package.json")):
            return ("%s not installed in %s: run build/deps.sh or npm ci --prefix tests/interop"
                    % (pkg, NODE_MODULES))
    return None


class TokenError(Exception):
    """The token endpoint (or another endpoint) answered with an error."""

    def __init__(self, response):
        self.response = response
        try:
            self.body = response.json()
        except ValueError:
            self.body = {"raw": response.text}
        super().__init__("%s %d: %s" % (response.url, response.status_code, self.body))

    @property
    def error(self):
        return self.body.get("error")


# ---------------------------------------------------------------------------------------------
# Client certificates (RFC 8705): a CA of their own, so a test can also present a certificate
# from a CA nobody trusts.

class ClientCA:
    """A CA for client certificates, written into a directory (ca_path)."""

    def __init__(self, directory, name="mod_claims test client CA"):
        self.dir = directory
        now = datetime.datetime.now(datetime.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_path = self._write("client-ca-%s.pem" % uuid.uuid4().hex[:8],
                                   self.cert.public_bytes(serialization.Encoding.PEM))

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        return path

    def issue(self, cn, dns=()):
        """A client certificate for CN=cn: (cert_path, key_path, x5t#S256 of its DER)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(self.name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False))
        if dns:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]),
                                critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        tag = "%s-%s" % ("".join(c if c.isalnum() else "_" for c in cn), uuid.uuid4().hex[:8])
        cert_path = self._write("%s.pem" % tag, cert.public_bytes(serialization.Encoding.PEM))
        key_path = self._write("%s.key" % tag, key.private_bytes(serialization.Encoding.PEM,
                                                                 serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption()))
        return cert_path, key_path, cert_thumbprint(cert_path)


def cert_thumbprint(cert_path):
    """x5t#S256 of a PEM certificate (RFC 8705 section 3.1)."""
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return b64u(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


# ---------------------------------------------------------------------------------------------
# DPoP (RFC 9449)

def dpop_key(kty="EC"):
    """A fresh DPoP key (jwcrypto JWK): EC P-256 (ES256), or "OKP" (Ed25519), "RSA"."""
    if kty == "EC":
        return jwk.JWK.generate(kty="EC", crv="P-256")
    if kty == "OKP":
        return jwk.JWK.generate(kty="OKP", crv="Ed25519")
    return jwk.JWK.generate(kty="RSA", size=2048)


def jkt(key):
    """The RFC 7638 SHA-256 thumbprint of a key (what cnf.jkt holds)."""
    return key.thumbprint()


def htu(url):
    """The htu of a request URL: without query and fragment (RFC 9449 section 4.2)."""
    return url.split("#", 1)[0].split("?", 1)[0]


def dpop_proof(key, method, url, nonce=None, access_token=None, iat=None, jti=None,
               typ="dpop+jwt", alg=None, claims=None):
    """A DPoP proof JWT (RFC 9449 section 4.2) signed with key, for method and url; with the
    server's nonce and, at a resource, ath (the access token's SHA-256). claims: extra or
    replaced claims (None removes one)."""
    if alg is None:
        alg = {"EC": "ES256", "OKP": "EdDSA", "RSA": "RS256"}[key.get("kty")]
    payload = {"jti": jti or secrets.token_urlsafe(16), "htm": method.upper(), "htu": htu(url),
               "iat": int(time.time()) if iat is None else iat}
    if nonce is not None:
        payload["nonce"] = nonce
    if access_token is not None:
        payload["ath"] = b64u(hashlib.sha256(access_token.encode()).digest())
    for k, v in (claims or {}).items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    header = {"typ": typ, "alg": alg, "jwk": json.loads(key.export_public())}
    token = jws.JWS(json.dumps(payload).encode())
    token.add_signature(key, alg=alg, protected=json_encode(header))
    return token.serialize(compact=True)


# ---------------------------------------------------------------------------------------------

class CASession(requests.Session):
    """A requests session that trusts ca on every request (Session.verify alone is not
    enough: requests replaces it by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE when those are set),
    and sends each request with a client certificate on a connection of its own."""

    def __init__(self, ca):
        super().__init__()
        self.ca = ca

    def request(self, method, url, **kw):
        kw.setdefault("verify", self.ca)
        if kw.get("cert"):
            # a connection of its own: urllib3 would reuse a kept-alive connection made without
            # the certificate (and a later request without one would reuse this connection)
            with requests.Session() as one:
                return one.request(method, url, **kw)
        return super().request(method, url, **kw)


class Client:
    """A client registered at the provider and how it authenticates."""

    def __init__(self, client_id, auth, secret=None, jwk_key=None, cert=None, key=None,
                 metadata=None):
        self.client_id = client_id
        self.auth = auth                # token_endpoint_auth_method
        self.secret = secret
        self.jwk = jwk_key              # private_key_jwt: the private jwcrypto JWK
        self.cert = cert                # tls_client_auth / certificate-bound: PEM paths
        self.key = key
        self.metadata = metadata or {}

    def __repr__(self):
        return "Client(%s, %s)" % (self.client_id, self.auth)


def standard_clients(client_ca):
    """One client per authentication method, and three resource servers (introspection only)."""
    s = lambda: secrets.token_urlsafe(32)  # noqa: E731
    jwt_key = jwk.JWK.generate(kty="EC", crv="P-256", kid="jwt-client-1", alg="ES256", use="sig")
    rs_key = jwk.JWK.generate(kty="RSA", size=2048, kid="rs-jwt-1", alg="RS256", use="sig")
    mtls_cert, mtls_key, _ = client_ca.issue("mtls-client")
    bound_cert, bound_key, _ = client_ca.issue("bound-client")
    public = lambda k: {"keys": [json.loads(k.export_public())]}  # noqa: E731
    return [
        # introspection_signed_response_alg: it may introspect its own tokens, as JWT on request
        Client("basic-client", "client_secret_basic", secret=s(),
               metadata={"introspection_signed_response_alg": "RS256"}),
        Client("post-client", "client_secret_post", secret=s()),
        Client("jwt-client", "private_key_jwt", jwk_key=jwt_key, metadata={"jwks": public(jwt_key)}),
        Client("mtls-client", "tls_client_auth", cert=mtls_cert, key=mtls_key,
               metadata={"tls_client_auth_subject_dn": "CN=mtls-client",
                         "tls_client_certificate_bound_access_tokens": True}),
        # a client with a secret whose tokens are bound to its certificate (RFC 8705 section 3)
        Client("bound-client", "client_secret_basic", secret=s(), cert=bound_cert, key=bound_key,
               metadata={"tls_client_certificate_bound_access_tokens": True}),
        # resource servers: they only introspect (grant_types []), JSON or JWT answers
        Client("rs-basic", "client_secret_basic", secret=s(),
               metadata={"grant_types": [], "introspection_signed_response_alg": "RS256"}),
        Client("rs-post", "client_secret_post", secret=s(),
               metadata={"grant_types": [], "introspection_signed_response_alg": "ES256"}),
        Client("rs-jwt", "private_key_jwt", jwk_key=rs_key,
               metadata={"grant_types": [], "introspection_signed_response_alg": "RS256",
                         "jwks": public(rs_key)}),
    ]


STANDARD_RESOURCES = {
    RESOURCE: {"scope": SCOPES, "format": "jwt", "alg": "RS256"},
    RESOURCE_ES256: {"scope": SCOPES, "format": "jwt", "alg": "ES256"},
    RESOURCE_EDDSA: {"scope": SCOPES, "format": "jwt", "alg": "EdDSA"},
    RESOURCE_OPAQUE: {"scope": SCOPES, "format": "opaque"},
}

STANDARD_FEATURES = {
    "clientCredentials": True,
    "introspection": True,
    "jwtIntrospection": True,
    "revocation": True,
    "dPoP": {"requireNonce": False},
    "mTLS": {"certificateBoundAccessTokens": True, "tlsClientAuth": True},
    "registration": True,
}


class OidcProvider:
    """npm oidc-provider on 127.0.0.1 over HTTPS (the server CA at .ca).

    Keyword arguments (all optional; the defaults are the standard configuration):
      clients       list of Client (default: standard_clients(): basic-client, post-client,
                    jwt-client, mtls-client, bound-client, rs-basic, rs-post, rs-jwt)
      resources     {resource URL or "*": {"scope", "format": "jwt"|"opaque", "alg",
                    "audience", "ttl"}} (default STANDARD_RESOURCES)
      features      oidc-provider feature names -> true/false/{JSON options}
                    (default STANDARD_FEATURES)
      scopes        scopes of tokens without a resource (default ["read", "write"])
      issuer        e.g. "https://127.0.0.1:{port}/op" (default https://127.0.0.1:{port})
      signing_keys  algs to make signing keys for (default ["RS256", "ES256", "EdDSA"])
      access_token_alg, default_resource, extra_token_claims, ttl: see README.md
      log           True: op.js logs every request to op.log
    """

    def __init__(self, directory=None, clients=None, resources=None, features=None, scopes=None,
                 issuer=None, signing_keys=None, access_token_alg=None, default_resource=None,
                 extra_token_claims=None, ttl=None, log=False):
        self.own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="claims-op-")
        os.chmod(self.dir, 0o755)
        self.ca, self.cert, self.key = make_ca_and_cert(self.dir)
        self.client_ca = ClientCA(self.dir)
        self.clients = {c.client_id: c for c in (clients if clients is not None
                                                 else standard_clients(self.client_ca))}
        self.config = {
            "tls": {"cert": self.cert, "key": self.key, "client_ca": [self.client_ca.ca_path]},
            "clients": [self._client_metadata(c) for c in self.clients.values()],
            "resources": STANDARD_RESOURCES if resources is None else resources,
            "features": STANDARD_FEATURES if features is None else features,
            "scopes": ["read", "write"] if scopes is None else scopes,
            "log": bool(log),
        }
        for k, v in (("issuer", issuer), ("signing_keys", signing_keys),
                     ("access_token_alg", access_token_alg), ("default_resource", default_resource),
                     ("extra_token_claims", extra_token_claims), ("ttl", ttl)):
            if v is not None:
                self.config[k] = v
        self.config_path = os.path.join(self.dir, "op.json")
        self.log_path = os.path.join(self.dir, "op.log")
        self.proc = None
        self.issuer = None
        self.port = None
        self.metadata = {}
        self.session = CASession(self.ca)
        self.dpop_nonce = None

    @staticmethod
    def _client_metadata(c):
        m = {"client_id": c.client_id, "token_endpoint_auth_method": c.auth}
        if c.secret is not None:
            m["client_secret"] = c.secret
        m.update(c.metadata)
        return m

    # --- life cycle ---------------------------------------------------------------------------

    def start(self):
        missing = interop_missing()
        if missing:
            raise RuntimeError(missing)
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=1)
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NODE, OP_JS, self.config_path, "0"], cwd=HERE,
                                     stdout=subprocess.PIPE, stderr=self.log_file,
                                     start_new_session=True)
        try:
            ready = self._read_ready()
            self.issuer = ready["issuer"]
            self.port = ready["port"]
            r = self.session.get(self.discovery_url, timeout=10)
            r.raise_for_status()
            self.metadata = r.json()
        except BaseException:
            self.stop()          # never leave a provider running behind a failed start
            raise
        return self

    def _read_ready(self):
        deadline = time.time() + START_TIMEOUT
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.time() < deadline:
            if b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict) and msg.get("ready"):
                    return msg
                continue
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.proc.poll() is not None:
                break
        raise RuntimeError("oidc-provider did not become ready in %ds:\n%s" % (START_TIMEOUT, self.log()))

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
            self.log_file.close()
            self.proc = None
        self.session.close()

    def close(self):
        """stop() and remove the directory (when this object made it)."""
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def server_errors(self):
        """Lines where oidc-provider reported an internal error (its server_error event)."""
        return [l for l in self.log().splitlines() if "server_error" in l]

    # --- metadata -----------------------------------------------------------------------------

    def url(self, name):
        """An endpoint from the discovery document, e.g. url("introspection_endpoint")."""
        return self.metadata[name]

    @property
    def token_endpoint(self):
        return self.metadata["token_endpoint"]

    @property
    def introspection_endpoint(self):
        return self.metadata["introspection_endpoint"]

    @property
    def jwks_uri(self):
        return self.metadata["jwks_uri"]

    @property
    def registration_endpoint(self):
        return self.metadata.get("registration_endpoint")

    @property
    def discovery_url(self):
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def jwks(self):
        """The provider's published JWK Set (jwcrypto JWKSet)."""
        r = self.session.get(self.jwks_uri, timeout=10)
        r.raise_for_status()
        return jwk.JWKSet.from_json(r.text)

    def client(self, client_id):
        return self.clients[client_id]

    # --- requests as a client makes them ------------------------------------------------------

    def client_assertion(self, client, audience=None):
        """A private_key_jwt client assertion (RFC 7523) for client, aud the issuer."""
        now = int(time.time())
        claims = {"iss": client.client_id, "sub": client.client_id, "aud": audience or self.issuer,
                  "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
        t = jws.JWS(json.dumps(claims).encode())
        alg = client.jwk.get("alg") or {"EC": "ES256", "RSA": "RS256", "OKP": "EdDSA"}[client.jwk.get("kty")]
        t.add_signature(client.jwk, alg=alg, protected=json_encode({"alg": alg, "kid": client.jwk.get("kid")}))
        return t.serialize(compact=True)

    def _authenticated(self, client, data, headers):
        """requests keyword arguments that authenticate client at an endpoint."""
        kw = {}
        if client.auth == "client_secret_basic":
            kw["auth"] = (client.client_id, client.secret)
        elif client.auth == "client_secret_post":
            data.update(client_id=client.client_id, client_secret=client.secret)
        elif client.auth == "private_key_jwt":
            data.update(client_id=client.client_id,
                        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        client_assertion=self.client_assertion(client))
        elif client.auth in ("tls_client_auth", "none"):
            data.update(client_id=client.client_id)
        else:
            raise ValueError("unsupported auth %r" % client.auth)
        if client.cert:
            kw["cert"] = (client.cert, client.key)
        kw["data"] = data
        kw["headers"] = headers
        return kw

    def _client(self, client):
        return self.clients[client] if isinstance(client, str) else client

    def token_response(self, client="basic-client", resource=None, scope=None, dpop=None,
                       nonce=None, cert=None, extra=None):
        """POSTs a client_credentials grant; returns the final requests.Response. dpop: a
        jwcrypto key to send a DPoP proof with (the proof carries nonce, else the last nonce
        the provider gave; on use_dpop_nonce it retries once with the new one, and sets
        response.dpop_nonce_retry). cert: (cert, key) paths to present instead of the client's."""
        client = self._client(client)
        data = {"grant_type": "client_credentials"}
        if resource is not None:
            data["resource"] = resource
        if scope is not None:
            data["scope"] = scope
        data.update(extra or {})
        retried = False
        use_nonce = nonce if nonce is not None else self.dpop_nonce
        while True:
            headers = {}
            if dpop is not None:
                headers["DPoP"] = dpop_proof(dpop, "POST", self.token_endpoint, nonce=use_nonce)
            kw = self._authenticated(client, dict(data), headers)
            if cert is not None:
                kw["cert"] = cert
            r = self.session.post(self.token_endpoint, timeout=10, **kw)
            if r.headers.get("DPoP-Nonce"):
                self.dpop_nonce = r.headers["DPoP-Nonce"]
            if (dpop is not None and not retried and r.status_code in (400, 401)
                    and r.headers.get("DPoP-Nonce") and _json(r).get("error") == "use_dpop_nonce"):
                use_nonce = r.headers["DPoP-Nonce"]
                retried = True
                continue
            r.dpop_nonce_retry = retried
            return r

    def client_credentials(self, client="basic-client", resource=None, scope=None, **kw):
        """The token endpoint's JSON answer to a client_credentials grant (see token_response);
        raises TokenError on an error answer."""
        r = self.token_response(client, resource=resource, scope=scope, **kw)
        if r.status_code != 200:
            raise TokenError(r)
        return r.json()

    def jwt_access_token(self, resource=RESOURCE, scope="read", client="basic-client"):
        """A JWT access token (RFC 9068) with aud = resource."""
        return self.client_credentials(client, resource=resource, scope=scope)["access_token"]

    def opaque_access_token(self, scope="read", client="basic-client", resource=None):
        """An opaque access token (no resource: no aud; or resource=RESOURCE_OPAQUE)."""
        return self.client_credentials(client, resource=resource, scope=scope)["access_token"]

    def dpop_access_token(self, resource=None, scope="read", client="basic-client", key=None):
        """A DPoP-bound access token: (access_token, key, token response). key: the proof key
        (default: a fresh P-256 key)."""
        key = key or dpop_key()
        resp = self.client_credentials(client, resource=resource, scope=scope, dpop=key)
        return resp["access_token"], key, resp

    def mtls_access_token(self, resource=None, scope="read", client="mtls-client"):
        """A certificate-bound access token (RFC 8705): (access_token, x5t#S256 of the client's
        certificate, token response)."""
        c = self._client(client)
        resp = self.client_credentials(c, resource=resource, scope=scope)
        return resp["access_token"], cert_thumbprint(c.cert), resp

    def introspection_response(self, token, client="rs-basic", jwt=False, hint=None):
        """POSTs token to the introspection endpoint as client; the requests.Response. jwt:
        ask for a JWT answer (RFC 9701, Accept: application/token-introspection+jwt)."""
        client = self._client(client)
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        headers = {"Accept": INTROSPECTION_JWT if jwt else "application/json"}
        return self.session.post(self.introspection_endpoint, timeout=10,
                                 **self._authenticated(client, data, headers))

    def introspect(self, token, client="rs-basic", hint=None):
        """The RFC 7662 JSON answer about token."""
        r = self.introspection_response(token, client, hint=hint)
        if r.status_code != 200:
            raise TokenError(r)
        return r.json()

    def introspect_jwt(self, token, client="rs-basic"):
        """The RFC 9701 answer: (JWS header, claims) after verifying it with the provider's JWKS;
        claims["token_introspection"] holds the RFC 7662 members."""
        r = self.introspection_response(token, client, jwt=True)
        if r.status_code != 200:
            raise TokenError(r)
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith(INTROSPECTION_JWT):
            raise AssertionError("introspection answered %r, not a JWT" % ctype)
        return self.verify_jws(r.text)

    def verify_jws(self, compact):
        """Verifies a compact JWS from the provider with its published JWK Set (by kid);
        returns (protected header, payload as a dict)."""
        t = jws.JWS()
        t.deserialize(compact)
        header = t.jose_header
        keys = self.jwks()
        key = keys.get_key(header["kid"]) if header.get("kid") else None
        if key is None:
            raise AssertionError("no key %r in the provider's JWKS" % header.get("kid"))
        t.verify(key, alg=header["alg"])
        return header, json.loads(t.payload)

    def register(self, metadata, initial_access_token=None):
        """Dynamic client registration (RFC 7591): the registration answer (client_id, ...)."""
        headers = {}
        if initial_access_token:
            headers["Authorization"] = "Bearer " + initial_access_token
        r = self.session.post(self.registration_endpoint, json=metadata, headers=headers, timeout=10)
        if r.status_code != 201:
            raise TokenError(r)
        return r.json()

    # --- the real client library --------------------------------------------------------------

    def openid_client(self, client="basic-client", parameters=None, dpop=False, introspect=False,
                      fetch=None, metadata=None, timeout=30):
        """Runs tests/interop/client.js (npm openid-client): discovery, client_credentials
        with parameters (e.g. {"resource": RESOURCE, "scope": "read"}), optionally DPoP (True
        or an alg), token introspection as the same client, and a request to a protected
        resource (fetch={"url", "method", "headers", "body"}). Returns client.js' JSON (see its
        header); raises RuntimeError when it fails (the JSON error in .args[1])."""
        c = self._client(client)
        req = {"issuer": self.issuer, "client_id": c.client_id, "auth": c.auth,
               "parameters": parameters or {}, "dpop": dpop, "introspect": introspect,
               "metadata": dict(metadata or {})}
        if c.secret is not None:
            req["client_secret"] = c.secret
        if c.auth == "private_key_jwt":
            req["private_jwk"] = json.loads(c.jwk.export_private())
        if c.cert:
            req.update(cert=c.cert, key=c.key, ca=self.ca)
        if fetch is not None:
            req["fetch"] = fetch
        return run_client_js(req, self.ca, timeout=timeout)


def _json(r):
    try:
        v = r.json()
        return v if isinstance(v, dict) else {}
    except ValueError:
        return {}


def run_client_js(request, ca, timeout=30):
    """Runs `node tests/interop/client.js` with request (a dict, see client.js) on stdin,
    trusting the CA file ca; returns its JSON answer or raises RuntimeError(message, error)."""
    env = dict(os.environ)
    env["NODE_EXTRA_CA_CERTS"] = ca
    p = subprocess.run([NODE, CLIENT_JS], input=json.dumps(request), capture_output=True,
                       text=True, timeout=timeout, cwd=HERE, env=env)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError("client.js exited %d without JSON:\n%s%s" % (p.returncode, p.stdout, p.stderr))
    if p.returncode != 0 or "error" in out:
        raise RuntimeError("client.js failed: %s\n%s" % (out.get("error"), p.stderr), out.get("error"))
    return out


@pytest.fixture(scope="module")
def oidc_provider(request):
    """A started OidcProvider for the test module (the standard configuration, changed by the
    module's OIDC_PROVIDER dict of keyword arguments). Skips when node or tests/interop's
    node_modules are missing, unless CLAIMS_INTEROP_REQUIRED=1 (then it fails). Fails the
    module's last test when oidc-provider reported internal errors."""
    missing = interop_missing()
    if missing:
        if os.environ.get("CLAIMS_INTEROP_REQUIRED") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    op = OidcProvider(**getattr(request.module, "OIDC_PROVIDER", {}))
    try:
        op.start()
        yield op
    finally:
        errors = op.server_errors()
        log = op.log()
        op.close()
    if errors:
        pytest.fail("oidc-provider reported errors:\n%s\n--- op.log:\n%s" % ("\n".join(errors), log[-4000:]))
