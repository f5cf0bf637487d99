"""What makes a token acceptable: header, algorithm and key binding, issuer, times, audience,
type, required claims and the REMOTE_USER claim (SECURITY.md CL-10..CL-50, CL-76); the
verified-token cache (CL-67)."""
import base64
import datetime
import json
import os
import time
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from jwcrypto import jwk

from conftest import (AUDIENCE, ISSUER, OTHER_ISSUER, Listener, b64u, challenge, issuer_block, location,
                      mint, now, raw_signature, requires_cache, sign, std_claims)

HS_ISSUER = "https://hs.test"
AT_ISSUER = "https://at.test"
STRICT_ISSUER = "https://leeway-0.test"
LAX_ISSUER = "https://leeway-300.test"
PSS_ONLY_ISSUER = "https://pss-only.test"
MORE_ISSUER = "https://more-algs.test"

ALL = "/cgi/env.py/all"


class MoreKeys:
    """Keys for the algorithms the session keys do not cover. The RSA variants reuse one RSA
    key pair under several kids, each bound to its own algorithm."""

    def __init__(self, keys):
        self.rsa = keys.rsa2
        self.es512 = jwk.JWK.generate(kty="EC", crv="P-521", kid="es512", alg="ES512", use="sig")
        self.ed448 = jwk.JWK.generate(kty="OKP", crv="Ed448", kid="ed448", alg="EdDSA", use="sig")
        pub = json.loads(keys.rsa2.export_public())
        members = []
        for alg in ("RS384", "RS512", "PS384", "PS512"):
            members.append(dict(pub, kid=alg.lower(), alg=alg, use="sig"))
        members.append(json.loads(self.es512.export_public()))
        members.append(json.loads(self.ed448.export_public()))
        self.jwks_path = keys.write("more.jwks.json", json.dumps({"keys": members}))


@pytest.fixture(scope="module")
def more(keys):
    return MoreKeys(keys)


@pytest.fixture(scope="module")
def api(make_module_httpd, keys, more):
    body = (issuer_block(keys)
            + """
<ClaimsIssuer %(other)s>
    ClaimsKeyFile %(other_jwks)s
    ClaimsAudience %(aud)s
</ClaimsIssuer>
<ClaimsIssuer %(hs)s>
    ClaimsSecretFile %(secret)s alg=HS256 kid=hs-1
    ClaimsAudience %(aud)s
</ClaimsIssuer>
<ClaimsIssuer %(at)s>
    ClaimsKeyFile %(jwks)s
    ClaimsAudience %(aud)s
    ClaimsTokenType at+jwt
    ClaimsRequiredClaims client_id jti
</ClaimsIssuer>
<ClaimsIssuer %(strict)s>
    ClaimsKeyFile %(jwks)s
    ClaimsAudience %(aud)s
    ClaimsLeeway 0
</ClaimsIssuer>
<ClaimsIssuer %(lax)s>
    ClaimsKeyFile %(jwks)s
    ClaimsAudience %(aud)s
    ClaimsLeeway 300
</ClaimsIssuer>
<ClaimsIssuer %(pss_only)s>
    ClaimsKeyFile %(rsa_pem)s
    ClaimsAlgorithms PS256
    ClaimsAudience %(aud)s
</ClaimsIssuer>
<ClaimsIssuer %(more)s>
    ClaimsKeyFile %(more_jwks)s
    ClaimsAudience %(aud)s
</ClaimsIssuer>
""" % {"other": OTHER_ISSUER, "other_jwks": keys.other_jwks_path, "aud": AUDIENCE, "hs": HS_ISSUER,
       "secret": keys.secret_path, "at": AT_ISSUER, "jwks": keys.jwks_path, "strict": STRICT_ISSUER,
       "lax": LAX_ISSUER, "pss_only": PSS_ONLY_ISSUER, "rsa_pem": keys.rsa_pem_path, "more": MORE_ISSUER,
       "more_jwks": more.jwks_path}
            + "".join([
                location(ALL, "Require valid-user"),
                location("/cgi/env.py/trust-other", "ClaimsTrust %s" % OTHER_ISSUER, "Require valid-user"),
                location("/cgi/env.py/trust-main", "ClaimsTrust %s %s" % (ISSUER, HS_ISSUER), "Require valid-user"),
                location("/cgi/env.py/aud-orders", "ClaimsAudience https://orders.test https://orders2.test",
                         "Require valid-user"),
                location("/cgi/env.py/aud-any", "ClaimsAudience any", "Require valid-user"),
                location("/cgi/env.py/pu", "ClaimsRemoteUser preferred_username", "Require valid-user"),
                location("/cgi/env.py/qualified", "ClaimsRemoteUser sub issuer-qualified", "Require valid-user"),
                location("/cgi/env.py/nested-user", "ClaimsRemoteUser user.name", "Require valid-user"),
            ]))
    return make_module_httpd(body)


def assert_refused(r, description=None):
    assert r.status_code == 401, r.text
    scheme, params = challenge(r)
    assert scheme == "Bearer"
    assert params["error"] == "invalid_token"
    if description is not None:
        assert params["error_description"] == description


def assert_accepted(api, r, user="alice"):
    assert r.status_code == 200, "%s\n%s" % (r.headers.get("WWW-Authenticate"), api.log()[-3000:])
    assert r.json()["REMOTE_USER"] == user


def rsa_header(**extra):
    h = {"alg": "RS256", "kid": "rsa-1"}
    h.update(extra)
    return {k: v for k, v in h.items() if v is not None}


# ------------------------------------------------------------------ algorithm families (CL-35)

