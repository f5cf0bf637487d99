"""Sender-constrained tokens (issue 15; SECURITY.md CL-95..CL-99): a real apache2 with mod_claims
in front of a real authorization server, npm oidc-provider (tests/interop), which binds tokens
to a DPoP key (RFC 9449, cnf.jkt) or to the client's certificate (RFC 8705, cnf["x5t#S256"]);
npm openid-client as the real client that makes DPoP proofs and retries on use_dpop_nonce;
apache2's own mod_ssl with real client certificates; the RFC 9440 Client-Cert header from an
allowed and a forbidden proxy address; two apache2 sharing a real memcached or redis-server
for the jti replay store.

Proofs of the negative table are made here (oidc_provider.dpop_proof, jwcrypto), since no
real client makes a bad one on purpose; the token they go with is always oidc-provider's."""
import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import secrets
import shutil
import tempfile
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from oidc_provider import (RESOURCE_ES256, RESOURCE_OPAQUE, b64u, dpop_key,  # noqa: E402
                           dpop_proof, jkt, oidc_provider)  # noqa: F401
from conftest import challenges, issuer_block, mint, sign  # noqa: E402
from idp import make_ca_and_cert  # noqa: E402
from itest_helpers import echo_backend, header_list, received, secret_bytes  # noqa: E402,F401
from stores import memcached, redis, store  # noqa: E402,F401

OIDC_PROVIDER = {"log": True}
MODS = ["socache_shmcb", "proxy", "proxy_http"]
ALL_ALGS = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 Ed25519 Ed448 EdDSA"


def issuer_conf(op, audience=RESOURCE_ES256, extra=""):
    return """
<ClaimsIssuer %s>
    ClaimsDiscovery %s
    ClaimsCAFile %s
    ClaimsAudience %s
    ClaimsUnknownKidInterval 1
    # oidc-provider publishes its RSA key without "alg": one RSA algorithm here binds it
    ClaimsAlgorithms RS256 ES256 EdDSA
%s
</ClaimsIssuer>
""" % (op.issuer, op.discovery_url, op.ca, audience, extra)


def location(path, *lines):
    return """
<Location %s>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsRemoteUser client_id
    %s
</Location>
""" % (path, "\n    ".join(lines))


SITE = "".join([
    location("/cgi/"),
    location("/nonce/", "ClaimsDPoPNonce On"),
    location("/required/", "ClaimsDPoP Required"),
    location("/off/", "ClaimsDPoP Off"),
    location("/es256/", "ClaimsDPoPAlgorithms ES256"),
    location("/short/", "ClaimsDPoPWindow 5"),
    "ScriptAlias /nonce/ %(root)s/cgi-bin/\nScriptAlias /required/ %(root)s/cgi-bin/\n"
    "ScriptAlias /off/ %(root)s/cgi-bin/\nScriptAlias /es256/ %(root)s/cgi-bin/\n"
    "ScriptAlias /short/ %(root)s/cgi-bin/\n",
])


@pytest.fixture(scope="module")
def api(make_module_httpd, oidc_provider):
    op = oidc_provider

    def setup(h):
        h.body = issuer_conf(op) + SITE % {"root": h.root}
    h = make_module_httpd("", modules=MODS, setup=setup)
    wait_ready(h, op)
    return h


@pytest.fixture(scope="module")
def bound(oidc_provider):
    """A DPoP-bound JWT access token of oidc-provider and its key: (token, key)."""
    token, key, resp = oidc_provider.dpop_access_token(resource=RESOURCE_ES256)
    assert resp["token_type"] == "DPoP"
    return token, key


def url(h, path):
    return h.url + path


def call(h, path, token, proof=None, scheme="DPoP", method="GET", headers=None, **kw):
    hs = dict(headers or {})
    if token is not None:
        hs["Authorization"] = "%s %s" % (scheme, token)
    if proof is not None:
        hs["DPoP"] = proof
    return requests.request(method, url(h, path), headers=hs, timeout=10, allow_redirects=False, **kw)


def proof_for(h, key, token, path="/cgi/env.py", method="GET", **kw):
    return dpop_proof(key, method, url(h, path), access_token=token, **kw)


def wait_ready(h, op, timeout=10.0):
    """Waits until the discovery document and keys arrived (503 before)."""
    token, key, _ = op.dpop_access_token(resource=RESOURCE_ES256)
    deadline = time.time() + timeout
    while True:
        r = call(h, "/cgi/env.py", token, proof_for(h, key, token))
        if r.status_code != 503 or time.time() > deadline:
            assert r.status_code == 200, (r.status_code, r.headers, h.log()[-3000:])
            return
        time.sleep(0.2)


def dpop_error(r):
    return challenges(r).get("DPoP", {}).get("error")


# --------------------------------------------------------------------------- the happy path

@pytest.mark.parametrize("kty", ["EC", "OKP", "RSA"])
def test_dpop_bound_token_with_its_proof_is_accepted(api, oidc_provider, kty):
    token, key, _ = oidc_provider.dpop_access_token(resource=RESOURCE_ES256, key=dpop_key(kty))
    r = call(api, "/cgi/env.py", token, proof_for(api, key, token))
    assert r.status_code == 200, (r.status_code, r.headers, api.log()[-2000:])
    env = r.json()
    assert env["AUTH_TYPE"] == "DPoP"
    assert env["REMOTE_USER"] == "basic-client"
    assert json.loads(env["CLAIMS_JSON"])["cnf"] == {"jkt": jkt(key)}
    assert "HTTP_DPOP" in env  # a CGI on this server may see it; proxied backends do not


