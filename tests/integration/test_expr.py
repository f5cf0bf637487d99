"""The ap_expr functions claim('path') and claims('path') wherever httpd evaluates expressions:
Require expr, <If>, SetEnvIfExpr, mod_headers expr= values, RewriteCond expr, and the exported
variables in a LogFormat (ARCHITECTURE.md sections 3-6)."""
import os

import pytest

from conftest import ENV_CGI, challenge, issuer_block, mint, now
from itest_helpers import wait_for_line

ADMIN_ACME = {"tenant": "acme", "realm_access": {"roles": ["admin", "ops"]}, "age": 42}
REQUIRE_EXPR = "'admin' -in claims('realm_access.roles') && claim('tenant') == 'acme'"


def loc(path, *lines):
    return "<Location %s>\n    AuthType claims\n    AuthName \"orders-api\"\n%s\n</Location>\n" % (
        path, "\n".join("    " + l for l in lines))


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuer_block(keys) + "".join([
        loc("/cgi/expr.py", 'Require expr "%s"' % REQUIRE_EXPR),
        loc("/cgi/if.py", "Require valid-user",
            "<If \"claim('tenant') == 'acme'\">", "    Header set X-Tenant-Match yes",
            "    SetEnv TENANT_MATCH yes", "</If>", "<Else>", "    Header set X-Tenant-Match no", "</Else>"),
        loc("/cgi/ifcookie.py", "Require valid-user", "ClaimsTokenFrom cookie=at",
            "<If \"claim('tenant') == 'acme'\">", "    Header set X-Tenant-Match yes", "</If>"),
        loc("/cgi/setenvif.py", "Require valid-user",
            "SetEnvIfExpr \"claim('tenant') == 'acme'\" FROM_SETENVIF=acme",
            "SetEnvIfExpr \"'ops' -in claims('realm_access.roles')\" IS_OPS=1",
            "SetEnvIfExpr \"'acme' -in claims('tenant')\" TENANT_IN_LIST=1",
            "SetEnvIfExpr \"-z claim('no_such_claim')\" NO_SUCH_EMPTY=1",
            "SetEnvIfExpr \"claim('/realm_access/roles/1') == 'ops'\" POINTER_OK=1",
            "SetEnvIfExpr \"claim('age') == '42'\" AGE_TEXT=1"),
        loc("/cgi/reqheader.py", "Require valid-user",
            'RequestHeader set X-From-Expr "expr=%{claim:tenant}"',
            'RequestHeader set X-Roles-Expr "expr=%{claim:realm_access.roles}"',
            'Header set X-Sub-Expr "expr=%{claim:sub}"'),
        loc("/cgi/rw/rw.py", "Require valid-user"),
        loc("/static/", "Require valid-user"),
        loc("/cgi/optional.py", "ClaimsOptional On", "Require all granted"),
        # server context: evaluated at translate_name, before authentication
        "RewriteEngine On\n"
        "RewriteCond expr \"claim('tenant') == 'acme'\"\n"
        "RewriteRule ^/rw-tenant$ /acme.html [R=302,L]\n",
        'LogFormat "claimslog %{CLAIM_SUB}e %{CLAIM_TENANT}e %u \\"%r\\"" claimslog\n'
        "CustomLog @ROOT@/logs/claims_access.log claimslog\n",
    ])

    def setup(h):
        h.body = h.body.replace("@ROOT@", h.root)
        # httpd logs a Require expr refusal before authentication at error level
        h.allowed_errors.append("AH01629:")
        for name in ("expr.py", "if.py", "ifcookie.py", "setenvif.py", "reqheader.py", "optional.py"):
            h.write_file("cgi-bin/" + name, ENV_CGI, mode=0o755)
        os.makedirs(os.path.join(h.root, "cgi-bin", "rw"))
        os.chmod(os.path.join(h.root, "cgi-bin", "rw"), 0o755)
        h.write_file("cgi-bin/rw/rw.py", ENV_CGI, mode=0o755)
        os.makedirs(os.path.join(h.root, "htdocs", "static"))
        os.chmod(os.path.join(h.root, "htdocs", "static"), 0o755)
        h.write_file("htdocs/static/page.html", "static\n")
        # per-directory rewrite: runs in the fixups, after authentication
        h.body += ("<Directory %s/cgi-bin/rw>\n    RewriteEngine On\n"
                   "    RewriteCond expr \"claim('tenant') == 'acme'\"\n"
                   "    RewriteRule ^ - [E=RW_TENANT:yes]\n</Directory>\n" % h.root)

    return make_module_httpd(body, setup=setup)


