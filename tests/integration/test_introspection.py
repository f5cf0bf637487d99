"""Opaque tokens (issue 14; SECURITY.md CL-92..CL-94): a real apache2 with mod_claims in front
of a real authorization server, npm oidc-provider (tests/interop), which issues opaque access
tokens by client_credentials and introspects them (RFC 7662), also as signed JWT answers (RFC
9701). The module authenticates to the introspection endpoint as one of oidc-provider's
resource-server clients with client_secret_basic, client_secret_post or private_key_jwt.

Faults the real provider will not produce (down, slow, 500, garbage, "active": "true", huge)
come from a small TLS endpoint of our own (FaultEndpoint), as idp.py does for key sets."""
import json
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jwcrypto import jwk

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from oidc_provider import RESOURCE, RESOURCE_OPAQUE, oidc_provider  # noqa: E402,F401
from conftest import challenge, free_port  # noqa: E402
from idp import make_ca_and_cert  # noqa: E402
from itest_helpers import echo_backend  # noqa: E402,F401

OIDC_PROVIDER = {"log": True}
MODS = ["socache_shmcb", "proxy", "proxy_http"]


def client_of(op, client_id):
    return op.clients[client_id]


def secret_file(directory, text):
    path = os.path.join(directory, "secret-%d" % abs(hash(text)))
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o644)
    return path


def key_file(directory, key):
    path = os.path.join(directory, "client-%s.pem" % key.get("kid"))
    with open(path, "wb") as f:
        f.write(key.export_to_pem(private_key=True, password=None))
    os.chmod(path, 0o644)
    return path