def test_scheme_name_is_case_insensitive(api, bound):
    token, key = bound
    r = call(api, "/cgi/env.py", token, proof_for(api, key, token), scheme="dpop")
    assert r.status_code == 200


def test_query_and_fragment_of_htu_are_ignored(api, bound):
    token, key = bound
    proof = dpop_proof(key, "GET", url(api, "/cgi/env.py"), access_token=token,
                       claims={"htu": url(api, "/cgi/env.py?other=1#frag")})
    r = call(api, "/cgi/env.py?a=b", token, proof)
    assert r.status_code == 200


@pytest.mark.parametrize("htu_form", [
    "HTTP://127.0.0.1:{port}/cgi/env.py",            # scheme case
    "http://127.0.0.1:{port}/cgi/%65nv.py",          # an escaped unreserved character
    "http://127.0.0.1:{port}/cgi/./x/../env.py",     # dot segments
])
def test_htu_is_compared_after_rfc3986_normalisation(api, bound, htu_form):
    token, key = bound
    proof = dpop_proof(key, "GET", url(api, "/cgi/env.py"), access_token=token,
                       claims={"htu": htu_form.format(port=api.port)})
    assert call(api, "/cgi/env.py", token, proof).status_code == 200


def test_post_with_a_proof_for_post(api, bound):
    token, key = bound
    r = call(api, "/cgi/env.py", token, proof_for(api, key, token, method="POST"), method="POST", data=b"x=1")
    assert r.status_code == 200
    assert r.json()["REQUEST_METHOD"] == "POST"


# --------------------------------------------------------------------------- refusals

def _refusals(h, token, key, other_token):
    u = url(h, "/cgi/env.py")
    port = h.port
    other = dpop_key()
    private = json.loads(key.export_private())

    def with_header(header_changes):
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())}
        header.update(header_changes)
        header = {k: v for k, v in header.items() if v is not None}
        payload = {"jti": secrets.token_urlsafe(16), "htm": "GET", "htu": u, "iat": int(time.time()),
                   "ath": b64u(hashlib.sha256(token.encode()).digest())}
        if header.get("alg") == "HS256":
            return sign(b"k" * 32, header, payload)
        return sign(key, header, payload, alg="ES256")

    def unsigned():
        header = {"typ": "dpop+jwt", "alg": "none", "jwk": json.loads(key.export_public())}
        payload = {"jti": secrets.token_urlsafe(16), "htm": "GET", "htu": u, "iat": int(time.time())}
        return b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(payload).encode()) + "."

    p = lambda **kw: dpop_proof(key, "GET", u, access_token=token, **kw)  # noqa: E731
    return {
        "wrong htm": p(claims={"htm": "POST"}),
        "htm case": p(claims={"htm": "get"}),
        "htu scheme": p(claims={"htu": "https://127.0.0.1:%d/cgi/env.py" % port}),
        "htu host": p(claims={"htu": "http://localhost:%d/cgi/env.py" % port}),
        "htu port": p(claims={"htu": "http://127.0.0.1:%d/cgi/env.py" % (port + 1)}),
        "htu path": p(claims={"htu": "http://127.0.0.1:%d/cgi/other.py" % port}),
        "htu path case": p(claims={"htu": "http://127.0.0.1:%d/CGI/env.py" % port}),
        "htu trailing dot": p(claims={"htu": "http://127.0.0.1.:%d/cgi/env.py" % port}),
        "htu missing": p(claims={"htu": None}),
        "htu relative": p(claims={"htu": "/cgi/env.py"}),
        "old iat": p(iat=int(time.time()) - 120),
        "future iat": p(iat=int(time.time()) + 60),
        "iat string": p(claims={"iat": str(int(time.time()))}),
        "no jti": p(claims={"jti": None}),
        "no ath": dpop_proof(key, "GET", u),
        "ath of another token": dpop_proof(key, "GET", u, access_token=other_token),
        "private jwk": with_header({"jwk": private}),
        "symmetric alg": with_header({"alg": "HS256", "jwk": {"kty": "oct", "k": b64u(b"k" * 32)}}),
        "alg none": unsigned(),
        "typ jwt": p(typ="JWT"),
        "no typ": with_header({"typ": None}),
        "no jwk": with_header({"jwk": None}),
        "jwk of another key": with_header({"jwk": json.loads(other.export_public())}),
        "crit": with_header({"crit": ["exp"], "exp": 1}),
        "thumbprint mismatch": dpop_proof(other, "GET", u, access_token=token),
        "not a jws": "not-a-proof",
    }


REFUSALS = ["wrong htm", "htm case", "htu scheme", "htu host", "htu port", "htu path", "htu path case",
            "htu trailing dot", "htu missing", "htu relative", "old iat", "future iat", "iat string", "no jti",
            "no ath", "ath of another token", "private jwk", "symmetric alg", "alg none", "typ jwt", "no typ",
            "no jwk", "jwk of another key", "crit", "thumbprint mismatch", "not a jws"]


@pytest.mark.parametrize("case", REFUSALS)
def test_bad_proof_is_refused(api, oidc_provider, bound, case):
    token, key = bound
    other_token = oidc_provider.jwt_access_token(resource=RESOURCE_ES256)
    proof = _refusals(api, token, key, other_token)[case]
    r = call(api, "/cgi/env.py", token, proof)
    assert r.status_code == 401, (case, r.status_code)
    c = challenges(r)
    if case == "thumbprint mismatch":
        # the proof is good; the token is bound to another key (RFC 9449 7.1): invalid_token
        assert c["DPoP"]["error"] == "invalid_token", c
    else:
        assert c["DPoP"]["error"] == "invalid_dpop_proof", c
    assert "error" not in c["Bearer"]
    assert c["DPoP"]["algs"] == ALL_ALGS
    assert "REMOTE_USER" not in r.text