def tok(keys, **claims):
    c = dict(ADMIN_ACME)
    c.update(claims)
    return mint(keys.rsa, c)


# ---------------------------------------------------------------------------------------------
# Require expr

def test_require_expr_grants_matching_claims(api, keys):
    r = api.get("/cgi/expr.py", tok(keys))
    assert r.status_code == 200, api.log()[-2000:]
    assert r.json()["REMOTE_USER"] == "alice"


@pytest.mark.parametrize("claims", [{"tenant": "other"}, {"realm_access": {"roles": ["ops"]}},
                                    {"realm_access": {"roles": "admin-not-a-list"}}, {"tenant": None}],
                         ids=["wrong-tenant", "no-admin-role", "roles-not-list", "no-tenant"])
def test_require_expr_refuses_other_claims_with_403(api, keys, claims):
    r = api.get("/cgi/expr.py", tok(keys, **claims))
    assert r.status_code == 403


def test_require_expr_refusing_valid_token_answers_insufficient_scope(api, keys):
    # a valid token whose claims do not satisfy the Require rules (ARCHITECTURE.md section 6)
    r = api.get("/cgi/expr.py", tok(keys, tenant="other"))
    assert r.status_code == 403
    assert challenge(r) == ("Bearer", {"realm": "orders-api", "error": "insufficient_scope"})


def test_require_expr_without_token_is_401_with_challenge(api):
    r = api.get("/cgi/expr.py")
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_require_expr_with_expired_token_is_401_invalid_token(api, keys):
    r = api.get("/cgi/expr.py", tok(keys, exp=now() - 3600, iat=now() - 7200))
    assert r.status_code == 401
    assert challenge(r)[1].get("error") == "invalid_token"


def test_require_expr_with_forged_token_is_401_invalid_token(api, keys):
    r = api.get("/cgi/expr.py", mint(keys.attacker, ADMIN_ACME))
    assert r.status_code == 401
    assert challenge(r)[1].get("error") == "invalid_token"


# ---------------------------------------------------------------------------------------------
# <If>

def test_if_on_claim_applies_when_true(api, keys):
    r = api.get("/cgi/if.py", tok(keys))
    assert r.status_code == 200
    assert r.headers.get("X-Tenant-Match") == "yes"
    assert r.json().get("TENANT_MATCH") == "yes"


def test_if_on_claim_takes_else_branch_when_false(api, keys):
    r = api.get("/cgi/if.py", tok(keys, tenant="other"))
    assert r.status_code == 200
    assert r.headers.get("X-Tenant-Match") == "no"
    assert "TENANT_MATCH" not in r.json()


def test_if_on_claim_sees_no_claims_of_a_forged_token(api, keys):
    r = api.get("/cgi/if.py", mint(keys.attacker, ADMIN_ACME))
    assert r.status_code == 401
    assert r.headers.get("X-Tenant-Match") != "yes"


def test_if_on_claim_works_with_cookie_token(api, keys):
    r = api.request("GET", "/cgi/ifcookie.py", headers={"Cookie": "at=" + tok(keys)})
    assert r.status_code == 200, api.log()[-2000:]
    assert r.headers.get("X-Tenant-Match") == "yes"


# ---------------------------------------------------------------------------------------------
# SetEnvIfExpr

@pytest.mark.parametrize("var,value", [("FROM_SETENVIF", "acme"), ("IS_OPS", "1"), ("TENANT_IN_LIST", "1"),
                                       ("NO_SUCH_EMPTY", "1"), ("POINTER_OK", "1"), ("AGE_TEXT", "1")])