@pytest.fixture(scope="module")
def files():
    d = tempfile.mkdtemp(prefix="claims-intro-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def client_line(op, files, client_id):
    c = client_of(op, client_id)
    if c.auth == "private_key_jwt":
        alg = " alg=%s" % c.jwk.get("alg") if c.jwk.get("kty") == "RSA" else ""
        return "ClaimsIntrospectionClient %s key=%s method=private_key_jwt%s" % (client_id, key_file(files, c.jwk), alg)
    return "ClaimsIntrospectionClient %s secret=%s method=%s" % (client_id, secret_file(files, c.secret), c.auth)


def issuer_conf(op, files, client_id="rs-basic", extra=""):
    return """
<ClaimsIssuer %s>
    ClaimsDiscovery %s
    ClaimsCAFile %s
    ClaimsIntrospection
    %s
    ClaimsAudience %s
    ClaimsUnknownKidInterval 1
    # oidc-provider publishes its RSA key without "alg": one RSA algorithm here binds it
    ClaimsAlgorithms RS256 ES256 EdDSA
%s
</ClaimsIssuer>
""" % (op.issuer, op.discovery_url, op.ca, client_line(op, files, client_id), RESOURCE_OPAQUE, extra)


# client_credentials tokens name no user: the client is the caller
LOCATION = """
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsRemoteUser client_id
</Location>
"""


def introspections(op):
    path = op.introspection_endpoint.split("://", 1)[1].split("/", 1)[1]
    return sum(1 for l in op.log().splitlines() if "POST /" + path in l)


def opaque(op, scope="read"):
    return op.opaque_access_token(scope=scope, resource=RESOURCE_OPAQUE)


def wait_ok(h, token, timeout=8.0):
    """The first answer that is not a 503 (the discovery document arrives after the start)."""
    deadline = time.time() + timeout
    while True:
        r = h.get("/cgi/env.py", token)
        if r.status_code != 503 or time.time() > deadline:
            return r
        time.sleep(0.2)


# --------------------------------------------------------------------------- the happy paths

@pytest.mark.parametrize("client_id", ["rs-basic", "rs-post", "rs-jwt"])
def test_opaque_token_is_introspected_with_each_client_authentication(make_httpd, oidc_provider, files, client_id):
    op = oidc_provider
    h = make_httpd(issuer_conf(op, files, client_id) + LOCATION, modules=MODS)
    token = opaque(op)
    assert "." not in token or token.count(".") != 2
    r = wait_ok(h, token)
    assert r.status_code == 200, h.log()[-3000:]
    env = r.json()
    assert env["AUTH_TYPE"] == "Bearer"
    assert env["CLAIMS_ISSUER"] == op.issuer
    assert env["CLAIM_SCOPE"] == "read"
    assert "CLAIM_ACTIVE" not in env
    assert json.loads(env["CLAIMS_JSON"])["client_id"] == env["CLAIM_CLIENT_ID"]
    assert env["REMOTE_USER"] == env["CLAIM_CLIENT_ID"] == "basic-client"


def test_jwt_introspection_answers_are_verified_and_used(make_httpd, oidc_provider, files):
    op = oidc_provider
    h = make_httpd(issuer_conf(op, files, "rs-basic", "    ClaimsIntrospectionFormat jwt") + LOCATION,
                   modules=MODS)
    r = wait_ok(h, opaque(op))
    assert r.status_code == 200, h.log()[-3000:]
    assert r.json()["CLAIM_SCOPE"] == "read"
    assert "(JWT answer)" in h.log()


def test_a_token_the_issuer_never_issued_is_401_not_active(make_httpd, oidc_provider, files):
    op = oidc_provider
    h = make_httpd(issuer_conf(op, files) + LOCATION, modules=MODS)
    wait_ok(h, opaque(op))
    r = h.get("/cgi/env.py", "not-a-token-this-issuer-ever-issued")
    assert r.status_code == 401
    assert challenge(r)[1].get("error") == "invalid_token"
    assert challenge(r)[1].get("error_description") == "token is not active"


def test_only_opaque_tokens_go_to_the_endpoint_a_jwt_is_verified_here(make_httpd, oidc_provider, files):
    """At a location whose issuer introspects, a token shaped as a compact JWS (two dots) is
    verified with the issuer's keys and never sent to the endpoint, whether it verifies or not;
    anything else is introspected."""
    op = oidc_provider
    location = LOCATION.replace("ClaimsRemoteUser client_id",
                                "ClaimsRemoteUser client_id\n    ClaimsAudience %s %s" % (RESOURCE_OPAQUE, RESOURCE))
    h = make_httpd(issuer_conf(op, files) + location, modules=MODS)
    assert wait_ok(h, opaque(op)).status_code == 200
    before = introspections(op)
    jwt = op.jwt_access_token(resource=RESOURCE)
    assert jwt.count(".") == 2
    r = h.get("/cgi/env.py", jwt)
    assert r.status_code == 200, h.log()[-3000:]
    assert r.json()["REMOTE_USER"] == "basic-client"
    head, payload, sig = jwt.split(".")
    for refused in (head + "." + payload + "." + sig[::-1], "a.b.c", ".."):
        assert h.get("/cgi/env.py", refused).status_code == 401, refused
    assert introspections(op) == before
    # one dot, three (a JWT with one more), none: opaque, so introspected (and not active)
    for odd in ("a.b", "a.b.c.d", jwt + ".", "no-dots-at-all"):
        assert h.get("/cgi/env.py", odd).status_code == 401, odd
    assert introspections(op) == before + 4
    assert h.get("/cgi/env.py", opaque(op)).status_code == 200
    assert introspections(op) == before + 5


def test_answers_are_cached_within_the_ttl(make_httpd, oidc_provider, files):
    op = oidc_provider
    h = make_httpd(issuer_conf(op, files) + LOCATION, modules=MODS)
    token = opaque(op)
    assert wait_ok(h, token).status_code == 200
    before = introspections(op)
    for _ in range(5):
        assert h.get("/cgi/env.py", token).status_code == 200
    assert introspections(op) == before


def test_inactive_answers_are_cached_for_the_negative_ttl_only(make_httpd, oidc_provider, files):
    op = oidc_provider
    h = make_httpd(issuer_conf(op, files, extra="    ClaimsIntrospectionNegativeTTL 1") + LOCATION, modules=MODS)
    wait_ok(h, opaque(op))
    bogus = "bogus-token-for-the-negative-cache"
    assert h.get("/cgi/env.py", bogus).status_code == 401
    n = introspections(op)
    assert h.get("/cgi/env.py", bogus).status_code == 401
    assert introspections(op) == n
    time.sleep(1.3)
    assert h.get("/cgi/env.py", bogus).status_code == 401
    assert introspections(op) == n + 1


def test_the_audience_of_an_introspected_token_is_checked(make_httpd, oidc_provider, files):
    op = oidc_provider
    h = make_httpd(issuer_conf(op, files).replace("ClaimsAudience %s" % RESOURCE_OPAQUE, "ClaimsAudience https://other")
                   + LOCATION, modules=MODS)
    r = wait_ok(h, opaque(op))
    assert r.status_code == 401
    assert challenge(r)[1].get("error_description") == "token audience is not accepted here"


def test_require_scope_works_on_introspected_claims(make_httpd, oidc_provider, files):
    op = oidc_provider
    body = issuer_conf(op, files) + """
<Location /cgi/>
    AuthType claims
    AuthName api
    Require scope write
    ClaimsRemoteUser client_id
</Location>
"""
    h = make_httpd(body, modules=MODS)
    r = wait_ok(h, opaque(op, scope="read"))
    assert r.status_code == 403
    assert challenge(r)[1].get("error") == "insufficient_scope"
    assert h.get("/cgi/env.py", opaque(op, scope="read write")).status_code == 200


def test_phantom_token_reaches_the_backend_as_the_signed_answer(make_httpd, oidc_provider, files, echo_backend):
    op = oidc_provider
    body = issuer_conf(op, files, "rs-basic", "    ClaimsIntrospectionFormat jwt") + """
<Location /api/>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsRemoteUser client_id
    ClaimsForwardToken jwt
    ProxyPass %s/api/
</Location>
""" % echo_backend.url
    h = make_httpd(body, modules=MODS)
    token = opaque(op)
    deadline = time.time() + 8
    while True:
        r = h.get("/api/x", token)
        if r.status_code != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, h.log()[-3000:]
    auth = [v for k, v in r.json()["headers"] if k.lower() == "authorization"]
    assert len(auth) == 1 and auth[0].startswith("Bearer ")
    jwt = auth[0][7:]
    assert token not in json.dumps(r.json()["headers"])
    header, claims = op.verify_jws(jwt)
    assert header["typ"].lower().endswith("token-introspection+jwt")
    assert claims["token_introspection"]["active"] is True


# --------------------------------------------------------------------------- configuration

@pytest.mark.parametrize("case,lines,needle", [
    ("no-client", "ClaimsIntrospection https://127.0.0.1:9/introspect", "ClaimsIntrospectionClient"),
    ("no-url-no-discovery", "ClaimsIntrospection\n ClaimsIntrospectionClient c secret=%(secret)s",
     "introspection_endpoint"),
    ("http-url", "ClaimsIntrospection http://idp.example/introspect\n ClaimsIntrospectionClient c secret=%(secret)s",
     "https"),
    ("bad-method", "ClaimsIntrospection https://idp.example/i\n ClaimsIntrospectionClient c secret=%(secret)s "
     "method=password", "method"),
    ("key-with-basic", "ClaimsIntrospection https://idp.example/i\n ClaimsIntrospectionClient c key=%(key)s "
     "method=client_secret_basic", "private_key_jwt"),
    ("public-key", "ClaimsIntrospection https://idp.example/i\n ClaimsIntrospectionClient c key=%(pub)s",
     "ClaimsIntrospectionClient"),
    ("missing-secret", "ClaimsIntrospection https://idp.example/i\n ClaimsIntrospectionClient c "
     "secret=/nonexistent/secret", "ClaimsIntrospectionClient"),
    ("format-garbage", "ClaimsIntrospection https://idp.example/i\n ClaimsIntrospectionClient c secret=%(secret)s\n"
     " ClaimsIntrospectionFormat xml", "ClaimsIntrospectionFormat"),
    ("ttl-garbage", "ClaimsIntrospection https://idp.example/i\n ClaimsIntrospectionClient c secret=%(secret)s\n"
     " ClaimsIntrospectionCacheTTL soon", "ClaimsIntrospectionCacheTTL"),
    ("client-without-introspection", "ClaimsKeyFile %(jwks)s\n ClaimsIntrospectionClient c secret=%(secret)s",
     "need ClaimsIntrospection"),
])
def test_introspection_configuration_errors_fail_configtest(make_httpd, keys, files, case, lines, needle):
    priv = jwk.JWK.generate(kty="EC", crv="P-256", kid="cfg")
    values = {"secret": secret_file(files, "s3cr3t-for-config-tests"), "key": key_file(files, priv),
              "pub": keys.rsa_pem_path, "jwks": keys.jwks_path}
    body = "<ClaimsIssuer https://idp.example>\n ClaimsAudience https://api\n %s\n</ClaimsIssuer>\n" % (
        lines % values)
    h = make_httpd(body, start=False)
    rc, out = h.configtest()
    assert rc != 0, out
    assert needle in out, out


def test_forward_token_jwt_with_json_answers_fails_configtest(make_httpd, files):
    body = """
<ClaimsIssuer https://idp.example>
    ClaimsAudience https://api
    ClaimsIntrospection https://idp.example/introspect
    ClaimsIntrospectionClient c secret=%s
</ClaimsIssuer>
<Location /api/>
    AuthType claims
    Require valid-user
    ClaimsForwardToken jwt
</Location>
""" % secret_file(files, "another-secret-for-config")
    rc, out = make_httpd(body, start=False).configtest()
    assert rc != 0 and "ClaimsForwardToken jwt" in out and "ClaimsIntrospectionFormat jwt" in out, out


# --------------------------------------------------------------------------- faults

class FaultEndpoint:
    """An introspection endpoint over TLS that misbehaves as told: mode "ok" (active), "down",
    "slow" (stalls `delay` s), "error" (500), "garbage" (not JSON), "string-active"
    ("active": "true"), "huge" (a body over the cap), "inactive". Counts the calls and the
    connections; with keep_alive it speaks HTTP/1.1 and keeps a connection for more calls."""

    def __init__(self, directory, issuer, keep_alive=False):
        self.ca, cert, key = make_ca_and_cert(directory)
        self.mode, self.delay, self.calls, self.connections, self.issuer = "ok", 0, 0, 0, issuer
        self.lock = threading.Lock()
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self):
                with fault.lock:
                    fault.connections += 1
                super().setup()

            def log_message(self, *args):
                pass

            def do_POST(self):
                fault.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/introspect" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def handle(self, h):
        h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.lock:
            self.calls += 1
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "error":
            h.send_error(500)
            return
        body = {"ok": {"active": True, "sub": "alice", "iss": self.issuer, "aud": "https://api",
                       "exp": int(time.time()) + 300, "scope": "read"},
                "inactive": {"active": False},
                "string-active": {"active": "true", "sub": "mallory", "aud": "https://api",
                                  "exp": int(time.time()) + 300},
                "other-issuer": {"active": True, "sub": "mallory", "iss": "https://evil.example",
                                 "aud": "https://api", "exp": int(time.time()) + 300}}.get(mode)
        data = json.dumps(body).encode() if body is not None else (
            b"<html>garbage</html>" if mode == "garbage" else b'{"active": true, "pad": "' + b"x" * 400000 + b'"}')
        h.send_response(200)
        h.send_header("Content-Type", "text/html" if mode == "garbage" else "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            h.wfile.write(data)
        except OSError:
            pass

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fault(files):
    d = tempfile.mkdtemp(dir=files)
    os.chmod(d, 0o755)  # the CA is read by the server's children (User nobody)
    f = FaultEndpoint(d, "https://idp.faults")
    yield f
    f.close()


def fault_server(make_httpd, fault, files, timeout=2, location=None, issuer_extra="", **httpd_args):
    body = """
<ClaimsIssuer https://idp.faults>
    ClaimsAudience https://api
    ClaimsIntrospection %s
    ClaimsIntrospectionClient rs secret=%s
    ClaimsCAFile %s
    ClaimsFetchTimeout %d
%s</ClaimsIssuer>
""" % (fault.url, secret_file(files, "fault-endpoint-secret"), fault.ca, timeout, issuer_extra) + (location or LOCATION)
    h = make_httpd(body, modules=MODS, **httpd_args)
    h.allowed_errors.append("CLM081")
    return h


@pytest.mark.parametrize("mode,status", [("error", 503), ("garbage", 503), ("huge", 503), ("string-active", 503),
                                         ("inactive", 401), ("other-issuer", 401)])
def test_endpoint_faults_are_503_or_401_never_200(make_httpd, fault, files, mode, status):
    h = fault_server(make_httpd, fault, files)
    fault.mode = mode
    r = h.get("/cgi/env.py", "opaque-token-%s" % mode)
    assert r.status_code == status, (r.status_code, h.log()[-2000:])
    if status == 503:
        assert r.headers.get("Retry-After")
        assert "mallory" not in r.text


def test_endpoint_down_is_503_and_logged_once_per_streak(make_httpd, fault, files):
    h = fault_server(make_httpd, fault, files)
    fault.close()
    for i in range(4):
        r = h.get("/cgi/env.py", "opaque-token-down-%d" % i)
        assert r.status_code == 503
    errors = [l for l in h.log().splitlines() if "CLM081" in l and ":error]" in l]
    assert 1 <= len(errors) <= 2, errors  # once per streak and child process


def test_slow_endpoint_is_503_within_the_fetch_timeout(make_httpd, fault, files):
    h = fault_server(make_httpd, fault, files, timeout=1)
    fault.mode, fault.delay = "slow", 3
    t0 = time.monotonic()
    r = h.get("/cgi/env.py", "opaque-token-slow")
    assert r.status_code == 503
    assert time.monotonic() - t0 < 2.5


def test_concurrent_misses_for_one_token_make_one_call_per_process(make_httpd, fault, files):
    h = fault_server(make_httpd, fault, files)
    fault.mode, fault.delay = "slow", 0.5
    # prime: one child answers; then many at once for a new token
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: h.get("/cgi/env.py", "opaque-token-concurrent").status_code, range(10)))
    fault.mode = "ok"
    assert results.count(200) + results.count(503) == 10
    assert fault.calls <= 2, fault.calls  # one per child process (the harness runs at most two)


