"""The harness with a changed configuration (a module's OIDC_PROVIDER): an issuer with a path,
DPoP nonces required at the token endpoint (RFC 9449 section 8), as some authorization servers
do (the helpers and openid-client both handle the use_dpop_nonce answer), a catch-all resource,
extra claims in every access token, and an access-token lifetime."""
import requests

from oidc_provider import oidc_provider  # noqa: F401  (the module-scoped fixture)
from oidc_provider import RESOURCE, STANDARD_FEATURES, STANDARD_RESOURCES, dpop_key, dpop_proof, jkt

OIDC_PROVIDER = {
    "issuer": "https://127.0.0.1:{port}/op",
    "features": dict(STANDARD_FEATURES, dPoP={"requireNonce": True}),
    "resources": dict(STANDARD_RESOURCES, **{"*": {"scope": "mcp", "format": "jwt", "alg": "ES256",
                                                   "ttl": 120}}),
    "extra_token_claims": {"tenant": "acme", "roles": ["reader"]},
    "ttl": {"ClientCredentials": 300},
}


def test_issuer_with_a_path_and_its_metadata_locations(oidc_provider):
    op = oidc_provider
    assert op.issuer == "https://127.0.0.1:%d/op" % op.port
    assert op.token_endpoint == op.issuer + "/token"
    base = "https://127.0.0.1:%d" % op.port
    for url in (op.issuer + "/.well-known/openid-configuration",
                op.issuer + "/.well-known/oauth-authorization-server",
                base + "/.well-known/oauth-authorization-server/op",     # RFC 8414 section 3.1
                base + "/.well-known/openid-configuration/op"):
        r = requests.get(url, verify=op.ca, timeout=10)
        assert r.status_code == 200, url
        assert r.json()["issuer"] == op.issuer and r.json()["token_endpoint"] == op.token_endpoint
    assert requests.get(base + "/token", verify=op.ca, timeout=10).status_code == 404


def test_a_proof_without_nonce_gets_use_dpop_nonce(oidc_provider):
    op = oidc_provider
    c = op.client("basic-client")
    r = op.session.post(op.token_endpoint, data={"grant_type": "client_credentials", "scope": "read"},
                        auth=(c.client_id, c.secret), timeout=10,
                        headers={"DPoP": dpop_proof(dpop_key(), "POST", op.token_endpoint)})
    assert r.status_code == 400
    assert r.json()["error"] == "use_dpop_nonce"
    assert r.headers["DPoP-Nonce"]


def test_helper_retries_with_the_nonce(oidc_provider):
    op = oidc_provider
    op.dpop_nonce = None
    key = dpop_key()
    r = op.token_response("basic-client", scope="read", dpop=key)
    assert r.status_code == 200 and r.dpop_nonce_retry is True
    assert r.json()["token_type"] == "DPoP"
    assert op.introspect(r.json()["access_token"])["cnf"] == {"jkt": jkt(key)}
    # the nonce is kept: the next request needs no retry
    r = op.token_response("basic-client", resource=RESOURCE, scope="read", dpop=key)
    assert r.status_code == 200 and r.dpop_nonce_retry is False
    assert op.verify_jws(r.json()["access_token"])[1]["cnf"] == {"jkt": jkt(key)}


def test_a_replayed_proof_is_refused(oidc_provider):
    op = oidc_provider
    key = dpop_key()
    op.token_response("basic-client", scope="read", dpop=key)        # learn the nonce
    proof = dpop_proof(key, "POST", op.token_endpoint, nonce=op.dpop_nonce)
    c = op.client("basic-client")
    answers = [op.session.post(op.token_endpoint, data={"grant_type": "client_credentials"},
                               auth=(c.client_id, c.secret), headers={"DPoP": proof}, timeout=10)
               for _ in range(2)]
    assert answers[0].status_code == 200
    # oidc-provider answers a replay at the token endpoint with invalid_grant (its detail,
    # "DPoP proof JWT Replay detected", stays in its log)
    assert answers[1].status_code == 400 and answers[1].json()["error"] == "invalid_grant"


def test_openid_client_handles_the_nonce_itself(oidc_provider):
    op = oidc_provider
    out = op.openid_client("basic-client", parameters={"resource": RESOURCE, "scope": "read"}, dpop=True)
    assert out["token"]["token_type"].lower() == "dpop"
    assert op.verify_jws(out["token"]["access_token"])[1]["cnf"] == {"jkt": out["dpop"]["jkt"]}


def test_catch_all_resource_extra_claims_and_lifetime(oidc_provider):
    op = oidc_provider
    mcp = "http://127.0.0.1:9/mcp"
    resp = op.client_credentials("basic-client", resource=mcp, scope="mcp read", dpop=dpop_key())
    assert resp["expires_in"] == 120 and resp["scope"] == "mcp"
    header, claims = op.verify_jws(resp["access_token"])
    assert header["alg"] == "ES256" and claims["aud"] == mcp
    assert claims["tenant"] == "acme" and claims["roles"] == ["reader"]
    assert claims["exp"] - claims["iat"] == 120
    # the named resources keep their own settings, with the configured lifetime
    _, claims = op.verify_jws(op.jwt_access_token(RESOURCE))
    assert claims["aud"] == RESOURCE and claims["tenant"] == "acme" and claims["exp"] - claims["iat"] == 300
    opaque = op.client_credentials("basic-client", scope="read")
    assert opaque["expires_in"] == 300
    assert op.introspect(opaque["access_token"])["tenant"] == "acme"
