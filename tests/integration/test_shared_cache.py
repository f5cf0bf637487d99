"""
The verified-token level shared by the children of a server (issue 17), under prefork and
event: a token is verified once per server whichever child sees it (children born later
included), the level starts afresh at a graceful restart, a token cached from one location is
still refused where it does not pass, and the budget is split as README says.

The children that served each request come from the access log (%P); signatures computed come
from claims_signature_verifications_total on the status page.
"""
import os
import re
import time

import pytest
import requests

from conftest import issuer_block, mint, requires_cache

pytestmark = requires_cache

STATUS = """
<Location /claims-status>
    SetHandler claims-status
</Location>
"""

API = """
LogFormat "%P %>s %{X-Token}i" served
CustomLog logs/served.log served
<Location /api>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
<Location /other-audience>
    AuthType claims
    AuthName api
    ClaimsAudience https://not-this-api.example
    Require valid-user
</Location>
<Location /admins>
    AuthType claims
    AuthName api
    Require claim groups admin
</Location>
"""

# prefork: four children at once, each replaced after a few connections, so that later
# children (forked after the tokens were first verified) see them too
PREFORK = ("StartServers 4\nMinSpareServers 4\nMaxSpareServers 4\nServerLimit 4\nMaxRequestWorkers 4\n"
           "MaxConnectionsPerChild 7\n")
# event: two children of five threads, replaced likewise
EVENT = ("StartServers 2\nServerLimit 3\nThreadsPerChild 5\nMaxRequestWorkers 10\nMinSpareThreads 5\n"
         "MaxSpareThreads 10\nMaxConnectionsPerChild 7\n")


def setup_files(h):
    for d in ("api", "other-audience", "admins"):
        h.write_file("htdocs/%s/ok.txt" % d, "ok\n")


@pytest.fixture(params=["prefork", "event"])
def server(request, make_httpd, keys):
    mpm = request.param
    h = make_httpd(issuer_block(keys) + STATUS + API + (PREFORK if mpm == "prefork" else EVENT),
                   mpm=mpm, setup=setup_files, start=False)
    h.allowed_errors.append("AH00161:")  # the MPM may note its worker limit under test load
    return h.start()


def fresh(h, path, token=None, tag=None):
    """One request on a new connection (so that it may land on any child)."""
    headers = {"Connection": "close"}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if tag is not None:
        headers["X-Token"] = str(tag)
    for attempt in range(3):
        try:
            return requests.get(h.url + path, headers=headers, timeout=10)
        except requests.ConnectionError:
            if attempt == 2:
                raise
            time.sleep(0.2)  # a child was being replaced
    return None


def status(h):
    r = fresh(h, "/claims-status?format=json")
    assert r.status_code == 200
    return r.json()


def verifications(h):
    text = fresh(h, "/claims-status?format=prometheus").text
    m = re.search(r"^claims_signature_verifications_total (\d+)$", text, re.M)
    assert m, text
    return int(m.group(1))


def served_by(h):
    """token tag -> the set of child pids that served it (from the access log)."""
    by = {}
    path = os.path.join(h.root, "logs", "served.log")
    deadline = time.time() + 5
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.1)
    with open(path) as f:
        for line in f:
            pid, code, tag = line.split()
            if tag != "-":
                by.setdefault(tag, set()).add(pid)
    return by


def test_each_token_is_verified_once_whichever_child_sees_it(server, keys):
    tokens = [mint(keys.rsa, jti="t%d" % i, sub="user%d" % i) for i in range(6)]
    for rnd in range(6):
        for i, t in enumerate(tokens):
            assert fresh(server, "/api/ok.txt", t, tag=i).status_code == 200
    assert verifications(server) == len(tokens)
    doc = status(server)
    shared = doc["shared_cache"]
    assert shared["enabled"] is True
    assert shared["hits"] >= 6 * len(tokens) - len(tokens) - doc["cache"]["hits"]
    assert shared["entries"] == len(tokens)
    assert doc["signature_verifications"] == len(tokens)
    spread = served_by(server)
    assert len(set().union(*spread.values())) >= 3, spread   # children were replaced and shared
    assert max(len(p) for p in spread.values()) >= 2, spread


def test_graceful_restart_starts_the_shared_level_afresh(server, keys):
    token = mint(keys.rsa, jti="before-restart")
    for _ in range(4):
        assert fresh(server, "/api/ok.txt", token).status_code == 200
    assert verifications(server) == 1
    server.graceful()
    # counts begin from zero, and the new generation's level knows nothing of the old one's:
    # the token is verified again, once, then shared by the new children
    for _ in range(8):
        assert fresh(server, "/api/ok.txt", token).status_code == 200
    assert verifications(server) == 1
    assert status(server)["shared_cache"]["entries"] == 1


def test_token_cached_from_one_location_is_refused_where_it_does_not_pass(server, keys):
    token = mint(keys.rsa, jti="cached-elsewhere", groups=["staff"])
    for _ in range(3):
        assert fresh(server, "/api/ok.txt", token).status_code == 200
    for _ in range(4):  # other children: served from the shared level, checked here
        r = fresh(server, "/other-audience/ok.txt", token)
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
        r = fresh(server, "/admins/ok.txt", token)
        assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert verifications(server) == 1
    admin = mint(keys.rsa, jti="admin", groups=["admin"])
    assert fresh(server, "/admins/ok.txt", admin).status_code == 200


def test_forged_token_with_the_cached_signature_is_refused(server, keys):
    token = mint(keys.rsa, jti="genuine", sub="alice")
    assert fresh(server, "/api/ok.txt", token).status_code == 200
    h, p, s = token.split(".")
    forged = mint(keys.rsa, jti="genuine", sub="admin").split(".")[1]
    for candidate in (h + "." + forged + "." + s, h + "." + p + "." + s[:-1] + ("A" if s[-1] != "A" else "B")):
        for _ in range(3):
            assert fresh(server, "/api/ok.txt", candidate).status_code == 401


def test_one_child_has_no_shared_level(make_httpd, keys):
    h = make_httpd(issuer_block(keys) + STATUS + API + "StartServers 1\nServerLimit 1\nMaxRequestWorkers 25\n"
                   "ThreadsPerChild 25\nMinSpareThreads 5\nMaxSpareThreads 25\n",
                   setup=setup_files)
    token = mint(keys.rsa)
    for _ in range(3):
        assert h.get("/api/ok.txt", token).status_code == 200
    doc = status(h)
    assert doc["shared_cache"]["enabled"] is False
    assert doc["cache"]["hits"] == 2 and doc["signature_verifications"] == 1
    assert re.search(r"CLM072: verified-token caches: 33554432 bytes in all, 0 shared by the children, "
                     r"33554432 for each of at most 1 children", h.log())


@pytest.mark.parametrize("mpm,limits,children", [
    ("prefork", "ServerLimit 8\nMaxRequestWorkers 8\n", 8),
    ("event", "ServerLimit 4\nThreadsPerChild 10\nMaxRequestWorkers 40\nMinSpareThreads 5\nMaxSpareThreads 40\n", 4),
])
def test_budget_is_split_between_the_shared_level_and_the_children(make_httpd, keys, mpm, limits, children):
    h = make_httpd(issuer_block(keys) + STATUS + "ClaimsCacheSize 16777216\n" + limits, mpm=mpm)
    shared = 16777216 // 4 * 3
    per_child = (16777216 - shared) // children
    assert re.search(r"CLM072: verified-token caches: 16777216 bytes in all, %d shared by the children, "
                     r"%d for each of at most %d children" % (shared, per_child, children), h.log()), h.log()
    assert status(h)["shared_cache"]["enabled"] is True
