"""Identity headers for proxied backends (ClaimsHeader, ClaimsHeaderPrefix, ClaimsHeaderEncoding,
ClaimsForwardToken) and header spoofing on every path a request can take to the backend
(ARCHITECTURE.md sections 3 and 5; SECURITY.md CL-79..CL-83).

One apache2 (mod_proxy + mod_proxy_http) in front of a loopback echo backend that answers with
the exact header lines it received and counts the requests that reached it."""
import base64
import json
import re
import urllib.parse

import pytest

from conftest import AUDIENCE, ISSUER, issuer_block, mint, now
from itest_helpers import echo_backend, header_list, names_like, norm, raw_request  # noqa: F401

BASE = {"tenant": "acme", "realm_access": {"roles": ["admin", "ops"]}}


@pytest.fixture(scope="module")
def api(make_module_httpd, echo_backend, keys):
    be = echo_backend.url

    def loc(path, *lines):
        return ("<Location %s>\n    AuthType claims\n    AuthName \"orders-api\"\n%s\n"
                "    ProxyPass %s%s\n</Location>\n" % (path, "\n".join("    " + l for l in lines), be, path))

    named = ["Require valid-user", "ClaimsHeader X-Claim-Sub sub", "ClaimsHeader X-Roles realm_access.roles",
             "ClaimsHeader X-Realm realm_access", "ClaimsHeader X-Age age", "ClaimsHeader X-Verified email_verified",
             "ClaimsHeader X-Name name", "ClaimsHeader X-Missing no_such_claim"]
    body = issuer_block(keys) + "".join([
        loc("/named/", *named),
        loc("/prefixed/", "Require valid-user", "ClaimsHeaderPrefix X-Claim-"),
        loc("/prefixed-some/", "Require valid-user", "ClaimsHeaderPrefix X-Claim-", "ClaimsExport sub tenant"),
        loc("/raw/", "Require valid-user", "ClaimsHeaderEncoding raw", "ClaimsHeader X-Claim-Sub sub",
            "ClaimsHeader X-Name name"),
        loc("/b64/", "Require valid-user", "ClaimsHeaderEncoding base64url", "ClaimsHeader X-Claim-Sub sub",
            "ClaimsHeader X-Name name", "ClaimsHeader X-Roles realm_access.roles"),
        loc("/forward/", "Require valid-user", "ClaimsForwardToken On", "ClaimsHeader X-Claim-Sub sub"),
        loc("/cookie/", "Require valid-user", "ClaimsTokenFrom cookie=at", "ClaimsHeader X-Claim-Sub sub"),
        loc("/cookie-forward/", "Require valid-user", "ClaimsTokenFrom cookie=at", "ClaimsForwardToken On"),
        loc("/guarded/", "Require claim realm_access.roles admin", "ClaimsHeader X-Claim-Sub sub",
            "ClaimsHeaderPrefix X-Claim-"),
        loc("/optional/", "ClaimsOptional On", "Require all granted", "ClaimsHeader X-Claim-Sub sub",
            "ClaimsHeaderPrefix X-Claim-"),
        loc("/cors/", "ClaimsPreflight pass", "Require valid-user", "ClaimsHeader X-Claim-Sub sub",
            "ClaimsHeaderPrefix X-Claim-"),
        # a nested location that adds a header of its own
        loc("/nested/", "Require valid-user", "ClaimsHeader X-Claim-Sub sub"),
        "<Location /nested/inner/>\n    ClaimsHeader X-Tenant tenant\n</Location>\n",
        # reached through mod_rewrite's proxy flag instead of ProxyPass
        "<Location /rw/>\n    AuthType claims\n    AuthName \"orders-api\"\n    Require valid-user\n"
        "    ClaimsHeader X-Claim-Sub sub\n    ClaimsHeaderPrefix X-Claim-\n</Location>\n",
        "RewriteEngine On\nRewriteRule ^/rw/(.*)$ %s/rw/$1 [P]\n" % be,
        # an SSI page (unprotected) that includes a protected, proxied URL: a sub-request
        "AddType text/html .shtml\nAddOutputFilter INCLUDES .shtml\n",
        # a missing page whose ErrorDocument is a protected, proxied URL: an internal redirect
        "<Location /lost/>\n    Require all granted\n    ErrorDocument 404 /named/from-error\n</Location>\n",
        # a claim handed to the backend through an expression (issue 12 item 2)
        loc("/display/", "Require valid-user", "RequestHeader set X-Display \"expr=%{claim:name}\"",
            "SetEnvIfExpr \"'a%0AX-Admin: 1' -in claims('groups') && '50%25' -in claims('groups')\" "
            "GROUPS_ENCODED=1", "RequestHeader set X-Groups-Encoded 1 env=GROUPS_ENCODED"),
        # no section of ours applies here, but the server configures ClaimsHeader elsewhere
        "<Location /open/>\n    Require all granted\n    ProxyPass %s/open/\n</Location>\n" % be,
        # what server-level SetEnvIf and mod_rewrite see of a look-alike header (item 12); the
        # location tells the backend through headers of its own
        "SetEnvIfNoCase ^X.Claim.Sub$ . SETENVIF_SAW_LOOKALIKE=1\n"
        "RewriteCond %{HTTP:X-Claim-Sub} .\nRewriteRule ^/seen/ - [E=REWRITE_SAW_LOOKALIKE:1]\n",
        loc("/seen/", "Require valid-user", "ClaimsHeader X-Claim-Sub sub",
            "RequestHeader set X-SetEnvIf-Saw 1 env=SETENVIF_SAW_LOOKALIKE",
            "RequestHeader set X-Rewrite-Saw 1 env=REWRITE_SAW_LOOKALIKE"),
    ])

    def setup(h):
        h.write_file("htdocs/page.shtml", '<!--#include virtual="/named/from-ssi" -->')

    h = make_module_httpd(body, modules=["proxy", "proxy_http"], setup=setup)
    # mod_include logs at error level when the included URL refuses a request without token
    h.allowed_errors.append('unable to include "/named/from-ssi"')
    return h


