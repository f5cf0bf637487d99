"""Where a token may come from (ClaimsTokenFrom header | cookie=NAME | form | query[=NAME]):
only configured places count, a token in two places is a malformed request, query tokens make
answers private, and reading a form leaves the body intact for the handler (ARCHITECTURE.md
section 3; SECURITY.md CL-06)."""
import base64
import os
import time
import urllib.parse

import pytest

from conftest import challenge, issuer_block, mint
from itest_helpers import STDIN_CGI

FORM = "application/x-www-form-urlencoded"

LOCATIONS = {
    "cookie.py": ["ClaimsTokenFrom cookie=at"],
    "header_cookie.py": ["ClaimsTokenFrom header cookie=at"],
    "query.py": ["ClaimsTokenFrom query"],
    "query_named.py": ["ClaimsTokenFrom query=tok"],
    "header_query.py": ["ClaimsTokenFrom header query"],
    "form.py": ["ClaimsTokenFrom form"],
    "header_form.py": ["ClaimsTokenFrom header form"],
    "all.py": ["ClaimsTokenFrom header cookie=at form query"],
    "default.py": [],
}


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    body = issuer_block(keys)
    for name, lines in LOCATIONS.items():
        body += "<Location /cgi/%s>\n    AuthType claims\n    AuthName \"orders-api\"\n    Require valid-user\n%s\n" \
                "</Location>\n" % (name, "\n".join("    " + l for l in lines))

    def setup(h):
        for name in LOCATIONS:
            h.write_file("cgi-bin/" + name, STDIN_CGI, mode=0o755)
    return make_module_httpd(body, setup=setup)


@pytest.fixture(scope="module")
def token(keys):
    return mint(keys.rsa)


def user(r):
    assert r.status_code == 200, (r.status_code, r.headers)
    return r.json()["env"].get("REMOTE_USER")


def body_of(r):
    return base64.b64decode(r.json()["body_b64"])


def bad_request(r):
    assert r.status_code == 400, (r.status_code, r.headers)
    assert challenge(r)[1].get("error") == "invalid_request"
    return True


# ---------------------------------------------------------------------------------------------
# cookie

def test_cookie_token_is_accepted(api, token):
    assert user(api.get("/cgi/cookie.py", headers={"Cookie": "at=" + token})) == "alice"


def test_cookie_token_is_found_among_other_cookies(api, token):
    assert user(api.get("/cgi/cookie.py", headers={"Cookie": "a=1; at=%s; b=2" % token})) == "alice"


def test_cookie_with_other_name_is_ignored(api, token):
    assert api.get("/cgi/cookie.py", headers={"Cookie": "xat=%s; at_=%s" % (token, token)}).status_code == 401


def test_header_token_is_ignored_where_only_cookie_is_configured(api, token):
    r = api.get("/cgi/cookie.py", token)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_cookie_token_is_ignored_where_not_configured(api, token):
    assert api.get("/cgi/default.py", headers={"Cookie": "at=" + token}).status_code == 401


def test_cookie_sent_twice_is_invalid_request(api, token):
    assert bad_request(api.get("/cgi/cookie.py", headers={"Cookie": "at=%s; at=%s" % (token, token)}))


def test_cookie_and_header_token_is_invalid_request(api, token):
    assert bad_request(api.get("/cgi/header_cookie.py", token, headers={"Cookie": "at=" + token}))


@pytest.mark.parametrize("path", ["/cgi/header_cookie.py", "/cgi/all.py"])
def test_header_token_alone_is_accepted_where_cookie_is_also_configured(api, token, path):
    assert user(api.get(path, token)) == "alice"


def test_malformed_cookie_token_is_refused(api):
    r = api.get("/cgi/cookie.py", headers={"Cookie": "at=not-a-jwt"})
    assert r.status_code in (400, 401)
    assert challenge(r)[1].get("error") in ("invalid_request", "invalid_token")


# ---------------------------------------------------------------------------------------------
# query

def test_query_token_is_accepted(api, token):
    assert user(api.get("/cgi/query.py?access_token=" + token)) == "alice"


def test_query_token_is_accepted_among_other_parameters(api, token):
    assert user(api.get("/cgi/query.py?a=1&access_token=%s&b=2" % token)) == "alice"


@pytest.mark.parametrize("path", ["/cgi/default.py", "/cgi/form.py", "/cgi/cookie.py"])
def test_query_token_is_ignored_unless_configured(api, token, path):
    r = api.get(path + "?access_token=" + token)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_query_token_is_ignored_unless_configured_even_with_header_token(api, token):
    # not "two places": the query is no place for tokens here
    assert user(api.get("/cgi/default.py?access_token=" + token, token)) == "alice"


def test_named_query_parameter_is_accepted(api, token):
    assert user(api.get("/cgi/query_named.py?tok=" + token)) == "alice"


