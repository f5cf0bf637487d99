"""The verified identity as CGI, SSI and internal redirects see it: REMOTE_USER, AUTH_TYPE,
CLAIM_* variables, CLAIMS_JSON, CLAIMS_ISSUER (ARCHITECTURE.md section 5; SECURITY.md
CL-76..CL-84)."""
import base64
import json
import re

import pytest

from conftest import ISSUER, OTHER_ISSUER, issuer_block, location, mint, sign, std_claims

ID = "/cgi/env.py/id"

SSI_PAGE = """<html><body>
SUB=<!--#echo var="CLAIM_SUB" -->
USER=<!--#echo var="REMOTE_USER" -->
ISSUER=<!--#echo var="CLAIMS_ISSUER" -->
INCLUDED=<!--#include virtual="/cgi/env.py/id" -->
END
</body></html>
"""


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuer_block(keys) + """
<ClaimsIssuer %s>
    ClaimsKeyFile %s
    ClaimsAudience https://api.test
</ClaimsIssuer>
""" % (OTHER_ISSUER, keys.other_jwks_path)
    body += "".join([
        location(ID, "Require valid-user"),
        location("/cgi/env.py/none", "ClaimsExport none", "Require valid-user"),
        location("/cgi/env.py/some", "ClaimsExport sub realm_access.roles tenant", "Require valid-user"),
        location("/cgi/env.py/some-colliding", "ClaimsExport a_b a-b", "Require valid-user"),
        location("/cgi/env.py/optional", "ClaimsOptional On", "Require all granted"),
        location("/app/", "Require valid-user"),
        location("/err/", "Require valid-user", "ErrorDocument 404 /cgi/env.py/id"),
        location("/ssi/", "Require valid-user"),
        location("/cgi/env.py/preset", "Require valid-user",
                 'SetEnvIf Request_URI "preset" CLAIM_SUB=mallory claim_email=mallory CLAIMS_JSON=mallory '
                 "claims_issuer=mallory CLAIM_ROLES_N=99"),
    ])
    h = make_module_httpd(body, start=False)
    h.body += """
<Directory %(root)s/htdocs/app>
    DirectoryIndex index.py
    AddHandler cgi-script .py
</Directory>
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
""" % {"root": h.root}
    h.write_file("htdocs/app/index.py", open(h.root + "/cgi-bin/env.py").read(), mode=0o755)
    h.write_file("htdocs/ssi/page.shtml", SSI_PAGE)
    return h.start()


def env_of(api, path, token, **kw):
    r = api.get(path, token, **kw)
    assert r.status_code == 200, "%s %s\n%s" % (r.status_code, r.headers.get("WWW-Authenticate"), api.log()[-2000:])
    return r.json()


def claim_vars(env):
    return {k: v for k, v in env.items() if k.startswith("CLAIM_")}


# ------------------------------------------------------------------ REMOTE_USER, AUTH_TYPE (CL-76)

def test_remote_user_is_sub_and_auth_type_is_bearer(api, keys):
    env = env_of(api, ID, mint(keys.rsa, sub="alice"))
    assert env["REMOTE_USER"] == "alice"
    assert env["AUTH_TYPE"] == "Bearer"


def test_claims_issuer_names_the_verifying_issuer(api, keys):
    assert env_of(api, ID, mint(keys.rsa))["CLAIMS_ISSUER"] == ISSUER
    assert env_of(api, ID, mint(keys.other, iss=OTHER_ISSUER))["CLAIMS_ISSUER"] == OTHER_ISSUER


def test_claims_json_is_the_verified_payload(api, keys):
    claims = {"groups": ["a", "b"], "n": 1.5, "o": {"x": [1, {"y": None}]}, "u": "jürgen"}
    token = mint(keys.rsa, claims)
    env = env_of(api, ID, token)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert json.loads(env["CLAIMS_JSON"]) == payload