def tok(keys, **claims):
    c = dict(BASE)
    c.update(claims)
    return mint(keys.rsa, c)


def bearer(keys, **claims):
    return ("Authorization", "Bearer " + tok(keys, **claims))


def send(api, path, headers, method="GET"):
    """A request with exactly these header lines: (status, [(name, value)], body)."""
    return raw_request(api, method, path, headers)


def backend_record(api, path, headers, method="GET"):
    """The backend's record of the request (which must have been answered 200)."""
    status, hdrs, body = send(api, path, headers, method)
    assert status == 200, (status, hdrs, body[:300], api.log()[-3000:])
    return json.loads(body)


# ---------------------------------------------------------------------------------------------
# header spoofing (CL-80, CL-81)

SPOOFS = [
    [("X-Claim-Sub", "evil")],
    [("x-claim-sub", "evil")],
    [("x_claim_sub", "evil")],
    [("X_CLAIM_SUB", "evil")],
    [("x-claim.sub", "evil")],
    [("X-Claim_Sub", "evil")],
    [("X-Claim-Sub", "evil1"), ("X-Claim-Sub", "evil2")],
    [("X-Claim-Sub", "evil1"), ("x_claim_sub", "evil2"), ("X.CLAIM.SUB", "evil3")],
]
SPOOF_IDS = ["canonical", "lower", "underscores", "upper-underscores", "dot", "mixed", "repeated",
             "repeated-spellings"]

PREFIX_SPOOFS = [("X-Claim-Admin", "true"), ("x_claim_tenant", "evil"), ("X-CLAIM-ISS", "evil"),
                 ("x.claim.roles", "admin")]


