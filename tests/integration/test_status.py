"""The claims-status handler (issue 9, issue 18): refusals by issuer and reason (those before an
issuer is known included) with the fixed texts of the WWW-Authenticate answers, issuers with
their keys, remote key sets with their state, the verified-token cache, uptime; summed over all
children, as HTML, JSON (documented, versioned layout) and Prometheus text; no secrets.

The real monitoring tools are in test_status_monitoring.py (Prometheus, promtool) and
test_status_browser.py (Chromium); hostile strings in test_status_hostile.py."""
import os
import re
import shutil
import tempfile
import time

import pytest
import requests

from conftest import CACHE_OFF, ISSUER, SRC_DIR, challenge, issuer_block, mint, now, requires_cache
from monitoring import STATUS_LOCATION, check_page, parse_exposition, samples

STATUS = STATUS_LOCATION + """
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


def fresh(h, path, token=None, headers=None):
    hdrs = {"Connection": "close"}
    hdrs.update(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    return requests.get(h.url + path, headers=hdrs, timeout=10)


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


def status_json(h):
    r = fresh(h, "/claims-status?format=json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    return r.json()


def test_json_status_counts_tokens_of_every_child(server, keys):
    tokens, _ = drive(server, keys)
    doc = status_json(server)
    assert doc["module"] == "mod_claims" and doc["version"] and doc["schema_version"] == 1
    (iss,) = doc["issuers"]
    assert iss["accepted"] == 6
    assert iss["refused"] == {"expired": 3} and iss["refused_total"] == 3
    assert doc["refused_before_issuer"] == {"no_token": 2}
    assert {k["kid"] for k in iss["keys"]} >= {"rsa-1", "ec-1", "ed-1"}
    assert all(k["state"] == "trusted" and k["source"] == "local" for k in iss["keys"])
    assert iss["skipped_keys"] == [] and "key_set_state" not in iss  # local keys: no remote set
    if CACHE_OFF:
        assert doc["cache"]["enabled"] is False
        assert doc["cache"]["entries"] == 0
    else:
        assert doc["cache"]["enabled"] is True
        assert doc["cache"]["misses"] >= 6
        # tokens seen once are in the level the children share (issue 17), not in a child's own
        assert doc["shared_cache"]["enabled"] is True and doc["shared_cache"]["entries"] == 6
        assert doc["signature_verifications"] == 6 + 3


@requires_cache
def test_cache_hits_are_counted_across_children(server, keys):
    token = mint(keys.rsa)
    for _ in range(12):
        assert fresh(server, "/cgi/env.py", token).status_code == 200
    doc = status_json(server)
    assert doc["cache"]["hits"] + doc["cache"]["misses"] == 12
    # at most two misses per child: a token verified afresh goes to the level the children
    # share, and into a child's own level from the second time that child sees it (issue 17);
    # one signature in all, every other request answered from one level or the other
    assert doc["cache"]["misses"] <= 8
    assert doc["signature_verifications"] == 1
    assert doc["cache"]["hits"] + doc["shared_cache"]["hits"] == 11
    assert doc["cache"]["hit_ratio"] == pytest.approx(doc["cache"]["hits"] / 12.0, abs=1e-5)


def test_prometheus_status_is_text_exposition_format(server, keys):
    drive(server, keys)
    r = fresh(server, "/claims-status?format=prometheus")
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert re.search(r'^claims_tokens_accepted_total\{issuer="https://idp.test/realms/main"\} 6$', text, re.M)
    assert re.search(r'^claims_tokens_refused_total\{issuer="https://idp.test/realms/main",reason="expired"\} 3$',
                     text, re.M)
    assert re.search(r'^claims_tokens_refused_total\{issuer="",reason="no_token"\} 2$', text, re.M)
    # issue 18: the caches carry a cache label (claims_cache_entries had none)
    assert re.search(r'^claims_cache_entries\{cache="verified_tokens"\} \d+$', text, re.M)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.match(r'^[a-z_]+(\{[^}]*\})? -?\d+(\.\d+)?$', line), line


def test_prometheus_families_follow_the_naming_conventions(server, keys):
    """Issue 18 item 2: HELP and TYPE on every family, counters end in _total and only they do,
    units in the names, claims_build_info, every reason exported from zero for every configured
    issuer and for issuer="" (so that rate() sees the first refusal of a kind)."""
    drive(server, keys)
    fams = parse_exposition(fresh(server, "/claims-status?format=prometheus").text)
    for name, fam in fams.items():
        assert name.startswith("claims_"), name
        assert fam["type"] in ("counter", "gauge"), (name, fam["type"])
        assert (fam["type"] == "counter") == name.endswith("_total"), name
        assert fam["help"] and not fam["help"].startswith(name), name
        if name.endswith("_seconds") or "timestamp" in name:
            assert name.endswith("_seconds"), name
    (info,) = fams["claims_build_info"]["samples"]
    assert info[2] == 1 and set(info[1]) == {"version", "httpd", "openssl", "curl", "jansson"}
    assert "claims_info" not in fams and "claims_key_set_age_seconds" not in fams  # renamed (README)
    reasons = {l["reason"] for _, l, _ in fams["claims_tokens_refused_total"]["samples"] if l["issuer"] == ""}
    assert {"no_token", "malformed_request", "untrusted_issuer", "expired", "bad_signature"} <= reasons
    assert samples(fams, "claims_tokens_refused_total", issuer=ISSUER, reason="bad_signature") == [0]
    assert samples(fams, "claims_keys", issuer=ISSUER, state="trusted") == [6]
    assert samples(fams, "claims_keys", issuer=ISSUER, state="skipped") == [0]
    start = samples(fams, "claims_start_time_seconds")[0]
    assert time.time() - 120 < start <= time.time()
    issuers = {l.get("issuer") for f in fams.values() for _, l, _ in f["samples"]} - {None}
    assert issuers == {"", ISSUER}  # only configured issuers are labels


def test_unknown_issuer_of_a_token_never_becomes_a_label_or_text(server, keys):
    """An iss that is not configured is counted as untrusted_issuer before an issuer was known,
    and shown nowhere."""
    evil = "https://evil.example/<i>unbounded-%d" % os.getpid()
    for i in range(3):
        assert fresh(server, "/cgi/env.py", mint(keys.rsa, iss=evil + str(i))).status_code == 401
    for fmt in ("", "?format=json", "?format=prometheus"):
        assert "evil.example" not in fresh(server, "/claims-status" + fmt).text
    fams = parse_exposition(fresh(server, "/claims-status?format=prometheus").text)
    assert samples(fams, "claims_tokens_refused_total", issuer="", reason="untrusted_issuer") == [3]


# Requests refused for reasons of every class, and the refusal table row each must give:
# (issuer shown, reason name). The row's answer and text must be what the client was sent.
BEFORE = "(before an issuer was known)"


def refused_requests(h, keys):
    """Sends refused requests; [(issuer cell, reason, response)]."""
    out = []
    out.append((BEFORE, "no_token", fresh(h, "/cgi/env.py")))
    out.append((BEFORE, "no_token", fresh(h, "/cgi/env.py", headers={"Authorization": "Basic dTpw"})))
    out.append((BEFORE, "malformed_request", fresh(h, "/cgi/env.py", headers={"Authorization": "Bearer"})))
    out.append((BEFORE, "not_compact_jws", fresh(h, "/cgi/env.py", "abc")))
    out.append((BEFORE, "untrusted_issuer", fresh(h, "/cgi/env.py", mint(keys.rsa, iss="https://nobody.test"))))
    for i in range(3):
        out.append((ISSUER, "expired", fresh(h, "/cgi/env.py", mint(keys.rsa, exp=now() - 600, iat=now() - 900))))
    out.append((ISSUER, "wrong_audience", fresh(h, "/cgi/env.py", mint(keys.rsa, aud="https://else.test"))))
    return out


def expected_rows(sent):
    """{(issuer, reason): [answer, text, count]} from what the clients were sent."""
    rows = {}
    for issuer, reason, resp in sent:
        scheme, params = challenge(resp)
        assert scheme == "Bearer" and resp.status_code in (400, 401), (reason, resp.status_code)
        answer = "%d %s" % (resp.status_code, params["error"]) if "error" in params else str(resp.status_code)
        row = rows.setdefault((issuer, reason), [answer, params.get("error_description"), 0])
        assert row[:2] == [answer, params.get("error_description")], (reason, row, answer)
        row[2] += 1
    return rows


def test_html_refusal_table_has_every_reason_with_the_texts_clients_got(server, keys):
    """Issue 18 item 1: after requests without a token and malformed ones, the page lists them
    (before an issuer was known) beside those of the issuer, each with the answer and the
    error_description the client received."""
    rows = expected_rows(refused_requests(server, keys))
    r = fresh(server, "/claims-status")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = check_page(r.text)
    got = {}
    for issuer, reason, answer, text, count in page.rows("refusal-table"):
        got[(issuer, reason)] = [answer, text, int(count)]
    for (issuer, reason), (answer, text, count) in rows.items():
        # a 401 without a token carries no error_description: the table gives the reason's text
        assert got[(issuer, reason)][0] == answer, (issuer, reason, got)
        assert got[(issuer, reason)][2] == count, (issuer, reason, got)
        if text is not None:
            assert got[(issuer, reason)][1] == text, (issuer, reason, got)
    assert got[(BEFORE, "no_token")][1] == "no bearer token"
    assert set(got) == set(rows)


def test_json_refusals_carry_the_same_rows(server, keys):
    rows = expected_rows(refused_requests(server, keys))
    doc = status_json(server)
    got = {(r["issuer"] or BEFORE, r["reason"]): r for r in doc["refusals"]}
    assert set(got) == set(rows)
    for key, (answer, text, count) in rows.items():
        row = got[key]
        assert ("%d %s" % (row["status"], row["error"]) if row["error"] else str(row["status"])) == answer
        assert row["count"] == count
        if text is not None:
            assert row["text"] == text
    assert doc["refused_before_issuer"] == {"no_token": 2, "malformed_request": 1, "not_compact_jws": 1,
                                            "untrusted_issuer": 1}
    assert doc["issuers"][0]["refused"] == {"expired": 3, "wrong_audience": 1}


def test_html_status_is_default_and_well_formed(server, keys):
    drive(server, keys)
    r = fresh(server, "/claims-status")
    assert r.headers["Content-Type"].startswith("text/html")
    assert "mod_claims" in r.text and "https://idp.test/realms/main" in r.text and "rsa-1" in r.text
    page = check_page(r.text)
    (issuer_row,) = page.rows("issuer-table")
    assert issuer_row[:3] == [ISSUER, "6", "3"] and issuer_row[3] == "local" and issuer_row[4] == "6 trusted"
    keys_rows = page.rows("key-table")
    assert ["%s %s %s" % (k[1], k[2], k[5]) for k in keys_rows][:2] == ["rsa-1 RS256 trusted", "rsa-2 RS256 trusted"]
    cache_row, shared_row = page.rows("cache-table")
    assert cache_row[0] == "verified_tokens" and cache_row[1] == ("off" if CACHE_OFF else "on")
    assert shared_row[0] == "verified_tokens_shared" and shared_row[1] == ("off" if CACHE_OFF else "on")
    assert "key-set-table" not in page.tables  # no remote key set configured
    assert re.search(r"Up \d+ s since the last start or restart", r.text)


def test_status_headers_forbid_caching_sniffing_and_scripts(server):
    for fmt in ("", "?format=json", "?format=prometheus"):
        r = fresh(server, "/claims-status" + fmt)
        assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Content-Type-Options"] == "nosniff"
    csp = fresh(server, "/claims-status").headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


@pytest.mark.parametrize("query,kind", [
    ("", "html"), ("?format=json", "json"), ("?format=prometheus", "prometheus"),
    ("?a=1&format=json", "json"), ("?format=prometheus&x", "prometheus"),
    ("?xformat=json", "html"), ("?format=jsonx", "html"), ("?format=JSON", "html"),
])
def test_format_parameter_is_read_exactly(server, query, kind):
    ctype = fresh(server, "/claims-status" + query).headers["Content-Type"]
    assert ctype.startswith({"html": "text/html", "json": "application/json",
                             "prometheus": "text/plain; version=0.0.4"}[kind])


def test_head_answers_without_a_body_and_other_methods_are_refused(server):
    r = requests.head(server.url + "/claims-status?format=json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json" and r.content == b""
    r = requests.post(server.url + "/claims-status", data="x", timeout=10)
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", "")


def test_uptime_and_counts_start_again_at_a_restart(server, keys):
    drive(server, keys, good=1, expired=1, missing=1)
    before = status_json(server)
    assert before["started_at"] <= before["time"] and before["uptime_seconds"] == before["time"] - before["started_at"]
    assert before["issuers"][0]["accepted"] == 1
    time.sleep(1.1)
    server.graceful()
    deadline = time.time() + 10
    while True:
        after = status_json(server)
        if after["started_at"] > before["started_at"] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert after["started_at"] > before["started_at"]
    assert after["issuers"][0]["accepted"] == 0 and after["refused_before_issuer"] == {}
    assert after["uptime_seconds"] < 10


@pytest.mark.parametrize("fmt", ["", "?format=json", "?format=prometheus"])
def test_status_never_shows_tokens_claims_or_key_material(server, keys, fmt):
    tokens, secret_sub = drive(server, keys)
    body = fresh(server, "/claims-status" + fmt).text
    assert secret_sub not in body
    for t in tokens:
        assert t.split(".")[1] not in body and t.split(".")[2] not in body
    n = keys.rsa.export_public(as_dict=True)["n"]
    assert n[:40] not in body


def test_json_schema_is_documented_in_the_readme(server, keys):
    """Every member of the JSON document (top level, issuer, key, refusal row, cache) is in the
    README's schema table, with the schema_version the page sends."""
    drive(server, keys)
    doc = status_json(server)
    with open(os.path.join(SRC_DIR, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme[readme.index("### JSON schema"):]
    section = section[:section.index("\n## ")]
    assert "schema_version` | %d" % doc["schema_version"] in section or \
        "`schema_version`: %d" % doc["schema_version"] in section, "README does not give schema_version 1"
    members = set(doc) | set(doc["build"]) | set(doc["cache"]) | set(doc["shared_cache"]) | set(doc["issuers"][0])
    members |= set(doc["issuers"][0]["keys"][0]) | set(doc["refusals"][0])
    assert "dpop_replay" in doc, "the replay store has no figures"
    members |= set(doc["dpop_replay"])
    undocumented = sorted(m for m in members if "`%s`" % m not in section)
    assert not undocumented, "README JSON schema lacks %s" % undocumented


# ------------------------------------------------------------------------------------------
# Remote key sets: state, last refresh, next refresh, staleness (issue 18 item 1)

@pytest.fixture
def idp():
    from jwcrypto import jwk
    from idp import IdP
    d = tempfile.mkdtemp(prefix="claims-idp-")
    os.chmod(d, 0o755)
    provider = IdP(d, "/realms/status")
    provider.keys = [jwk.JWK.generate(kty="EC", crv="P-256", kid="k1", alg="ES256", use="sig")]
    yield provider
    provider.close()
    shutil.rmtree(d, ignore_errors=True)


def remote_issuer(idp, url, refresh=2, stale=6):
    return """
<ClaimsIssuer %s>
    ClaimsJWKS %s
    ClaimsCAFile %s
    ClaimsAudience https://api.test
    ClaimsRefreshInterval %d
    ClaimsUnknownKidInterval 1
    ClaimsFetchTimeout 1
    ClaimsMaxStale %d
</ClaimsIssuer>
""" % (idp.issuer, url, idp.ca, refresh, stale)


def key_set_views(h):
    """(JSON issuer, HTML key set row, Prometheus families) of the one remote issuer."""
    (iss,) = status_json(h)["issuers"]
    (row,) = check_page(fresh(h, "/claims-status").text).rows("key-set-table")
    fams = parse_exposition(fresh(h, "/claims-status?format=prometheus").text)
    return iss, row, fams


def wait_state(h, state, timeout):
    deadline = time.time() + timeout
    while True:
        iss, row, fams = key_set_views(h)
        if iss["key_set_state"] == state or time.time() > deadline:
            break
        time.sleep(0.25)
    assert iss["key_set_state"] == state, (state, iss, h.log()[-2000:])
    assert row[2] == state, row
    states = {l["state"]: v for _, l, v in fams["claims_key_set_state"]["samples"]}
    if states[state] != 1:  # the three reads are a moment apart: the state may just have moved on
        iss, row, fams = key_set_views(h)
        states = {l["state"]: v for _, l, v in fams["claims_key_set_state"]["samples"]}
    assert states[state] == 1 and sum(states.values()) == 1, states
    assert iss["key_set_stale"] == (state in ("overdue", "expired"))
    return iss, row, fams


def test_remote_key_set_states_through_an_outage(idp, make_httpd):
    """unavailable (never fetched) -> fresh -> failing (kept) -> overdue (stale) -> expired (past
    ClaimsMaxStale, keys no longer trusted) -> fresh, the same in JSON, HTML and Prometheus; the
    refresh error names the URL without its userinfo."""
    url = idp.jwks_url.replace("https://", "https://svc-user:s3cret-pw@")
    idp.down()
    h = make_httpd(remote_issuer(idp, url) + STATUS, modules=["socache_shmcb"])
    h.allowed_errors += ["CLM051", "CLM054"]
    iss, row, fams = wait_state(h, "unavailable", 5)
    assert iss["last_refresh"] == "failed" and iss["keys"] == [] and iss["last_success_at"] is None
    assert "s3cret-pw" not in iss["last_refresh_error"] and "svc-user" not in iss["last_refresh_error"]
    assert iss["last_refresh_error"].startswith(idp.jwks_url)

    idp.up()
    iss, row, fams = wait_state(h, "fresh", 8)
    assert [(k["kid"], k["source"], k["state"]) for k in iss["keys"]] == [("k1", "remote", "trusted")]
    assert iss["key_set_in_use"] is True and "last_refresh_error" not in iss
    assert iss["refresh_interval_seconds"] == 2 and iss["max_stale_seconds"] == 6
    assert iss["last_attempt_at"] >= iss["last_success_at"] > 0
    assert samples(fams, "claims_key_set_last_refresh_ok") == [1]
    assert samples(fams, "claims_key_set_refresh_interval_seconds") == [2]
    success = samples(fams, "claims_key_set_last_success_timestamp_seconds")[0]
    assert abs(success - iss["last_success_at"]) < 1
    assert samples(fams, "claims_key_set_next_refresh_timestamp_seconds")[0] >= success

    idp.down()
    iss, row, fams = wait_state(h, "failing", 6)
    assert iss["key_set_in_use"] is True and row[3].startswith("failed")
    assert samples(fams, "claims_key_set_last_refresh_ok") == [0]
    iss, row, fams = wait_state(h, "overdue", 6)
    assert iss["keys"] and iss["due_at"] < time.time()
    iss, row, fams = wait_state(h, "expired", 8)
    assert iss["key_set_in_use"] is False and iss["keys"] == []
    for text in (str(iss), str(row), fresh(h, "/claims-status?format=prometheus").text):
        assert "s3cret-pw" not in text and "svc-user" not in text

    idp.up()
    iss, row, fams = wait_state(h, "fresh", 8)
    assert iss["key_set_in_use"] is True and iss["fetches"] >= 3
