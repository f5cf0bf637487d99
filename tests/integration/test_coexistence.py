"""mod_claims beside other authentication modules in one server: Debian's mod_auth_openidc
(loaded first, as Debian orders modules; it registers its own `Require claim`) in OAuth 2.0
resource-server mode, and mod_auth_basic. Each location keeps its own module, syntax and tokens
(ARCHITECTURE.md section 4)."""
import datetime
import os
import subprocess

import pytest

from conftest import APACHE_MODULES, ENV_CGI, OTHER_ISSUER, challenge, issuer_block, mint

OPENIDC = os.path.join(APACHE_MODULES, "mod_auth_openidc.so")
REALM = "orders-api"

pytestmark = pytest.mark.skipif(not os.path.exists(OPENIDC),
                                reason="libapache2-mod-auth-openidc is not installed (%s missing)" % OPENIDC)


def claims_loc(name, *lines):
    return "<Location /cgi/%s>\n    AuthType claims\n    AuthName \"%s\"\n%s\n</Location>\n" % (
        name, REALM, "\n".join("    " + l for l in lines))


def self_signed_cert(key):
    """A PEM X.509 certificate for a jwcrypto RSA key (mod_auth_openidc verifies with certs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    priv = key.get_op_key("sign")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openidc-test")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(priv.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1)).sign(priv, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


CGIS = ["oidc.py", "claims.py", "claims_claim.py", "claims_scope.py", "scope.py", "basic.py"]


@pytest.fixture(scope="module")
def api(make_module_httpd, keys):
    cert = keys.write("openidc-other.crt", self_signed_cert(keys.other))

    def setup(h):
        for name in CGIS:
            h.write_file("cgi-bin/" + name, ENV_CGI, mode=0o755)
        pw = os.path.join(h.root, "htpasswd")
        subprocess.run(["htpasswd", "-cbB", pw, "alice", "s3cret"], check=True, capture_output=True)
        os.chmod(pw, 0o644)
        h.body = h.body.replace("@HTPASSWD@", pw)
        # mod_auth_openidc and mod_auth_basic log refused credentials at error level
        h.allowed_errors += ["oidc_proto_jwt_verify:", "oidc_oauth_validate_jwt_access_token:",
                             "AH01614:", "AH01617:"]

    body = issuer_block(keys) + """
OIDCOAuthVerifyCertFiles other-1#%s
OIDCOAuthRemoteUserClaim sub
<Location /cgi/oidc.py>
    AuthType oauth20
    Require claim sub:alice
</Location>
<Location /cgi/basic.py>
    AuthType Basic
    AuthName "basic-area"
    AuthBasicProvider file
    AuthUserFile @HTPASSWD@
    Require valid-user
</Location>
""" % cert + "".join([
        claims_loc("claims.py", "Require claim sub alice"),
        claims_loc("claims_claim.py", "Require claims-claim sub alice"),
        claims_loc("claims_scope.py", "Require claims-scope orders:read"),
        claims_loc("scope.py", "Require scope orders:read"),
    ])
    # "auth_openidc" is loaded after the base modules and before claims_module (Debian's order)
    return make_module_httpd(body, modules=["auth_openidc"], setup=setup)


def oidc_token(keys, **claims):
    """A token for mod_auth_openidc's location: signed with the key only it trusts."""
    return mint(keys.other, claims, iss=OTHER_ISSUER)


def claims_token(keys, **claims):
    return mint(keys.rsa, claims)


def not_our_challenge(r):
    return all('realm="%s"' % REALM not in v for k, v in r.headers.items() if k.lower() == "www-authenticate")


# ---------------------------------------------------------------------------------------------
# mod_auth_openidc's location

def test_openidc_location_accepts_its_token(api, keys):
    r = api.get("/cgi/oidc.py", oidc_token(keys))
    assert r.status_code == 200, api.log()[-3000:]
    env = r.json()
    assert env["AUTH_TYPE"] == "oauth20"
    assert env["REMOTE_USER"] == "alice"


def test_openidc_location_applies_its_own_require_claim(api, keys):
    r = api.get("/cgi/oidc.py", oidc_token(keys, sub="bob"))
    assert r.status_code in (401, 403)


def test_openidc_location_refuses_a_claims_token(api, keys):
    r = api.get("/cgi/oidc.py", claims_token(keys))
    assert r.status_code == 401