def sub_headers(record):
    """Every header the backend got whose normalised name is X_CLAIM_SUB."""
    return [(k, v) for k, v in record["headers"] if norm(k) == "X_CLAIM_SUB"]


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_spoofed_identity_header_is_replaced_on_authenticated_request(api, keys, spoof):
    rec = backend_record(api, "/named/x", spoof + [bearer(keys)])
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_spoofed_header_is_removed_when_its_claim_is_absent(api, keys, spoof):
    # X-Missing is configured for a claim the token does not carry
    spoof = [(re.sub(r"(?i)claim([-_.])sub", r"missing", k), v) for k, v in spoof]
    rec = backend_record(api, "/named/x", spoof + [bearer(keys)])
    assert [(k, v) for k, v in rec["headers"] if norm(k) == "X_MISSING"] == []


def test_spoofed_header_matching_the_prefix_is_removed(api, keys):
    rec = backend_record(api, "/prefixed/x", PREFIX_SPOOFS + [bearer(keys)])
    got = dict((norm(k), v) for k, v in names_like(rec, "X_CLAIM_"))
    assert "X_CLAIM_ADMIN" not in got
    assert got["X_CLAIM_TENANT"] == "acme"
    assert got["X_CLAIM_ISS"] == urllib.parse.quote(ISSUER, safe=":/")
    assert "evil" not in json.dumps(rec["headers"])
    assert "X_CLAIM_ROLES" not in got


def test_configured_header_spoofed_in_prefix_location_is_replaced_once(api, keys):
    rec = backend_record(api, "/prefixed/x", [("X-Claim-sub", "evil"), ("x_claim_sub", "evil2"), bearer(keys)])
    assert [(k, v) for k, v in rec["headers"] if norm(k) == "X_CLAIM_SUB"] == [("X-Claim-sub", "alice")]


def test_nested_location_sends_its_own_header(api, keys):
    rec = backend_record(api, "/nested/inner/x", [("X-Tenant", "evil"), bearer(keys)])
    assert header_list(rec, "X-Tenant") == ["acme"]


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_nested_location_does_not_pass_spoofed_header_of_enclosing_location(api, keys, spoof):
    # /nested/ sends X-Claim-Sub; /nested/inner/ adds X-Tenant. The backend behind both trusts
    # X-Claim-Sub, so a client must not be able to set it by choosing the inner path (CL-80).
    rec = backend_record(api, "/nested/inner/x", spoof + [bearer(keys)])
    assert [v for k, v in sub_headers(rec) if v != "alice"] == []


def test_removed_spoofed_header_is_logged_by_the_module_at_info(api, keys):
    # the harness runs with "LogLevel warn claims:debug": a line the module logs at info shows
    # only when it is attributed to claims_module (what operators' per-module LogLevel needs)
    backend_record(api, "/named/x", [("X-Claim-Sub", "logged-spoof"), bearer(keys)])
    lines = [l for l in api.log().splitlines() if "CLM040" in l and "X-Claim-Sub" in l]
    assert lines, [l for l in api.log().splitlines() if "CLM0" in l][-5:]
    assert "[claims:info]" in lines[-1], lines[-1]
    assert "logged-spoof" not in lines[-1]


def test_unrelated_client_headers_reach_the_backend(api, keys):
    rec = backend_record(api, "/named/x", [("X-Claimant", "kept"), ("X-Other", "kept too"), bearer(keys)])
    assert header_list(rec, "X-Claimant") == ["kept"]
    assert header_list(rec, "X-Other") == ["kept too"]


@pytest.mark.parametrize("path", ["/named/x", "/guarded/x", "/rw/x", "/optional/x", "/cors/x"])
@pytest.mark.parametrize("what", ["expired", "bad-signature", "untrusted-issuer", "malformed"])
def test_refused_request_never_reaches_the_backend(api, keys, echo_backend, path, what):
    t = {"expired": lambda: tok(keys, exp=now() - 3600, iat=now() - 7200),
         "bad-signature": lambda: mint(keys.attacker, BASE),
         "untrusted-issuer": lambda: mint(keys.other, BASE, iss="https://other-idp.test"),
         "malformed": lambda: "not.a.jwt"}[what]()
    before = echo_backend.count()
    status, hdrs, _ = send(api, path, [("X-Claim-Sub", "evil"), ("Authorization", "Bearer " + t)])
    assert status in (400, 401), (status, hdrs)
    assert echo_backend.count() == before


