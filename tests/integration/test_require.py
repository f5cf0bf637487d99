"""Require claim / Require scope: in every authz container, typed matching, paths, scopes,
expressions, and the statuses that follow (SECURITY.md CL-48, CL-51..CL-54)."""
import http.client
import json

import pytest
import requests

from conftest import challenges, challenge, header_values, issuer_block, location, mint, sign, std_claims

P = "/cgi/env.py/"

LOCATIONS = {
    "admin": ["Require claim groups admin"],
    "all-of": ["<RequireAll>", "Require claim groups admin", "Require scope orders:read", "</RequireAll>"],
    "any-of": ["<RequireAny>", "Require claim groups admin", "Require claim sub alice", "</RequireAny>"],
    "any-scope": ["<RequireAny>", "Require scope admin:all", "Require claim sub alice", "</RequireAny>"],
    "any-fail": ["<RequireAny>", "Require claim groups admin", "Require scope admin:all", "</RequireAny>"],
    "any-granted": ["<RequireAny>", "Require claim groups admin", "Require all granted", "</RequireAny>"],
    "none-of": ["<RequireAll>", "Require valid-user", "<RequireNone>", "Require claim groups banned",
                "Require scope blocked", "</RequireNone>", "</RequireAll>"],
    "not": ["<RequireAll>", "Require claim sub alice bob", "Require not claim groups banned", "</RequireAll>"],
    "ip-all": ["<RequireAll>", "Require claim sub alice", "Require ip 127.0.0.1", "</RequireAll>"],
    "ip-any": ["<RequireAny>", "Require claim sub bob", "Require ip 127.0.0.1", "</RequireAny>"],
    "ip-elsewhere": ["<RequireAll>", "Require claim sub alice", "Require ip 192.0.2.1", "</RequireAll>"],
    "scope-then-ip": ["<RequireAll>", "Require scope orders:read", "Require ip 192.0.2.1", "</RequireAll>"],
    "scope-then-env": ["<RequireAll>", "Require scope orders:read", "Require env CLAIMS_TEST_UNSET", "</RequireAll>"],
    "scope-then-expr": ["<RequireAll>", "Require scope orders:read", "Require expr \"%{HTTP:X-Tool} != 'rm'\"",
                        "</RequireAll>"],
    "not-scope": ["<RequireAll>", "Require valid-user", "Require not scope blocked", "</RequireAll>"],
    "nested": ["<RequireAny>", "<RequireAll>", "Require claim groups ops", "Require scope deploy", "</RequireAll>",
               "Require claim groups admin", "</RequireAny>"],
    "lit-true": ["Require claim v true"],
    "lit-one": ["Require claim v 1"],
    "lit-one-half": ["Require claim v 1.5"],
    "lit-null": ["Require claim v null"],
    "lit-str-true": ["Require claim v '\"true\"'"],
    "lit-str-one": ["Require claim v '\"1\"'"],
    "lit-word": ["Require claim v admin"],
    "lit-quoted-word": ["Require claim v '\"admin\"'"],
    "lit-many": ["Require claim v a b c"],
    "lit-unicode": ["Require claim v ａｄｍｉｎ"],
    "dotted": ["Require claim realm_access.roles ops"],
    "pointer": ["Require claim /realm_access/roles ops"],
    "pointer-escaped": ["Require claim /a~1b/c~0d x"],
    "pointer-index": ["Require claim /groups/0 admin"],
    "dotted-name": ["Require claim https://example.com/roles admin"],
    "dotted-name-nested": ["Require claim https://example.com/claims.tenant acme"],
    "scope": ["Require scope orders:read"],
    "scopes": ["Require scope orders:read orders:write"],
    "tenant-header": ["Require claim tenant %{HTTP:X-Tenant}"],
    "scope-method": ["Require scope api:%{REQUEST_METHOD}"],
    "claims-claim": ["Require claims-claim groups admin"],
    "claims-scope": ["Require claims-scope orders:read"],
}


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuer_block(keys) + "".join(location(P + name, *lines) for name, lines in LOCATIONS.items())
    body += location(r'"^/cgi/env\.py/t/(?<tenant>[^/]+)"', "Require claim tenant %{env:MATCH_TENANT}", match=True)
    return make_module_httpd(body)


def tok(keys, **claims):
    return mint(keys.rsa, claims)


def assert_granted(api, r):
    assert r.status_code == 200, "%s %s\n%s" % (r.status_code, r.headers.get("WWW-Authenticate"), api.log()[-2000:])
    assert header_values(r, "WWW-Authenticate") == []