def test_replayed_proof_is_refused(api, bound):
    token, key = bound
    proof = proof_for(api, key, token)
    assert call(api, "/cgi/env.py", token, proof).status_code == 200
    r = call(api, "/cgi/env.py", token, proof)
    assert r.status_code == 401
    assert dpop_error(r) == "invalid_dpop_proof"
    assert "used before" in challenges(r)["DPoP"]["error_description"]


def test_replay_store_keeps_every_proof_of_its_window(make_httpd, keys):
    """shmcb picks an entry's subcache by the first byte of its id: with a constant kind byte
    first, every jti went to one subcache of 64 (2 MiB store), which dropped the oldest after
    about 200 proofs, and their replay passed (found by tests/bench/sender.py). Well beyond
    that, every proof of the window is still refused the second time."""
    key = dpop_key()
    token = mint(keys.ec, {"cnf": {"jkt": jkt(key)}})
    site = "<Location /index.html>\n    AuthType claims\n    AuthName api\n    Require valid-user\n</Location>\n"
    h = make_httpd(issuer_block(keys) + site, modules=MODS)
    u = h.url + "/index.html"
    proofs = [dpop_proof(key, "GET", u, access_token=token) for _ in range(600)]
    with requests.Session() as s:
        for p in proofs:
            r = s.get(u, headers={"Authorization": "DPoP " + token, "DPoP": p}, timeout=10)
            assert r.status_code == 200, (r.status_code, h.log()[-2000:])
        again = [s.get(u, headers={"Authorization": "DPoP " + token, "DPoP": p}, timeout=10).status_code
                 for p in proofs[::25]]
    assert again == [401] * len(again)


def test_full_replay_store_refuses_new_proofs_instead_of_forgetting_live_ones(make_httpd, keys):
    """shmcb makes room for a record by dropping the oldest, live or not: a store that holds as
    many unexpired jti as it can keep refuses a new proof (503, fail closed, logged once)
    rather than forget one whose proof could then be replayed; once they expire it takes new
    ones again. A store of 1 MiB counts 4,096 jti (a smaller one has so few records per shmcb
    subcache that one of them can overflow before the count is reached: CI saw it at 64 KiB);
    with a window of 60 s a jti lives 66 s."""
    key = dpop_key()
    token = mint(keys.ec, {"cnf": {"jkt": jkt(key)}})
    site = ("<Location /index.html>\n    AuthType claims\n    AuthName api\n    ClaimsDPoPWindow 60\n"
            "    Require valid-user\n</Location>\n")
    h = make_httpd("ClaimsReplayCache shmcb:(1048576)\n" + issuer_block(keys) + site, modules=MODS)
    h.allowed_errors.append("holds as many unexpired proofs as it can keep")
    u = h.url + "/index.html"
    with requests.Session() as s:
        def send(p):
            return s.get(u, headers={"Authorization": "DPoP " + token, "DPoP": p}, timeout=10)

        started = time.time()
        proofs, got = [], []
        for _ in range(4100):
            proofs.append(dpop_proof(key, "GET", u, access_token=token))
            got.append(send(proofs[-1]).status_code)
        assert got[:4096] == [200] * 4096 and set(got[4096:]) == {503}, got[4090:]
        assert time.time() - started < 50, "too slow to test within the window"
        for p in proofs[:4096:256]:    # every counted one is still remembered
            r = send(p)
            assert r.status_code == 401 and "used before" in challenges(r)["DPoP"]["error_description"]
        assert h.log().count("holds as many unexpired proofs as it can keep") == 1
        time.sleep(max(0.0, started + 68 - time.time()))
        assert send(dpop_proof(key, "GET", u, access_token=token)).status_code == 200


STATUS = "<Location /claims-status>\n    SetHandler claims-status\n    Require ip 127.0.0.1\n</Location>\n"


def replay_figures(h):
    """The replay store's figures as the JSON, Prometheus and HTML status pages give them."""
    from monitoring import check_page, parse_exposition
    doc = requests.get(h.url + "/claims-status?format=json", timeout=10).json()["dpop_replay"]
    fams = parse_exposition(requests.get(h.url + "/claims-status?format=prometheus", timeout=10).text)
    prom = {l["result"]: v for _, l, v in fams["claims_dpop_proofs_total"]["samples"]}
    html = requests.get(h.url + "/claims-status", timeout=10).text
    check_page(html)
    return doc, prom, fams, html