@pytest.mark.parametrize("path", ["/named/x", "/guarded/x", "/rw/x", "/cors/x"])
def test_request_without_token_never_reaches_the_backend(api, echo_backend, path):
    before = echo_backend.count()
    status, _, _ = send(api, path, [("X-Claim-Sub", "alice"), ("X-Claim-Admin", "true")])
    assert status == 401
    assert echo_backend.count() == before


def test_insufficient_claims_never_reach_the_backend(api, keys, echo_backend):
    before = echo_backend.count()
    status, hdrs, _ = send(api, "/guarded/x", [("X-Claim-Sub", "evil"),
                                               bearer(keys, realm_access={"roles": ["ops"]})])
    assert status == 403
    assert echo_backend.count() == before


def test_granted_claims_reach_the_guarded_backend_with_identity(api, keys):
    rec = backend_record(api, "/guarded/x", [("X-Claim-Sub", "evil"), ("X-Claim-Admin", "1"), bearer(keys)])
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]
    assert [k for k, v in names_like(rec, "X_CLAIM_ADMIN")] == []


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_optional_anonymous_request_has_spoofed_headers_removed(api, spoof):
    rec = backend_record(api, "/optional/x", spoof + PREFIX_SPOOFS)
    assert names_like(rec, "X_CLAIM_") == []


def test_optional_request_with_token_carries_identity(api, keys):
    rec = backend_record(api, "/optional/x", [("X-Claim-Sub", "evil"), bearer(keys)])
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]
    assert dict((norm(k), v) for k, v in names_like(rec, "X_CLAIM_"))["X_CLAIM_TENANT"] == "acme"


def test_optional_request_with_bad_token_is_refused_before_the_backend(api, keys, echo_backend):
    before = echo_backend.count()
    status, hdrs, _ = send(api, "/optional/x", [("X-Claim-Sub", "evil"),
                                                ("Authorization", "Bearer " + mint(keys.attacker, BASE))])
    assert status == 401
    assert echo_backend.count() == before


PREFLIGHT = [("Origin", "https://app.test"), ("Access-Control-Request-Method", "POST")]


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_preflight_passes_with_spoofed_headers_removed(api, spoof):
    rec = backend_record(api, "/cors/x", PREFLIGHT + spoof + PREFIX_SPOOFS, method="OPTIONS")
    assert rec["method"] == "OPTIONS"
    assert names_like(rec, "X_CLAIM_") == []


def test_preflight_does_not_forward_a_token(api, keys):
    rec = backend_record(api, "/cors/x", PREFLIGHT + [bearer(keys)], method="OPTIONS")
    assert header_list(rec, "Authorization") == []


def test_options_without_cors_headers_needs_a_token(api, echo_backend):
    before = echo_backend.count()
    status, _, _ = send(api, "/cors/x", [("X-Claim-Sub", "evil")], method="OPTIONS")
    assert status == 401
    assert echo_backend.count() == before


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_rewrite_proxy_path_replaces_spoofed_headers(api, keys, spoof):
    rec = backend_record(api, "/rw/x", spoof + PREFIX_SPOOFS + [bearer(keys)])
    assert rec["path"] == "/rw/x"
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]
    assert "X_CLAIM_ADMIN" not in [norm(k) for k, v in names_like(rec, "X_CLAIM_")]


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_ssi_subrequest_replaces_spoofed_headers(api, keys, spoof):
    status, hdrs, body = send(api, "/page.shtml", spoof + [bearer(keys)])
    assert status == 200, (status, body[:300])
    rec = json.loads(body)
    assert rec["path"] == "/named/from-ssi"
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]


def test_ssi_subrequest_without_token_does_not_reach_the_backend(api, echo_backend):
    before = echo_backend.count()
    status, _, body = send(api, "/page.shtml", [("X-Claim-Sub", "evil")])
    assert echo_backend.count() == before
    assert b"evil" not in body


