"""Protected resource metadata (RFC 9728; issue 16; SECURITY.md CL-55, CL-100): the document a
location with ClaimsResource publishes at /.well-known/oauth-protected-resource[/path], field by
field, how it is served (without authentication, CORS, cache headers, methods), the
resource_metadata parameter of every challenge there, the resource as the default audience, and
the configtest errors."""
import json

import pytest

from conftest import (AUDIENCE, ISSUER, OTHER_ISSUER, challenge, challenges, header_values, issuer_block, location,
                      mint, raw_http)

RESOURCE = "https://api.test/mcp"
WELL_KNOWN = "/.well-known/oauth-protected-resource/mcp"
METADATA_URL = "https://api.test" + WELL_KNOWN
DOCS = "https://docs.test/mcp#auth"
ODD = "https://api.test:8443/t~1/odd!$&'()*+,;=:@/x?tenant=a%2Fb&v=1"


def issuers(keys):
    return (issuer_block(keys) + "<ClaimsIssuer %s>\n    ClaimsKeyFile %s\n    ClaimsAudience %s\n</ClaimsIssuer>\n"
            % (OTHER_ISSUER, keys.other_jwks_path, AUDIENCE))


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuers(keys) + "".join([
        location("/mcp", "ClaimsResource " + RESOURCE, "ClaimsTrust " + ISSUER, "ClaimsResourceDocs " + DOCS,
                 "<RequireAll>",
                 "  Require scope mcp:tools",
                 "  <RequireAny>",
                 "    Require expr \"%{HTTP:Mcp-Name} != 'delete_all'\"",
                 "    Require scope mcp:admin",
                 "  </RequireAny>",
                 "  Require not scope mcp:banned",
                 "  <RequireNone>",
                 "    Require scope mcp:suspended",
                 "  </RequireNone>",
                 "</RequireAll>"),
        # a nested section adds its scopes to the same resource (it inherits ClaimsResource)
        location("/mcp/reports", "Require scope mcp:reports %{HTTP:X-Dynamic}"),
        location("/all", "ClaimsResource https://api.test/", "ClaimsTokenFrom header form query cookie=at",
                 "Require valid-user"),
        location("/named", "ClaimsResource https://api.test/named", "ClaimsTokenFrom query=tok cookie=at",
                 "Require valid-user"),
        location("/quiet", "ClaimsResource https://api.test/quiet", "ClaimsResourceMetadata Off",
                 "Require valid-user"),
        location("/odd", "ClaimsResource " + ODD, "Require valid-user"),
        location("/plain", "Require valid-user"),
        location("/aud", "ClaimsResource https://api.test/aud", "ClaimsAudience https://other.test",
                 "Require valid-user"),
    ])
    h = make_module_httpd(body, start=False)
    for d in ("mcp", "mcp/reports", "all", "named", "quiet", "odd", "plain", "aud"):
        h.write_file("htdocs/%s/index.html" % d, "protected %s\n" % d)
    return h.start()


def document(api, path=WELL_KNOWN, **kw):
    r = api.get(path, **kw)
    assert r.status_code == 200, (r.status_code, r.text)
    return r, json.loads(r.content)


def token(keys, **claims):
    return mint(keys.rsa, dict({"aud": RESOURCE, "scope": "mcp:tools"}, **claims))


# ------------------------------------------------------------------ the document, field by field

def test_document_is_json_with_the_resource_byte_identical(api):
    r, doc = document(api)
    assert r.headers["Content-Type"] == "application/json"
    assert doc["resource"] == RESOURCE
    assert ('"resource": "%s"' % RESOURCE).encode() in r.content


def test_authorization_servers_are_the_issuers_trusted_there(api):
    _, doc = document(api)
    assert doc["authorization_servers"] == [ISSUER]
    _, every = document(api, "/.well-known/oauth-protected-resource")
    assert every["authorization_servers"] == [ISSUER, OTHER_ISSUER]  # no ClaimsTrust: all, in order