def assert_insufficient(r, scope=None):
    assert r.status_code == 403, r.status_code
    scheme, params = challenge(r)
    assert scheme == "Bearer"
    assert params["realm"] == "orders-api"
    assert params["error"] == "insufficient_scope"
    if scope is not None:
        assert params.get("scope") == scope
    # one Bearer challenge, and the DPoP one beside it (RFC 9449 section 7.1: ClaimsDPoP On)
    assert [v.split(" ")[0] for v in header_values(r, "WWW-Authenticate")] == ["Bearer", "DPoP"]
    assert "error" not in challenges(r)["DPoP"]


# ------------------------------------------------------------------ CL-53: anonymous is 401

@pytest.mark.parametrize("name", ["admin", "all-of", "any-of", "any-scope", "none-of", "not", "ip-all", "nested",
                                  "lit-true", "dotted", "pointer", "scope", "scopes", "tenant-header",
                                  "claims-claim", "claims-scope"])
def test_anonymous_request_is_401_not_403(api, name):
    r = api.get(P + name)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


# ------------------------------------------------------------------ containers (CL-51)

def test_require_claim_grants_a_matching_token(api, keys):
    assert_granted(api, api.get(P + "admin", tok(keys, groups=["users", "admin"])))


def test_require_claim_refuses_a_valid_token_with_403_insufficient_scope(api, keys):
    assert_insufficient(api.get(P + "admin", tok(keys, groups=["users"])))


@pytest.mark.parametrize("claims,granted", [
    ({"groups": ["admin"], "scope": "orders:read"}, True),
    ({"groups": ["admin"], "scope": "orders:write"}, False),
    ({"groups": ["users"], "scope": "orders:read"}, False),
    ({"groups": ["users"]}, False),
])
def test_require_all_needs_every_branch(api, keys, claims, granted):
    r = api.get(P + "all-of", tok(keys, **claims))
    assert_granted(api, r) if granted else assert_insufficient(r)


def test_require_any_grants_when_another_claim_branch_matches(api, keys):
    assert_granted(api, api.get(P + "any-of", tok(keys, groups=["users"])))


def test_require_any_grants_without_leaking_the_failed_scopes_challenge(api, keys):
    assert_granted(api, api.get(P + "any-scope", tok(keys, scope="orders:read")))


def test_require_any_with_every_branch_failing_is_403_with_one_challenge(api, keys):
    assert_insufficient(api.get(P + "any-fail", tok(keys, groups=["users"], scope="orders:read")))


@pytest.mark.parametrize("token", [None, "valid-failing"])
def test_require_any_with_all_granted_answers_200_without_challenge(api, keys, token):
    t = {None: None, "valid-failing": tok(keys, groups=["users"])}[token]
    assert_granted(api, api.get(P + "any-granted", t))


@pytest.mark.parametrize("claims,granted", [
    ({"groups": ["ops"], "scope": "deploy"}, True),
    ({"groups": ["admin"]}, True),
    ({"groups": ["ops"]}, False),
    ({"groups": ["dev"], "scope": "deploy"}, False),
])
def test_nested_containers_combine_claims_and_scopes(api, keys, claims, granted):
    r = api.get(P + "nested", tok(keys, **claims))
    assert_granted(api, r) if granted else assert_insufficient(r)


@pytest.mark.parametrize("claims,granted", [
    ({"groups": ["users"], "scope": "orders:read"}, True),
    ({"groups": ["users", "banned"]}, False),
    ({"scope": "orders:read blocked"}, False),
])
def test_require_none_refuses_tokens_matching_any_branch(api, keys, claims, granted):
    r = api.get(P + "none-of", tok(keys, **claims))
    if granted:
        assert_granted(api, r)
    else:
        assert r.status_code == 403


@pytest.mark.parametrize("claims,granted", [
    ({"groups": ["users"]}, True),
    ({"sub": "bob"}, True),
    ({"sub": "mallory"}, False),
])
def test_require_not_claim_grants_tokens_without_the_claim(api, keys, claims, granted):
    r = api.get(P + "not", tok(keys, **claims))
    assert_granted(api, r) if granted else assert_insufficient(r)


@pytest.mark.parametrize("name", ["not", "none-of"])
def test_negated_claim_match_is_403_insufficient_scope(api, keys, name):
    assert_insufficient(api.get(P + name, tok(keys, groups=["users", "banned"])))


def test_require_claim_combined_with_require_ip_grants_both(api, keys):
    assert_granted(api, api.get(P + "ip-all", tok(keys)))