@pytest.mark.parametrize("spoof", SPOOFS, ids=SPOOF_IDS)
def test_error_document_redirect_replaces_spoofed_headers(api, keys, spoof):
    # the status is the backend's (200): mod_proxy answers the ErrorDocument itself
    status, hdrs, body = send(api, "/lost/nothing-here", spoof + [bearer(keys)])
    rec = json.loads(body)
    assert rec["path"] == "/named/from-error"
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]


def test_error_document_redirect_without_token_does_not_reach_the_backend(api, echo_backend):
    before = echo_backend.count()
    send(api, "/lost/nothing-here", [("X-Claim-Sub", "evil")])
    assert echo_backend.count() == before


# ---------------------------------------------------------------------------------------------
# values

def one(rec, name):
    values = header_list(rec, name)
    assert len(values) == 1, (name, rec["headers"])
    return values[0]


def test_string_claim_is_sent_as_is(api, keys):
    assert one(backend_record(api, "/named/x", [bearer(keys)]), "X-Claim-Sub") == "alice"


def test_array_claim_is_sent_as_compact_json(api, keys):
    v = one(backend_record(api, "/named/x", [bearer(keys)]), "X-Roles")
    assert v == '["admin","ops"]'


def test_object_claim_is_sent_as_compact_json(api, keys):
    v = one(backend_record(api, "/named/x", [bearer(keys)]), "X-Realm")
    assert " " not in v
    assert json.loads(v) == {"roles": ["admin", "ops"]}


@pytest.mark.parametrize("claim,value,expected", [("age", 42, "42"), ("age", 1.5, "1.5"),
                                                  ("email_verified", True, "true"),
                                                  ("email_verified", False, "false")])
def test_number_and_boolean_claims_are_sent_as_json_text(api, keys, claim, value, expected):
    rec = backend_record(api, "/named/x", [bearer(keys, **{claim: value})])
    assert one(rec, {"age": "X-Age", "email_verified": "X-Verified"}[claim]) == expected


def test_absent_claim_sends_no_header(api, keys):
    rec = backend_record(api, "/named/x", [("X-Missing", "spoofed"), bearer(keys)])
    assert header_list(rec, "X-Missing") == []


NAMES = ["plain", "Zoë Ünïcode", "tab\there", "line\nbreak", "cr\rlf\r\nX-Admin: 1", "per%cent",
         "del\x7fchar", "nul-free \x01\x1f", "日本語", "space at end "]
NAME_IDS = ["ascii", "latin", "tab", "lf", "crlf-injection", "percent", "del", "c0", "cjk", "space"]


@pytest.mark.parametrize("name", NAMES, ids=NAME_IDS)
def test_percent_encoding_round_trips_and_is_visible_ascii(api, keys, name):
    rec = backend_record(api, "/named/x", [bearer(keys, name=name)])
    v = one(rec, "X-Name")
    assert re.fullmatch(r"[\x21-\x7e]*", v), v
    assert urllib.parse.unquote(v, encoding="utf-8", errors="strict") == name


def test_percent_encoding_is_uppercase_hex_of_utf8_bytes(api, keys):
    rec = backend_record(api, "/named/x", [bearer(keys, name="Zoë 100%")])
    assert one(rec, "X-Name") == "Zo%C3%AB%20100%25"


def test_crlf_in_claim_cannot_inject_a_header(api, keys):
    rec = backend_record(api, "/named/x", [bearer(keys, name="x\r\nX-Admin: 1")])
    assert header_list(rec, "X-Admin") == []


def test_percent_encoding_applies_to_array_elements(api, keys):
    rec = backend_record(api, "/named/x", [bearer(keys, realm_access={"roles": ["a b", "ü"]})])
    v = one(rec, "X-Roles")
    assert json.loads(urllib.parse.unquote(v)) == ["a b", "ü"]
    assert re.fullmatch(r"[\x21-\x7e]*", v), v