@pytest.mark.parametrize("name,iss,alg,kid", [
    ("rsa", ISSUER, "RS256", "rsa-1"),
    ("rsa2", ISSUER, "RS256", "rsa-2"),
    ("pss", ISSUER, "PS256", "pss-1"),
    ("ec", ISSUER, "ES256", "ec-1"),
    ("ec384", ISSUER, "ES384", "ec-384"),
    ("ed", ISSUER, "EdDSA", "ed-1"),
    ("ed", ISSUER, "Ed25519", "ed-1"),
    ("hs", HS_ISSUER, "HS256", "hs-1"),
    ("more.rsa", MORE_ISSUER, "RS384", "rs384"),
    ("more.rsa", MORE_ISSUER, "RS512", "rs512"),
    ("more.rsa", MORE_ISSUER, "PS384", "ps384"),
    ("more.rsa", MORE_ISSUER, "PS512", "ps512"),
    ("more.es512", MORE_ISSUER, "ES512", "es512"),
    ("more.ed448", MORE_ISSUER, "EdDSA", "ed448"),
    ("more.ed448", MORE_ISSUER, "Ed448", "ed448"),
])
def test_each_algorithm_family_is_accepted(api, keys, more, name, iss, alg, kid):
    key = keys.secret if name == "hs" else (getattr(more, name[5:]) if name.startswith("more.")
                                              else getattr(keys, name))
    r = api.get(ALL, sign(key, {"alg": alg, "kid": kid}, std_claims(iss=iss)))
    assert_accepted(api, r)


@pytest.mark.parametrize("name,iss,alg", [
    ("rsa2", ISSUER, "RS256"), ("ec", ISSUER, "ES256"), ("ed", ISSUER, "EdDSA"), ("hs", HS_ISSUER, "HS256"),
])
def test_token_without_kid_is_verified_with_the_issuers_keys_for_its_alg(api, keys, name, iss, alg):
    key = keys.secret if name == "hs" else getattr(keys, name)
    r = api.get(ALL, sign(key, {"alg": alg}, std_claims(iss=iss)))
    assert_accepted(api, r)


# ------------------------------------------------------------------ alg none (CL-10), alg member (CL-11, CL-12)

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "AAAA", "signature"])
def test_alg_none_is_refused(api, alg, signature):
    token = b64u(json.dumps({"alg": alg, "kid": "rsa-1"})) + "." + b64u(json.dumps(std_claims())) + "." + signature
    r = api.get(ALL, token)
    assert_refused(r)
    if signature:
        assert challenge(r)[1]["error_description"] == "unsigned tokens are not accepted"


@pytest.mark.parametrize("alg", [None, "", "null", ["RS256"], 256, {"name": "RS256"}, "RS256 ", " RS256", "rs256",
                                 "RS-256", "RSA256", "HS256 ", "ES256K", "RS1"],
                         ids=["missing", "empty", "null-string", "array", "number", "object", "trailing-space",
                              "leading-space", "lowercase", "dash", "rsa256", "hs-space", "es256k", "rs1"])
def test_malformed_or_unknown_alg_is_refused(api, keys, alg):
    header = {"kid": "rsa-1"}
    if alg is not None:
        header["alg"] = alg
    assert_refused(api.get(ALL, sign(keys.rsa, header, std_claims(), alg="RS256")),
                   "token algorithm missing or unsupported")


def test_json_null_alg_is_refused(api, keys):
    assert_refused(api.get(ALL, sign(keys.rsa, '{"alg":null,"kid":"rsa-1"}', std_claims(), alg="RS256")))


def test_alg_spelled_with_json_escapes_is_accepted(api, keys):
    r = api.get(ALL, sign(keys.rsa, '{"alg":"\\u0052S256","kid":"rsa-1"}', std_claims(), alg="RS256"))
    assert_accepted(api, r)


@pytest.mark.parametrize("header", [
    pytest.param(b'["RS256"]', id="array"),
    pytest.param(b'"RS256"', id="string"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1"} x', id="trailing-bytes"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1"}{}', id="two-objects"),
    pytest.param(b'\xef\xbb\xbf{"alg":"RS256","kid":"rsa-1"}', id="bom"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","x":"\xff"}', id="invalid-utf8"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","x":"\\ud800"}', id="lone-surrogate"),
    pytest.param(b"{'alg':'RS256','kid':'rsa-1'}", id="single-quotes"),
    pytest.param(b'{"alg":"RS256","alg":"RS256","kid":"rsa-1"}', id="duplicate-alg"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","kid":"rsa-1"}', id="duplicate-kid"),
    pytest.param(b'{"alg":"RS256","\\u0061lg":"RS256","kid":"rsa-1"}', id="duplicate-alg-escaped"),
    pytest.param(b'{"alg":"RS256","kid":1}', id="kid-number"),
    pytest.param(b'{"alg":"RS256","kid":"rsa-1","typ":1}', id="typ-number"),
    pytest.param(b'', id="empty"),
])
def test_malformed_header_is_refused(api, keys, header):
    assert_refused(api.get(ALL, sign(keys.rsa, header, std_claims(), alg="RS256")))


def test_unknown_noncritical_header_members_are_ignored(api, keys):
    r = api.get(ALL, sign(keys.rsa, rsa_header(foo="bar", x_custom={"a": [1, 2]}, typ="JWT"), std_claims()))
    assert_accepted(api, r)


@pytest.mark.parametrize("extra", [
    pytest.param({"crit": ["exp"]}, id="crit-registered"),
    pytest.param({"crit": ["foo"], "foo": 1}, id="crit-unknown"),
    pytest.param({"crit": []}, id="crit-empty"),
    pytest.param({"crit": ["b64"], "b64": False}, id="b64-false-crit"),
    pytest.param({"b64": True}, id="b64-true"),
    pytest.param({"b64": False}, id="b64-false"),
    pytest.param({"zip": "DEF"}, id="zip"),
    pytest.param({"enc": "A256GCM"}, id="enc"),
    pytest.param({"cty": "JWT"}, id="cty-jwt"),
    pytest.param({"cty": "jwt"}, id="cty-jwt-lowercase"),
    pytest.param({"cty": "application/jwt"}, id="cty-application-jwt"),
])
def test_unsupported_header_parameter_is_refused(api, keys, extra):
    description = ("critical header parameters are not supported" if "crit" in extra
                   else "token header parameter not supported")
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(**extra), std_claims())), description)