def test_require_claim_combined_with_require_ip_refuses_the_wrong_claim(api, keys):
    assert_insufficient(api.get(P + "ip-all", tok(keys, sub="bob")))


@pytest.mark.parametrize("token", [None, "alice"])
def test_require_any_with_require_ip_grants_by_address(api, keys, token):
    assert_granted(api, api.get(P + "ip-any", tok(keys) if token else None))


def test_failing_require_ip_is_403_without_insufficient_scope(api, keys):
    r = api.get(P + "ip-elsewhere", tok(keys))
    assert r.status_code == 403
    assert challenge(r)[1].get("error") != "insufficient_scope"


def test_scope_that_passes_does_not_make_a_failing_ip_rule_insufficient_scope(api, keys):
    """A <RequireAll> whose scope line is satisfied and whose ip line fails: the token is not
    the problem, so no insufficient_scope (and no scope to ask for)."""
    for name, headers in (("scope-then-ip", {}), ("scope-then-env", {}), ("scope-then-expr", {"X-Tool": "rm"})):
        r = api.get(P + name, tok(keys, scope="orders:read"), headers=headers)
        assert r.status_code == 403, name
        assert "WWW-Authenticate" not in r.headers, (name, r.headers)
    assert api.get(P + "scope-then-expr", tok(keys, scope="orders:read"), headers={"X-Tool": "ls"}).status_code == 200


def test_negated_scope_that_is_present_is_insufficient_scope_without_a_scope_to_ask_for(api, keys):
    r = api.get(P + "not-scope", tok(keys, scope="orders:read blocked"))
    assert r.status_code == 403
    params = challenge(r)[1]
    assert params["error"] == "insufficient_scope" and "scope" not in params
    assert api.get(P + "not-scope", tok(keys, scope="orders:read")).status_code == 200


# ------------------------------------------------------------------ typed matching (CL-52, CL-48)

@pytest.mark.parametrize("name,value,granted", [
    ("lit-true", True, True),
    ("lit-true", "true", False),
    ("lit-true", 1, False),
    ("lit-true", [False, True], True),
    ("lit-true", ["true"], False),
    ("lit-one", 1, True),
    ("lit-one", 1.0, True),
    ("lit-one", "1", False),
    ("lit-one", True, False),
    ("lit-one", [2, 1], True),
    ("lit-one", ["1"], False),
    ("lit-one-half", 1.5, True),
    ("lit-one-half", "1.5", False),
    ("lit-null", None, True),
    ("lit-null", "null", False),
    ("lit-str-true", "true", True),
    ("lit-str-true", True, False),
    ("lit-str-one", "1", True),
    ("lit-str-one", 1, False),
    ("lit-word", "admin", True),
    ("lit-word", ["users", "admin"], True),
    ("lit-word", "Admin", False),
    ("lit-word", "ADMIN", False),
    ("lit-word", "ａｄｍｉｎ", False),
    ("lit-word", "admin\u200b", False),
    ("lit-word", "\u200badmin", False),
    ("lit-word", "admin ", False),
    ("lit-word", "adm", False),
    ("lit-word", "administrator", False),
    ("lit-word", "admin,users", False),
    ("lit-word", {"admin": True}, False),
    ("lit-word", [["admin"]], False),
    ("lit-word", "admın", False),
    ("lit-quoted-word", "admin", True),
    ("lit-quoted-word", "\"admin\"", False),
    ("lit-many", "b", True),
    ("lit-many", ["x", "c"], True),
    ("lit-many", "d", False),
    ("lit-many", "a b", False),
    ("lit-unicode", "ａｄｍｉｎ", True),
    ("lit-unicode", "admin", False),
])
def test_claim_values_match_by_exact_json_type_and_bytes(api, keys, name, value, granted):
    r = api.get(P + name, tok(keys, v=value) if value is not None else _with_null_v(keys))
    assert_granted(api, r) if granted else assert_insufficient(r)


def _with_null_v(keys):
    text = json.dumps(std_claims())[:-1] + ', "v": null}'
    return sign(keys.rsa, {"alg": "RS256", "kid": "rsa-1"}, text)


@pytest.mark.parametrize("name", ["lit-true", "lit-one", "lit-word", "lit-str-one"])
def test_missing_claim_never_matches(api, keys, name):
    assert_insufficient(api.get(P + name, tok(keys)))


# ------------------------------------------------------------------ paths