@pytest.mark.parametrize("name", ["plain", "Zoë Ünïcode", "日本語", "space inside", "100%"],
                         ids=["ascii", "latin", "cjk", "space", "percent"])
def test_raw_encoding_sends_utf8_bytes_unchanged(api, keys, name):
    rec = backend_record(api, "/raw/x", [bearer(keys, name=name)])
    assert one(rec, "X-Name").encode("latin-1").decode("utf-8") == name


@pytest.mark.parametrize("name", ["tab\there", "line\nbreak", "cr\rx", "x\r\nX-Admin: 1", "del\x7f", "\x01"],
                         ids=["tab", "lf", "cr", "crlf-injection", "del", "c0"])
def test_raw_encoding_drops_a_header_with_control_characters(api, keys, name):
    rec = backend_record(api, "/raw/x", [("X-Name", "spoofed"), bearer(keys, name=name)])
    assert header_list(rec, "X-Name") == []
    assert header_list(rec, "X-Admin") == []
    assert one(rec, "X-Claim-Sub") == "alice"


def test_raw_encoding_logs_a_warning_for_a_dropped_header(api, keys):
    backend_record(api, "/raw/x", [bearer(keys, name="bad\nvalue")])
    lines = [l for l in api.log().splitlines() if "CLM041" in l]
    assert lines, api.log()[-2000:]
    assert ":warn]" in lines[-1]
    assert "X-Name" in lines[-1]
    assert "bad" not in lines[-1].split("CLM041", 1)[1]  # the value is not logged


def b64u(s):
    return base64.urlsafe_b64encode(s.encode("utf-8")).rstrip(b"=").decode()


@pytest.mark.parametrize("name", NAMES, ids=NAME_IDS)
def test_base64url_encoding_is_unpadded_base64url_of_the_bytes(api, keys, name):
    rec = backend_record(api, "/b64/x", [bearer(keys, name=name)])
    v = one(rec, "X-Name")
    assert re.fullmatch(r"[A-Za-z0-9_-]*", v), v
    assert v == b64u(name)


def test_base64url_encoding_of_array_is_of_its_json_text(api, keys):
    rec = backend_record(api, "/b64/x", [bearer(keys)])
    assert one(rec, "X-Roles") == b64u('["admin","ops"]')


def test_prefix_sends_every_claim(api, keys):
    t = tok(keys)
    rec = backend_record(api, "/prefixed/x", [("Authorization", "Bearer " + t)])
    got = {norm(k): v for k, v in names_like(rec, "X_CLAIM_")}
    assert got["X_CLAIM_SUB"] == "alice"
    assert got["X_CLAIM_AUD"] == urllib.parse.quote(AUDIENCE, safe=":/")
    assert json.loads(got["X_CLAIM_REALM_ACCESS"]) == {"roles": ["admin", "ops"]}
    assert set(got) == {"X_CLAIM_" + norm(c) for c in ("iss", "aud", "sub", "iat", "exp", "tenant", "realm_access")}


def test_prefix_header_names_use_dashes_for_other_characters(api, keys):
    rec = backend_record(api, "/prefixed/x", [bearer(keys, **{"odd.name_x": "v"})])
    assert header_list(rec, "X-Claim-odd-name-x") == ["v"]


def test_prefix_header_name_cannot_carry_crlf_from_claim_name(api, keys):
    rec = backend_record(api, "/prefixed/x", [bearer(keys, **{"x\r\nInjected: 1": "v"})])
    assert header_list(rec, "Injected") == []
    assert header_list(rec, "X-Claim-x--Injected--1") == ["v"]


def test_prefix_colliding_claim_names_give_no_header(api, keys):
    """issue 12 item 9 (CL-77): header names fold case and '-'/'_': neither claim is sent."""
    rec = backend_record(api, "/prefixed/x", [bearer(keys, **{"a.b": "first", "a_b": "second"})])
    assert names_like(rec, "X_CLAIM_A_B") == []


