"""RFC 9457 problem details for the module's refusals (issue 16; SECURITY.md CL-55..CL-58,
CL-100): ClaimsErrorFormat html | problem-json | auto, Accept negotiation, the members of each
body, the RFC 6750 challenge that is always sent too, and that a body never holds a byte of the
request. Without an Accept that asks for JSON nothing changes: httpd's page, as before."""
import json

import pytest

from conftest import (AUDIENCE, b64u, challenge, header_values, issuer_block, location, mint, raw_http, sign,
                      std_claims)

RESOURCE = "https://api.test/mcp"
METADATA_URL = "https://api.test/.well-known/oauth-protected-resource/mcp"
JSON = {"Accept": "application/json"}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuer_block(keys) + "".join([
        location("/auto", "ClaimsResource " + RESOURCE, "Require scope mcp:tools"),
        location("/html", "ClaimsErrorFormat html", "Require scope mcp:tools"),
        location("/problem", "ClaimsErrorFormat problem-json", "Require scope mcp:tools"),
        location("/ip", "<RequireAll>", "  Require valid-user", "  Require ip 192.0.2.1", "</RequireAll>"),
        location("/doc", "ErrorDocument 401 \"custom page <b>for</b> people\"", "Require valid-user"),
        "<Location /basic>\n  AuthType Basic\n  AuthName basic\n  AuthUserFile /dev/null\n  Require valid-user\n"
        "</Location>\n",
    ])
    h = make_module_httpd(body, start=False)
    for d in ("auto", "html", "problem", "ip", "doc", "basic"):
        h.write_file("htdocs/%s/index.html" % d, "protected\n")
    return h.start()


def token(keys, **claims):
    return mint(keys.rsa, dict({"aud": RESOURCE, "scope": "mcp:tools"}, **claims))


def problem(r):
    assert r.headers["Content-Type"] == PROBLEM, (r.headers, r.text)
    return json.loads(r.content)


# ------------------------------------------------------------------ each refusal, as problem+json

def test_no_token_is_a_401_problem_without_error_code(api):
    r = api.get("/auto/", headers=JSON)
    assert r.status_code == 401
    assert problem(r) == {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "no bearer token"}
    assert challenge(r) == ("Bearer", {"realm": "orders-api", "resource_metadata": METADATA_URL})


def test_invalid_token_problem_repeats_error_and_description(api, keys):
    r = api.get("/auto/", token=token(keys, exp=1), headers=JSON)
    assert r.status_code == 401
    p = problem(r)
    _, params = challenge(r)
    assert p == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                 "detail": params["error_description"], "error": "invalid_token"}
    assert p["detail"] == "token has expired"


def test_malformed_request_is_a_400_problem(api):
    r = api.get("/auto/", headers=dict(JSON, Authorization="Bearer a b"))
    assert r.status_code == 400
    p = problem(r)
    assert p["title"] == "Bad Request" and p["status"] == 400 and p["error"] == "invalid_request"
    assert p["detail"] == challenge(r)[1]["error_description"]


def test_missing_scope_is_a_403_problem_with_the_scope(api, keys):
    r = api.get("/auto/", token=token(keys, scope="other"), headers=JSON)
    assert r.status_code == 403
    p = problem(r)
    assert p["title"] == "Forbidden" and p["error"] == "insufficient_scope" and p["scope"] == "mcp:tools"
    assert challenge(r)[1]["scope"] == "mcp:tools"
    assert [v.split(" ")[0] for v in header_values(r, "WWW-Authenticate")] == ["Bearer", "DPoP"]


@pytest.mark.parametrize("accept", [
    "application/problem+json",
    "application/json, text/event-stream",            # what an MCP client sends
    "text/html;q=0.5, application/json",
])
def test_accept_that_asks_for_json_gets_problem_json(api, accept):
    r = api.get("/auto/", headers={"Accept": accept})
    assert r.status_code == 401 and problem(r)["status"] == 401
    assert "Accept" in r.headers["Vary"]