@pytest.mark.parametrize("name,claims,granted", [
    ("dotted", {"realm_access": {"roles": ["dev", "ops"]}}, True),
    ("dotted", {"realm_access": {"roles": "ops"}}, True),
    ("dotted", {"realm_access": {"roles": ["dev"]}}, False),
    ("dotted", {"realm_access": ["ops"]}, False),
    ("dotted", {"roles": ["ops"]}, False),
    ("dotted", {"realm_access.roles": ["ops"]}, True),
    ("pointer", {"realm_access": {"roles": ["ops"]}}, True),
    ("pointer", {"realm_access": {"roles": ["dev"]}}, False),
    ("pointer", {"realm_access.roles": ["ops"]}, False),
    ("pointer-escaped", {"a/b": {"c~d": "x"}}, True),
    ("pointer-escaped", {"a": {"b": {"c~d": "x"}}}, False),
    ("pointer-escaped", {"a/b": {"c/d": "x"}}, False),
    ("pointer-index", {"groups": ["admin", "users"]}, True),
    ("pointer-index", {"groups": ["users", "admin"]}, False),
    ("dotted-name", {"https://example.com/roles": ["admin"]}, True),
    ("dotted-name", {"https://example.com/roles": ["user"]}, False),
    ("dotted-name", {"https://example": {"com/roles": ["user"]}}, False),
    ("dotted-name-nested", {"https://example.com/claims": {"tenant": "acme"}}, True),
    ("dotted-name-nested", {"https://example.com/claims": {"tenant": "other"}}, False),
])
def test_claim_paths_select_the_value(api, keys, name, claims, granted):
    r = api.get(P + name, tok(keys, **claims))
    assert_granted(api, r) if granted else assert_insufficient(r)


# ------------------------------------------------------------------ scopes (CL-52)

@pytest.mark.parametrize("claims", [
    {"scope": "orders:read"},
    {"scope": "orders:write orders:read"},
    {"scope": "  orders:read  other "},
    {"scp": ["orders:read"]},
    {"scp": ["x", "orders:read"]},
    {"scp": "orders:read other"},
], ids=["scope", "scope-list", "scope-extra-spaces", "scp-array", "scp-array-second", "scp-string"])
def test_require_scope_grants_a_listed_scope(api, keys, claims):
    assert_granted(api, api.get(P + "scope", tok(keys, **claims)))


@pytest.mark.parametrize("claims", [
    {"scope": "orders:readwrite"},
    {"scope": "xorders:read"},
    {"scope": "orders"},
    {"scope": "orders:"},
    {"scope": "orders:read,orders:write"},
    {"scope": "orders:read\torders:write"},
    {"scope": "Orders:Read"},
    {"scope": ""},
    {"scp": ["orders:read orders:write"]},
    {"scp": ["orders:readwrite"]},
    {"scp": [["orders:read"]]},
    {"scope_list": "orders:read"},
    {},
], ids=["longer", "prefixed", "prefix", "prefix-colon", "comma", "tab", "case", "empty", "scp-element-with-space",
        "scp-longer", "scp-nested", "other-claim", "missing"])
def test_require_scope_never_matches_substrings_or_variants(api, keys, claims):
    assert_insufficient(api.get(P + "scope", tok(keys, **claims)), scope="orders:read")


@pytest.mark.parametrize("claims,granted", [
    ({"scope": "orders:read orders:write"}, True),
    ({"scp": ["orders:write", "orders:read"]}, True),
    ({"scope": "orders:read"}, False),
    ({"scp": ["orders:write"]}, False),
])
def test_require_scope_needs_every_listed_scope(api, keys, claims, granted):
    r = api.get(P + "scopes", tok(keys, **claims))
    if granted:
        assert_granted(api, r)
    else:
        assert_insufficient(r, scope="orders:read orders:write")


# ------------------------------------------------------------------ %{...} values

@pytest.mark.parametrize("header,granted", [("acme", True), ("other", False), (None, False), ("ACME", False)])
def test_require_claim_value_from_a_request_header_expression(api, keys, header, granted):
    headers = {"X-Tenant": header} if header is not None else {}
    r = api.get(P + "tenant-header", tok(keys, tenant="acme"), headers=headers)
    assert_granted(api, r) if granted else assert_insufficient(r)


# issue 12 item 10: the client chose the JSON type of the expected value
@pytest.mark.parametrize("tenant,header,granted", [
    (42, "4.2e1", False), (42, "42", False), (42, "42.0", False), (None, "null", False),
    (True, "true", False), ("42", "42", True), ("null", "null", True), ("4.2e1", "4.2e1", True),
    (["x", 42], "42", False), (["x", "42"], "42", True)])
def test_require_claim_value_from_an_expression_is_always_a_string(api, keys, tenant, header, granted):
    r = api.get(P + "tenant-header", tok(keys, tenant=tenant), headers={"X-Tenant": header})
    assert_granted(api, r) if granted else assert_insufficient(r)


