"""The status page in a real browser (issue 18): headless Chromium (Debian package chromium)
renders the HTML page; the DOM it builds has the refusal table with the rows known traffic must
give, hostile issuer identifiers stay text, and the page loads nothing and runs no script.

A missing chromium fails these tests (never skips them): build/deps.sh installs it."""
import pytest

from conftest import ISSUER, issuer_block, mint, now
from monitoring import STATUS_LOCATION, Page, check_page, chromium_dom, display

LOCATION = STATUS_LOCATION + """
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
"""
BEFORE = "(before an issuer was known)"
HOSTILE = b'https://idp.test/"><script>document.title="owned"</script><img src=x onerror=alert(1)>'


@pytest.fixture
def server(make_httpd, keys):
    conf = b"<ClaimsIssuer \"" + HOSTILE.replace(b'"', b'\\"') + b"\">\n    ClaimsKeyFile " + \
        keys.jwks_path.encode() + b"\n    ClaimsAudience https://api.test\n</ClaimsIssuer>\n"

    def setup(h):
        h.write_file("hostile.conf", conf)
    return make_httpd(issuer_block(keys) + LOCATION + "Include hostile.conf\n", setup=setup)


def test_chromium_renders_the_refusal_table_after_known_traffic(server, keys):
    h = server
    assert h.get("/cgi/env.py").status_code == 401
    assert h.get("/cgi/env.py").status_code == 401
    assert h.get("/cgi/env.py", headers={"Authorization": "Bearer"}).status_code == 400
    assert h.get("/cgi/env.py", "not-a-jws").status_code == 401
    for _ in range(3):
        assert h.get("/cgi/env.py", mint(keys.rsa, exp=now() - 600, iat=now() - 900)).status_code == 401
    assert h.get("/cgi/env.py", mint(keys.rsa, iss=HOSTILE.decode(), aud="https://other.test")).status_code == 401
    assert h.get("/cgi/env.py", mint(keys.rsa)).status_code == 200

    check_page(h.get("/claims-status").text)  # the page as sent is well formed
    dom = chromium_dom(h.url + "/claims-status")
    page = Page(dom)
    assert not page.problems, page.problems  # Chromium's serialisation parses back balanced
    rows = [r for r in page.rows("refusal-table")]
    assert rows == [
        [BEFORE, "no_token", "401", "no bearer token", "2"],
        [BEFORE, "malformed_request", "400 invalid_request", "malformed bearer credentials", "1"],
        [BEFORE, "not_compact_jws", "401 invalid_token", "token is not a compact JWS", "1"],
        [ISSUER, "expired", "401 invalid_token", "token has expired", "3"],
        [display(HOSTILE), "wrong_audience", "401 invalid_token", "token audience is not accepted here", "1"],
    ], rows
    # the hostile issuer stayed text: no element came from it, no script ran
    assert page.elements <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "tbody",
                             "tr", "th", "td", "a"}, page.elements
    assert "<title>mod_claims status</title>" in dom and "owned" not in dom.split("<body>")[0]
    issuers = [r[0] for r in page.rows("issuer-table")]
    assert issuers == [ISSUER, display(HOSTILE)]
    cache, shared = page.rows("cache-table")   # each child's level, and the level they share
    assert cache[0] == "verified_tokens" and shared[0] == "verified_tokens_shared"