# ------------------------------------------------------------------ keys and algorithm binding (CL-20..CL-27)

@pytest.mark.parametrize("key,alg,kid", [
    ("rsa", "PS256", "rsa-1"),
    ("pss", "RS256", "pss-1"),
    ("rsa", "RS384", "rsa-1"),
    ("ec384", "ES384", "ec-1"),
    ("ec", "ES256", "ec-384"),
    ("ec", "ES256", "ed-1"),
    ("ed", "EdDSA", "ec-1"),
    ("rsa", "PS256", None),
])
def test_header_alg_other_than_the_keys_bound_alg_is_refused(api, keys, key, alg, kid):
    header = {"alg": alg}
    if kid:
        header["kid"] = kid
    assert_refused(api.get(ALL, sign(getattr(keys, key), header, std_claims(), alg=alg)))


def _public_key_encodings(keys):
    pub = keys.rsa.get_op_key("verify")
    n = pub.public_numbers().n
    return {
        "pem-spki": pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "pem-pkcs1": pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "der-spki": pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": keys.rsa.export_public().encode(),
        "jwks": open(keys.jwks_path, "rb").read(),
        "n": n.to_bytes((n.bit_length() + 7) // 8, "big"),
        "empty": b"",
    }


@pytest.mark.parametrize("encoding", ["pem-spki", "pem-pkcs1", "der-spki", "jwk", "jwks", "n", "empty"])
@pytest.mark.parametrize("kid", ["rsa-1", None])
def test_hs256_keyed_with_the_public_key_is_refused(api, keys, encoding, kid):
    secret = _public_key_encodings(keys)[encoding]
    header = {"alg": "HS256"}
    if kid:
        header["kid"] = kid
    assert_refused(api.get(ALL, sign(secret, header, std_claims())))


@pytest.mark.parametrize("case", ["wrong-secret", "hs384-header", "truncated-tag", "extended-tag", "rsa-signed"])
def test_hmac_issuer_refuses_anything_but_its_exact_mac(api, keys, case):
    payload = std_claims(iss=HS_ISSUER)
    if case == "wrong-secret":
        token = sign(b"x" * 32, {"alg": "HS256", "kid": "hs-1"}, payload)
    elif case == "hs384-header":
        token = sign(keys.secret, {"alg": "HS384", "kid": "hs-1"}, payload)
    elif case == "rsa-signed":
        token = sign(keys.rsa, {"alg": "RS256", "kid": "hs-1"}, payload)
    else:
        good = sign(keys.secret, {"alg": "HS256", "kid": "hs-1"}, payload)
        h, p, s = good.split(".")
        tag = base64.urlsafe_b64decode(s + "==")
        tag = tag[:16] if case == "truncated-tag" else tag + b"\0"
        token = h + "." + p + "." + b64u(tag)
    assert_refused(api.get(ALL, token))


def test_tampered_payload_is_refused(api, keys):
    h, p, s = mint(keys.rsa).split(".")
    forged = b64u(json.dumps(std_claims(sub="admin")))
    assert_refused(api.get(ALL, h + "." + forged + "." + s), "token signature is invalid")


@pytest.mark.parametrize("iss,key,kid", [
    (ISSUER, "other", "other-1"),
    (ISSUER, "other", None),
    (OTHER_ISSUER, "rsa", "rsa-1"),
    (OTHER_ISSUER, "rsa", None),
    (HS_ISSUER, "rsa", "rsa-1"),
])
def test_token_signed_with_another_issuers_key_is_refused(api, keys, iss, key, kid):
    header = {"alg": "RS256"}
    if kid:
        header["kid"] = kid
    assert_refused(api.get(ALL, sign(getattr(keys, key), header, std_claims(iss=iss))))


def test_token_of_the_other_issuer_with_its_own_key_is_accepted(api, keys):
    assert_accepted(api, api.get(ALL, mint(keys.other, iss=OTHER_ISSUER)))


@pytest.mark.parametrize("kid", ["nope", "RSA-1", "rsa-1 ", " rsa-1", "rsa-1\\u0000", "rsa", "rsa-10",
                                 "../../../../etc/passwd", "/dev/zero", "file:///etc/passwd",
                                 "' OR '1'='1", "$(touch /tmp/claims-pwned)", "|id", "x" * 2000, ""],
                         ids=["unknown", "case", "trailing-space", "leading-space", "nul", "prefix", "suffix",
                              "traversal", "dev-zero", "file-url", "sql", "shell", "pipe", "2000-chars", "empty"])
def test_unknown_kid_is_refused(api, keys, kid):
    header = '{"alg":"RS256","kid":"%s"}' % kid
    assert_refused(api.get(ALL, sign(keys.rsa, header, std_claims(), alg="RS256")))


def _attacker_cert(keys):
    priv = keys.attacker.get_op_key("sign")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(priv.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1)).sign(priv, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("member", ["jwk", "jwk-no-kid", "jku", "x5u", "x5c", "x5t"])
def test_key_carried_or_pointed_to_by_the_header_is_never_used(api, keys, member):
    listener = Listener()
    try:
        attacker_pub = json.loads(keys.attacker.export_public())
        cert = _attacker_cert(keys)
        extra = {
            "jwk": {"jwk": attacker_pub},
            "jwk-no-kid": {"jwk": attacker_pub, "kid": None},
            "jku": {"jku": listener.url + "/jwks.json"},
            "x5u": {"x5u": listener.url + "/cert.pem"},
            "x5c": {"x5c": [base64.b64encode(cert).decode()]},
            "x5t": {"x5t": b64u(b"\1" * 20)},
        }[member]
        header = rsa_header(**extra)
        assert_refused(api.get(ALL, sign(keys.attacker, header, std_claims())))
        assert listener.connections() == 0
    finally:
        listener.close()


# ------------------------------------------------------------------ ClaimsAlgorithms, ClaimsTrust

def test_claims_algorithms_binds_an_alg_less_pem_key_to_the_allowed_alg(api, keys):
    r = api.get(ALL, sign(keys.rsa, {"alg": "PS256"}, std_claims(iss=PSS_ONLY_ISSUER)))
    assert_accepted(api, r)


@pytest.mark.parametrize("alg", ["RS256", "RS384", "PS384", "PS512"])
def test_claims_algorithms_refuses_other_algorithms_with_the_same_key(api, keys, alg):
    assert_refused(api.get(ALL, sign(keys.rsa, {"alg": alg}, std_claims(iss=PSS_ONLY_ISSUER))))


@pytest.mark.parametrize("iss", ["https://evil.test", ISSUER + "/", ISSUER.upper(), ISSUER[:-1], ISSUER + "x",
                                 " " + ISSUER, "https://IDP.test/realms/main", "https://idp.test/realms/main/../main",
                                 None, 1, [ISSUER], ""],
                         ids=["unknown", "trailing-slash", "upper", "prefix", "suffix", "leading-space",
                              "host-case", "dot-segments", "missing", "number", "array", "empty"])
def test_untrusted_or_inexact_issuer_is_refused(api, keys, iss):
    payload = std_claims()
    if iss is None:
        del payload["iss"]
    else:
        payload["iss"] = iss
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload)), "token issuer is not trusted")


