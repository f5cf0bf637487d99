"""ClaimsOptional (anonymous pass-through) and ClaimsPreflight (CORS preflight without a token):
what passes, what is still refused, and that an anonymous request carries no identity to the
handler (ARCHITECTURE.md sections 3, 5, 6; SECURITY.md CL-82, CL-84)."""
import pytest

from conftest import ENV_CGI, challenge, issuer_block, mint, now

LOCATIONS = {
    "opt_user.py": ["ClaimsOptional On", "Require valid-user"],
    "opt_all.py": ["ClaimsOptional On", "Require all granted"],
    "opt_claim.py": ["ClaimsOptional On", "Require claim sub alice"],
    "opt_any.py": ["ClaimsOptional On", "<RequireAny>", "Require valid-user", "Require ip 192.0.2.1",
                   "</RequireAny>"],
    "opt_users.py": ["ClaimsOptional On", "Require user alice bob"],
    "preflight.py": ["ClaimsPreflight pass", "Require valid-user"],
    "preflight_claim.py": ["ClaimsPreflight pass", "Require claim sub alice"],
    "preflight_auth.py": ["ClaimsPreflight authenticate", "Require valid-user"],
    "plain.py": ["Require valid-user"],
}
OPTIONAL = ["/cgi/opt_all.py"]
# with a token, ClaimsOptional changes nothing: these need a user and get one from the token
WITH_TOKEN = ["/cgi/opt_user.py", "/cgi/opt_all.py"]
NEEDS_USER = ["/cgi/opt_user.py", "/cgi/opt_any.py", "/cgi/opt_users.py"]
PREFLIGHT = {"Origin": "https://app.test", "Access-Control-Request-Method": "POST"}


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuer_block(keys)
    for name, lines in LOCATIONS.items():
        body += "<Location /cgi/%s>\n    AuthType claims\n    AuthName \"orders-api\"\n%s\n</Location>\n" % (
            name, "\n".join("    " + l for l in lines))

    def setup(h):
        for name in LOCATIONS:
            h.write_file("cgi-bin/" + name, ENV_CGI, mode=0o755)
        # httpd logs an anonymous request refused by Require claim at error level
        h.allowed_errors.append("AH01629:")
    return make_module_httpd(body, setup=setup)


def identity_vars(env):
    return {k: v for k, v in env.items()
            if k in ("REMOTE_USER", "AUTH_TYPE") or k.startswith("CLAIM_") or k.startswith("CLAIMS_")}


# ---------------------------------------------------------------------------------------------
# ClaimsOptional

@pytest.mark.parametrize("path", OPTIONAL)
def test_optional_without_token_passes_as_anonymous(api, path):
    r = api.get(path)
    assert r.status_code == 200, api.log()[-2000:]
    assert identity_vars(r.json()) == {}


@pytest.mark.parametrize("path", OPTIONAL)
@pytest.mark.parametrize("header", ["Claim-Sub", "Claim_Sub", "Claims-Json", "Claims-Issuer", "Remote-User"])
def test_optional_anonymous_client_header_cannot_become_identity(api, path, header):
    r = api.get(path, headers={header: "evil"})
    assert r.status_code == 200
    env = r.json()
    assert identity_vars(env) == {}
    assert "evil" not in [v for k, v in env.items() if not k.startswith("HTTP_")]


@pytest.mark.parametrize("path", OPTIONAL)
def test_optional_with_other_authorization_scheme_passes_as_anonymous(api, path):
    r = api.get(path, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert r.status_code == 200
    assert identity_vars(r.json()) == {}


# issue 12 item 17: an anonymous request passed as REMOTE_USER "" and satisfied `Require valid-user`
@pytest.mark.parametrize("path", NEEDS_USER)
def test_optional_anonymous_request_never_satisfies_a_rule_that_needs_a_user(api, path):
    r = api.get(path)
    assert r.status_code == 401, r.text
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})
    assert "REMOTE_USER" not in r.text


@pytest.mark.parametrize("path", NEEDS_USER)
def test_optional_with_token_satisfies_a_rule_that_needs_a_user(api, keys, path):
    r = api.get(path, mint(keys.rsa))
    assert r.status_code == 200
    assert r.json()["REMOTE_USER"] == "alice"