def test_status_page_counts_what_the_replay_store_answered(make_httpd, keys):
    """Issue 18 for issue 15: proofs accepted, replays refused, refusals because the store was
    full, with the store and its capacity, on every format of the status page. The smallest store
    configtest takes (1 MiB) keeps 4,096 jti: filling it takes ~4,100 proofs within the window."""
    key = dpop_key()
    token = mint(keys.ec, {"cnf": {"jkt": jkt(key)}})
    site = ("<Location /index.html>\n    AuthType claims\n    AuthName api\n    ClaimsDPoPWindow 60\n"
            "    Require valid-user\n</Location>\n")
    h = make_httpd("ClaimsReplayCache shmcb:(1048576)\n" + issuer_block(keys) + site + STATUS, modules=MODS)
    h.allowed_errors.append("holds as many unexpired proofs as it can keep")
    u = h.url + "/index.html"
    doc, prom, fams, html = replay_figures(h)
    assert doc == {"store": "shmcb", "accepted": 0, "replayed": 0, "unavailable": 0, "full": 0, "capacity": 4096}
    with requests.Session() as s:
        def send(p):
            return s.get(u, headers={"Authorization": "DPoP " + token, "DPoP": p}, timeout=10).status_code
        proofs = [dpop_proof(key, "GET", u, access_token=token) for _ in range(3)]
        assert [send(p) for p in proofs] == [200] * 3
        assert [send(p) for p in proofs[:2]] == [401] * 2
        started = time.time()
        for _ in range(4100):
            send(dpop_proof(key, "GET", u, access_token=token))
        assert time.time() - started < 50, "too slow to test within the window"
    doc, prom, fams, html = replay_figures(h)
    assert doc == {"store": "shmcb", "accepted": 4096, "replayed": 2, "unavailable": 0, "full": 7,
                   "capacity": 4096}
    assert prom == {"accepted": 4096, "replayed": 2, "store_unavailable": 0, "store_full": 7}
    assert fams["claims_dpop_proofs_total"]["type"] == "counter"
    assert [v for _, _, v in fams["claims_dpop_replay_store_capacity"]["samples"]] == [4096]
    assert "replay store shmcb: 4096 accepted, 2 replays refused" in html


def test_two_dpop_headers_are_refused(api, bound):
    token, key = bound
    from itest_helpers import raw_request
    status, headers, _ = raw_request(api, "GET", "/cgi/env.py", [
        ("Authorization", "DPoP " + token), ("DPoP", proof_for(api, key, token)), ("DPoP", proof_for(api, key, token))])
    assert status == 401
    values = [v for k, v in headers if k.lower() == "www-authenticate"]
    assert any(v.startswith("DPoP ") and 'error="invalid_dpop_proof"' in v for v in values), values


def test_dpop_scheme_without_a_proof_is_refused(api, bound):
    token, _ = bound
    r = call(api, "/cgi/env.py", token, None)
    assert r.status_code == 401 and dpop_error(r) == "invalid_dpop_proof"


def test_dpop_bound_token_sent_as_bearer_is_refused(api, bound):
    """CL-95, RFC 9449 section 7.2: the downgrade attack of a stolen bound token."""
    token, key = bound
    for proof in (None, proof_for(api, key, token)):
        r = call(api, "/cgi/env.py", token, proof, scheme="Bearer")
        assert r.status_code == 401
        c = challenges(r)
        assert c["Bearer"]["error"] == "invalid_token"
        assert "DPoP" in c["Bearer"]["error_description"]
        assert "error" not in c["DPoP"]


def test_unbound_token_with_dpop_scheme_is_refused(api, oidc_provider):
    """The proof's key must be the token's (RFC 9449 7.1); a bearer token has none."""
    token = oidc_provider.jwt_access_token(resource=RESOURCE_ES256)
    key = dpop_key()
    r = call(api, "/cgi/env.py", token, proof_for(api, key, token))
    assert r.status_code == 401 and dpop_error(r) == "invalid_token"
    assert call(api, "/cgi/env.py", token, scheme="Bearer").status_code == 200


def test_no_token_gets_both_challenges(api):
    r = requests.get(url(api, "/cgi/env.py"), timeout=10)
    assert r.status_code == 401
    assert challenges(r) == {"Bearer": {"realm": "api"}, "DPoP": {"realm": "api", "algs": ALL_ALGS}}


# --------------------------------------------------------------------------- ClaimsDPoP, algorithms, window

def test_required_refuses_bearer_tokens_and_offers_only_dpop(api, oidc_provider, bound):
    plain = oidc_provider.jwt_access_token(resource=RESOURCE_ES256)
    r = call(api, "/required/env.py", plain, scheme="Bearer")
    assert r.status_code == 401
    c = challenges(r)
    assert list(c) == ["DPoP"] and c["DPoP"]["error"] == "invalid_token"
    assert "Required" in c["DPoP"]["error_description"]
    r = requests.get(url(api, "/required/env.py"), timeout=10)
    assert list(challenges(r)) == ["DPoP"]
    token, key = bound
    assert call(api, "/required/env.py", token, proof_for(api, key, token, "/required/env.py")).status_code == 200


def test_off_takes_no_dpop_scheme_and_still_refuses_bound_tokens(api, oidc_provider, bound):
    token, key = bound
    r = call(api, "/off/env.py", token, proof_for(api, key, token, "/off/env.py"))
    assert r.status_code == 401
    assert challenges(r) == {"Bearer": {"realm": "api"}}  # no token for this location
    r = call(api, "/off/env.py", token, scheme="Bearer")
    assert r.status_code == 401 and challenges(r)["Bearer"]["error"] == "invalid_token"
    plain = oidc_provider.jwt_access_token(resource=RESOURCE_ES256)
    assert call(api, "/off/env.py", plain, scheme="Bearer").status_code == 200


def test_algorithm_allow_list(api, oidc_provider):
    token, key, _ = oidc_provider.dpop_access_token(resource=RESOURCE_ES256, key=dpop_key("OKP"))
    r = call(api, "/es256/env.py", token, proof_for(api, key, token, "/es256/env.py"))
    assert r.status_code == 401 and dpop_error(r) == "invalid_dpop_proof"
    assert challenges(r)["DPoP"]["algs"] == "ES256"
    token, key, _ = oidc_provider.dpop_access_token(resource=RESOURCE_ES256)
    assert call(api, "/es256/env.py", token, proof_for(api, key, token, "/es256/env.py")).status_code == 200