def test_setenvifexpr_sets_variable_from_claims(api, keys, var, value):
    r = api.get("/cgi/setenvif.py", tok(keys))
    assert r.status_code == 200, api.log()[-2000:]
    assert r.json().get(var) == value


@pytest.mark.parametrize("var", ["FROM_SETENVIF", "IS_OPS", "TENANT_IN_LIST", "POINTER_OK", "AGE_TEXT"])
def test_setenvifexpr_does_not_set_variable_for_other_claims(api, keys, var):
    r = api.get("/cgi/setenvif.py", tok(keys, tenant="other", realm_access={"roles": ["x", "y"]}, age=7))
    assert r.status_code == 200
    assert var not in r.json()


# ---------------------------------------------------------------------------------------------
# mod_headers expr= values

def test_request_header_from_expr_reaches_cgi(api, keys):
    env = api.get("/cgi/reqheader.py", tok(keys)).json()
    assert env["HTTP_X_FROM_EXPR"] == "acme"


def test_request_header_from_expr_of_array_is_json(api, keys):
    env = api.get("/cgi/reqheader.py", tok(keys)).json()
    assert env["HTTP_X_ROLES_EXPR"] == '["admin","ops"]'


def test_request_header_from_expr_overrides_client_header(api, keys):
    env = api.get("/cgi/reqheader.py", tok(keys), headers={"X-From-Expr": "evil"}).json()
    assert env["HTTP_X_FROM_EXPR"] == "acme"


def test_response_header_from_expr(api, keys):
    r = api.get("/cgi/reqheader.py", tok(keys))
    assert r.headers.get("X-Sub-Expr") == "alice"


# ---------------------------------------------------------------------------------------------
# RewriteCond expr

def test_rewritecond_expr_in_server_context_matches(api, keys):
    r = api.get("/rw-tenant", tok(keys))
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/acme.html")


def test_rewritecond_expr_in_server_context_does_not_match_other_tenant(api, keys):
    r = api.get("/rw-tenant", tok(keys, tenant="other"))
    assert r.status_code == 404


def test_rewritecond_expr_in_server_context_ignores_forged_token(api, keys):
    r = api.get("/rw-tenant", mint(keys.attacker, ADMIN_ACME))
    assert r.status_code == 404


def test_rewritecond_expr_in_directory_context_matches(api, keys):
    r = api.get("/cgi/rw/rw.py", tok(keys))
    assert r.status_code == 200, api.log()[-2000:]
    assert r.json().get("RW_TENANT") == "yes"


def test_rewritecond_expr_in_directory_context_does_not_match_other_tenant(api, keys):
    r = api.get("/cgi/rw/rw.py", tok(keys, tenant="other"))
    assert r.status_code == 200
    assert "RW_TENANT" not in r.json()


# ---------------------------------------------------------------------------------------------
# LogFormat

def access_log(api):
    return os.path.join(api.root, "logs", "claims_access.log")


@pytest.mark.parametrize("path", ["/cgi/if.py", "/static/page.html"])
def test_logformat_logs_exported_claims(api, keys, path):
    marker = "m%d" % now() + path.replace("/", "-")
    r = api.get(path + "?" + marker, tok(keys))
    assert r.status_code == 200
    line = wait_for_line(access_log(api), marker)
    assert line is not None
    assert line.startswith('claimslog alice acme alice "GET %s?%s' % (path, marker)), line


def test_logformat_logs_no_claims_for_refused_request(api, keys):
    marker = "refused%d" % now()
    r = api.get("/cgi/if.py?" + marker, mint(keys.attacker, ADMIN_ACME))
    assert r.status_code == 401
    line = wait_for_line(access_log(api), marker)
    assert line is not None
    assert line.startswith('claimslog - - - "GET'), line


def test_logformat_logs_no_claims_for_anonymous_request(api):
    marker = "anon%d" % now()
    r = api.get("/cgi/optional.py?" + marker)
    assert r.status_code == 200
    line = wait_for_line(access_log(api), marker)
    assert line is not None
    assert line.startswith('claimslog - - - "GET'), line