def test_default_query_parameter_is_ignored_when_another_name_is_configured(api, token):
    assert api.get("/cgi/query_named.py?access_token=" + token).status_code == 401


def test_query_parameter_twice_is_invalid_request(api, token):
    assert bad_request(api.get("/cgi/query.py?access_token=%s&access_token=%s" % (token, token)))


def test_query_and_header_token_is_invalid_request(api, token):
    assert bad_request(api.get("/cgi/header_query.py?access_token=" + token, token))


@pytest.mark.parametrize("how", ["query", "header", "none", "invalid"])
def test_query_configured_answers_are_private(api, token, how):
    path, tok = {"query": ("/cgi/header_query.py?access_token=" + token, None),
                 "header": ("/cgi/header_query.py", token),
                 "none": ("/cgi/header_query.py", None),
                 "invalid": ("/cgi/header_query.py?access_token=x.y.z", None)}[how]
    r = api.get(path, tok)
    cc = [v.strip().lower() for v in r.headers.get("Cache-Control", "").split(",")]
    assert "private" in cc, r.headers


# ---------------------------------------------------------------------------------------------
# form

def post(api, path, data, content_type=FORM, token=None, method="POST"):
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    return api.request(method, path, data=data, headers=headers)


def test_form_token_is_accepted(api, token):
    assert user(post(api, "/cgi/form.py", "access_token=" + token)) == "alice"


@pytest.mark.parametrize("extra", ["", "&x=1&y=%20z", "&note=" + "a" * 20000, "&bin=%00%FF%0D%0A"],
                         ids=["token-only", "fields", "long", "encoded-bytes"])
def test_handler_receives_the_form_body_unchanged(api, token, extra):
    data = ("first=1&access_token=%s%s" % (token, extra)).encode()
    r = post(api, "/cgi/form.py", data)
    assert user(r) == "alice"
    assert body_of(r) == data


def test_form_token_with_charset_parameter_is_accepted(api, token):
    assert user(post(api, "/cgi/form.py", "access_token=" + token, FORM + "; charset=UTF-8")) == "alice"


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "text/plain", "application/json",
                                          "application/x-www-form-urlencodedx"])
def test_form_token_is_ignored_for_other_content_types(api, token, content_type):
    assert post(api, "/cgi/form.py", "access_token=" + token, content_type).status_code == 401


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_form_token_is_ignored_for_other_methods(api, token, method):
    assert post(api, "/cgi/form.py", "access_token=" + token, method=method).status_code == 401


def test_form_token_is_ignored_in_get_query(api, token):
    assert api.get("/cgi/form.py?access_token=" + token).status_code == 401


def test_form_token_twice_is_invalid_request(api, token):
    assert bad_request(post(api, "/cgi/form.py", "access_token=%s&access_token=%s" % (token, token)))


def test_form_and_header_token_is_invalid_request(api, token):
    assert bad_request(post(api, "/cgi/header_form.py", "access_token=" + token, token=token))


def test_form_and_query_token_is_invalid_request(api, token):
    assert bad_request(post(api, "/cgi/all.py?access_token=" + token, "access_token=" + token))


def test_header_token_with_form_body_keeps_the_body(api, token):
    data = b"a=1&b=" + b"x" * 1000
    r = post(api, "/cgi/header_form.py", data, token=token)
    assert user(r) == "alice"
    assert body_of(r) == data


def test_form_body_just_under_the_read_limit_reaches_the_handler_unchanged(api, token):
    data = b"a=1&big=" + urllib.parse.quote("\u00e9" * 10000).encode() + b"&z=2"  # ~60 KB
    assert len(data) < 64 * 1024
    r = post(api, "/cgi/header_form.py", data, token=token)
    assert user(r) == "alice"
    assert body_of(r) == data


def test_form_body_over_the_read_limit_is_invalid_request_where_form_tokens_count(api, token):
    # past 64 KiB the module cannot see whether a second token follows: it fails closed (CL-06)
    data = b"a=1&big=" + urllib.parse.quote("\u00e9" * 60000).encode() + b"&z=2"
    r = post(api, "/cgi/header_form.py", data, token=token)
    assert r.status_code == 400
    assert challenge(r)[1]["error"] == "invalid_request"


def test_large_form_body_reaches_the_handler_unchanged_where_form_tokens_do_not_count(api, token):
    data = b"a=1&big=" + urllib.parse.quote("\u00e9" * 60000).encode() + b"&z=2"
    r = post(api, "/cgi/default.py", data, token=token)
    assert user(r) == "alice"
    assert body_of(r) == data


def test_form_token_is_ignored_where_form_is_not_configured(api, token):
    r = post(api, "/cgi/default.py", "access_token=" + token)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": "orders-api"})