@pytest.mark.parametrize("claims", [{"sub": "alice", "SUB": "admin"}, {"SUB": "admin", "sub": "alice"}])
def test_prefix_claim_in_other_case_cannot_take_the_header(api, keys, claims):
    """issue 12 item 9: {"sub":"alice","SUB":"admin"} sent X-Claim-SUB: admin."""
    rec = backend_record(api, "/prefixed/x", [bearer(keys, **claims)])
    assert [v for k, v in names_like(rec, "X_CLAIM_SUB")] == []
    assert api.log().count("CLM043") >= 2


def test_prefix_with_export_list_sends_only_listed_claims(api, keys):
    rec = backend_record(api, "/prefixed-some/x", [bearer(keys)])
    got = {norm(k): v for k, v in names_like(rec, "X_CLAIM_")}
    assert got == {"X_CLAIM_SUB": "alice", "X_CLAIM_TENANT": "acme"}


# ---------------------------------------------------------------------------------------------
# Authorization forwarding (CL-83)

def test_token_is_not_forwarded_by_default(api, keys):
    rec = backend_record(api, "/named/x", [bearer(keys)])
    assert header_list(rec, "Authorization") == []


def test_token_is_forwarded_with_forward_token_on(api, keys):
    t = tok(keys)
    rec = backend_record(api, "/forward/x", [("Authorization", "Bearer " + t)])
    assert header_list(rec, "Authorization") == ["Bearer " + t]


@pytest.mark.parametrize("path", ["/prefixed/x", "/raw/x", "/b64/x", "/guarded/x", "/optional/x", "/rw/x"])
def test_token_is_not_forwarded_on_other_locations(api, keys, path):
    rec = backend_record(api, path, [bearer(keys)])
    assert header_list(rec, "Authorization") == []


def test_token_is_not_forwarded_through_ssi_subrequest(api, keys):
    status, _, body = send(api, "/page.shtml", [bearer(keys)])
    assert status == 200
    assert header_list(json.loads(body), "Authorization") == []


def test_other_authorization_schemes_are_not_forwarded_from_optional_location(api):
    rec = backend_record(api, "/optional/x", [("Authorization", "Basic YWxpY2U6c2VjcmV0")])
    assert header_list(rec, "Authorization") == []


# ---------------------------------------------------------------------------------------------
# a token cookie is a credential like Authorization (CL-83)

def cookie_values(rec):
    return [v for k, v in rec["headers"] if k.lower() == "cookie"]


def test_token_cookie_does_not_reach_the_backend_other_cookies_do(api, keys):
    rec = backend_record(api, "/cookie/x", [("Cookie", "theme=dark; at=%s; lang=en" % tok(keys))])
    assert cookie_values(rec) == ["theme=dark; lang=en"]


def test_token_cookie_in_a_second_cookie_header_does_not_reach_the_backend(api, keys):
    # httpd joins repeated Cookie headers with ", ": the token cookie found after the comma
    # authenticates, so it must be the one removed too
    t = tok(keys)
    rec = backend_record(api, "/cookie/x", [("Cookie", "theme=dark"), ("Cookie", "at=%s" % t)])
    assert t not in json.dumps(rec["headers"])
    assert cookie_values(rec) == ["theme=dark"]


def test_token_cookie_spelled_with_blanks_does_not_reach_the_backend(api, keys):
    """issue 12 item 6: backends read "at =x" as the cookie "at"; it is removed like "at=x"."""
    t = tok(keys)
    rec = backend_record(api, "/cookie/x", [("Cookie", "theme=dark; at =%s ; lang=en" % t)])
    assert t not in json.dumps(rec["headers"])
    assert cookie_values(rec) == ["theme=dark; lang=en"]


def test_token_cookie_alone_leaves_no_cookie_header(api, keys):
    rec = backend_record(api, "/cookie/x", [("Cookie", "at=%s" % tok(keys))])
    assert cookie_values(rec) == []