def test_claims_trust_accepts_the_listed_issuer(api, keys):
    assert_accepted(api, api.get("/cgi/env.py/trust-other", mint(keys.other, iss=OTHER_ISSUER)))


@pytest.mark.parametrize("path,iss,key", [
    ("/cgi/env.py/trust-other", ISSUER, "rsa"),
    ("/cgi/env.py/trust-other", HS_ISSUER, "hs"),
    ("/cgi/env.py/trust-main", OTHER_ISSUER, "other"),
])
def test_claims_trust_refuses_other_declared_issuers(api, keys, path, iss, key):
    token = (sign(keys.secret, {"alg": "HS256", "kid": "hs-1"}, std_claims(iss=iss)) if key == "hs"
             else mint(getattr(keys, key), iss=iss))
    assert_refused(api.get(path, token), "token issuer is not trusted")


# ------------------------------------------------------------------ times (CL-40..CL-43, CL-69)

@pytest.mark.parametrize("overrides,description", [
    ({"exp": -3600, "iat": -7200}, "token has expired"),
    ({"exp": -90, "iat": -200}, "token has expired"),
    ({"nbf": 3600}, "token is not valid yet"),
    ({"nbf": 90}, "token is not valid yet"),
    ({"iat": 3600}, "token was issued in the future"),
    ({"iat": 90}, "token was issued in the future"),
], ids=["expired-hour", "expired-beyond-leeway", "nbf-hour", "nbf-beyond-leeway", "iat-hour", "iat-beyond-leeway"])
def test_token_outside_its_validity_window_is_refused(api, keys, overrides, description):
    payload = std_claims(**{k: now() + v for k, v in overrides.items()})
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload)), description)


@pytest.mark.parametrize("overrides", [{"exp": -30, "iat": -200}, {"nbf": 30}, {"iat": 30}],
                         ids=["exp", "nbf", "iat"])
def test_default_leeway_of_60_seconds_applies(api, keys, overrides):
    payload = std_claims(**{k: now() + v for k, v in overrides.items()})
    assert_accepted(api, api.get(ALL, sign(keys.rsa, rsa_header(), payload)))


@pytest.mark.parametrize("overrides", [{"exp": -10, "iat": -200}, {"nbf": 15}, {"iat": 15}],
                         ids=["exp", "nbf", "iat"])
def test_claims_leeway_zero_refuses_small_skew(api, keys, overrides):
    payload = std_claims(iss=STRICT_ISSUER, **{k: now() + v for k, v in overrides.items()})
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload)))


@pytest.mark.parametrize("overrides", [{"exp": -200, "iat": -400}, {"nbf": 200}, {"iat": 200}],
                         ids=["exp", "nbf", "iat"])
def test_claims_leeway_300_accepts_larger_skew(api, keys, overrides):
    payload = std_claims(iss=LAX_ISSUER, **{k: now() + v for k, v in overrides.items()})
    assert_accepted(api, api.get(ALL, sign(keys.rsa, rsa_header(), payload)))


def test_claims_leeway_300_still_refuses_beyond_it(api, keys):
    payload = std_claims(iss=LAX_ISSUER, exp=now() - 400, iat=now() - 900)
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload)), "token has expired")


def test_token_without_exp_is_refused(api, keys):
    assert_refused(api.get(ALL, mint(keys.rsa, exp=None)), "token has no expiry")