def test_scopes_supported_come_from_the_require_scope_lines(api):
    _, doc = document(api)
    # required (also in <RequireAny>) and nested sections' scopes; never a negated one or an expression
    assert doc["scopes_supported"] == ["mcp:tools", "mcp:admin", "mcp:reports"]


def test_bearer_methods_follow_claims_token_from(api):
    assert document(api)[1]["bearer_methods_supported"] == ["header"]
    assert document(api, "/.well-known/oauth-protected-resource")[1]["bearer_methods_supported"] == \
        ["header", "body", "query"]
    # a cookie is no RFC 6750 method, a query parameter not named access_token is not section 2.3
    assert document(api, "/.well-known/oauth-protected-resource/named")[1]["bearer_methods_supported"] == []


def test_documentation_and_absent_members(api):
    _, doc = document(api)
    assert doc["resource_documentation"] == DOCS
    _, other = document(api, "/.well-known/oauth-protected-resource/named")
    assert "scopes_supported" not in other and "resource_documentation" not in other
    for d in (doc, other):
        # no key of the resource's own; no certificate can come from a proxy here (mod_ssl's own
        # client authentication is not the module's to advertise)
        for absent in ("jwks_uri", "tls_client_certificate_bound_access_tokens"):
            assert absent not in d
        # ClaimsDPoP On, the default (RFC 9449 section 5.1, RFC 9728 section 2)
        assert d["dpop_signing_alg_values_supported"] == ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                                          "ES256", "ES384", "ES512", "Ed25519", "Ed448", "EdDSA"]
        assert d["dpop_bound_access_tokens_required"] is False


def test_resource_with_query_and_odd_characters_is_served_at_its_own_path(api):
    path = "/.well-known/oauth-protected-resource/t~1/odd!$&'()*+,;=:@/x?tenant=a%2Fb&v=1"
    status, hdrs, body = raw_http(api, ("GET %s HTTP/1.1\r\nHost: api.test:8443\r\nConnection: close\r\n\r\n"
                                        % path).encode())
    assert status == 200
    assert json.loads(body)["resource"] == ODD
    assert ('"resource": "%s"' % ODD).encode() in body
    assert api.get("/.well-known/oauth-protected-resource/t~1/odd!$&'()*+,;=:@/x").status_code == 404


# ------------------------------------------------------------------ serving

def test_metadata_is_served_without_a_token_where_everything_needs_one(make_httpd, keys):
    h = make_httpd(issuer_block(keys) + location("/", "ClaimsResource https://api.test/", "Require valid-user"))
    assert h.get("/index.html").status_code == 401
    r, doc = document(h, "/.well-known/oauth-protected-resource")
    assert doc["resource"] == "https://api.test/"