def test_token_cookie_reaches_the_backend_with_forward_token_on(api, keys):
    t = tok(keys)
    rec = backend_record(api, "/cookie-forward/x", [("Cookie", "at=%s" % t)])
    assert cookie_values(rec) == ["at=%s" % t]


# ---------------------------------------------------------------------------------------------
# issue 12: what a security review found on the way to the backend

def test_claim_function_never_hands_crlf_to_a_request_header(api, keys):
    """item 2: RequestHeader set X "expr=%{claim:name}" with a claim holding CR LF made the
    backend receive a separate header line of the token holder's choosing."""
    rec = backend_record(api, "/display/x", [bearer(keys, name="Alice\r\nX-User: admin")])
    assert header_list(rec, "X-User") == []
    assert header_list(rec, "X-Display") == ["Alice%0D%0AX-User: admin"]


def test_claims_function_encodes_control_characters_of_each_element(api, keys):
    rec = backend_record(api, "/display/x", [bearer(keys, groups=["a\nX-Admin: 1", "50%", "b c"])])
    assert header_list(rec, "X-Groups-Encoded") == ["1"]


def test_claim_function_leaves_plain_text_unchanged(api, keys):
    rec = backend_record(api, "/display/x", [bearer(keys, name="Zoë Smith (ops)")])
    assert header_list(rec, "X-Display") == ["Zoë Smith (ops)".encode().decode("latin-1")]


CONNECTION_STRIPS = [
    "close, X-Claim-Sub, X-Roles",
    "X-Claim-Sub",
    "keep-alive, x_claim_sub, x-roles",
    "X.CLAIM.SUB,X_ROLES",
]


@pytest.mark.parametrize("connection", CONNECTION_STRIPS)
def test_connection_header_cannot_strip_identity_headers(api, keys, connection):
    """item 3: `Connection: close, X-User` made mod_proxy drop the verified X-User before it
    reached the backend (the pattern of CVE-2022-31813)."""
    rec = backend_record(api, "/named/x", [bearer(keys), ("Connection", connection)])
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]
    assert header_list(rec, "X-Roles") == ['["admin","ops"]']


def test_connection_header_cannot_strip_prefixed_identity_headers(api, keys):
    rec = backend_record(api, "/prefixed/x", [bearer(keys), ("Connection", "close, X-Claim-Tenant, x_claim_sub")])
    got = {norm(k): v for k, v in names_like(rec, "X_CLAIM_")}
    assert got["X_CLAIM_TENANT"] == "acme"
    assert got["X_CLAIM_SUB"] == "alice"


def test_connection_header_still_names_other_headers(api, keys):
    rec = backend_record(api, "/named/x", [bearer(keys), ("Connection", "close, X-Other"), ("X-Other", "1")])
    assert header_list(rec, "X-Other") == []
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]


@pytest.mark.parametrize("spoof", [("X-Claim-Sub", "evil"), ("x_claim_sub", "evil")])
def test_server_level_setenvif_and_rewrite_never_see_lookalike_headers(api, keys, spoof):
    """item 12: the look-alikes were removed after the location was known, but mod_setenvif and
    mod_rewrite at server level had seen them already."""
    rec = backend_record(api, "/seen/x", [bearer(keys), spoof])
    assert header_list(rec, "X-SetEnvIf-Saw") == []
    assert header_list(rec, "X-Rewrite-Saw") == []
    assert sub_headers(rec) == [("X-Claim-Sub", "alice")]


@pytest.mark.parametrize("spoof", [("X-Claim-Sub", "evil"), ("x_claim_tenant", "evil"), ("X-Roles", "admin")])
def test_lookalike_headers_are_removed_at_locations_without_claims_too(api, spoof):
    """The server-wide scrub runs whatever the location: a backend behind a path where no
    section of ours applies never gets a header spelled like one of ours either."""
    rec = backend_record(api, "/open/x", [spoof, ("X-Other", "kept")])
    assert names_like(rec, norm(spoof[0])) == []
    assert header_list(rec, "X-Other") == ["kept"]
