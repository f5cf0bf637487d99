"""The status page with the real monitoring tools (issue 18): a real Prometheus server (Debian
package prometheus) scrapes a test apache2's ?format=prometheus, the project's alerting rules
(conf/prometheus) loaded; the test queries Prometheus' HTTP API for the series and values that
known traffic must give. promtool checks the exposition and the rules and runs the rules' unit
tests; every query of the Grafana dashboard runs against the real Prometheus.

A missing prometheus or promtool fails these tests (never skips them): build/deps.sh installs it."""
import json
import os
import re
import shutil
import tempfile

import pytest
import requests

from conftest import ISSUER, issuer_block, mint, now
from monitoring import (ALERTS, ALERT_TESTS, DASHBOARD, STATUS_LOCATION, Prometheus, display, parse_exposition,
                        promtool)

LOCATION = STATUS_LOCATION + """
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
"""


def fresh(h, path, token=None, headers=None):
    hdrs = {"Connection": "close"}
    hdrs.update(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    return requests.get(h.url + path, headers=hdrs, timeout=10)


@pytest.fixture
def prometheus():
    """Factory: prometheus(targets) -> a running Prometheus scraping them; stopped after the test."""
    made = []

    def factory(targets, **kw):
        p = Prometheus(targets, **kw)
        made.append(p)
        return p

    yield factory
    for p in made:
        p.stop()


def value(result, **labels):
    """The value of the one series of result whose labels include these."""
    found = [v for l, v in result if all(l.get(k) == want for k, want in labels.items())]
    assert len(found) == 1, (labels, result)
    return found[0]


def test_promtool_checks_the_rules_and_their_unit_tests_pass():
    rc, out = promtool("check", "rules", ALERTS)
    assert rc == 0 and "SUCCESS: 5 rules found" in out, out
    rc, out = promtool("test", "rules", ALERT_TESTS)  # its rule_files are read beside it
    assert rc == 0 and "SUCCESS" in out and "FAILED" not in out, out


def test_promtool_check_metrics_is_clean_on_the_real_exposition(make_httpd, keys):
    h = make_httpd(issuer_block(keys) + LOCATION)
    for t in (mint(keys.rsa), mint(keys.rsa, exp=now() - 600, iat=now() - 900), None):
        fresh(h, "/cgi/env.py", t)
    text = fresh(h, "/claims-status?format=prometheus").content
    rc, out = promtool("check", "metrics", stdin=text)
    assert rc == 0 and out.strip() == "", out  # no lint finding at all
    parse_exposition(text.decode("utf-8"))


def test_prometheus_scrapes_the_page_and_finds_the_traffic(make_httpd, keys, prometheus):
    """Known traffic -> the series and values Prometheus stores, by its HTTP API: accepted and
    refused by issuer and reason (issuer="" before an issuer is known), keys, cache, build info,
    start time; the scrape target is up, and the alerting rules load and evaluate without error."""
    h = make_httpd(issuer_block(keys) + LOCATION)
    prom = prometheus([h])
    token = mint(keys.rsa)
    for _ in range(4):
        assert fresh(h, "/cgi/env.py", token).status_code == 200
    for _ in range(3):
        assert fresh(h, "/cgi/env.py", mint(keys.rsa, exp=now() - 600, iat=now() - 900)).status_code == 401
    for _ in range(2):
        assert fresh(h, "/cgi/env.py").status_code == 401
    assert fresh(h, "/cgi/env.py", headers={"Authorization": "Bearer"}).status_code == 400
    assert fresh(h, "/cgi/env.py", mint(keys.rsa, iss="https://stranger.test")).status_code == 401

    sel = '{job="claims",instance="127.0.0.1:%d"}' % h.port
    prom.wait("claims_tokens_accepted_total" + sel, lambda r: r and r[0][1] == 4)
    refused = prom.wait('claims_tokens_refused_total%s > 0' % sel, lambda r: len(r) == 4)
    # an empty label value is no label at all for Prometheus: issuer="" selects them
    assert value(refused, issuer=ISSUER, reason="expired") == 3
    assert value(refused, reason="no_token") == 2 and "issuer" not in [l for l, v in refused
                                                                        if l["reason"] == "no_token"][0]
    assert value(refused, reason="malformed_request") == 1
    assert value(refused, reason="untrusted_issuer") == 1
    assert value(prom.query('claims_tokens_refused_total{issuer="",reason="no_token"}')) == 2
    assert "stranger" not in json.dumps(prom.api("labels")) + json.dumps(prom.api("label/issuer/values"))
    assert prom.api("label/issuer/values") == [ISSUER]
    assert value(prom.query('claims_keys{state="trusted"}'), issuer=ISSUER) == 6
    (build,) = prom.query("claims_build_info")
    assert build[1] == 1 and build[0]["version"] and build[0]["openssl"]
    start = value(prom.query("claims_start_time_seconds"))
    assert 0 <= value(prom.query("time() - claims_start_time_seconds")) < 300 and start > 0
    lookups = value(prom.query('claims_cache_hits_total{cache="verified_tokens"}')) + \
        value(prom.query('claims_cache_misses_total{cache="verified_tokens"}'))
    assert lookups >= 4 or os.environ.get("CLAIMS_TEST_CACHE", "on") == "off"
    assert value(prom.query("up" + sel)) == 1
    (target,) = prom.api("targets")["activeTargets"]
    assert target["health"] == "up" and target["lastError"] == ""
    # the shipped rules are loaded and evaluate on the real series without error
    groups = prom.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} == {"ModClaimsKeySetStale", "ModClaimsKeySetExpired",
                                          "ModClaimsKeySetRefreshFailing", "ModClaimsRefusalsHigh",
                                          "ModClaimsCacheEvictionStorm"}
    prom.wait("vector(1)", lambda r: all(r_.get("lastEvaluation", "").startswith("20") for r_ in
                                          [x for g in prom.api("rules")["groups"] for x in g["rules"]]))
    for r in [x for g in prom.api("rules")["groups"] for x in g["rules"]]:
        assert r["health"] == "ok", r