# ------------------------------------------------------------------ CLAIM_* values (CL-77, CL-78)

@pytest.mark.parametrize("name,value,expected", [
    ("s", "text", {"CLAIM_S": "text"}),
    ("u", "jürgen ａｄｍｉｎ", {"CLAIM_U": "jürgen ａｄｍｉｎ"}),
    ("nl", "a\nb", {"CLAIM_NL": "a\nb"}),
    ("n", 42, {"CLAIM_N": "42"}),
    ("neg", -7, {"CLAIM_NEG": "-7"}),
    ("big", 2 ** 53 + 1, {"CLAIM_BIG": "9007199254740993"}),
    ("f", 1.5, {"CLAIM_F": "1.5"}),
    ("t", True, {"CLAIM_T": "true"}),
    ("b", False, {"CLAIM_B": "false"}),
    ("z", None, {"CLAIM_Z": "null"}),
    ("o", {"a": 1, "b": [True]}, {"CLAIM_O": '{"a":1,"b":[true]}'}),
    ("arr", ["a", "b"], {"CLAIM_ARR": "a,b", "CLAIM_ARR_0": "a", "CLAIM_ARR_1": "b", "CLAIM_ARR_N": "2"}),
    ("one", ["x"], {"CLAIM_ONE": "x", "CLAIM_ONE_0": "x", "CLAIM_ONE_N": "1"}),
    # in the joined value ',' and '\\' inside an element are escaped with '\\' (CL-78)
    ("comma", ["a,b", "c"], {"CLAIM_COMMA": "a\\,b,c", "CLAIM_COMMA_0": "a,b", "CLAIM_COMMA_1": "c",
                             "CLAIM_COMMA_N": "2"}),
    ("backslash", ["a\\", "b"], {"CLAIM_BACKSLASH": "a\\\\,b", "CLAIM_BACKSLASH_0": "a\\",
                                  "CLAIM_BACKSLASH_1": "b", "CLAIM_BACKSLASH_N": "2"}),
    ("mixed", [1, "x", True, {"k": "v"}], {"CLAIM_MIXED": '1,x,true,{"k":"v"}', "CLAIM_MIXED_0": "1",
                                           "CLAIM_MIXED_1": "x", "CLAIM_MIXED_2": "true",
                                           "CLAIM_MIXED_3": '{"k":"v"}', "CLAIM_MIXED_N": "4"}),
    ("empty", [], {"CLAIM_EMPTY": "", "CLAIM_EMPTY_N": "0"}),
])
def test_claim_values_are_exported_in_canonical_form(api, keys, name, value, expected):
    if value is None:
        token = sign(keys.rsa, {"alg": "RS256", "kid": "rsa-1"}, json.dumps(std_claims())[:-1] + ', "z": null}')
    else:
        token = mint(keys.rsa, {name: value})
    env = env_of(api, ID, token)
    for k, v in expected.items():
        assert env.get(k) == v, k
    prefix = "CLAIM_" + name.upper()
    assert {k for k in env if k == prefix or re.match(re.escape(prefix) + r"_(\d+|N)$", k)} == set(expected)


def test_long_arrays_export_the_first_256_elements_and_the_full_count(api, keys):
    env = env_of(api, ID, mint(keys.rsa, {"many": list(range(300))}))
    assert env["CLAIM_MANY_N"] == "300"
    assert env["CLAIM_MANY_255"] == "255"
    assert "CLAIM_MANY_256" not in env
    assert env["CLAIM_MANY"] == ",".join(str(i) for i in range(300))


@pytest.mark.parametrize("name,var", [
    ("MiXed", "CLAIM_MIXED"),
    ("a-b.c/d", "CLAIM_A_B_C_D"),
    ("https://example.com/roles", "CLAIM_HTTPS___EXAMPLE_COM_ROLES"),
    ("x-ü", "CLAIM_X___"),
    ("with space", "CLAIM_WITH_SPACE"),
    ("http_host", "CLAIM_HTTP_HOST"),
])
def test_claim_names_map_to_prefixed_upper_case_variables(api, keys, name, var):
    env = env_of(api, ID, mint(keys.rsa, {name: "v"}))
    assert env.get(var) == "v"


