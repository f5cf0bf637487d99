"""Hostile strings on the status page (issue 18): issuer identifiers, kids and key set URLs with
markup, quotes, backslashes, control characters, characters that break Prometheus labels,
invisible or bidirectional Unicode and bytes that are not UTF-8 never break the HTML, the JSON
or the exposition format, and always show as the same text (monitoring.display) in all three.

Issuers and local kids come from the configuration (written as raw bytes, Include'd); remote
kids from the test identity provider's key set; URLs from ClaimsJWKS. Table-driven."""
import json
import os
import shutil
import tempfile

import pytest
import requests
from jwcrypto import jwk

from conftest import ISSUER, issuer_block, mint, now
from idp import IdP
from monitoring import STATUS_LOCATION, check_page, display, parse_exposition, promtool, samples

LOCATION = STATUS_LOCATION + """
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
Include hostile.conf
"""
MODS = ["socache_shmcb"]


def conf_word(data):
    """bytes as one double-quoted httpd configuration word (ap_getword_conf reads \\\\ and \\")."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def start(make_httpd, hostile_conf, body=""):
    def setup(h):
        h.write_file("hostile.conf", hostile_conf)
    return make_httpd(body + LOCATION, setup=setup, modules=MODS)


def get(h, fmt):
    r = requests.get(h.url + "/claims-status" + fmt, headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200
    return r


def formats(h):
    """(HTML page, JSON document, exposition families) of the status page, each checked: the
    HTML well-formed and made of the page's own elements only, the JSON parsed from ASCII,
    the exposition read strictly and clean under promtool check metrics."""
    html = get(h, "").text
    page = check_page(html)
    raw = get(h, "?format=json").content
    assert all(b < 0x80 for b in raw), "JSON is not ASCII"
    doc = json.loads(raw)
    text = get(h, "?format=prometheus").content
    text.decode("utf-8")  # strict: valid UTF-8
    rc, out = promtool("check", "metrics", stdin=text)
    assert rc == 0, out
    fams = parse_exposition(text.decode("utf-8"))
    return page, doc, fams, html


# ------------------------------------------------------------------------------------------
# issuer identifiers (configuration bytes)

ISSUERS = {
    "markup": b"https://idp.test/<script>alert(1)</script>",
    "attribute-breaker": b'https://idp.test/"><img src=x onerror=alert(1)>',
    "label-breaker": b'https://idp.test/a\\"} 1\\nclaims_fake{x="1',
    "backslashes": b"https://idp.test/\\x41\\\\n\\",
    "controls": b"https://idp.test/\x01\x1b[31m\x7f",
    "not-utf8": b"https://idp.test/\xff\xfe\xc3(\xed\xa0\x80\xc0\xaf",
    "bidi-invisible": "https://idp.test/\u202egnp.exe\u200b\ufeff\u2028".encode(),
    "unicode": "https://idp.test/réalm-ü-日本".encode(),
    "quote-apostrophe-amp": b"https://idp.test/'&amp;&lt;\"",
}


def utf8(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


@pytest.mark.parametrize("case", sorted(ISSUERS))
def test_hostile_issuer_identifier(make_httpd, keys, case):
    raw = ISSUERS[case]
    conf = b"<ClaimsIssuer " + conf_word(raw) + b">\n    ClaimsKeyFile " + keys.jwks_path.encode() + \
        b"\n    ClaimsAudience https://api.test\n</ClaimsIssuer>\n"
    h = start(make_httpd, conf, issuer_block(keys))
    iss = utf8(raw)
    if iss is not None:  # a token can name it: count one accepted and one refused token
        assert h.get("/cgi/env.py", mint(keys.rsa, iss=iss)).status_code == 200, h.log()[-1500:]
        assert h.get("/cgi/env.py", mint(keys.rsa, iss=iss, exp=now() - 600, iat=now() - 900)).status_code == 401
    assert h.get("/cgi/env.py").status_code == 401
    shown = display(raw)
    page, doc, fams, html = formats(h)

    assert [i["issuer"] for i in doc["issuers"]] == [ISSUER, shown]
    counted = 1 if iss is not None else 0
    assert doc["issuers"][1]["accepted"] == counted
    assert doc["issuers"][1]["refused"] == ({"expired": 1} if counted else {})
    rows = {(r["issuer"], r["reason"]): r["count"] for r in doc["refusals"]}
    assert rows[(None, "no_token")] == 1 and rows.get((shown, "expired"), 0) == counted

    assert [r[0] for r in page.rows("issuer-table")] == [ISSUER, shown]
    assert {r[0] for r in page.rows("key-table")} == {ISSUER, shown}
    if counted:
        assert [shown, "expired", "401 invalid_token", "token has expired", "1"] in page.rows("refusal-table")

    assert samples(fams, "claims_tokens_accepted_total", issuer=shown) == [counted]
    assert samples(fams, "claims_tokens_refused_total", issuer=shown, reason="expired") == [counted]
    labels = {l["issuer"] for f in fams.values() for _, l, _ in f["samples"] if "issuer" in l}
    assert labels == {"", ISSUER, shown}
    assert b"<script" not in html.encode() and b"<img" not in html.encode()


# ------------------------------------------------------------------------------------------
# kids bound in the configuration (ClaimsKeyFile ... kid=)

LOCAL_KIDS = {
    "markup": b"<b>bold</b><script>x()</script>",
    "quotes-backslash": b'k"id\\\'',
    "label-breaker": b'"} 1\\n# TYPE x counter',
    "not-utf8": b"kid-\xff\xfe-\xe2\x80",
    "controls": b"kid\x01\x08\x7f",
}


@pytest.mark.parametrize("case", sorted(LOCAL_KIDS))
def test_hostile_kid_bound_in_the_configuration(make_httpd, keys, case):
    raw = LOCAL_KIDS[case]
    conf = b"<ClaimsIssuer https://kids.test>\n    ClaimsKeyFile " + keys.rsa_pem_path.encode() + b" " + \
        conf_word(b"kid=" + raw) + b" alg=RS256\n    ClaimsAudience https://api.test\n</ClaimsIssuer>\n"
    h = start(make_httpd, conf)
    kid = utf8(raw)
    if kid is not None:  # the kid is exactly what the configuration said
        assert h.get("/cgi/env.py", mint(keys.rsa, iss="https://kids.test", header={"kid": kid})).status_code == 200
    page, doc, fams, html = formats(h)
    (iss,) = doc["issuers"]
    assert [(k["kid"], k["alg"], k["state"]) for k in iss["keys"]] == [(display(raw), "RS256", "trusted")]
    assert [r[1] for r in page.rows("key-table")] == [display(raw)]
    assert samples(fams, "claims_keys", issuer="https://kids.test", state="trusted") == [1]
    assert "<b>" not in html and "<script" not in html


# ------------------------------------------------------------------------------------------
# kids of a remote key set, trusted and skipped; key set URLs

REMOTE_KIDS = [
    "<img src=x onerror=alert(1)>",
    'q"uote\\back\'slash',
    "new\nline\ttab\rcr",
    '"} 1\n# HELP claims_fake x',
    "\u202eevil\u200b",
    "\u0085nel\u009b[0m",
    "ré-日本-😀",
]


@pytest.fixture
def idp():
    d = tempfile.mkdtemp(prefix="claims-idp-")
    os.chmod(d, 0o755)
    provider = IdP(d, "/realms/hostile")
    yield provider
    provider.close()
    shutil.rmtree(d, ignore_errors=True)


def remote_conf(idp, url):
    return ("<ClaimsIssuer %s>\n    ClaimsJWKS %s\n    ClaimsCAFile %s\n    ClaimsAudience https://api.test\n"
            "    ClaimsUnknownKidInterval 1\n    ClaimsFetchTimeout 2\n</ClaimsIssuer>\n"
            % (idp.issuer, conf_word(url.encode()).decode(), idp.ca)).encode()


def wait_json(h, check, timeout=8.0):
    import time
    deadline = time.time() + timeout
    while True:
        doc = get(h, "?format=json").json()
        if check(doc) or time.time() > deadline:
            return doc
        time.sleep(0.2)


def test_hostile_kids_of_a_remote_key_set(idp, make_httpd):
    trusted = [jwk.JWK.generate(kty="EC", crv="P-256", kid=k, alg="ES256", use="sig") for k in REMOTE_KIDS]
    skipped = []
    for k in REMOTE_KIDS:  # an RSA key without alg is skipped: usable with several algorithms
        pub = json.loads(jwk.JWK.generate(kty="RSA", size=2048, kid="skip-" + k).export_public())
        pub.pop("alg", None)
        skipped.append(pub)
    idp.jwks_doc = {"keys": [json.loads(k.export_public()) for k in trusted] + skipped}
    h = start(make_httpd, remote_conf(idp, idp.jwks_url))
    doc = wait_json(h, lambda d: d["issuers"][0]["keys"])
    # every kid is exact: a token naming it is accepted
    for key in trusted[:3]:
        tok = mint(key, {"iss": idp.issuer, "aud": "https://api.test"})
        assert h.get("/cgi/env.py", tok).status_code == 200, h.log()[-2000:]
    page, doc, fams, html = formats(h)
    (iss,) = doc["issuers"]
    assert [k["kid"] for k in iss["keys"]] == [display(k) for k in REMOTE_KIDS]
    assert [k["kid"] for k in iss["skipped_keys"]] == [display("skip-" + k) for k in REMOTE_KIDS]
    assert all("no alg" in k["reason"] and k["kty"] == "RSA" for k in iss["skipped_keys"])
    rows = page.rows("key-table")
    assert [r[1] for r in rows] == [display(k) for k in REMOTE_KIDS] + [display("skip-" + k) for k in REMOTE_KIDS]
    assert [r[5].split(":")[0] for r in rows] == ["trusted"] * len(REMOTE_KIDS) + ["skipped"] * len(REMOTE_KIDS)
    assert samples(fams, "claims_keys", issuer=idp.issuer, state="skipped") == [len(REMOTE_KIDS)]
    assert "\u202e" not in html and "\u0085" not in html and "<img" not in html


URLS = {
    "markup-in-query": "{base}{path}?q=<script>alert(1)</script>&x=\"y\"",
    "markup-in-path": "{base}/<b>\"'/certs",
    "userinfo-with-markup": "https://us<er:p\"w0rd-x9@127.0.0.1:{port}{path}",
    "userinfo-encoded": "https://svc:pa%20ss%40w0rd-x9@127.0.0.1:{port}{path}?<i>",
    "backslash-brace": "{base}{path}\\x}}\"",
}


@pytest.mark.parametrize("case", sorted(URLS))
def test_hostile_key_set_url(idp, make_httpd, case):
    """The URL shows as the key source and in the refresh error, escaped, without userinfo."""
    url = URLS[case].format(base=idp.base, port=idp.port, path=idp.jwks_path)
    idp.keys = [jwk.JWK.generate(kty="EC", crv="P-256", kid="k1", alg="ES256", use="sig")]
    h = start(make_httpd, remote_conf(idp, url))
    h.allowed_errors.append("CLM051")  # the markup in the path or query makes the IdP answer 404
    doc = wait_json(h, lambda d: d["issuers"][0]["last_refresh"] != "pending")
    page, doc, fams, html = formats(h)
    (iss,) = doc["issuers"]
    for text in (html, json.dumps(doc), get(h, "?format=prometheus").text):
        assert "w0rd-x9" not in text and "us<er" not in text and "svc:" not in text, case
    assert "<script" not in html and "<b>" not in html and "<i>" not in html
    shown = [r[3] for r in page.rows("issuer-table")] + [r[1] for r in page.rows("key-set-table")]
    assert shown == [iss["key_source"]] * 2
    if "@" not in url:
        assert iss["key_source"] == display(url)
    if iss["last_refresh"] == "failed":
        assert iss["last_refresh_error"] in page.rows("key-set-table")[0][3]
    assert samples(fams, "claims_key_set_fetches_total", issuer=idp.issuer)[0] >= 1