def test_window(api, bound):
    token, key = bound
    old = proof_for(api, key, token, "/short/env.py", iat=int(time.time()) - 10)
    assert call(api, "/short/env.py", token, old).status_code == 401
    fresh = proof_for(api, key, token, "/short/env.py", iat=int(time.time()) - 2)
    assert call(api, "/short/env.py", token, fresh).status_code == 200
    older = proof_for(api, key, token, iat=int(time.time()) - 30)  # the default window is 60 s
    assert call(api, "/cgi/env.py", token, older).status_code == 200


# --------------------------------------------------------------------------- nonces (CL-98)

def test_nonce_round_trip(api, bound):
    token, key = bound
    r = call(api, "/nonce/env.py", token, proof_for(api, key, token, "/nonce/env.py"))
    assert r.status_code == 401
    assert dpop_error(r) == "use_dpop_nonce"
    nonce = r.headers["DPoP-Nonce"]
    assert "no-store" in r.headers.get("Cache-Control", "")
    r = call(api, "/nonce/env.py", token, proof_for(api, key, token, "/nonce/env.py", nonce=nonce))
    assert r.status_code == 200, (r.headers, api.log()[-2000:])


@pytest.mark.parametrize("nonce", ["", "stale", "garbage!", "A" * 32])
def test_bad_nonce_is_use_dpop_nonce(api, bound, nonce):
    token, key = bound
    r = call(api, "/nonce/env.py", token, proof_for(api, key, token, "/nonce/env.py", nonce=nonce))
    assert r.status_code == 401 and dpop_error(r) == "use_dpop_nonce"
    assert r.headers.get("DPoP-Nonce")