def test_form_token_where_not_configured_is_not_a_second_token(api, token):
    data = ("access_token=%s&x=1" % token).encode()
    r = post(api, "/cgi/default.py", data, token=token)
    assert user(r) == "alice"
    assert body_of(r) == data


def test_form_token_where_not_configured_leaves_the_body_to_the_handler(api, token):
    data = b"x=1&access_token=abc&y=2"
    r = api.request("POST", "/cgi/cookie.py", data=data, headers={"Content-Type": FORM, "Cookie": "at=" + token})
    assert user(r) == "alice"
    assert body_of(r) == data


def test_form_token_beyond_the_read_limit_with_header_token_is_not_accepted(api, token, keys):
    # the module reads up to 64 KiB of a form to look for access_token; a second token after
    # that point must not leave the handler with a different token than the one verified (CL-06)
    other = mint(keys.rsa, sub="mallory")
    data = ("pad=%s&access_token=%s" % ("x" * (80 * 1024), other)).encode()
    r = post(api, "/cgi/header_form.py", data, token=token)
    assert r.status_code in (400, 413), (r.status_code, r.text[:200])


def test_form_token_beyond_the_read_limit_alone_is_not_accepted(api, token):
    data = ("pad=%s&access_token=%s" % ("x" * (80 * 1024), token)).encode()
    r = post(api, "/cgi/form.py", data)
    assert r.status_code != 200


# ---------------------------------------------------------------------------------------------
# issue 12 item 5: answers to tokens that are not an Authorization header must not be shared
# by caches. mod_cache (with mod_cache_socache) answers from its quick handler, before any
# authentication: a cached answer to a cookie token went to the next client with no token at all.

@pytest.fixture(scope="module")
def cached_api(make_module_httpd, keys):
    body = issuer_block(keys) + """
CacheEnable socache /private/
CacheEnable socache /private-q/
CacheSocache shmcb
CacheDefaultExpire 600
CacheIgnoreNoLastMod On
<Location /private/>
    AuthType claims
    AuthName "orders-api"
    Require valid-user
    ClaimsTokenFrom header cookie=at
    Header set Cache-Control "max-age=600"
</Location>
<Location /private-q/>
    AuthType claims
    AuthName "orders-api"
    Require valid-user
    ClaimsTokenFrom query
    Header set Cache-Control "max-age=600"
</Location>
"""

    def setup(h):
        for rel, text in (("htdocs/private/secret.html", "the secret body\n"),
                          ("htdocs/private/other.html", "another secret\n"),
                          ("htdocs/private-q/third.html", "a third secret\n")):
            path = h.write_file(rel, text)
            os.utime(path, (time.time() - 86400, time.time() - 86400))  # settled: cacheable
    return make_module_httpd(body, setup=setup, modules=["cache", "cache_socache", "socache_shmcb"])


def test_cookie_authenticated_answer_is_private_and_varies_by_cookie(cached_api, token):
    r = cached_api.get("/private/secret.html", headers={"Cookie": "at=" + token})
    assert r.status_code == 200
    assert "private" in [d.strip() for d in r.headers.get("Cache-Control", "").split(",")]
    assert "cookie" in r.headers.get("Vary", "").lower()


def test_cookie_authenticated_answer_is_never_served_to_a_client_without_token(cached_api, token):
    assert cached_api.get("/private/other.html", headers={"Cookie": "at=" + token}).status_code == 200
    assert cached_api.get("/private/other.html", headers={"Cookie": "at=" + token}).status_code == 200
    r = cached_api.get("/private/other.html")
    assert r.status_code == 401, r.text
    assert "another secret" not in r.text


def test_query_authenticated_answer_is_private(cached_api, token):
    r = cached_api.get("/private-q/third.html?access_token=" + token)
    assert r.status_code == 200
    assert "private" in r.headers.get("Cache-Control", "")
    assert cached_api.get("/private-q/third.html").status_code == 401


def test_header_authenticated_answer_is_left_to_the_cache_rules(cached_api, token):
    """Authorization-header answers are not shared by caches anyway (RFC 9111 3.5): no change."""
    r = cached_api.get("/private/secret.html", token)
    assert r.status_code == 200
    assert r.headers.get("Cache-Control") == "max-age=600"


# issue 12 item 6: "at =x" is the cookie "at" for Python, Go and Node: it counts as a second token
@pytest.mark.parametrize("cookie", ["at=%s; at =forged", "at=%s;  at\t=forged", "at =%s; at=forged",
                                    "at=%s, at =forged"])
def test_cookie_name_with_blanks_counts_as_the_same_cookie(api, token, cookie):
    assert bad_request(api.get("/cgi/cookie.py", headers={"Cookie": cookie % token}))


def test_cookie_name_with_blanks_alone_is_the_token_cookie(api, token):
    assert user(api.get("/cgi/cookie.py", headers={"Cookie": "at =" + token})) == "alice"