def dashboard_queries():
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    exprs = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            exprs.append((panel["title"], t["expr"]))
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(("variable " + var["name"], var["query"]["query"]))
    return dash, exprs


@pytest.fixture
def idp():
    from jwcrypto import jwk
    from idp import IdP
    d = tempfile.mkdtemp(prefix="claims-idp-")
    os.chmod(d, 0o755)
    provider = IdP(d, "/realms/monitoring")
    provider.keys = [jwk.JWK.generate(kty="EC", crv="P-256", kid="k1", alg="ES256", use="sig")]
    yield provider
    provider.close()
    shutil.rmtree(d, ignore_errors=True)


def test_grafana_dashboard_queries_run_on_the_real_prometheus(idp, make_httpd, keys, prometheus):
    """Every panel query and variable of conf/prometheus/grafana-dashboard.json runs against a real
    Prometheus scraping the page (a local and a remote issuer), uses only metric families the page
    exports, and finds data."""
    dash, exprs = dashboard_queries()
    assert dash["uid"] and dash["title"] == "mod_claims" and exprs
    remote = ("<ClaimsIssuer %s>\n    ClaimsJWKS %s\n    ClaimsCAFile %s\n    ClaimsAudience https://api.test\n"
              "</ClaimsIssuer>\n" % (idp.issuer, idp.jwks_url, idp.ca))
    h = make_httpd(issuer_block(keys) + remote + LOCATION, modules=["socache_shmcb"])
    exported = set(parse_exposition(fresh(h, "/claims-status?format=prometheus").text))
    prom = prometheus([h])
    prom.wait("claims_tokens_accepted_total", lambda r: r and r[0][1] == 0)  # scraped before the traffic
    for _ in range(3):
        fresh(h, "/cgi/env.py", mint(keys.rsa))
        fresh(h, "/cgi/env.py")
    prom.wait("rate(claims_tokens_accepted_total[1m]) > 0", lambda r: len(r) == 1)
    # the refusals of the same requests, in a scrape of their own on a busy machine
    prom.wait("sum(rate(claims_tokens_refused_total[1m])) > 0", lambda r: len(r) == 1)
    subst = {"$job": "claims", "$instance": ".*", "$__rate_interval": "1m", "$__range": "1m", "$__interval": "1s"}
    for title, expr in exprs:
        names = set(re.findall(r"\b(claims_[a-z_]+)\b", expr))
        assert names <= exported, (title, names - exported)
        if expr.startswith("label_values("):
            m = re.match(r"label_values\((.*), *(\w+)\)$", expr)
            q = m.group(1)
            for k, v in subst.items():
                q = q.replace(k, v)
            assert prom.api("series", **{"match[]": q}), (title, q)
            continue
        q = expr
        for k, v in subst.items():
            q = q.replace(k, v)
        assert prom.query(q), (title, q)  # the query parses, runs (else query() asserts) and finds data


def test_prometheus_reads_hostile_label_values_back(make_httpd, keys, prometheus):
    """Issuer identifiers that would break a label (quotes, backslashes, braces, markup, bytes
    that are not UTF-8) come back from Prometheus' own parser as the page shows them."""
    raw = [b'https://idp.test/a\\"} 1\\nclaims_fake{x="1', b"https://idp.test/\xff\xfe<b>", "https://idp.test/é\u202e".encode()]
    conf = b""
    for r in raw:
        conf += b"<ClaimsIssuer \"" + r.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b"\">\n    ClaimsKeyFile " + \
            keys.jwks_path.encode() + b"\n    ClaimsAudience https://api.test\n</ClaimsIssuer>\n"

    def setup(h):
        h.write_file("hostile.conf", conf)
    h = make_httpd(issuer_block(keys) + LOCATION + "Include hostile.conf\n", setup=setup)
    fresh(h, "/cgi/env.py", mint(keys.rsa, iss=raw[0].decode()))
    prom = prometheus([h])
    result = prom.wait("claims_tokens_accepted_total", lambda r: len(r) == 4)
    assert sorted(l["issuer"] for l, v in result) == sorted([ISSUER] + [display(r) for r in raw])
    assert value(result, issuer=display(raw[0])) == 1
    assert not prom.query("claims_fake")