def test_fractional_numeric_dates_are_accepted(api, keys):
    payload = std_claims(exp=now() + 300.5, iat=now() - 0.25, nbf=now() - 10.75)
    assert_accepted(api, api.get(ALL, sign(keys.rsa, rsa_header(), payload)))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ['"%(t)d"', "null", "true", "[%(t)d]", '{"t":%(t)d}', "1e300", "-1",
                                   "99999999999999999999", "253402300800"],
                         ids=["string", "null", "bool", "array", "object", "1e300", "negative", "beyond-int64",
                              "beyond-year-9999"])
def test_malformed_numeric_date_is_refused(api, keys, claim, value):
    payload = std_claims()
    payload.pop(claim, None)
    text = json.dumps(payload)[:-1] + ', "%s": %s}' % (claim, value % {"t": now() + 300})
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), text)))


# ------------------------------------------------------------------ payload JSON (CL-18, CL-37..CL-39, CL-49)

def _payload_text(extra):
    """The default payload's JSON text (bytes) with extra member text (str or raw bytes)."""
    base = json.dumps(std_claims()).encode()
    if not extra:
        return base
    return base[:-1] + b", " + (extra if isinstance(extra, bytes) else extra.encode()) + b"}"


@pytest.mark.parametrize("payload", [
    pytest.param(lambda: b"[" + _payload_text("") + b"]", id="array"),
    pytest.param(lambda: b'"alice"', id="string"),
    pytest.param(lambda: b"", id="empty"),
    pytest.param(lambda: _payload_text("") + b" x", id="trailing-garbage"),
    pytest.param(lambda: _payload_text(b'"x": "\xff\xfe"'), id="invalid-utf8"),
    pytest.param(lambda: _payload_text(b'"x": "\xc0\xaf"'), id="overlong-utf8"),
    pytest.param(lambda: _payload_text("").decode().encode("utf-16"), id="utf-16"),
    pytest.param(lambda: b"\xef\xbb\xbf" + _payload_text(""), id="bom"),
    pytest.param(lambda: _payload_text('"sub": "mallory"'), id="duplicate-sub"),
    pytest.param(lambda: _payload_text('"\\u0073ub": "mallory"'), id="duplicate-sub-escaped"),
    pytest.param(lambda: _payload_text('"x": "a\\u0000b"'), id="nul-in-claim"),
    pytest.param(lambda: _payload_text('"x": NaN'), id="nan"),
    pytest.param(lambda: _payload_text('"x": 1,'), id="trailing-comma"),
    pytest.param(lambda: _payload_text('"deep": ' + "[" * 2100 + "]" * 2100), id="nesting-2100"),
])
def test_malformed_payload_is_refused(api, keys, payload):
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload())))


def test_deeply_nested_but_valid_claims_are_accepted_and_exported(api, keys):
    deep = {}
    cur = deep
    for _ in range(199):
        cur["d"] = {}
        cur = cur["d"]
    r = api.get(ALL, sign(keys.rsa, rsa_header(), std_claims(deep=deep)))
    assert_accepted(api, r)
    assert json.loads(r.json()["CLAIM_DEEP"]) == deep


def test_unknown_claims_are_ignored_for_validation(api, keys):
    r = api.get(ALL, mint(keys.rsa, {"nonce": "n", "x-unknown": {"a": 1}, "azp": 5}))
    assert_accepted(api, r)


# ------------------------------------------------------------------ audience (CL-45)

@pytest.mark.parametrize("aud", [AUDIENCE, [AUDIENCE], ["https://x.test", AUDIENCE]],
                         ids=["string", "array", "array-second"])
def test_matching_audience_is_accepted(api, keys, aud):
    assert_accepted(api, api.get(ALL, mint(keys.rsa, aud=aud)))


@pytest.mark.parametrize("aud", ["https://elsewhere.test", "", [], [""], [AUDIENCE, ""], [AUDIENCE, 1],
                                 [AUDIENCE, None], {"aud": AUDIENCE}, [[AUDIENCE]], AUDIENCE + "/",
                                 AUDIENCE.upper(), AUDIENCE[:-1], AUDIENCE + "x", "https://api.test.evil", " " + AUDIENCE,
                                 1, True, None],
                         ids=["other", "empty", "empty-array", "array-of-empty", "array-with-empty",
                              "array-with-number", "array-with-null", "object", "nested-array", "trailing-slash",
                              "upper", "prefix", "suffix", "longer-host", "leading-space", "number", "bool",
                              "missing"])
def test_wrong_or_malformed_audience_is_refused(api, keys, aud):
    payload = std_claims()
    if aud is None:
        del payload["aud"]
    else:
        payload["aud"] = aud
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload)), "token audience is not accepted here")


def test_json_null_audience_is_refused(api, keys):
    text = json.dumps(std_claims(aud=None))[:-1] + ', "aud": null}'
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), text)), "token audience is not accepted here")


@pytest.mark.parametrize("aud", ["https://orders.test", "https://orders2.test", [AUDIENCE, "https://orders2.test"]])
def test_location_audience_overrides_the_issuers(api, keys, aud):
    assert_accepted(api, api.get("/cgi/env.py/aud-orders", mint(keys.rsa, aud=aud)))


def test_issuer_audience_is_not_accepted_where_the_location_overrides_it(api, keys):
    assert_refused(api.get("/cgi/env.py/aud-orders", mint(keys.rsa)), "token audience is not accepted here")


@pytest.mark.parametrize("aud", ["https://anything.test", None, [AUDIENCE, "x"]], ids=["other", "missing", "array"])
def test_claims_audience_any_skips_the_audience_check(api, keys, aud):
    assert_accepted(api, api.get("/cgi/env.py/aud-any", mint(keys.rsa, aud=aud)))


