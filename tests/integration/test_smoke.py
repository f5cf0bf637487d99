"""The product's promise in a few requests: valid token in, identity out; bad tokens refused."""
import pytest

from conftest import AUDIENCE, ISSUER, challenge, issuer_block, mint, now


@pytest.fixture
def api(make_httpd, keys):
    return make_httpd(issuer_block(keys) + """
<Location /cgi/>
    AuthType claims
    AuthName "orders-api"
    Require claim sub alice bob
</Location>
<Location /cgi/env.py/scoped>
    Require scope orders:read
</Location>
""")


def test_valid_token_reaches_cgi_with_identity(api, keys):
    r = api.get("/cgi/env.py", mint(keys.rsa, {"groups": ["a", "b"]}))
    assert r.status_code == 200, api.log()
    env = r.json()
    assert env["REMOTE_USER"] == "alice"
    assert env["AUTH_TYPE"] == "Bearer"
    assert env["CLAIM_SUB"] == "alice"
    assert env["CLAIM_GROUPS"] == "a,b"
    assert env["CLAIM_GROUPS_N"] == "2"
    assert env["CLAIMS_ISSUER"] == ISSUER


def test_no_token_is_401_without_error(api):
    r = api.get("/cgi/env.py")
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_expired_token_is_refused_with_invalid_token(api, keys):
    r = api.get("/cgi/env.py", mint(keys.rsa, exp=now() - 3600, iat=now() - 7200))
    assert r.status_code == 401
    scheme, params = challenge(r)
    assert params["error"] == "invalid_token"
    assert params["error_description"] == "token has expired"


def test_wrong_audience_is_refused(api, keys):
    r = api.get("/cgi/env.py", mint(keys.rsa, aud="https://elsewhere.test"))
    assert r.status_code == 401
    assert challenge(r)[1]["error"] == "invalid_token"


def test_missing_scope_is_403_insufficient_scope(api, keys):
    r = api.get("/cgi/env.py/scoped", mint(keys.rsa, scope="orders:write"))
    assert r.status_code == 403, api.log()
    assert challenge(r)[1]["error"] == "insufficient_scope"
    assert challenge(r)[1]["scope"] == "orders:read"


def test_failing_claim_is_403(api, keys):
    r = api.get("/cgi/env.py", mint(keys.rsa, sub="mallory"))
    assert r.status_code == 403
    assert challenge(r)[1]["error"] == "insufficient_scope"


def test_malformed_header_is_400(api):
    r = api.get("/cgi/env.py", headers={"Authorization": "Bearer a b"})
    assert r.status_code == 400
    assert challenge(r)[1]["error"] == "invalid_request"


@pytest.mark.parametrize("key", ["rsa", "pss", "ec", "ec384", "ed"])
def test_each_algorithm_family_is_accepted(api, keys, key):
    r = api.get("/cgi/env.py", mint(getattr(keys, key)))
    assert r.status_code == 200, api.log()