def test_cache_headers_and_conditional_get(api):
    r, _ = document(api)
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    etag = r.headers["ETag"]
    again = api.get(WELL_KNOWN, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    head = api.request("HEAD", WELL_KNOWN)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == etag and head.headers["Content-Type"] == "application/json"


def test_cors_is_on_the_metadata_only(api, keys):
    r, _ = document(api, headers={"Origin": "https://app.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    pre = api.request("OPTIONS", WELL_KNOWN, headers={"Origin": "https://app.example",
                                                      "Access-Control-Request-Method": "GET",
                                                      "Access-Control-Request-Headers": "mcp-protocol-version"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]
    for r in (api.get("/mcp/", headers={"Origin": "https://app.example"}),
              api.get("/mcp/", token=token(keys), headers={"Origin": "https://app.example"})):
        assert "Access-Control-Allow-Origin" not in r.headers


def test_other_methods_are_405(api):
    r = api.request("POST", WELL_KNOWN, data="x")
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_metadata_off_is_neither_served_nor_advertised(api):
    assert api.get("/.well-known/oauth-protected-resource/quiet").status_code == 404
    r = api.get("/quiet/")
    assert r.status_code == 401
    assert "resource_metadata" not in challenge(r)[1]


def test_document_holds_no_byte_of_the_request(api):
    _, plain = document(api)
    r = api.get(WELL_KNOWN, headers={"Host": "evil.test", "Origin": "https://<script>", "X-Forwarded-Host": "evil.test",
                                     "Accept": "text/html", "User-Agent": "<img src=x>"})
    assert r.status_code == 200 and json.loads(r.content) == plain
    assert b"evil" not in r.content and b"<" not in r.content
    assert api.get(WELL_KNOWN + "?<script>").status_code == 404


# ------------------------------------------------------------------ challenges

def test_every_challenge_points_to_the_metadata(api, keys):
    cases = [
        (api.get("/mcp/"), 401, {}),
        (api.get("/mcp/", token=token(keys, exp=1)), 401, {"error": "invalid_token"}),
        (api.get("/mcp/", headers={"Authorization": "Bearer a b"}), 400, {"error": "invalid_request"}),
        (api.get("/mcp/", token=token(keys, scope="other")), 403, {"error": "insufficient_scope", "scope": "mcp:tools"}),
        (api.get("/mcp/", token=token(keys), headers={"Mcp-Name": "delete_all"}), 403,
         {"error": "insufficient_scope", "scope": "mcp:admin"}),
    ]
    for r, status, params in cases:
        assert r.status_code == status, r.text
        # CL-55: one Bearer challenge, and the DPoP one (ClaimsDPoP On); both point to the document
        assert [v.split(" ")[0] for v in header_values(r, "WWW-Authenticate")] == ["Bearer", "DPoP"]
        assert challenges(r)["DPoP"]["resource_metadata"] == METADATA_URL
        scheme, got = challenge(r)
        assert scheme == "Bearer" and got["realm"] == "orders-api"
        assert got["resource_metadata"] == METADATA_URL
        for k, v in params.items():
            assert got[k] == v


def test_valid_token_passes_and_admin_tool_needs_its_scope(api, keys):
    assert api.get("/mcp/", token=token(keys)).status_code == 200
    r = api.get("/mcp/", token=token(keys, scope="mcp:tools mcp:admin"), headers={"Mcp-Name": "delete_all"})
    assert r.status_code == 200


def test_location_without_resource_has_no_resource_metadata(api):
    assert "resource_metadata" not in challenge(api.get("/plain/"))[1]


# ------------------------------------------------------------------ the resource as the audience (RFC 8707)

def test_resource_is_the_default_audience_over_the_issuers(api, keys):
    assert api.get("/mcp/", token=token(keys)).status_code == 200
    r = api.get("/mcp/", token=token(keys, aud=AUDIENCE))  # the issuer's ClaimsAudience does not count here
    assert r.status_code == 401
    assert challenge(r)[1]["error_description"] == "token audience is not accepted here"
    assert api.get("/mcp/", token=token(keys, aud="https://api.test/other")).status_code == 401


def test_claims_audience_of_the_location_wins_over_the_resource(api, keys):
    assert api.get("/aud/", token=token(keys, aud="https://other.test")).status_code == 200
    assert api.get("/aud/", token=token(keys, aud="https://api.test/aud")).status_code == 401


# ------------------------------------------------------------------ configtest

@pytest.mark.parametrize("value,why", [
    ("http://api.test/mcp", "not an https URL"),
    ("https://api.test/mcp#x", "fragment"),
    ("/mcp", "not an https URL"),
    ("https://user@api.test/mcp", "userinfo"),
    ("https:///mcp", "no host"),
])
def test_resource_that_is_not_an_https_url_without_fragment_fails_configtest(make_httpd, keys, value, why):
    h = make_httpd(issuer_block(keys) + location("/mcp", "ClaimsResource " + value, "Require valid-user"), start=False)
    rc, out = h.configtest()
    assert rc != 0
    assert "ClaimsResource" in out and why in out


def test_bad_error_format_and_docs_fail_configtest(make_httpd, keys):
    for line, word in (("ClaimsErrorFormat json", "ClaimsErrorFormat"),
                       ("ClaimsResourceDocs javascript:alert(1)", "ClaimsResourceDocs")):
        h = make_httpd(issuer_block(keys) + location("/mcp", "ClaimsResource " + RESOURCE, line,
                                                     "Require valid-user"), start=False)
        rc, out = h.configtest()
        assert rc != 0 and word in out


@pytest.mark.parametrize("second", [
    "ClaimsTrust " + OTHER_ISSUER,
    "ClaimsTokenFrom header query",
    "ClaimsResourceDocs https://docs.test/other",
    "ClaimsResourceMetadata Off",
])
def test_two_locations_claiming_one_resource_with_different_settings_fail_configtest(make_httpd, keys, second):
    body = issuers(keys) + location("/a", "ClaimsResource " + RESOURCE, "Require valid-user") + \
        location("/b", "ClaimsResource " + RESOURCE, second, "Require valid-user")
    h = make_httpd(body, start=False)
    rc, out = h.configtest()
    assert rc != 0
    assert "ClaimsResource %s: <Location /a> and <Location /b>" % RESOURCE in out


def test_two_locations_claiming_one_resource_alike_share_one_document(make_httpd, keys):
    body = issuers(keys) + location("/a", "ClaimsResource " + RESOURCE, "Require scope a") + \
        location("/b", "ClaimsResource " + RESOURCE, "Require scope b")
    h = make_httpd(body)
    _, doc = document(h)
    assert doc["scopes_supported"] == ["a", "b"]


def test_virtual_hosts_serve_their_own_resources(make_httpd, keys):
    h = make_httpd(issuer_block(keys), start=False)
    h.body += ("<VirtualHost 127.0.0.1:%d>\n  ServerName one.test\n%s</VirtualHost>\n"
               "<VirtualHost 127.0.0.1:%d>\n  ServerName two.test\n%s</VirtualHost>\n") % (
        h.port, location("/mcp", "ClaimsResource https://one.test/mcp", "Require scope one"),
        h.port, location("/mcp", "ClaimsResource https://two.test/mcp", "Require scope two"))
    h.start()
    for host in ("one", "two"):
        r = h.get(WELL_KNOWN, headers={"Host": "%s.test" % host})
        assert r.status_code == 200
        doc = json.loads(r.content)
        assert doc["resource"] == "https://%s.test/mcp" % host and doc["scopes_supported"] == [host]
        assert challenge(h.get("/mcp/", headers={"Host": "%s.test" % host}))[1]["resource_metadata"] == \
            "https://%s.test%s" % (host, WELL_KNOWN)


def test_sender_constrained_members_follow_the_dpop_settings(make_httpd, keys):
    """RFC 9728 section 2 with RFC 9449 section 5.1 and RFC 8705: what the location takes."""
    h = make_httpd(issuer_block(keys)
                   + location("/req", "ClaimsResource https://api.test/req", "ClaimsDPoP Required",
                              "ClaimsDPoPAlgorithms ES256 EdDSA", "ClaimsClientCertHeader Client-Cert from=10.0.0.0/8",
                              "Require valid-user")
                   + location("/off", "ClaimsResource https://api.test/off", "ClaimsDPoP Off", "Require valid-user"))
    _, req = document(h, "/.well-known/oauth-protected-resource/req")
    assert req["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert req["dpop_bound_access_tokens_required"] is True
    assert req["tls_client_certificate_bound_access_tokens"] is True
    _, off = document(h, "/.well-known/oauth-protected-resource/off")
    for absent in ("dpop_signing_alg_values_supported", "dpop_bound_access_tokens_required",
                   "tls_client_certificate_bound_access_tokens"):
        assert absent not in off