def test_a_process_keeps_an_answer_no_longer_than_the_cache_ttl(make_httpd, fault, files):
    """Each process keeps the active answers it uses (a hit then costs no digest, decryption or
    parse), never past the shared record: after ClaimsIntrospectionCacheTTL the endpoint is asked
    again, and its new answer (inactive) counts in every process."""
    h = fault_server(make_httpd, fault, files, issuer_extra="    ClaimsIntrospectionCacheTTL 1\n",
                     location=LOCATION.replace("ClaimsRemoteUser client_id", "ClaimsRemoteUser sub"))
    token = "opaque-token-kept-for-one-second"
    for _ in range(6):
        r = h.get("/cgi/env.py", token)
        assert r.status_code == 200 and r.json()["REMOTE_USER"] == r.json()["CLAIM_SUB"] == "alice"
    assert 1 <= fault.calls <= 2, fault.calls  # at most one per child process
    fault.mode = "inactive"
    time.sleep(1.3)
    for _ in range(6):
        assert h.get("/cgi/env.py", token).status_code == 401
    assert fault.calls <= 4, fault.calls


def test_token_too_large_is_refused_before_introspection(make_httpd, fault, files):
    h = fault_server(make_httpd, fault, files, location=LOCATION.replace("Require valid-user",
                                                                         "Require valid-user\n    ClaimsMaxTokenSize 512"))
    r = h.get("/cgi/env.py", "a" * 600)
    assert r.status_code == 401
    assert fault.calls == 0