def test_no_claim_becomes_an_http_variable(api, keys):
    env = env_of(api, ID, mint(keys.rsa, {"HTTP_HOST": "evil", "http-x": "evil"}))
    assert env["HTTP_HOST"].startswith("127.0.0.1")
    assert "HTTP_X" not in env


def test_every_top_level_claim_is_exported_by_default(api, keys):
    env = env_of(api, ID, mint(keys.rsa, {"tenant": "acme"}))
    assert {"CLAIM_ISS", "CLAIM_AUD", "CLAIM_SUB", "CLAIM_IAT", "CLAIM_EXP", "CLAIM_TENANT"} <= set(env)


@pytest.mark.parametrize("order", ["dash-first", "underscore-first"])
def test_colliding_claim_names_export_neither_claim(api, keys, order):
    """issue 12 item 9 (CL-77): no claim takes another's variable, in any order."""
    pairs = [("a-b", "dash"), ("a_b", "underscore")]
    if order == "underscore-first":
        pairs.reverse()
    env = env_of(api, ID, mint(keys.rsa, dict(pairs)))
    assert "CLAIM_A_B" not in env
    assert env["CLAIM_SUB"] == "alice"


@pytest.mark.parametrize("claims", [{"sub": "alice", "SUB": "admin"}, {"SUB": "admin", "sub": "alice"}])
def test_claim_spelled_like_another_in_other_case_takes_nothing(api, keys, claims):
    env = env_of(api, ID, mint(keys.rsa, claims))
    assert "CLAIM_SUB" not in env
    assert env["REMOTE_USER"] == "alice"


@pytest.mark.parametrize("order", ["array-first", "scalar-first"])
def test_claim_colliding_with_an_array_element_variable_does_not_replace_it(api, keys, order):
    pairs = [("x", ["one", "two"]), ("x_0", "spoof"), ("x_n", "99")]
    if order == "scalar-first":
        pairs.reverse()
    env = env_of(api, ID, mint(keys.rsa, dict(pairs)))
    assert "CLAIM_X_0" not in env and "CLAIM_X_N" not in env
    assert env["CLAIM_X"] == "one,two"
    assert env["CLAIM_X_1"] == "two"


@pytest.mark.parametrize("claims", [{"groups": ["user"], "Groups_0": "admin"}, {"Groups_0": "admin", "groups": ["user"]}])
def test_claim_named_like_an_element_variable_never_fakes_an_element(api, keys, claims):
    """issue 12 item 9: {"groups":["user"],"Groups_0":"admin"} gave CLAIM_GROUPS_0=admin."""
    env = env_of(api, ID, mint(keys.rsa, claims))
    assert env.get("CLAIM_GROUPS_0") != "admin"
    assert "CLAIM_GROUPS_0" not in env
    assert env["CLAIM_GROUPS"] == "user"


@pytest.mark.parametrize("cache_hit", [False, True])
def test_export_collision_is_logged_on_every_request(api, keys, cache_hit):
    """With the cache on, the pairs are made once per token: the collision is still told on
    each request that uses them (and with the cache off, on each request anyway)."""
    t = mint(keys.rsa, {"a-b": "x", "a_b": "y", "jti": "collide-%s" % cache_hit})
    before = api.log().count("CLAIM_A_B not exported")
    env_of(api, ID, t)
    if cache_hit:
        env_of(api, ID, t)
    assert api.log().count("CLAIM_A_B not exported") == before + (2 if cache_hit else 1), api.log()[-2000:]


# ------------------------------------------------------------------ ClaimsExport

