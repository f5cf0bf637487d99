"""Remote key sets: discovery then JWKS over TLS, shared by every child, refreshed, and kept
through identity provider outages (issue 4)."""
import os
import shutil
import tempfile
import time

import pytest
from jwcrypto import jwk

from conftest import mint
from idp import IdP

AUD = "https://api.test"


@pytest.fixture
def idp():
    d = tempfile.mkdtemp(prefix="claims-idp-")
    os.chmod(d, 0o755)
    provider = IdP(d)
    provider.keys = [jwk.JWK.generate(kty="EC", crv="P-256", kid="k1", alg="ES256", use="sig")]
    yield provider
    provider.close()
    shutil.rmtree(d, ignore_errors=True)


def remote_conf(idp, extra="", source=None):
    source = source or "ClaimsDiscovery"
    return """
<ClaimsIssuer %s>
    %s
    ClaimsCAFile %s
    ClaimsAudience %s
    ClaimsRefreshInterval 3600
    ClaimsUnknownKidInterval 2
    ClaimsFetchTimeout 2
%s
</ClaimsIssuer>
<Location /cgi/>
    AuthType claims
    AuthName api
    Require valid-user
</Location>
""" % (idp.issuer, source, idp.ca, AUD, extra)


def token(idp, key=None, **kw):
    return mint(key or idp.keys[0], {"iss": idp.issuer, "aud": AUD}, **kw)


def wait_status(h, tok, want, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        r = h.get("/cgi/env.py", tok)
        if r.status_code == want or time.time() > deadline:
            return r
        time.sleep(0.2)


def test_discovery_then_jwks_verifies_tokens(make_httpd, idp):
    h = make_httpd(remote_conf(idp), modules=["socache_shmcb"])
    r = wait_status(h, token(idp), 200)
    assert r.status_code == 200, h.log()
    assert r.json()["REMOTE_USER"] == "alice"
    assert idp.count("discovery") >= 1 and idp.count("jwks") >= 1