# one child of two processes, or of three threads: a few worker threads serve all requests
FEW_WORKERS = {"prefork": "MinSpareServers 1\nMaxSpareServers 2\n",
               "event": "ServerLimit 1\nThreadsPerChild 3\nMaxRequestWorkers 3\nMinSpareThreads 1\n"
                        "MaxSpareThreads 4\n"}


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_introspection_calls_keep_their_connection_alive(make_httpd, files, mpm):
    """Every miss asks the endpoint, but over the connection its worker thread keeps open (a
    fetch session per thread): at most one TLS connection per worker, not one per call."""
    d = tempfile.mkdtemp(dir=files)
    os.chmod(d, 0o755)
    fault = FaultEndpoint(d, "https://idp.faults", keep_alive=True)
    try:
        h = fault_server(make_httpd, fault, files, location=LOCATION.replace("client_id", "sub") + FEW_WORKERS[mpm],
                         mpm=mpm)
        for i in range(12):
            r = h.get("/cgi/env.py", "opaque-token-keep-alive-%d" % i)
            assert r.status_code == 200, (r.status_code, h.log()[-2000:])
        assert fault.calls == 12
        assert fault.connections <= 3, "%d connections for 12 calls" % fault.connections
    finally:
        fault.close()


# --------------------------------------------------------------------------- a fleet