@pytest.mark.parametrize("path", WITH_TOKEN)
@pytest.mark.parametrize("what", ["expired", "forged", "wrong-audience", "garbage"])
def test_optional_with_bad_token_is_401_invalid_token(api, keys, path, what):
    t = {"expired": lambda: mint(keys.rsa, exp=now() - 3600, iat=now() - 7200),
         "forged": lambda: mint(keys.attacker),
         "wrong-audience": lambda: mint(keys.rsa, aud="https://elsewhere.test"),
         "garbage": lambda: "aaaa.bbbb.cccc"}[what]()
    r = api.get(path, t)
    assert r.status_code == 401
    assert challenge(r)[1].get("error") == "invalid_token"


@pytest.mark.parametrize("path", WITH_TOKEN)
def test_optional_with_malformed_authorization_is_400(api, path):
    r = api.get(path, headers={"Authorization": "Bearer a b"})
    assert r.status_code == 400
    assert challenge(r)[1].get("error") == "invalid_request"


@pytest.mark.parametrize("path", WITH_TOKEN)
def test_optional_with_good_token_has_identity(api, keys, path):
    r = api.get(path, mint(keys.rsa, {"tenant": "acme"}))
    assert r.status_code == 200
    env = r.json()
    assert env["REMOTE_USER"] == "alice"
    assert env["AUTH_TYPE"] == "Bearer"
    assert env["CLAIM_SUB"] == "alice"
    assert env["CLAIM_TENANT"] == "acme"


@pytest.mark.parametrize("path", WITH_TOKEN)
def test_optional_good_token_identity_wins_over_client_headers(api, keys, path):
    r = api.get(path, mint(keys.rsa), headers={"Claim-Sub": "evil", "Remote-User": "evil"})
    env = r.json()
    assert env["CLAIM_SUB"] == "alice"
    assert env["REMOTE_USER"] == "alice"
    assert env["HTTP_CLAIM_SUB"] == "evil"


def test_optional_with_require_claim_refuses_anonymous_with_401(api):
    r = api.get("/cgi/opt_claim.py")
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_optional_with_require_claim_grants_matching_token(api, keys):
    assert api.get("/cgi/opt_claim.py", mint(keys.rsa)).status_code == 200


def test_optional_with_require_claim_refuses_other_token_with_403(api, keys):
    r = api.get("/cgi/opt_claim.py", mint(keys.rsa, sub="bob"))
    assert r.status_code == 403
    assert challenge(r)[1].get("error") == "insufficient_scope"


# ---------------------------------------------------------------------------------------------
# ClaimsPreflight

@pytest.mark.parametrize("path", ["/cgi/preflight.py", "/cgi/preflight_claim.py"])
def test_preflight_passes_without_token(api, path):
    r = api.request("OPTIONS", path, headers=PREFLIGHT)
    assert r.status_code == 200, (r.status_code, r.headers)
    assert identity_vars(r.json()) == {}


def test_preflight_pass_ignores_spoofed_identity_headers(api):
    r = api.request("OPTIONS", "/cgi/preflight.py", headers=dict(PREFLIGHT, **{"Claim-Sub": "evil"}))
    assert r.status_code == 200
    assert identity_vars(r.json()) == {}


@pytest.mark.parametrize("headers", [{}, {"Origin": "https://app.test"}, {"Access-Control-Request-Method": "POST"}],
                         ids=["none", "origin-only", "method-only"])
def test_options_without_preflight_headers_needs_a_token(api, headers):
    r = api.request("OPTIONS", "/cgi/preflight.py", headers=headers)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_options_without_preflight_headers_with_token_passes(api, keys):
    r = api.request("OPTIONS", "/cgi/preflight.py", headers={"Authorization": "Bearer " + mint(keys.rsa)})
    assert r.status_code == 200
    assert r.json()["REMOTE_USER"] == "alice"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_preflight_headers_on_other_methods_need_a_token(api, method):
    r = api.request(method, "/cgi/preflight.py", headers=PREFLIGHT)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


@pytest.mark.parametrize("path", ["/cgi/plain.py", "/cgi/preflight_auth.py", "/cgi/opt_claim.py"])
def test_preflight_needs_a_token_unless_configured(api, path):
    r = api.request("OPTIONS", path, headers=PREFLIGHT)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})