# ------------------------------------------------------------------ type and required claims (CL-47)

def _at(typ, **overrides):
    payload = std_claims(iss=AT_ISSUER, client_id="client-1", jti="id-1")
    for k, v in overrides.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    header = rsa_header(typ=typ)
    return header, payload


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"])
def test_required_token_type_accepts_at_jwt_spellings(api, keys, typ):
    header, payload = _at(typ)
    assert_accepted(api, api.get(ALL, sign(keys.rsa, header, payload)))


@pytest.mark.parametrize("typ", ["JWT", None, "", "at+jwt2", "jwt", "application/jwt", "at+jwt ", "xapplication/at+jwt"],
                         ids=["jwt", "missing", "empty", "suffix", "jwt-lower", "application-jwt", "trailing-space",
                              "bad-prefix"])
def test_required_token_type_refuses_other_types(api, keys, typ):
    header, payload = _at(typ)
    assert_refused(api.get(ALL, sign(keys.rsa, header, payload)), "token type is not accepted")


def test_id_token_is_refused_where_access_tokens_are_required(api, keys):
    header, payload = _at("JWT", nonce="n-0S6_WzA2Mj", client_id=None)
    assert_refused(api.get(ALL, sign(keys.rsa, header, payload)))


def test_token_type_is_not_required_by_default(api, keys):
    assert_accepted(api, api.get(ALL, sign(keys.rsa, rsa_header(typ="JWT"), std_claims())))


@pytest.mark.parametrize("overrides", [{"client_id": None}, {"jti": None}, {"client_id": ""}],
                         ids=["client_id-missing", "jti-missing", "client_id-empty"])
def test_required_claim_missing_or_empty_is_refused(api, keys, overrides):
    header, payload = _at("at+jwt", **overrides)
    assert_refused(api.get(ALL, sign(keys.rsa, header, payload)), "token lacks a required claim")


def test_required_claim_null_is_refused(api, keys):
    header, payload = _at("at+jwt", client_id=None)
    text = json.dumps(payload)[:-1] + ', "client_id": null}'
    assert_refused(api.get(ALL, sign(keys.rsa, header, text)), "token lacks a required claim")


# ------------------------------------------------------------------ REMOTE_USER (CL-46, CL-49, CL-76)

@pytest.mark.parametrize("sub", [123, "", "a\r\nb", "a\nb", "a\rb", "a\tb", "a\x01b", "a\x1fb", "a\x7fb", "x" * 1025,
                                 ["alice"], {"name": "alice"}, True, None],
                         ids=["number", "empty", "crlf", "lf", "cr", "tab", "ctl-01", "ctl-1f", "del", "1025-bytes",
                              "array", "object", "bool", "missing"])
def test_invalid_remote_user_claim_refuses_the_token(api, keys, sub):
    assert_refused(api.get(ALL, mint(keys.rsa, sub=sub)), "token user claim is missing or invalid")


def test_json_null_sub_refuses_the_token(api, keys):
    text = json.dumps(std_claims(sub=None))[:-1] + ', "sub": null}'
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), text)), "token user claim is missing or invalid")


@pytest.mark.parametrize("sub", ["x" * 1024, "jürgen", "ａｄｍｉｎ", "user@example.com", "a b", "ü" * 512],
                         ids=["1024-bytes", "latin", "fullwidth", "email", "space", "1024-bytes-utf8"])
def test_remote_user_is_the_sub_claims_exact_bytes(api, keys, sub):
    assert_accepted(api, api.get(ALL, mint(keys.rsa, sub=sub)), user=sub)


def test_claims_remote_user_takes_another_claim(api, keys):
    r = api.get("/cgi/env.py/pu", mint(keys.rsa, preferred_username="alice.smith"))
    assert_accepted(api, r, user="alice.smith")


@pytest.mark.parametrize("value", [None, "", "a\r\nb", 7, "x" * 1025], ids=["missing", "empty", "crlf", "number", "long"])
def test_claims_remote_user_claim_obeys_the_user_rules(api, keys, value):
    r = api.get("/cgi/env.py/pu", mint(keys.rsa, preferred_username=value) if value is not None else mint(keys.rsa))
    assert_refused(r, "token user claim is missing or invalid")


def test_claims_remote_user_takes_a_dotted_path(api, keys):
    assert_accepted(api, api.get("/cgi/env.py/nested-user", mint(keys.rsa, user={"name": "bob"})), user="bob")


@pytest.mark.parametrize("iss,key", [(ISSUER, "rsa"), (OTHER_ISSUER, "other")])
def test_issuer_qualified_remote_user_appends_the_issuer(api, keys, iss, key):
    r = api.get("/cgi/env.py/qualified", mint(getattr(keys, key), iss=iss))
    assert_accepted(api, r, user="alice@" + iss)


# ------------------------------------------------------------------ base64url (CL-36)

def _std_b64(data):
    return base64.b64encode(data).decode().rstrip("=")


def _header_with(chars):
    """A header JSON whose standard base64 contains one of chars."""
    for n in range(1, 12):
        for filler in ("?", ">", "\xff", "~"):
            h = json.dumps({"alg": "RS256", "kid": "rsa-1", "x": filler * n}).encode()
            if any(c in _std_b64(h) for c in chars):
                return h
    raise AssertionError("no header with %r" % chars)