from stores import store  # noqa: E402,F401  real memcached / redis-server


def test_fleet_shares_introspection_answers_and_refuses_tampered_ones(make_httpd, oidc_provider, files, store):
    """An answer introspected at server A is a cache hit at server B (one call for the fleet);
    records rewritten in the store are refused (authenticated, encrypted) and asked again."""
    op = oidc_provider
    secret = secret_file(files, "fleet-secret-" + "x" * 40)
    body = ("ClaimsIntrospectionCache %s\nClaimsCacheSecret %s\n" % (store.socache, secret)
            + issuer_conf(op, files) + LOCATION)
    a = make_httpd(body, modules=MODS + [store.module])
    b = make_httpd(body, modules=MODS + [store.module])
    token, other = opaque(op), opaque(op)
    assert wait_ok(a, token).status_code == 200, a.log()[-2000:]
    assert wait_ok(b, opaque(op)).status_code == 200  # b has its discovery document too
    assert a.get("/cgi/env.py", other).status_code == 200
    n = introspections(op)
    assert b.get("/cgi/env.py", token).status_code == 200
    assert introspections(op) == n, "server B asked the endpoint again: the fleet cache was not used"
    records = store.records()
    assert records and all(b"alice" not in v and token.encode() not in v for v in records.values())
    for k, v in records.items():
        store.set(k, v[:-1] + bytes([v[-1] ^ 1]))
    # a token B never saw: its process levels do not have it, so B reads the tampered record
    assert b.get("/cgi/env.py", other).status_code == 200
    assert introspections(op) == n + 1
    assert "failed authentication" in b.log()


def test_status_page_counts_introspection(make_httpd, oidc_provider, files):
    op = oidc_provider
    body = issuer_conf(op, files) + LOCATION + (
        "<Location /claims-status>\n    SetHandler claims-status\n    Require ip 127.0.0.1\n</Location>\n")
    h = make_httpd(body, modules=MODS)
    token = opaque(op)
    assert wait_ok(h, token).status_code == 200
    assert h.get("/cgi/env.py", token).status_code == 200
    assert h.get("/cgi/env.py", "never-issued-for-the-status-page").status_code == 401
    doc = h.get("/claims-status?format=json").json()
    assert doc["introspection"]["calls"] == 2
    assert doc["introspection"]["active"] == 1 and doc["introspection"]["inactive"] == 1
    assert doc["introspection_cache"]["hits"] >= 1
    prom = h.get("/claims-status?format=prometheus").text
    assert 'claims_introspection_answers_total{result="active"} 1' in prom
    assert "claims_introspection_requests_total 2" in prom
    assert 'claims_cache_hits_total{cache="introspection"}' in prom
    assert token not in prom + json.dumps(doc) + h.get("/claims-status").text