def test_claims_export_none_exports_no_claim_variables(api, keys):
    env = env_of(api, "/cgi/env.py/none", mint(keys.rsa, {"tenant": "acme"}))
    assert claim_vars(env) == {}
    assert env["REMOTE_USER"] == "alice"


def test_claims_export_list_exports_only_the_listed_claims(api, keys):
    env = env_of(api, "/cgi/env.py/some", mint(keys.rsa, {"tenant": "acme", "other": "x",
                                                         "realm_access": {"roles": ["ops", "dev"]}}))
    assert claim_vars(env) == {
        "CLAIM_SUB": "alice", "CLAIM_TENANT": "acme", "CLAIM_REALM_ACCESS_ROLES": "ops,dev",
        "CLAIM_REALM_ACCESS_ROLES_0": "ops", "CLAIM_REALM_ACCESS_ROLES_1": "dev", "CLAIM_REALM_ACCESS_ROLES_N": "2",
    }


def test_claims_export_list_skips_absent_claims(api, keys):
    env = env_of(api, "/cgi/env.py/some", mint(keys.rsa))
    assert claim_vars(env) == {"CLAIM_SUB": "alice"}


def test_colliding_claims_in_an_export_list_export_neither(api, keys):
    env = env_of(api, "/cgi/env.py/some-colliding", mint(keys.rsa, {"a-b": "dash", "a_b": "underscore"}))
    assert claim_vars(env) == {}


# ------------------------------------------------------------------ client headers (CL-83, CL-84)

@pytest.mark.parametrize("header,var,client_var", [
    ("Claim-Sub", "CLAIM_SUB", "HTTP_CLAIM_SUB"),
    ("Claims-Json", "CLAIMS_JSON", "HTTP_CLAIMS_JSON"),
    ("Claims-Issuer", "CLAIMS_ISSUER", "HTTP_CLAIMS_ISSUER"),
    ("Remote-User", "REMOTE_USER", "HTTP_REMOTE_USER"),
    ("Auth-Type", "AUTH_TYPE", "HTTP_AUTH_TYPE"),
])
def test_client_header_cannot_override_an_identity_variable(api, keys, header, var, client_var):
    token = mint(keys.rsa)
    honest = env_of(api, ID, token)[var]
    env = env_of(api, ID, token, headers={header: "mallory"})
    assert env[var] == honest
    assert env[var] != "mallory"
    assert env.get(client_var, "mallory") == "mallory"  # if it arrives at all, only under HTTP_


def test_identity_variables_set_earlier_by_the_configuration_are_replaced(api, keys):
    """SetEnvIf (or a sub-request's copy) may have set variables with our names before fixups:
    each is replaced by ours, whatever its case, and none is left beside ours."""
    token = mint(keys.rsa, email="alice@example.test", roles=["a", "b"])
    env = env_of(api, "/cgi/env.py/preset", token)
    assert env["CLAIM_SUB"] == "alice"
    assert env["CLAIM_EMAIL"] == "alice@example.test"
    assert env["CLAIM_ROLES_N"] == "2"
    assert env["CLAIMS_ISSUER"] == ISSUER
    assert json.loads(env["CLAIMS_JSON"])["sub"] == "alice"
    assert "mallory" not in json.dumps(env), {k: v for k, v in env.items() if "mallory" in v}


def test_client_header_with_underscores_never_reaches_the_environment(api, keys):
    env = env_of(api, ID, mint(keys.rsa), headers={"CLAIM_SUB": "mallory", "X_Claim_Sub": "mallory"})
    assert env["CLAIM_SUB"] == "alice"
    assert "mallory" not in json.dumps(env)


def test_authorization_header_is_not_passed_to_cgi(api, keys):
    token = mint(keys.rsa)
    env = env_of(api, ID, token)
    assert "HTTP_AUTHORIZATION" not in env
    assert token not in json.dumps(env)


# ------------------------------------------------------------------ ClaimsOptional (CL-82)