@pytest.mark.parametrize("variant", ["plus", "slash", "padded-signature", "length-1-mod-4", "noncanonical-bits"])
def test_segments_must_be_strict_base64url_even_when_signed(api, keys, variant):
    payload = b64u(json.dumps(std_claims()))
    if variant in ("plus", "slash"):
        h = _std_b64(_header_with("+" if variant == "plus" else "/"))
        assert ("+" if variant == "plus" else "/") in h
    else:
        h = b64u(json.dumps(rsa_header()))
    if variant == "length-1-mod-4":
        while len(h) % 4 != 1:
            h += "A"
    if variant == "noncanonical-bits":
        header = json.dumps(rsa_header(x="a")).encode()
        while len(b64u(header)) % 4 != 2:
            header = header[:-2] + b'a"}'
        h = b64u(header)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        h = h[:-1] + alphabet[alphabet.index(h[-1]) | 1]
    signing_input = (h + "." + payload).encode()
    sig = b64u(raw_signature(keys.rsa, "RS256", signing_input))
    if variant == "padded-signature":
        sig += "=" * (-len(sig) % 4 or 2)
    assert_refused(api.get(ALL, h + "." + payload + "." + sig), "token is not strict base64url")


# ------------------------------------------------------------------ kid is only ever compared (CL-25)

@pytest.mark.parametrize("form", ["absolute", "traversal", "file-url", "jwk-file"])
def test_kid_naming_a_key_file_is_never_read(api, keys, form):
    # the attacker's own public key sits in a file the server can read; a kid naming that file
    # must not make the server use it
    pem = keys.write("attacker-public.pem", keys.attacker.export_to_pem())
    jwk_path = keys.write("attacker-public.jwk", keys.attacker.export_public())
    kid = {"absolute": pem, "traversal": "../" * 12 + pem.lstrip("/"), "file-url": "file://" + pem,
           "jwk-file": jwk_path}[form]
    token = sign(keys.attacker, {"alg": "RS256", "kid": kid}, std_claims())
    assert_refused(api.get(ALL, token))


@pytest.mark.parametrize("template", ["$(touch %s)", "`touch %s`", "; touch %s", "| touch %s"],
                         ids=["dollar-paren", "backticks", "semicolon", "pipe"])
def test_kid_holding_a_shell_command_runs_nothing(api, keys, template):
    marker = os.path.join(keys.dir, "kid-pwned-%s" % uuid.uuid4().hex)
    token = sign(keys.rsa, {"alg": "RS256", "kid": template % marker}, std_claims())
    assert_refused(api.get(ALL, token))
    time.sleep(0.2)
    assert not os.path.exists(marker)


# ------------------------------------------------------------------ the default leeway is at most 60 s (CL-42)

@pytest.mark.parametrize("overrides,description", [
    ({"exp": -62, "iat": -200}, "token has expired"),
    ({"nbf": 65}, "token is not valid yet"),
    ({"iat": 65}, "token was issued in the future"),
], ids=["exp", "nbf", "iat"])
def test_default_leeway_is_at_most_60_seconds(api, keys, overrides, description):
    payload = std_claims(**{k: now() + v for k, v in overrides.items()})
    assert_refused(api.get(ALL, sign(keys.rsa, rsa_header(), payload)), description)


# ------------------------------------------------------------------ high-S ECDSA (CL-34)

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_high_s_twin_of_an_accepted_es256_token_is_accepted_too(api, keys):
    # (r, n - s) is as valid as (r, s): the module neither refuses it nor treats the twin as a
    # replay of the first token (it keeps no signature-keyed replay state)
    token = sign(keys.ec, {"alg": "ES256", "kid": "ec-1"}, std_claims())
    h, p, s = token.split(".")
    sig = base64.urlsafe_b64decode(s + "==")
    r_, s_ = sig[:32], int.from_bytes(sig[32:], "big")
    twin = h + "." + p + "." + b64u(r_ + (P256_ORDER - s_).to_bytes(32, "big"))
    assert twin != token
    with requests.Session() as session:
        for t in (token, twin, token, twin):
            r = session.get(api.url + ALL, headers={"Authorization": "Bearer " + t}, timeout=10)
            assert_accepted(api, r)


# ------------------------------------------------------------------ the RFC 9068 profile (CL-46, CL-47)

PROFILE_ISSUER = "https://rfc9068.test"


@pytest.fixture(scope="module")
def profile_api(make_module_httpd, keys):
    """An issuer configured as RFC 9068 asks: typ at+jwt, and sub, client_id, iat, jti required.
    REMOTE_USER is client_id here, so sub is required by the profile alone."""
    body = """
<ClaimsIssuer %s>
    ClaimsKeyFile %s
    ClaimsAudience %s
    ClaimsTokenType at+jwt
    ClaimsRequiredClaims sub client_id iat jti
</ClaimsIssuer>
""" % (PROFILE_ISSUER, keys.jwks_path, AUDIENCE) + location(ALL, "ClaimsRemoteUser client_id", "Require valid-user")
    return make_module_httpd(body)


def _profile_token(keys, typ="at+jwt", raw=None, **overrides):
    fields = dict(iss=PROFILE_ISSUER, client_id="client-1", jti="id-1")
    fields.update(overrides)
    payload = std_claims(**fields)
    header = rsa_header(typ=typ)
    return sign(keys.rsa, header, raw if raw is not None else payload)


def test_rfc9068_profile_accepts_a_complete_access_token(profile_api, keys):
    assert_accepted(profile_api, profile_api.get(ALL, _profile_token(keys)), user="client-1")


@pytest.mark.parametrize("overrides", [{"sub": None}, {"sub": ""}, {"client_id": None}, {"iat": None},
                                       {"jti": None}, {"jti": ""}],
                         ids=["sub-missing", "sub-empty", "client_id-missing", "iat-missing", "jti-missing",
                              "jti-empty"])
