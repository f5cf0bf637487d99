"""The interop harness on its own (no apache2): npm oidc-provider serves what the harness
promises, the Python helpers get tokens from it the way clients do, and npm openid-client works
against it. One provider for the whole module."""
import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from jwcrypto import jwk, jws

from oidc_provider import oidc_provider  # noqa: F401  (the module-scoped fixture)
from oidc_provider import (RESOURCE, RESOURCE_EDDSA, RESOURCE_ES256, RESOURCE_OPAQUE, Client, ClientCA,
                           TokenError, b64u, cert_thumbprint, dpop_key, dpop_proof, jkt)


def test_discovery_over_tls_trusted_by_the_run_ca(oidc_provider):
    op = oidc_provider
    r = requests.get(op.discovery_url, verify=op.ca, timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == op.issuer == "https://127.0.0.1:%d" % op.port
    for name in ("token_endpoint", "introspection_endpoint", "jwks_uri", "registration_endpoint",
                 "revocation_endpoint"):
        assert doc[name].startswith(op.issuer + "/"), name
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth"} <= \
        set(doc["token_endpoint_auth_methods_supported"])
    # oidc-provider 9 authenticates every endpoint the same way, so it publishes no separate
    # introspection_endpoint_auth_methods_supported (RFC 8414 says: then the token endpoint's)
    assert "introspection_endpoint_auth_methods_supported" not in doc
    assert "client_credentials" in doc["grant_types_supported"]
    assert "ES256" in doc["dpop_signing_alg_values_supported"]
    assert doc["tls_client_certificate_bound_access_tokens"] is True
    assert "RS256" in doc["introspection_signing_alg_values_supported"]
    # the RFC 8414 location answers the same document
    r2 = requests.get(op.issuer + "/.well-known/oauth-authorization-server", verify=op.ca, timeout=10)
    assert r2.json()["issuer"] == op.issuer
    # trusted only through the run's CA, not the system's
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(op.discovery_url, timeout=10)


def test_jwks_has_one_key_per_signing_algorithm_family(oidc_provider):
    keys = [json.loads(k.export_public()) for k in oidc_provider.jwks()["keys"]]
    assert sorted(k["kty"] for k in keys) == ["EC", "OKP", "RSA"]
    assert all(k.get("kid") and "d" not in k for k in keys)


@pytest.mark.parametrize("resource,alg", [(RESOURCE, "RS256"), (RESOURCE_ES256, "ES256"),
                                          (RESOURCE_EDDSA, "EdDSA")])
def test_jwt_access_token_for_a_resource(oidc_provider, resource, alg):
    op = oidc_provider
    resp = op.client_credentials("basic-client", resource=resource, scope="read write")
    assert resp["token_type"] == "Bearer"
    header, claims = op.verify_jws(resp["access_token"])
    assert header["typ"] == "at+jwt"                      # RFC 9068
    assert header["alg"] in ((alg,) if alg != "EdDSA" else ("EdDSA", "Ed25519"))
    assert claims["aud"] == resource
    assert claims["iss"] == op.issuer
    assert claims["client_id"] == claims["sub"] == "basic-client"
    assert set(claims["scope"].split()) == {"read", "write"}
    assert claims["exp"] > claims["iat"]
    assert "cnf" not in claims


def test_unknown_resource_is_refused(oidc_provider):
    with pytest.raises(TokenError) as e:
        oidc_provider.client_credentials("basic-client", resource="https://elsewhere.test/", scope="read")
    assert e.value.error == "invalid_target"


@pytest.mark.parametrize("client", ["basic-client", "post-client", "jwt-client"])
def test_each_client_auth_method_gets_a_token(oidc_provider, client):
    token = oidc_provider.jwt_access_token(client=client)
    assert oidc_provider.verify_jws(token)[1]["client_id"] == client


@pytest.mark.parametrize("rs", ["rs-basic", "rs-post", "rs-jwt"])
def test_opaque_token_introspects_active_with_each_client_auth_method(oidc_provider, rs):
    op = oidc_provider
    token = op.opaque_access_token(scope="read")
    assert token.count(".") == 0
    answer = op.introspect(token, client=rs)
    assert answer["active"] is True
    assert answer["client_id"] == "basic-client"
    assert answer["iss"] == op.issuer
    assert answer["scope"] == "read"
    assert answer["token_type"] == "Bearer"
    assert "aud" not in answer and "cnf" not in answer
    assert answer["exp"] > answer["iat"]


def test_opaque_token_for_a_resource_introspects_with_its_audience(oidc_provider):
    op = oidc_provider
    token = op.opaque_access_token(resource=RESOURCE_OPAQUE, scope="write")
    answer = op.introspect(token, client="rs-post")
    assert answer["active"] is True and answer["aud"] == RESOURCE_OPAQUE and answer["scope"] == "write"


def test_jwt_access_tokens_are_not_introspectable_here(oidc_provider):
    """oidc-provider refuses to introspect (or revoke) JWT access tokens: a resource server
    that introspects must be given opaque ones."""
    r = oidc_provider.introspection_response(oidc_provider.jwt_access_token())
    assert r.status_code == 400 and r.json()["error"] == "unsupported_token_type"


def test_introspection_inactive_and_unauthenticated(oidc_provider):
    op = oidc_provider
    assert op.introspect("no-such-token-" + "x" * 30) == {"active": False}
    token = op.opaque_access_token()
    rs = op.client("rs-basic")
    r = op.session.post(op.introspection_endpoint, data={"token": token},
                        auth=(rs.client_id, "wrong-secret"), timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # revoked (by its own client: oidc-provider's default policy): inactive from then on
    c = op.client("basic-client")
    r = op.session.post(op.url("revocation_endpoint"), data={"token": token},
                        auth=(c.client_id, c.secret), timeout=10)
    assert r.status_code == 200
    assert op.introspect(token)["active"] is False


@pytest.mark.parametrize("rs,alg", [("rs-basic", "RS256"), ("rs-post", "ES256"), ("rs-jwt", "RS256")])
def test_jwt_introspection_answer(oidc_provider, rs, alg):
    op = oidc_provider
    token = op.opaque_access_token(scope="read")
    r = op.introspection_response(token, client=rs, jwt=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/token-introspection+jwt")
    header, claims = op.introspect_jwt(token, client=rs)
    assert header["typ"] == "token-introspection+jwt"    # RFC 9701 section 5
    assert header["alg"] == alg
    assert claims["iss"] == op.issuer and claims["aud"] == rs and claims["iat"]
    ti = claims["token_introspection"]
    assert ti["active"] is True and ti["client_id"] == "basic-client" and ti["scope"] == "read"


def test_dpop_bound_opaque_token_introspects_with_the_proof_key_thumbprint(oidc_provider):
    op = oidc_provider
    token, key, resp = op.dpop_access_token(scope="read")
    assert resp["token_type"] == "DPoP"
    answer = op.introspect(token)
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": jkt(key)}
    # the RFC 7638 thumbprint by hand: SHA-256 over the required members in order
    pub = json.loads(key.export_public())
    canon = json.dumps({k: pub[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    assert answer["cnf"]["jkt"] == b64u(hashlib.sha256(canon.encode()).digest())


@pytest.mark.parametrize("kty", ["EC", "OKP"])
def test_dpop_bound_jwt_access_token_carries_cnf_jkt(oidc_provider, kty):
    op = oidc_provider
    key = dpop_key(kty)
    token, _, resp = op.dpop_access_token(resource=RESOURCE, key=key)
    assert resp["token_type"] == "DPoP"
    _, claims = op.verify_jws(token)
    assert claims["cnf"] == {"jkt": jkt(key)} and claims["aud"] == RESOURCE


def test_dpop_proof_for_another_url_is_refused(oidc_provider):
    op = oidc_provider
    key = dpop_key()
    c = op.client("basic-client")
    r = op.session.post(op.token_endpoint, data={"grant_type": "client_credentials"},
                        auth=(c.client_id, c.secret), timeout=10,
                        headers={"DPoP": dpop_proof(key, "POST", op.issuer + "/elsewhere")})
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof"


def test_certificate_bound_token_with_tls_client_auth(oidc_provider):
    op = oidc_provider
    token, x5t, resp = op.mtls_access_token(scope="read")
    assert resp["token_type"] == "Bearer"
    answer = op.introspect(token)
    assert answer["active"] is True and answer["client_id"] == "mtls-client"
    assert answer["cnf"] == {"x5t#S256": x5t}
    # as a JWT access token
    token, x5t, _ = op.mtls_access_token(resource=RESOURCE)
    assert op.verify_jws(token)[1]["cnf"] == {"x5t#S256": x5t}


def test_certificate_bound_token_for_a_secret_client(oidc_provider):
    op = oidc_provider
    c = op.client("bound-client")
    token = op.opaque_access_token(client=c)
    assert op.introspect(token)["cnf"] == {"x5t#S256": cert_thumbprint(c.cert)}
    # without a certificate the client gets no token at all
    r = op.token_response(c, scope="read", cert=False)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_tls_client_auth_refuses_a_certificate_from_an_unknown_ca(oidc_provider, tmp_path):
    op = oidc_provider
    cert, key, _ = ClientCA(str(tmp_path), name="stranger CA").issue("mtls-client")
    r = op.token_response("mtls-client", scope="read", cert=(cert, key))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_dynamic_client_registration(oidc_provider):
    op = oidc_provider
    reg = op.register({"grant_types": ["client_credentials"], "response_types": [],
                       "redirect_uris": [], "token_endpoint_auth_method": "client_secret_basic"})
    assert reg["client_id"] and reg["client_secret"] and reg["registration_access_token"]
    c = Client(reg["client_id"], "client_secret_basic", secret=reg["client_secret"])
    token = op.jwt_access_token(client=c)
    assert op.verify_jws(token)[1]["client_id"] == reg["client_id"]


# --- the real client library (npm openid-client through client.js) -------------------------

def test_openid_client_client_credentials(oidc_provider):
    op = oidc_provider
    out = op.openid_client("basic-client", parameters={"resource": RESOURCE, "scope": "read"})
    assert out["token"]["token_type"].lower() == "bearer"
    _, claims = op.verify_jws(out["token"]["access_token"])
    assert claims["aud"] == RESOURCE and claims["client_id"] == "basic-client"
    assert out["dpop"] is None


@pytest.mark.parametrize("client", ["post-client", "jwt-client", "mtls-client"])
def test_openid_client_auth_methods(oidc_provider, client):
    op = oidc_provider
    out = op.openid_client(client, parameters={"scope": "read"}, introspect=True)
    assert out["introspection"]["active"] is True
    assert out["introspection"]["client_id"] == client
    if client == "mtls-client":
        assert out["introspection"]["cnf"] == {"x5t#S256": cert_thumbprint(op.client(client).cert)}


def test_openid_client_dpop_and_jwt_introspection(oidc_provider):
    op = oidc_provider
    out = op.openid_client("basic-client", parameters={"scope": "read"}, dpop=True, introspect=True,
                           metadata={"introspection_signed_response_alg": "RS256"})
    assert out["token"]["token_type"].lower() == "dpop"
    # openid-client asked for and verified an RFC 9701 answer
    assert out["introspection"]["active"] is True
    assert out["introspection"]["cnf"] == {"jkt": out["dpop"]["jkt"]}
    # and the key's thumbprint is RFC 7638's
    assert jwk.JWK(**out["dpop"]["public_jwk"]).thumbprint() == out["dpop"]["jkt"]
    assert op.introspect(out["token"]["access_token"])["cnf"]["jkt"] == out["dpop"]["jkt"]


def test_openid_client_reports_errors(oidc_provider):
    op = oidc_provider
    with pytest.raises(RuntimeError) as e:
        op.openid_client("basic-client", parameters={"resource": "https://elsewhere.test/"})
    assert e.value.args[1]["error"] == "invalid_target"


class EchoResource:
    """A stand-in for the protected resource (mod_claims' place) on loopback HTTP: answers 200
    with the request's Authorization and DPoP headers as JSON. nonce: first ask for a DPoP nonce
    (401, WWW-Authenticate: DPoP error="use_dpop_nonce", RFC 9449 section 9)."""

    def __init__(self, nonce=None):
        res = self
        self.nonce = nonce
        self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                got = {"authorization": self.headers.get("Authorization"), "dpop": self.headers.get("DPoP"),
                       "path": self.path}
                res.seen.append(got)
                if res.nonce and (not got["dpop"] or res.nonce not in _proof_claims(got["dpop"]).get("nonce", "")):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'DPoP error="use_dpop_nonce", algs="ES256"')
                    self.send_header("DPoP-Nonce", res.nonce)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(got).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/orders?x=1" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _proof_claims(proof):
    payload = proof.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_openid_client_calls_a_resource_with_bearer(oidc_provider):
    res = EchoResource()
    try:
        out = oidc_provider.openid_client(parameters={"resource": RESOURCE, "scope": "read"},
                                          fetch={"url": res.url})
    finally:
        res.close()
    assert out["fetch"]["status"] == 200
    seen = json.loads(out["fetch"]["body"])
    assert seen["authorization"] == "Bearer " + out["token"]["access_token"] and seen["dpop"] is None


def test_openid_client_calls_a_resource_with_dpop_and_its_nonce(oidc_provider):
    """What mod_claims will see from a real DPoP client (RFC 9449 section 7), nonce included."""
    res = EchoResource(nonce="rs-nonce-1")
    try:
        out = oidc_provider.openid_client(parameters={"resource": RESOURCE, "scope": "read"}, dpop=True,
                                          fetch={"url": res.url})
    finally:
        res.close()
    token = out["token"]["access_token"]
    assert out["fetch"]["status"] == 200
    assert len(res.seen) == 2 and res.seen[0]["dpop"] and "nonce" not in _proof_claims(res.seen[0]["dpop"])
    proof = res.seen[1]["dpop"]
    assert res.seen[1]["authorization"] == "DPoP " + token
    t = jws.JWS()
    t.deserialize(proof)
    header = t.jose_header
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    key = jwk.JWK(**header["jwk"])
    t.verify(key, alg="ES256")
    claims = json.loads(t.payload)
    assert claims["htm"] == "GET" and claims["htu"] == res.url.split("?")[0]
    assert claims["nonce"] == "rs-nonce-1" and claims["jti"] and claims["iat"]
    assert claims["ath"] == b64u(hashlib.sha256(token.encode()).digest())
    assert key.thumbprint() == out["dpop"]["jkt"] == oidc_provider.verify_jws(token)[1]["cnf"]["jkt"]