@pytest.mark.parametrize("accept", [None, "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                                    "application/json;q=0", "text/html, application/json;q=0.5"])
def test_without_an_accept_for_json_the_answer_is_httpds_page_as_before(api, accept):
    headers = {"Accept": accept} if accept is not None else {}
    r = api.get("/auto/", headers=headers)
    before = api.get("/html/", headers=headers)  # ClaimsErrorFormat html: the answer as it always was
    assert r.status_code == before.status_code == 401
    assert r.headers["Content-Type"] == before.headers["Content-Type"]
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.content == before.content
    assert challenge(r)[0] == "Bearer"


def test_problem_json_format_needs_no_accept_and_html_ignores_it(api, keys):
    r = api.get("/problem/")
    assert r.status_code == 401 and problem(r)["detail"] == "no bearer token"
    assert "Vary" not in r.headers or "Accept" not in r.headers["Vary"]
    r = api.get("/html/", token=token(keys, scope="x", aud=AUDIENCE), headers=JSON)
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")


def test_head_gets_the_problem_headers_without_a_body(api):
    r = api.request("HEAD", "/problem/")
    assert r.status_code == 401 and r.headers["Content-Type"] == PROBLEM and r.content == b""


# ------------------------------------------------------------------ only the module's refusals

def test_refusal_without_a_challenge_keeps_httpds_page(api, keys):
    # a valid token denied by Require ip: 403 with no challenge is not an RFC 6750 answer
    r = api.get("/ip/", token=mint(keys.rsa), headers=JSON)
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")


def test_other_modules_refusals_keep_their_page(api):
    r = api.get("/basic/", headers=JSON)
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("text/html")
    assert challenge(r)[0] == "Basic"


def test_error_document_string_is_replaced_only_when_json_is_asked_for(api):
    r = api.get("/doc/")
    assert r.status_code == 401 and b"custom page" in r.content
    r = api.get("/doc/", headers=JSON)
    assert r.status_code == 401 and problem(r)["status"] == 401 and b"custom" not in r.content


# ------------------------------------------------------------------ CL-100: nothing of the request

HOSTILE = "<script>alert(1)</script>"


def test_problem_body_never_holds_a_byte_of_the_request(api, keys):
    hostile_token = sign(keys.rsa, {"alg": "RS256", "kid": HOSTILE},
                         std_claims(aud=RESOURCE, sub=HOSTILE, scope=HOSTILE, iss=HOSTILE))
    forged = sign(keys.attacker, {"alg": "RS256", "kid": "rsa-1"}, std_claims(aud=RESOURCE, sub=HOSTILE))
    responses = [
        api.get("/auto/?q=" + HOSTILE, headers={"Accept": "application/json", "X-Evil": HOSTILE}),
        api.get("/auto/", token=hostile_token, headers=JSON),
        api.get("/auto/", token=forged, headers=JSON),
        api.get("/auto/", token=mint(keys.rsa, {"aud": RESOURCE, "scope": HOSTILE}), headers=JSON),
        api.get("/auto/", headers=dict(JSON, Authorization="Bearer " + b64u(HOSTILE) + " x")),
        api.get("/problem/" + b64u(HOSTILE), headers={"Accept": HOSTILE}),
    ]
    for r in responses:
        assert r.status_code in (400, 401, 403)
        body = r.content
        assert r.headers["Content-Type"] == PROBLEM
        for needle in (b"<", b"script", b"alert", b64u(HOSTILE).encode(), b"evil"):
            assert needle not in body, body
        assert set(json.loads(body)) <= {"type", "title", "status", "detail", "error", "scope"}


def test_protected_content_is_never_sent_with_a_problem(api, keys):
    # CL-58: status and body of a refusal are the problem body only
    status, _, body = raw_http(api, b"GET /problem/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    b"Authorization: Bearer " + token(keys, scope="other", aud=AUDIENCE).encode() + b"\r\n\r\n")
    assert status == 403
    assert b"protected" not in body
    assert b'"status":403' in body