def test_rfc9068_profile_requires_sub_client_id_iat_and_jti(profile_api, keys, overrides):
    assert_refused(profile_api.get(ALL, _profile_token(keys, **overrides)), "token lacks a required claim")


def test_rfc9068_profile_refuses_a_null_sub(profile_api, keys):
    text = json.dumps(std_claims(iss=PROFILE_ISSUER, client_id="client-1", jti="id-1", sub=None))[:-1] + ', "sub": null}'
    assert_refused(profile_api.get(ALL, _profile_token(keys, raw=text)), "token lacks a required claim")


@pytest.mark.parametrize("typ", ["JWT", None], ids=["jwt", "missing"])
def test_rfc9068_profile_refuses_an_id_token(profile_api, keys, typ):
    token = _profile_token(keys, typ=typ, nonce="n-0S6_WzA2Mj")
    assert_refused(profile_api.get(ALL, token), "token type is not accepted")


# ------------------------------------------------------------------ the verified-token cache (CL-67)

@pytest.fixture(scope="module")
def cache_api(make_module_httpd, keys):
    """The default verified-token cache (ClaimsCache On), locations that differ in audience and
    trusted issuers, and the status page whose hit counter shows a cached answer was used."""
    body = (issuer_block(keys) + """
<ClaimsIssuer %(other)s>
    ClaimsKeyFile %(other_jwks)s
    ClaimsAudience %(aud)s
</ClaimsIssuer>
<ClaimsIssuer %(strict)s>
    ClaimsKeyFile %(jwks)s
    ClaimsAudience %(aud)s
    ClaimsLeeway 0
</ClaimsIssuer>
<Location /claims-status>
    SetHandler claims-status
    Require ip 127.0.0.1
</Location>
""" % {"other": OTHER_ISSUER, "other_jwks": keys.other_jwks_path, "aud": AUDIENCE, "strict": STRICT_ISSUER,
       "jwks": keys.jwks_path}
            + location(ALL, "Require valid-user")
            + location("/cgi/env.py/aud-orders", "ClaimsAudience https://orders.test", "Require valid-user")
            + location("/cgi/env.py/trust-other", "ClaimsTrust %s" % OTHER_ISSUER, "Require valid-user"))
    return make_module_httpd(body)


def _cache_hits(h):
    """Requests answered from a verified-token cache: a child's own level, or the level the
    children share (issue 17: a token verified afresh goes there first)."""
    doc = requests.get(h.url + "/claims-status?format=json", headers={"Connection": "close"}, timeout=10).json()
    assert doc["cache"]["enabled"] is True
    return doc["cache"]["hits"] + doc["shared_cache"]["hits"]


def _on(session, h, path, token):
    return session.get(h.url + path, headers={"Authorization": "Bearer " + token}, timeout=10)


@requires_cache
@pytest.mark.parametrize("first,second,aud", [
    (ALL, "/cgi/env.py/aud-orders", AUDIENCE),
    ("/cgi/env.py/aud-orders", ALL, "https://orders.test"),
], ids=["issuer-audience-then-location-audience", "location-audience-then-issuer-audience"])
def test_cached_token_is_checked_again_for_the_audience_of_each_location(cache_api, keys, first, second, aud):
    token = mint(keys.rsa, aud=aud)
    with requests.Session() as s:  # one connection: one child, one cache
        assert_accepted(cache_api, _on(s, cache_api, first, token))
        hits = _cache_hits(cache_api)
        assert_accepted(cache_api, _on(s, cache_api, first, token))
        assert _cache_hits(cache_api) > hits, "the second request was not answered from the cache"
        hits = _cache_hits(cache_api)
        assert_refused(_on(s, cache_api, second, token), "token audience is not accepted here")
        assert _cache_hits(cache_api) > hits, "the refused request did not use the cached entry"


@requires_cache
def test_cached_token_is_checked_again_for_the_issuers_trusted_at_each_location(cache_api, keys):
    token = mint(keys.rsa)
    with requests.Session() as s:
        # twice: a token verified once is in the level the children share; the second request
        # takes it into this child's own level, where the next look-up finds it whatever its iss
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))
        hits = _cache_hits(cache_api)
        assert_refused(_on(s, cache_api, "/cgi/env.py/trust-other", token), "token issuer is not trusted")
        assert _cache_hits(cache_api) > hits, "the refused request did not use the cached entry"
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))


@requires_cache
def test_cached_token_is_refused_once_it_expires(cache_api, keys):
    exp = now() + 3
    token = sign(keys.rsa, rsa_header(), std_claims(iss=STRICT_ISSUER, exp=exp))
    with requests.Session() as s:
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))
        hits = _cache_hits(cache_api)
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))
        assert _cache_hits(cache_api) > hits
        time.sleep(max(0, exp + 1.2 - time.time()))
        assert_refused(_on(s, cache_api, ALL, token), "token has expired")


@requires_cache
@pytest.mark.parametrize("key,alg,kid", [("rsa", "RS256", "rsa-1"), ("ec", "ES256", "ec-1")])
def test_token_differing_from_a_cached_one_in_its_signature_is_refused(cache_api, keys, key, alg, kid):
    token = sign(getattr(keys, key), {"alg": alg, "kid": kid}, std_claims())
    h, p, s64 = token.split(".")
    sig = bytearray(base64.urlsafe_b64decode(s64 + "=="))
    sig[len(sig) // 2] ^= 0x01
    forged = h + "." + p + "." + b64u(bytes(sig))
    with requests.Session() as s:
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))
        hits = _cache_hits(cache_api)
        assert_accepted(cache_api, _on(s, cache_api, ALL, token))
        assert _cache_hits(cache_api) > hits
        assert_refused(_on(s, cache_api, ALL, forged), "token signature is invalid")