def test_optional_location_without_token_gets_no_identity(api):
    env = env_of(api, "/cgi/env.py/optional", None, headers={"Claim-Sub": "mallory"})
    assert claim_vars(env) == {}
    assert "REMOTE_USER" not in env
    assert "CLAIMS_JSON" not in env
    assert "CLAIMS_ISSUER" not in env
    assert env.get("AUTH_TYPE") != "Bearer"


def test_optional_location_with_token_gets_the_identity(api, keys):
    env = env_of(api, "/cgi/env.py/optional", mint(keys.rsa))
    assert env["REMOTE_USER"] == "alice"
    assert env["CLAIM_SUB"] == "alice"


def test_optional_location_refuses_an_invalid_token(api, keys):
    r = api.get("/cgi/env.py/optional", mint(keys.attacker))
    assert r.status_code == 401
    assert "CLAIM_SUB" not in r.text


# ------------------------------------------------------------------ redirects and sub-requests

def test_identity_survives_directory_index_redirect(api, keys):
    env = env_of(api, "/app/", mint(keys.rsa, {"tenant": "acme"}))
    assert env["SCRIPT_NAME"] == "/app/index.py"
    assert env["REMOTE_USER"] == "alice"
    assert env["CLAIM_SUB"] == "alice"
    assert env["CLAIM_TENANT"] == "acme"
    assert env["CLAIMS_ISSUER"] == ISSUER


def test_directory_index_redirect_is_still_protected(api):
    r = api.get("/app/")
    assert r.status_code == 401


def test_identity_survives_error_document_redirect(api, keys):
    r = api.get("/err/missing.html", mint(keys.rsa, {"tenant": "acme"}))
    assert r.status_code == 404
    env = r.json()
    assert env["REDIRECT_STATUS"] == "404"
    assert env["REMOTE_USER"] == "alice"
    assert env["CLAIM_SUB"] == "alice"
    assert env["CLAIM_TENANT"] == "acme"


def test_error_document_redirect_without_token_shows_no_identity(api):
    r = api.get("/err/missing.html")
    assert r.status_code == 401
    assert "CLAIM_" not in r.text


def _ssi_fields(text):
    fields = {}
    for line in text.splitlines():
        m = re.match(r"^(SUB|USER|ISSUER|INCLUDED)=(.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2)
    return fields


def test_ssi_echo_sees_the_identity(api, keys):
    r = api.get("/ssi/page.shtml", mint(keys.rsa, sub="bob"))
    assert r.status_code == 200, api.log()[-2000:]
    f = _ssi_fields(r.text)
    assert f["SUB"] == "bob"
    assert f["USER"] == "bob"
    assert f["ISSUER"] == ISSUER


def test_ssi_include_virtual_sub_request_sees_the_identity(api, keys):
    r = api.get("/ssi/page.shtml", mint(keys.rsa, sub="bob", tenant="acme"))
    assert r.status_code == 200, api.log()[-2000:]
    env = json.loads(_ssi_fields(r.text)["INCLUDED"])
    assert env["REMOTE_USER"] == "bob"
    assert env["CLAIM_SUB"] == "bob"
    assert env["CLAIM_TENANT"] == "acme"


def test_ssi_page_without_token_is_401(api):
    r = api.get("/ssi/page.shtml")
    assert r.status_code == 401
    assert "SUB=" not in r.text


# ------------------------------------------------------------------ CL-78: the joined array value

def test_joined_array_value_tells_different_arrays_apart(api, keys):
    # SECURITY.md CL-78: arrays are "joined by a documented separator that cannot appear
    # unescaped in values", so the joined CLAIM_<NAME> of different arrays must differ
    arrays = [["a,b", "c"], ["a", "b,c"], ["a", "b", "c"], ["a,b,c"]]
    joined = [env_of(api, ID, mint(keys.rsa, {"x": a}))["CLAIM_X"] for a in arrays]
    assert len(set(joined)) == len(arrays), dict(zip(map(json.dumps, arrays), joined))