def test_nonce_from_another_secret_is_refused_and_the_same_secret_is_shared(make_httpd, oidc_provider, bound):
    op = oidc_provider
    d = tempfile.mkdtemp(prefix="claims-nonce-")
    try:
        secrets_ = []
        for i in range(2):
            path = os.path.join(d, "nonce-%d" % i)
            with open(path, "wb") as f:
                f.write(secret_bytes(32))
            os.chmod(path, 0o644)
            secrets_.append(path)
        site = issuer_conf(op) + location("/cgi/", "ClaimsDPoPNonce On")
        a = make_httpd("ClaimsDPoPNonceSecret %s\n" % secrets_[0] + site, modules=MODS)
        b = make_httpd("ClaimsDPoPNonceSecret %s\n" % secrets_[0] + site, modules=MODS)
        c = make_httpd("ClaimsDPoPNonceSecret %s\n" % secrets_[1] + site, modules=MODS)
        token, key = bound
        for h in (a, b, c):
            wait_nonce_ready(h, token, key)
        nonce = call(a, "/cgi/env.py", token, proof_for(a, key, token)).headers["DPoP-Nonce"]
        assert call(b, "/cgi/env.py", token, proof_for(b, key, token, nonce=nonce)).status_code == 200
        r = call(c, "/cgi/env.py", token, proof_for(c, key, token, nonce=nonce))
        assert r.status_code == 401 and dpop_error(r) == "use_dpop_nonce"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def wait_nonce_ready(h, token, key, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        r = call(h, "/cgi/env.py", token, proof_for(h, key, token))
        if r.status_code != 503 or time.time() > deadline:
            assert r.status_code == 401 and dpop_error(r) == "use_dpop_nonce", (r.status_code, h.log()[-2000:])
            return
        time.sleep(0.2)


# --------------------------------------------------------------------------- the real client

def test_openid_client_calls_the_api_with_dpop(api, oidc_provider):
    out = oidc_provider.openid_client("basic-client", parameters={"resource": RESOURCE_ES256, "scope": "read"},
                                      dpop=True, fetch={"url": url(api, "/cgi/env.py")})
    assert out["token"]["token_type"].lower() == "dpop"
    assert out["fetch"]["status"] == 200, out["fetch"]
    env = json.loads(out["fetch"]["body"])
    assert env["AUTH_TYPE"] == "DPoP" and env["REMOTE_USER"] == "basic-client"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_openid_client_retries_with_the_server_nonce(api, oidc_provider, alg):
    out = oidc_provider.openid_client("basic-client", parameters={"resource": RESOURCE_ES256, "scope": "read"},
                                      dpop=alg, fetch={"url": url(api, "/nonce/env.py"), "method": "POST",
                                                       "body": "a=1", "headers": {
                                                           "Content-Type": "application/x-www-form-urlencoded"}})
    assert out["fetch"]["status"] == 200, (out["fetch"], api.log()[-2000:])
    assert json.loads(out["fetch"]["body"])["AUTH_TYPE"] == "DPoP"


# --------------------------------------------------------------------------- opaque tokens (introspection)

def test_introspected_dpop_bound_token(make_httpd, oidc_provider):
    op = oidc_provider
    d = tempfile.mkdtemp(prefix="claims-dpop-intro-")
    try:
        c = op.clients["rs-basic"]
        secret = os.path.join(d, "secret")
        with open(secret, "w") as f:
            f.write(c.secret + "\n")
        os.chmod(secret, 0o644)
        os.chmod(d, 0o755)
        conf = issuer_conf(op, audience=RESOURCE_OPAQUE, extra="    ClaimsIntrospection\n    ClaimsIntrospectionClient "
                           "rs-basic secret=%s method=client_secret_basic\n" % secret)
        h = make_httpd(conf + location("/cgi/"), modules=MODS)
        token, key, _ = op.dpop_access_token(resource=RESOURCE_OPAQUE)
        deadline = time.time() + 10
        while True:
            r = call(h, "/cgi/env.py", token, proof_for(h, key, token))
            if r.status_code != 503 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200, (r.status_code, r.headers, h.log()[-2000:])
        assert r.json()["AUTH_TYPE"] == "DPoP"
        r = call(h, "/cgi/env.py", token, scheme="Bearer")
        assert r.status_code == 401 and challenges(r)["Bearer"]["error"] == "invalid_token"
        other = dpop_key()
        r = call(h, "/cgi/env.py", token, proof_for(h, other, token))
        assert r.status_code == 401 and dpop_error(r) == "invalid_token"
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- credentials stay here

def test_dpop_header_is_kept_from_backends(make_httpd, oidc_provider, echo_backend, bound):
    op = oidc_provider
    site = issuer_conf(op) + """
<Location /api/>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsRemoteUser client_id
    ProxyPass %(b)s/
</Location>
<Location /fwd/>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsRemoteUser client_id
    ClaimsForwardToken On
    ProxyPass %(b)s/
</Location>
""" % {"b": echo_backend.url}
    h = make_httpd(site, modules=MODS)
    token, key = bound
    deadline = time.time() + 10
    while True:
        r = call(h, "/api/x", token, proof_for(h, key, token, "/api/x"))
        if r.status_code != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    rec = received(r)
    assert header_list(rec, "DPoP") == [] and header_list(rec, "Authorization") == []
    proof = proof_for(h, key, token, "/fwd/x")
    rec = received(call(h, "/fwd/x", token, proof))
    assert header_list(rec, "DPoP") == [proof]
    assert header_list(rec, "Authorization") == ["DPoP " + token]


def test_directory_index_and_error_document_do_not_replay_the_proof(make_httpd, oidc_provider, bound):
    """A sub-request or internal redirect is checked against the client's request and does not
    use the proof up a second time."""
    op = oidc_provider

    def setup(h):
        h.write_file("htdocs/dir/index.html", "index\n")
        h.body = issuer_conf(op) + location("/dir/", "DirectoryIndex index.html")
    h = make_httpd("", modules=MODS + ["dir"], setup=setup)
    token, key = bound
    deadline = time.time() + 10
    while True:
        r = call(h, "/dir/", token, proof_for(h, key, token, "/dir/"))
        if r.status_code != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200 and r.text == "index\n", (r.status_code, h.log()[-2000:])


# --------------------------------------------------------------------------- htu from httpd, not headers

def test_forwarded_headers_never_make_the_htu(api, bound):
    token, key = bound
    spoof = {"X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443",
             "Forwarded": "host=evil.test;proto=https"}
    bad = dpop_proof(key, "GET", "https://evil.test/cgi/env.py", access_token=token)
    assert call(api, "/cgi/env.py", token, bad, headers=spoof).status_code == 401
    assert call(api, "/cgi/env.py", token, proof_for(api, key, token), headers=spoof).status_code == 200


def test_use_canonical_name_on_takes_server_name_not_host(make_httpd, oidc_provider, bound):
    op = oidc_provider
    h = make_httpd(issuer_conf(op) + location("/cgi/", "UseCanonicalName On"), modules=MODS, start=False)
    h.body = "ServerName canonical.test:%d\n" % h.port + h.body
    h.start()
    token, key = bound
    canonical = "http://canonical.test:%d/cgi/env.py" % h.port
    deadline = time.time() + 10
    while True:
        r = call(h, "/cgi/env.py", token, dpop_proof(key, "GET", canonical, access_token=token))
        if r.status_code != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, (r.status_code, h.log()[-2000:])
    # the Host the client sent (127.0.0.1:port) is not the canonical name
    assert call(h, "/cgi/env.py", token, proof_for(h, key, token)).status_code == 401


# --------------------------------------------------------------------------- certificate-bound tokens (RFC 8705)

TLS_SITE = """
SSLEngine on
SSLCertificateFile %(cert)s
SSLCertificateKeyFile %(key)s
SSLVerifyClient optional_no_ca
SSLVerifyDepth 2
"""


@pytest.fixture(scope="module")
def tls_files():
    d = tempfile.mkdtemp(prefix="claims-mtls-")
    os.chmod(d, 0o755)
    ca, cert, key = make_ca_and_cert(d)
    yield {"ca": ca, "cert": cert, "key": key, "dir": d}
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_api(make_module_httpd, oidc_provider, tls_files):
    op = oidc_provider
    h = make_module_httpd(TLS_SITE % tls_files + issuer_conf(op) + location("/cgi/"),
                          modules=MODS + ["ssl"])
    h.url = "https://127.0.0.1:%d" % h.port
    deadline = time.time() + 10
    token = op.jwt_access_token(resource=RESOURCE_ES256)
    while True:
        r = requests.get(h.url + "/cgi/env.py", headers={"Authorization": "Bearer " + token},
                         verify=tls_files["ca"], timeout=10)
        if r.status_code != 503 or time.time() > deadline:
            assert r.status_code == 200, (r.status_code, h.log()[-2000:])
            return h
        time.sleep(0.2)


def tls_get(h, ca, token, cert=None, scheme="Bearer"):
    with requests.Session() as s:
        return s.get(h.url + "/cgi/env.py", headers={"Authorization": "%s %s" % (scheme, token)},
                     verify=ca, cert=cert, timeout=10)


def test_certificate_bound_token_with_its_certificate(tls_api, oidc_provider, tls_files):
    op = oidc_provider
    token, x5t, _ = op.mtls_access_token(resource=RESOURCE_ES256)
    c = op.clients["mtls-client"]
    r = tls_get(tls_api, tls_files["ca"], token, cert=(c.cert, c.key))
    assert r.status_code == 200, (r.status_code, r.headers, tls_api.log()[-2000:])
    env = r.json()
    assert json.loads(env["CLAIMS_JSON"])["cnf"] == {"x5t#S256": x5t}
    assert env["REMOTE_USER"] == "mtls-client"


def test_certificate_bound_token_without_or_with_another_certificate(tls_api, oidc_provider, tls_files):
    op = oidc_provider
    token, _, _ = op.mtls_access_token(resource=RESOURCE_ES256)
    r = tls_get(tls_api, tls_files["ca"], token)
    assert r.status_code == 401
    assert challenges(r)["Bearer"]["error"] == "invalid_token"
    other = op.clients["bound-client"]  # a real certificate of the same CA, another client's
    r = tls_get(tls_api, tls_files["ca"], token, cert=(other.cert, other.key))
    assert r.status_code == 401 and challenges(r)["Bearer"]["error"] == "invalid_token"


def test_secret_client_with_certificate_bound_tokens(tls_api, oidc_provider, tls_files):
    op = oidc_provider
    c = op.clients["bound-client"]
    resp = op.client_credentials(c, resource=RESOURCE_ES256, scope="read", cert=(c.cert, c.key))
    token = resp["access_token"]
    assert tls_get(tls_api, tls_files["ca"], token, cert=(c.cert, c.key)).status_code == 200
    assert tls_get(tls_api, tls_files["ca"], token).status_code == 401


def test_openid_client_with_mtls(tls_api, oidc_provider, tls_files):
    """The token from the real client over mutual TLS (tls_client_auth); the API is called with
    requests and the same certificate (client.js trusts only the provider's CA)."""
    out = oidc_provider.openid_client("mtls-client", parameters={"resource": RESOURCE_ES256, "scope": "read"})
    token = out["token"]["access_token"]
    c = oidc_provider.clients["mtls-client"]
    assert tls_get(tls_api, tls_files["ca"], token, cert=(c.cert, c.key)).status_code == 200


def test_unknown_cnf_member_and_bad_cnf_are_refused(make_httpd, keys):
    h = make_httpd(issuer_block(keys) + """
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
""")
    for cnf in ({"x5t": "abc"}, {"jwk": {"kty": "EC"}}, {}, "jkt", ["x"], {"jkt": 1}, {"x5t#S256": None}):
        r = h.get("/cgi/env.py", mint(keys.rsa, cnf=cnf))
        assert r.status_code == 401, cnf
        assert challenges(r)["Bearer"]["error"] == "invalid_token"
    assert h.get("/cgi/env.py", mint(keys.rsa)).status_code == 200


# --------------------------------------------------------------------------- Client-Cert (RFC 9440)

def client_cert_header(pem_path):
    with open(pem_path, "rb") as f:
        der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
    return ":%s:" % base64.b64encode(der).decode()


def get_from(h, source, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_client_cert_header_from_a_trusted_proxy_only(make_httpd, oidc_provider):
    op = oidc_provider
    def setup(h):
        h.body = (issuer_conf(op) + location("/cgi/", "ClaimsClientCertHeader Client-Cert from=127.0.0.2")
                  + "ScriptAlias /open/ %s/cgi-bin/\n" % h.root)
    h = make_httpd("", modules=MODS, setup=setup)
    token, _, _ = op.mtls_access_token(resource=RESOURCE_ES256)
    c = op.clients["mtls-client"]
    headers = {"Authorization": "Bearer " + token, "Client-Cert": client_cert_header(c.cert)}
    deadline = time.time() + 10
    while True:
        status, body = get_from(h, "127.0.0.2", "/cgi/env.py", headers)
        if status != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, (status, h.log()[-2000:])
    assert json.loads(body)["HTTP_CLIENT_CERT"] == headers["Client-Cert"]
    # from another address: removed before anything reads it, and the token is refused
    status, _ = get_from(h, "127.0.0.1", "/cgi/env.py", headers)
    assert status == 401
    status, body = get_from(h, "127.0.0.3", "/open/env.py", {"Client-Cert": headers["Client-Cert"]})
    assert status == 200 and "HTTP_CLIENT_CERT" not in json.loads(body)
    assert "not a proxy trusted for it" in h.log()
    # a trusted proxy with another client's certificate
    other = op.clients["bound-client"]
    status, _ = get_from(h, "127.0.0.2", "/cgi/env.py", dict(headers, **{"Client-Cert": client_cert_header(other.cert)}))
    assert status == 401
    status, _ = get_from(h, "127.0.0.2", "/cgi/env.py", dict(headers, **{"Client-Cert": ":bm90IGEgY2VydA==:"}))
    assert status == 401


# --------------------------------------------------------------------------- the replay store across a fleet

def test_same_proof_at_two_servers_sharing_a_store_is_accepted_once(make_httpd, oidc_provider, store, bound):
    """CL-97: 1,000 proofs, each sent to both servers at the same moment: never two 200s."""
    op = oidc_provider
    d = tempfile.mkdtemp(prefix="claims-replay-")
    os.chmod(d, 0o755)
    try:
        secret = os.path.join(d, "secret")
        with open(secret, "wb") as f:
            f.write(secret_bytes(32))
        os.chmod(secret, 0o644)
        conf = ("ClaimsReplayCache %s\nClaimsCacheSecret %s\n" % (store.socache, secret)
                + issuer_conf(op) + location("/cgi/"))
        # the same URL on both: one ServerName, as behind a load balancer
        servers = []
        for _ in range(2):
            h = make_httpd(conf, modules=MODS, start=False)
            servers.append(h)
        for h in servers:
            h.body = "UseCanonicalName On\nServerName api.test:8443\n" + h.body
            h.start()
        token, key = bound
        target = "http://api.test:8443/cgi/env.py"
        for h in servers:
            deadline = time.time() + 10
            while True:
                r = call(h, "/cgi/env.py", token, dpop_proof(key, "GET", target, access_token=token))
                if r.status_code != 503 or time.time() > deadline:
                    assert r.status_code == 200, (r.status_code, h.log()[-2000:])
                    break
                time.sleep(0.2)
        sessions = [requests.Session(), requests.Session()]
        barrier = threading.Barrier(2)

        def send(i, proof):
            barrier.wait()
            return call_s(sessions[i], servers[i], token, proof).status_code

        twice = 0
        once = 0
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for _ in range(1000):
                proof = dpop_proof(key, "GET", target, access_token=token)
                a = pool.submit(send, 0, proof)
                b = pool.submit(send, 1, proof)
                codes = sorted([a.result(), b.result()])
                if codes == [200, 200]:
                    twice += 1
                elif codes == [200, 401]:
                    once += 1
                else:
                    raise AssertionError("unexpected answers %s" % codes)
        assert twice == 0 and once == 1000
        # the store down: refused (503), never accepted unchecked
        store.stop()
        r = call(servers[0], "/cgi/env.py", token, dpop_proof(key, "GET", target, access_token=token))
        assert r.status_code == 503 and r.headers.get("Retry-After")
        for h in servers:
            h.allowed_errors.append("ClaimsReplayCache")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def call_s(session, h, token, proof):
    return session.get(h.url + "/cgi/env.py", headers={"Authorization": "DPoP " + token, "DPoP": proof},
                       timeout=10)


# --------------------------------------------------------------------------- configuration errors

@pytest.mark.parametrize("line,needle", [
    ("ClaimsDPoP Sometimes", "ClaimsDPoP"),
    ("ClaimsDPoPAlgorithms HS256", "asymmetric"),
    ("ClaimsDPoPAlgorithms none", "asymmetric"),
    ("ClaimsDPoPAlgorithms es256", "asymmetric"),
    ("ClaimsDPoPWindow 0", "ClaimsDPoPWindow"),
    ("ClaimsDPoPWindow soon", "ClaimsDPoPWindow"),
    ("ClaimsDPoPNonce maybe", "ClaimsDPoPNonce"),
    ("ClaimsClientCertHeader Client-Cert", "from="),
    ("ClaimsClientCertHeader Client-Cert 10.0.0.1", "from="),
    ("ClaimsClientCertHeader Client-Cert from=not-an-address", "not an IP address"),
    ("ClaimsClientCertHeader Bad:Name from=10.0.0.1", "ClaimsClientCertHeader"),
    ("ClaimsClientCertHeader Authorization from=10.0.0.1", "cannot carry"),
])
def test_configuration_errors(make_httpd, line, needle):
    h = make_httpd("<Location /x/>\n    %s\n</Location>\n" % line, start=False)
    rc, out = h.configtest()
    assert rc != 0 and needle in out, out


@pytest.mark.parametrize("content", [None, b"short"])
def test_nonce_secret_errors(make_httpd, content):
    d = tempfile.mkdtemp(prefix="claims-ns-")
    try:
        path = os.path.join(d, "secret")
        if content is not None:
            with open(path, "wb") as f:
                f.write(content)
        h = make_httpd("ClaimsDPoPNonceSecret %s\n" % path, start=False)
        rc, out = h.configtest()
        assert rc != 0 and "ClaimsDPoPNonceSecret" in out, out
        h = make_httpd("<Location /x/>\n    ClaimsDPoPNonceSecret %s\n</Location>\n" % path, start=False)
        rc, out = h.configtest()
        assert rc != 0, out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_log_says_why_and_never_holds_the_proof(api, bound):
    token, key = bound
    proof = proof_for(api, key, token, claims={"htm": "PUT"})
    call(api, "/cgi/env.py", token, proof)
    log = api.log()
    assert "DPoP proof refused: " in log
    assert proof.split(".")[1][:20] not in log and proof.split(".")[2][:20] not in log
    assert token.split(".")[2][:20] not in log


def test_problem_json_body_follows_the_dpop_challenge(api, bound):
    """ClaimsErrorFormat auto (the default): a client asking for JSON gets the error of the
    challenge that carries it, the DPoP one for a DPoP request (RFC 9457, issue 16)."""
    token, key = bound
    r = call(api, "/cgi/env.py", token, proof_for(api, key, token, claims={"htm": "PUT"}),
             headers={"Accept": "application/json"})
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["error"] == "invalid_dpop_proof" and body["detail"] == challenges(r)["DPoP"]["error_description"]
    r = call(api, "/cgi/env.py", token, scheme="Bearer", headers={"Accept": "application/json"})
    body = r.json()
    assert body["error"] == "invalid_token" and body["detail"] == challenges(r)["Bearer"]["error_description"]
