"""The claims-status handler: module version, issuers with key ids, cache figures and token
counters summed over all children, as HTML, JSON and Prometheus text; no secrets."""
import re

import pytest
import requests

from conftest import CACHE_OFF, issuer_block, mint, now, requires_cache

STATUS = """
<Location /claims-status>
    SetHandler claims-status
    Require ip 127.0.0.1
</Location>
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
"""


@pytest.fixture
def server(make_httpd, keys):
    # prefork with several children: every request on a new connection may land elsewhere
    h = make_httpd(issuer_block(keys) + STATUS
                   # exactly four children, never more, never replaced: at most four cache misses
                   + "ServerLimit 4\nMaxRequestWorkers 4\nStartServers 4\nMinSpareServers 4\nMaxSpareServers 4\n",
                   mpm="prefork", start=False)
    h.allowed_errors.append("AH00161:")  # prefork may note its worker limit under test load
    return h.start()


def fresh(h, path, token=None):
    headers = {"Connection": "close"}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    return requests.get(h.url + path, headers=headers, timeout=10)


def drive(h, keys, good=6, expired=3, missing=2):
    secret_sub = "sub-that-must-not-leak-4711"
    tokens = [mint(keys.rsa, sub=secret_sub, jti=str(i)) for i in range(good)]
    for t in tokens:
        assert fresh(h, "/cgi/env.py", t).status_code == 200
    for i in range(expired):
        assert fresh(h, "/cgi/env.py", mint(keys.rsa, exp=now() - 600, iat=now() - 900, jti="x%d" % i)).status_code == 401
    for _ in range(missing):
        assert fresh(h, "/cgi/env.py").status_code == 401
    return tokens, secret_sub


def test_json_status_counts_tokens_of_every_child(server, keys):
    tokens, _ = drive(server, keys)
    doc = fresh(server, "/claims-status?format=json").json()
    assert doc["module"] == "mod_claims" and doc["version"]
    (iss,) = doc["issuers"]
    assert iss["accepted"] == 6
    assert iss["refused"] == {"expired": 3}
    assert doc["refused_before_issuer"] == {"no_token": 2}
    assert {k["kid"] for k in iss["keys"]} >= {"rsa-1", "ec-1", "ed-1"}
    if CACHE_OFF:
        assert doc["cache"]["enabled"] is False
        assert doc["cache"]["entries"] == 0
    else:
        assert doc["cache"]["enabled"] is True
        assert doc["cache"]["misses"] >= 6
        assert doc["cache"]["entries"] >= 1


@requires_cache
def test_cache_hits_are_counted_across_children(server, keys):
    token = mint(keys.rsa)
    for _ in range(12):
        assert fresh(server, "/cgi/env.py", token).status_code == 200
    doc = fresh(server, "/claims-status?format=json").json()
    assert doc["cache"]["hits"] + doc["cache"]["misses"] == 12
    assert doc["cache"]["misses"] <= 4  # at most one miss per child


def test_prometheus_status_is_text_exposition_format(server, keys):
    drive(server, keys)
    r = fresh(server, "/claims-status?format=prometheus")
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert re.search(r'^claims_tokens_accepted_total\{issuer="https://idp.test/realms/main"\} 6$', text, re.M)
    assert re.search(r'^claims_tokens_refused_total\{issuer="https://idp.test/realms/main",reason="expired"\} 3$',
                     text, re.M)
    assert re.search(r'^claims_tokens_refused_total\{issuer="",reason="no_token"\} 2$', text, re.M)
    assert re.search(r"^claims_cache_entries \d+$", text, re.M)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.match(r'^[a-z_]+(\{[^}]*\})? -?\d+$', line), line


def test_html_status_is_default(server, keys):
    drive(server, keys)
    r = fresh(server, "/claims-status")
    assert r.headers["Content-Type"].startswith("text/html")
    assert "mod_claims" in r.text and "https://idp.test/realms/main" in r.text and "rsa-1" in r.text


@pytest.mark.parametrize("fmt", ["", "?format=json", "?format=prometheus"])
def test_status_never_shows_tokens_claims_or_key_material(server, keys, fmt):
    tokens, secret_sub = drive(server, keys)
    body = fresh(server, "/claims-status" + fmt).text
    assert secret_sub not in body
    for t in tokens:
        assert t.split(".")[1] not in body and t.split(".")[2] not in body
    n = keys.rsa.export_public(as_dict=True)["n"]
    assert n[:40] not in body