@pytest.mark.parametrize("tenant,granted", [("acme", True), ("other", False)])
def test_require_claim_value_from_a_location_match_capture(api, keys, tenant, granted):
    r = api.get("/cgi/env.py/t/%s/orders" % tenant, tok(keys, tenant="acme"))
    assert_granted(api, r) if granted else assert_insufficient(r)


@pytest.mark.parametrize("method,granted", [("GET", True), ("POST", False)])
def test_require_scope_value_from_an_expression(api, keys, method, granted):
    r = api.request(method, P + "scope-method", headers={"Authorization": "Bearer " + tok(keys, scope="api:GET")})
    assert_granted(api, r) if granted else assert_insufficient(r)


# ------------------------------------------------------------------ alternative spellings

@pytest.mark.parametrize("name,claims,granted", [
    ("claims-claim", {"groups": ["admin"]}, True),
    ("claims-claim", {"groups": ["users"]}, False),
    ("claims-scope", {"scope": "orders:read"}, True),
    ("claims-scope", {"scope": "orders:write"}, False),
])
def test_claims_prefixed_provider_names_work(api, keys, name, claims, granted):
    r = api.get(P + name, tok(keys, **claims))
    assert_granted(api, r) if granted else assert_insufficient(r)


# ------------------------------------------------------------------ CL-54: nothing carries over

def _exchange(conn, path, token=None):
    headers = {"Host": "127.0.0.1"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, resp.getheader("WWW-Authenticate"), body


@pytest.mark.parametrize("second", ["no-token", "failing-token", "invalid-token"])
def test_keep_alive_connection_does_not_reuse_a_previous_requests_claims(api, keys, second):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        status, _, body = _exchange(conn, P + "admin", tok(keys, groups=["admin"]))
        assert status == 200
        assert json.loads(body)["REMOTE_USER"] == "alice"
        sock = conn.sock
        assert sock is not None
        token = {"no-token": None, "failing-token": tok(keys, sub="bob", groups=["users"]),
                 "invalid-token": mint(keys.attacker, {"groups": ["admin"]})}[second]
        status, www, body = _exchange(conn, P + "admin", token)
        assert conn.sock is sock, "the server closed the connection; keep-alive not exercised"
        assert status == {"no-token": 401, "failing-token": 403, "invalid-token": 401}[second]
        assert b"REMOTE_USER" not in body
    finally:
        conn.close()


def test_keep_alive_session_with_requests_answers_401_after_a_valid_request(api, keys):
    with requests.Session() as s:
        r1 = s.get(api.url + P + "admin", headers={"Authorization": "Bearer " + tok(keys, groups=["admin"])})
        assert r1.status_code == 200
        r2 = s.get(api.url + P + "admin")
        assert r2.status_code == 401
        assert challenge(r2) == ("Bearer", {"realm": "orders-api"})


# ------------------------------------------------------------------ CL-54, CL-68: concurrent requests

def test_concurrent_requests_each_see_only_their_own_claims(api, keys):
    """Many requests at once on the threaded (event) MPM, each with its own token: every answer
    is decided on that request's own claims and carries only its own identity."""
    from concurrent.futures import ThreadPoolExecutor
    import threading

    cases = []
    for i in range(150):
        kind = ("admin", "user", "forged")[i % 3]
        sub = "user-%03d" % i
        claims = {"sub": sub, "tenant": "tenant-%03d" % i, "groups": ["admin"] if kind != "user" else ["users"]}
        token = mint(keys.attacker if kind == "forged" else keys.rsa, claims)
        cases.append((kind, sub, "tenant-%03d" % i, token))
    local = threading.local()

    def one(case):
        kind, sub, tenant, token = case
        s = getattr(local, "session", None)
        if s is None:
            s = local.session = requests.Session()
        r = s.get(api.url + P + "admin", headers={"Authorization": "Bearer " + token}, timeout=20)
        return case, r.status_code, (r.json() if r.status_code == 200 else r.text)

    with ThreadPoolExecutor(16) as ex:
        results = list(ex.map(one, cases))
    for (kind, sub, tenant, _), status, body in results:
        if kind == "admin":
            assert status == 200, (sub, status)
            assert (body["REMOTE_USER"], body["CLAIM_SUB"], body["CLAIM_TENANT"]) == (sub, sub, tenant)
        else:
            assert status == {"user": 403, "forged": 401}[kind], (sub, kind, status)
            assert "REMOTE_USER" not in body and "tenant-" not in body