@pytest.mark.parametrize("who", ["none", "claims-token", "bob"])
def test_openidc_location_answers_never_carry_our_challenge(api, keys, who):
    t = {"none": None, "claims-token": claims_token(keys), "bob": oidc_token(keys, sub="bob")}[who]
    r = api.get("/cgi/oidc.py", t)
    assert r.status_code in (401, 403)
    assert not_our_challenge(r), r.headers


def test_openidc_location_exports_no_claims_of_ours(api, keys):
    env = api.get("/cgi/oidc.py", oidc_token(keys)).json()
    assert [k for k in env if k.startswith("CLAIM_") or k.startswith("CLAIMS_")] == []


# ---------------------------------------------------------------------------------------------
# mod_claims' locations in the same server

@pytest.mark.parametrize("path", ["/cgi/claims.py", "/cgi/claims_claim.py"])
def test_claims_location_accepts_its_token(api, keys, path):
    r = api.get(path, claims_token(keys))
    assert r.status_code == 200, api.log()[-3000:]
    env = r.json()
    assert env["AUTH_TYPE"] == "Bearer"
    assert env["REMOTE_USER"] == "alice"
    assert env["CLAIM_SUB"] == "alice"


@pytest.mark.parametrize("path", ["/cgi/claims.py", "/cgi/claims_claim.py"])
def test_claims_location_applies_its_require_claim(api, keys, path):
    r = api.get(path, claims_token(keys, sub="bob"))
    assert r.status_code == 403
    assert challenge(r)[1].get("error") == "insufficient_scope"


@pytest.mark.parametrize("path", ["/cgi/claims.py", "/cgi/claims_claim.py", "/cgi/claims_scope.py"])
def test_claims_location_refuses_an_openidc_token(api, keys, path):
    r = api.get(path, oidc_token(keys, scope="orders:read"))
    assert r.status_code == 401
    assert challenge(r)[1].get("error") == "invalid_token"


@pytest.mark.parametrize("path", ["/cgi/claims.py", "/cgi/claims_claim.py", "/cgi/claims_scope.py"])
def test_claims_location_without_token_has_our_challenge(api, path):
    r = api.get(path)
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": REALM})


@pytest.mark.parametrize("path", ["/cgi/claims_scope.py", "/cgi/scope.py"])
def test_claims_scope_grants_token_with_scope(api, keys, path):
    assert api.get(path, claims_token(keys, scope="orders:read orders:write")).status_code == 200


@pytest.mark.parametrize("path", ["/cgi/claims_scope.py", "/cgi/scope.py"])
def test_claims_scope_refuses_token_without_scope(api, keys, path):
    r = api.get(path, claims_token(keys, scope="orders:write"))
    assert r.status_code == 403
    assert challenge(r)[1] == {"realm": REALM, "error": "insufficient_scope", "scope": "orders:read"}


# ---------------------------------------------------------------------------------------------
# mod_auth_basic's location

def basic(user, password):
    import base64
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def test_basic_location_accepts_its_password(api):
    r = api.get("/cgi/basic.py", headers=basic("alice", "s3cret"))
    assert r.status_code == 200, api.log()[-3000:]
    env = r.json()
    assert env["AUTH_TYPE"] == "Basic"
    assert env["REMOTE_USER"] == "alice"
    assert [k for k in env if k.startswith("CLAIM_") or k.startswith("CLAIMS_")] == []


@pytest.mark.parametrize("how", ["none", "wrong-password", "claims-token", "openidc-token"])
def test_basic_location_challenges_with_basic_only(api, keys, how):
    headers = {"none": {}, "wrong-password": basic("alice", "nope"),
               "claims-token": {"Authorization": "Bearer " + claims_token(keys)},
               "openidc-token": {"Authorization": "Bearer " + oidc_token(keys)}}[how]
    r = api.get("/cgi/basic.py", headers=headers)
    assert r.status_code == 401
    values = r.raw.headers.getlist("WWW-Authenticate")
    assert values == ['Basic realm="basic-area"'], values


def test_basic_credentials_are_not_accepted_by_claims_location(api):
    r = api.get("/cgi/claims.py", headers=basic("alice", "s3cret"))
    assert r.status_code == 401
    assert challenge(r) == ("Bearer", {"realm": REALM})
