"""Configuration: what apache2 -t and start-up refuse, and with which message (SECURITY.md
CL-22, CL-23, CL-64, CL-70..CL-73); key rotation by graceful restart; other MPMs."""
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import AUDIENCE, ISSUER, challenge, issuer_block, location, mint


class Material:
    """Key files that configurations below refuse (or need)."""

    def __init__(self, keys):
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.weak_rsa = keys.write("weak-rsa.pem", weak.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.private_pem = keys.write("private.pem", keys.rsa.export_to_pem(private_key=True, password=None))
        self.ec_pem = keys.write("ec-p256.pem", keys.ec.export_to_pem())
        self.garbage = keys.write("garbage.key", "this is not a key\n")
        self.short_secret = keys.write("short.key", b"s" * 16)
        self.empty_secret = keys.write("empty.key", b"")
        self.secret32 = keys.write("secret32.key", b"k" * 32)
        self.pem_as_secret = keys.write("pem-secret.key", keys.rsa.export_to_pem())
        pub = json.loads(keys.rsa.export_public())
        self.even_e = keys.write("even-e.jwk", json.dumps(dict(pub, e="Ag", kid="even")))
        self.enc_use = keys.write("enc-use.jwk", json.dumps(dict(pub, use="enc", kid="enc")))
        self.jwe_alg = keys.write("jwe-alg.jwk", json.dumps(dict(pub, alg="RSA-OAEP", kid="jwe")))
        self.dup_kids = keys.write("dup-kids.jwks", json.dumps({"keys": [dict(pub, kid="same"),
                                                                        dict(pub, kid="same")]}))


@pytest.fixture(scope="module")
def material(keys):
    return Material(keys)


def issuer(body, iss=ISSUER):
    return "<ClaimsIssuer %s>\n%s\n</ClaimsIssuer>\n" % (iss, body)


def protected(*lines):
    return location("/cgi/env.py", *(lines or ("Require valid-user",)))


def _cases(keys, m):
    jwks = keys.jwks_path
    aud = "    ClaimsAudience %s" % AUDIENCE
    return {
        # ---- key files
        "key-file-missing": (issuer("ClaimsKeyFile /nonexistent/keys.jwks\n" + aud),
                             ["ClaimsKeyFile", "/nonexistent/keys.jwks", "cannot open"]),
        "key-file-is-directory": (issuer("ClaimsKeyFile %s\n%s" % (keys.dir, aud)),
                                  ["ClaimsKeyFile", "not a regular file"]),
        "key-file-garbage": (issuer("ClaimsKeyFile %s\n%s" % (m.garbage, aud)), ["ClaimsKeyFile", m.garbage]),
        "key-file-private-key": (issuer("ClaimsKeyFile %s alg=RS256\n%s" % (m.private_pem, aud)),
                                 ["ClaimsKeyFile", "public key"]),
        "weak-rsa": (issuer("ClaimsKeyFile %s alg=RS256\n%s" % (m.weak_rsa, aud)),
                     ["ClaimsKeyFile", "1024", "too weak"]),
        "rsa-even-exponent": (issuer("ClaimsKeyFile %s alg=RS256\n%s" % (m.even_e, aud)),
                              ["ClaimsKeyFile", "exponent"]),
        "jwk-use-enc": (issuer("ClaimsKeyFile %s alg=RS256\n%s" % (m.enc_use, aud)), ["ClaimsKeyFile", "use"]),
        "jwk-alg-not-jws": (issuer("ClaimsKeyFile %s\n%s" % (m.jwe_alg, aud)), ["ClaimsKeyFile", "RSA-OAEP"]),
        "jwks-duplicate-kids": (issuer("ClaimsKeyFile %s alg=RS256\n%s" % (m.dup_kids, aud)), ["duplicate kid"]),
        "duplicate-kid-across-files": (issuer("ClaimsKeyFile %s\nClaimsKeyFile %s kid=rsa-1 alg=RS256\n%s"
                                              % (jwks, keys.rsa_pem_path, aud)), ["duplicate kid"]),
        "rsa-pem-without-alg": (issuer("ClaimsKeyFile %s\n%s" % (keys.rsa_pem_path, aud)),
                                ["ClaimsKeyFile", "RSA key without an algorithm"]),
        "ec-p256-bound-to-es384": (issuer("ClaimsKeyFile %s alg=ES384\n%s" % (m.ec_pem, aud)),
                                   ["ClaimsKeyFile", "ES384", "does not fit"]),
        "rsa-bound-to-es256": (issuer("ClaimsKeyFile %s alg=ES256\n%s" % (keys.rsa_pem_path, aud)),
                               ["ClaimsKeyFile", "ES256", "does not fit"]),
        "key-file-alg-hs256": (issuer("ClaimsKeyFile %s alg=HS256\n%s" % (keys.rsa_pem_path, aud)),
                               ["ClaimsKeyFile", "ClaimsSecretFile"]),
        "key-file-alg-es521": (issuer("ClaimsKeyFile %s alg=ES521\n%s" % (m.ec_pem, aud)),
                               ["ClaimsKeyFile", "ES521"]),
        "key-file-unknown-option": (issuer("ClaimsKeyFile %s use=sig\n%s" % (jwks, aud)),
                                    ["ClaimsKeyFile", "use=sig"]),
        "key-outside-allowed-algorithms": (issuer("ClaimsAlgorithms ES256\nClaimsKeyFile %s\n%s" % (jwks, aud)),
                                           ["ClaimsAlgorithms", "RS256"]),
        # ---- ClaimsAlgorithms
        "algorithms-es521": (issuer("ClaimsKeyFile %s\nClaimsAlgorithms ES256 ES521\n%s" % (jwks, aud)),
                             ["ClaimsAlgorithms", "ES521"]),
        "algorithms-none": (issuer("ClaimsKeyFile %s\nClaimsAlgorithms RS256 none\n%s" % (jwks, aud)),
                            ["ClaimsAlgorithms", "none"]),
        "algorithms-None": (issuer("ClaimsKeyFile %s\nClaimsAlgorithms None\n%s" % (jwks, aud)),
                            ["ClaimsAlgorithms", "none"]),
        "algorithms-lowercase": (issuer("ClaimsKeyFile %s\nClaimsAlgorithms rs256\n%s" % (jwks, aud)),
                                 ["ClaimsAlgorithms", "rs256"]),
        # ---- ClaimsSecretFile
        "secret-too-short": (issuer("ClaimsSecretFile %s alg=HS256\n%s" % (m.short_secret, aud)),
                             ["ClaimsSecretFile", "32 bytes"]),
        "secret-too-short-for-hs512": (issuer("ClaimsSecretFile %s alg=HS512\n%s" % (m.secret32, aud)),
                                       ["ClaimsSecretFile", "64 bytes"]),
        "secret-empty": (issuer("ClaimsSecretFile %s alg=HS256\n%s" % (m.empty_secret, aud)),
                         ["ClaimsSecretFile", "empty"]),
        "secret-without-alg": (issuer("ClaimsSecretFile %s\n%s" % (m.secret32, aud)),
                               ["ClaimsSecretFile", "alg=HS256"]),
        "secret-with-rsa-alg": (issuer("ClaimsSecretFile %s alg=RS256\n%s" % (m.secret32, aud)),
                                ["ClaimsSecretFile", "alg=HS256"]),
        "secret-is-a-public-key": (issuer("ClaimsSecretFile %s alg=HS256\n%s" % (m.pem_as_secret, aud)),
                                   ["ClaimsSecretFile", "public key"]),
        "secret-missing-file": (issuer("ClaimsSecretFile /nonexistent/hs.key alg=HS256\n" + aud),
                                ["ClaimsSecretFile", "cannot open"]),
        "secret-mixed-with-public-keys": (issuer("ClaimsKeyFile %s\nClaimsSecretFile %s alg=HS256\n%s"
                                                 % (jwks, m.secret32, aud)), ["mix"]),
        # ---- issuers
        "issuer-without-keys": (issuer(aud), ["<ClaimsIssuer %s>" % ISSUER, "no keys", "ClaimsKeyFile"]),
        "issuer-without-identifier": ("<ClaimsIssuer >\nClaimsKeyFile %s\n%s\n</ClaimsIssuer>\n" % (jwks, aud),
                                      ["<ClaimsIssuer>", "issuer identifier"]),
        "issuer-nested": (issuer("ClaimsKeyFile %s\n%s\n%s" % (jwks, aud, issuer("ClaimsKeyFile %s" % jwks,
                                                                                  iss="https://inner.test"))),
                          ["<ClaimsIssuer>", "nested"]),
        "issuer-declared-twice": (issuer("ClaimsKeyFile %s\n%s" % (jwks, aud)) * 2,
                                  ["<ClaimsIssuer %s>" % ISSUER, "twice"]),
        "key-file-outside-issuer": ("ClaimsKeyFile %s\n" % jwks, ["ClaimsKeyFile", "<ClaimsIssuer>"]),
        "algorithms-outside-issuer": ("ClaimsAlgorithms RS256\n", ["ClaimsAlgorithms", "<ClaimsIssuer>"]),
        "leeway-outside-issuer": ("ClaimsLeeway 10\n", ["ClaimsLeeway", "<ClaimsIssuer>"]),
        "token-type-outside-issuer": ("ClaimsTokenType at+jwt\n", ["ClaimsTokenType", "<ClaimsIssuer>"]),
        # ---- numbers
        "leeway-garbage": (issuer("ClaimsKeyFile %s\n%s\nClaimsLeeway abc" % (jwks, aud)), ["ClaimsLeeway", "abc"]),
        "leeway-negative": (issuer("ClaimsKeyFile %s\n%s\nClaimsLeeway -5" % (jwks, aud)), ["ClaimsLeeway", "-5"]),
        "leeway-huge": (issuer("ClaimsKeyFile %s\n%s\nClaimsLeeway 99999999999" % (jwks, aud)),
                        ["ClaimsLeeway", "99999999999"]),
        "leeway-with-unit": (issuer("ClaimsKeyFile %s\n%s\nClaimsLeeway 60s" % (jwks, aud)), ["ClaimsLeeway", "60s"]),
        "leeway-fraction": (issuer("ClaimsKeyFile %s\n%s\nClaimsLeeway 1.5" % (jwks, aud)), ["ClaimsLeeway", "1.5"]),
        "max-token-size-garbage": (issuer_block(keys) + protected("ClaimsMaxTokenSize lots", "Require valid-user"),
                                   ["ClaimsMaxTokenSize", "lots"]),
        "max-token-size-with-unit": (issuer_block(keys) + protected("ClaimsMaxTokenSize 8k", "Require valid-user"),
                                     ["ClaimsMaxTokenSize", "8k"]),
        "max-token-size-negative": (issuer_block(keys) + protected("ClaimsMaxTokenSize -1", "Require valid-user"),
                                    ["ClaimsMaxTokenSize", "-1"]),
        "max-token-size-zero": (issuer_block(keys) + protected("ClaimsMaxTokenSize 0", "Require valid-user"),
                                ["ClaimsMaxTokenSize", "0"]),
        # ---- audiences and other per-directory directives
        "audience-any-with-audiences": (issuer("ClaimsKeyFile %s\nClaimsAudience any %s" % (jwks, AUDIENCE)),
                                        ["ClaimsAudience", "any"]),
        "location-audience-any-with-audiences": (issuer_block(keys) + protected(
            "ClaimsAudience %s any" % AUDIENCE, "Require valid-user"), ["ClaimsAudience", "any"]),
        "remote-user-bad-option": (issuer_block(keys) + protected("ClaimsRemoteUser sub qualified",
                                                                  "Require valid-user"),
                                   ["ClaimsRemoteUser", "qualified"]),
        "remote-user-bad-path": (issuer_block(keys) + protected("ClaimsRemoteUser a..b", "Require valid-user"),
                                 ["ClaimsRemoteUser", "empty segment"]),
        "export-all-with-paths": (issuer_block(keys) + protected("ClaimsExport all sub", "Require valid-user"),
                                  ["ClaimsExport", "stand alone"]),
        "export-bad-pointer": (issuer_block(keys) + protected("ClaimsExport /a~2", "Require valid-user"),
                               ["ClaimsExport", "JSON Pointer"]),
        # ---- Require lines
        "require-claim-without-value": (issuer_block(keys) + protected("Require claim groups"),
                                        ["Require claim", "at least one value"]),
        "require-claim-without-anything": (issuer_block(keys) + protected("Require claim"), ["Require claim"]),
        "require-claim-bad-pointer": (issuer_block(keys) + protected("Require claim /groups/~2 admin"),
                                      ["Require claim", "JSON Pointer", "~"]),
        "require-claim-empty-segment": (issuer_block(keys) + protected("Require claim realm_access..roles ops"),
                                        ["Require claim", "empty segment"]),
        "require-claim-bad-expression": (issuer_block(keys) + protected("Require claim tenant %{HTTP:X"),
                                         ["Require claim", "expression"]),
        "require-scope-without-scope": (issuer_block(keys) + protected("Require scope"),
                                        ["Require scope", "at least one scope"]),
        "require-scope-with-space": (issuer_block(keys) + protected("Require scope 'orders:read orders:write'"),
                                     ["Require scope", "orders:read orders:write"]),
        "require-scope-bad-expression": (issuer_block(keys) + protected("Require scope %{HTTP:X"),
                                         ["Require scope", "expression"]),
        # ---- issue 12 item 8: an empty quoted word ended the line, and the words after it
        "require-scope-empty-word": (issuer_block(keys) + protected('Require scope read "" write'),
                                     ["Require scope", "empty"]),
        "require-scope-empty-single-quoted": (issuer_block(keys) + protected("Require scope read '' write"),
                                              ["Require scope", "empty"]),
        "require-claim-empty-word": (issuer_block(keys) + protected('Require claim groups admin "" staff'),
                                     ["Require claim", "empty"]),
        "require-claims-scope-empty-word": (issuer_block(keys) + protected('Require claims-scope "" write'),
                                            ["Require scope", "empty"]),
        # ---- item 16: HMAC secrets beside a remote (public) key set failed every refresh
        "secret-with-jwks": (issuer("ClaimsSecretFile %s alg=HS256\nClaimsJWKS https://idp.test/certs\n%s"
                                    % (m.secret32, aud)), ["ClaimsSecretFile", "ClaimsJWKS", "cannot be combined"]),
        "secret-with-discovery": (issuer("ClaimsSecretFile %s alg=HS256\nClaimsDiscovery\n%s" % (m.secret32, aud)),
                                  ["ClaimsSecretFile", "ClaimsDiscovery", "cannot be combined"]),
        # ---- item 11: ClaimsAllowHTTP is for loopback addresses by parsed host, not by prefix
        "allow-http-lookalike-host": (issuer("ClaimsAllowHTTP On\nClaimsJWKS http://127.attacker.example/certs\n%s"
                                             % aud), ["ClaimsJWKS", "loopback"]),
        "allow-http-loopback-prefix-name": (issuer("ClaimsAllowHTTP On\nClaimsJWKS http://127.0.0.1.nip.io/certs\n%s"
                                                   % aud), ["ClaimsJWKS", "loopback"]),
        "allow-http-userinfo-trick": (issuer("ClaimsAllowHTTP On\nClaimsJWKS http://127.0.0.1@evil.example/c\n%s"
                                             % aud), ["ClaimsJWKS", "loopback"]),
        # ---- ClaimsRefreshWaiters
        "refresh-waiters-garbage": (issuer("ClaimsKeyFile %s\n%s\nClaimsRefreshWaiters some" % (jwks, aud)),
                                    ["ClaimsRefreshWaiters", "some"]),
        "refresh-waiters-negative": (issuer("ClaimsKeyFile %s\n%s\nClaimsRefreshWaiters -1" % (jwks, aud)),
                                     ["ClaimsRefreshWaiters", "-1"]),
        # ---- item 14: a virtual host's issuer without an audience answered 500 at run time
        "vhost-issuer-without-audience": (
            "<VirtualHost 127.0.0.1:*>\n    ServerName vhost.test\n"
            + issuer("ClaimsKeyFile %s" % jwks, iss="https://vhost-idp.test")
            + "    <Location /api>\n        AuthType claims\n        Require valid-user\n    </Location>\n"
            "</VirtualHost>\n" + issuer_block(keys),
            ["/api", "no audience", "ClaimsAudience"]),
        "main-location-with-vhost-issuer-without-audience": (
            issuer_block(keys) + protected("Require valid-user")
            + "<VirtualHost 127.0.0.1:*>\n    ServerName vhost.test\n"
            + issuer("ClaimsKeyFile %s" % jwks, iss="https://vhost-idp.test") + "</VirtualHost>\n",
            ["/cgi/env.py", "no audience"]),
        # ---- ClaimsReplayCache: below 1 MiB one shmcb subcache can overflow (and drop a live jti,
        # whose proof could then be replayed) before the module's count of live jti refuses new proofs
        "replay-store-64k": ("ClaimsReplayCache shmcb:(65536)\n" + issuer_block(keys),
                             ["ClaimsReplayCache shmcb:(65536)", "have 65536 bytes", "at least 1048576 bytes (1 MiB)"]),
        "replay-store-1-byte-short": ("ClaimsReplayCache shmcb:(1048575)\n" + issuer_block(keys),
                                      ["ClaimsReplayCache shmcb:(1048575)", "at least 1048576 bytes (1 MiB)"]),
        "replay-store-path-64k": ("ClaimsReplayCache shmcb:/some/path(65536)\n" + issuer_block(keys),
                                  ["ClaimsReplayCache shmcb:/some/path(65536)", "at least 1048576 bytes"]),
        # a path without (BYTES): shmcb gives it its own default, 512 KiB, not the module's 16 MiB
        "replay-store-path-without-size": ("ClaimsReplayCache shmcb:/some/path\n" + issuer_block(keys),
                                           ["ClaimsReplayCache shmcb:/some/path", "have 524288 bytes",
                                            "at least 1048576 bytes"]),
        "replay-store-size-with-suffix": ("ClaimsReplayCache shmcb:(1M)\n" + issuer_block(keys),
                                          ["ClaimsReplayCache shmcb:(1M)", "not a number of bytes"]),
        "replay-store-size-unclosed": ("ClaimsReplayCache shmcb:(1048576\n" + issuer_block(keys),
                                       ["ClaimsReplayCache shmcb:(1048576", "parenthesis"]),
        "replay-store-too-large": ("ClaimsReplayCache shmcb:(4294967295)\n" + issuer_block(keys),
                                   ["ClaimsReplayCache shmcb:(4294967295)", "less than 4294967295 bytes"]),
    }


CASES = ["key-file-missing", "key-file-is-directory", "key-file-garbage", "key-file-private-key", "weak-rsa",
         "rsa-even-exponent", "jwk-use-enc", "jwk-alg-not-jws", "jwks-duplicate-kids", "duplicate-kid-across-files",
         "rsa-pem-without-alg", "ec-p256-bound-to-es384", "rsa-bound-to-es256", "key-file-alg-hs256",
         "key-file-alg-es521", "key-file-unknown-option", "key-outside-allowed-algorithms", "algorithms-es521",
         "algorithms-none", "algorithms-None", "algorithms-lowercase", "secret-too-short",
         "secret-too-short-for-hs512", "secret-empty", "secret-without-alg", "secret-with-rsa-alg",
         "secret-is-a-public-key", "secret-missing-file", "secret-mixed-with-public-keys", "issuer-without-keys",
         "issuer-without-identifier", "issuer-nested", "issuer-declared-twice", "key-file-outside-issuer",
         "algorithms-outside-issuer", "leeway-outside-issuer", "token-type-outside-issuer", "leeway-garbage",
         "leeway-negative", "leeway-huge", "leeway-with-unit", "leeway-fraction", "max-token-size-garbage",
         "max-token-size-with-unit", "max-token-size-negative", "max-token-size-zero", "audience-any-with-audiences",
         "location-audience-any-with-audiences", "remote-user-bad-option", "remote-user-bad-path",
         "export-all-with-paths", "export-bad-pointer", "require-claim-without-value",
         "require-claim-without-anything", "require-claim-bad-pointer", "require-claim-empty-segment",
         "require-claim-bad-expression", "require-scope-without-scope", "require-scope-with-space",
         "require-scope-bad-expression", "require-scope-empty-word", "require-scope-empty-single-quoted",
         "require-claim-empty-word", "require-claims-scope-empty-word", "secret-with-jwks", "secret-with-discovery",
         "allow-http-lookalike-host", "allow-http-loopback-prefix-name", "allow-http-userinfo-trick",
         "refresh-waiters-garbage", "refresh-waiters-negative", "vhost-issuer-without-audience",
         "main-location-with-vhost-issuer-without-audience", "replay-store-64k", "replay-store-1-byte-short",
         "replay-store-path-64k", "replay-store-path-without-size", "replay-store-size-with-suffix",
         "replay-store-size-unclosed", "replay-store-too-large"]


@pytest.mark.parametrize("case", CASES)
def test_configtest_refuses_with_a_message_naming_directive_and_problem(make_httpd, keys, material, case):
    body, expected = _cases(keys, material)[case]
    h = make_httpd(body, start=False)
    rc, out = h.configtest()
    assert rc != 0, out
    for text in expected:
        assert text in out, "%r not in:\n%s" % (text, out)


def test_valid_configuration_passes_configtest(make_httpd, keys):
    body = issuer_block(keys, extra="    ClaimsAlgorithms RS256 PS256 ES256 ES384 EdDSA\n    ClaimsLeeway 0\n"
                                    "    ClaimsTokenType at+jwt\n    ClaimsRequiredClaims sub client_id\n")
    body += protected("ClaimsMaxTokenSize 512", "ClaimsRemoteUser preferred_username issuer-qualified",
                      "ClaimsExport sub /realm_access/roles", "ClaimsTrust %s" % ISSUER,
                      "Require claim /a~1b/c~0d x", "Require scope a b")
    rc, out = make_httpd(body, start=False).configtest()
    assert rc == 0, out


@pytest.mark.parametrize("store", ["shmcb", "shmcb:(1048576)", "shmcb:/tmp/claims-replay-cfg(1048576)"])
def test_replay_store_of_1_mib_or_more_passes_configtest(make_httpd, keys, store):
    rc, out = make_httpd("ClaimsReplayCache %s\n" % store + issuer_block(keys), modules=["socache_shmcb"],
                         start=False).configtest()
    assert rc == 0, out


# ------------------------------------------------------------------ audience at start-up (CL-72)

def test_protected_location_without_any_audience_fails_to_start(make_httpd, keys):
    body = issuer("ClaimsKeyFile %s" % keys.jwks_path) + protected()
    h = make_httpd(body, start=False)
    h.allowed_errors += ["CLM001:", "AH00020:"]
    ok, out = h.try_start()
    assert not ok
    assert "ClaimsAudience" in out
    assert "/cgi/env.py" in out
    assert "audience" in out


def test_claims_audience_any_on_the_location_opts_out(make_httpd, keys):
    body = issuer("ClaimsKeyFile %s" % keys.jwks_path) + protected("ClaimsAudience any", "Require valid-user")
    h = make_httpd(body)
    r = h.get("/cgi/env.py", mint(keys.rsa, aud="https://whatever.test"))
    assert r.status_code == 200, h.log()


def test_issuer_level_audience_is_enough_for_its_locations(make_httpd, keys):
    body = issuer("ClaimsKeyFile %s\nClaimsAudience %s" % (keys.jwks_path, AUDIENCE)) + protected()
    h = make_httpd(body)
    assert h.get("/cgi/env.py", mint(keys.rsa)).status_code == 200
    assert h.get("/cgi/env.py", mint(keys.rsa, aud="https://whatever.test")).status_code == 401


def test_audience_of_an_enclosing_location_is_enough(make_httpd, keys):
    body = issuer("ClaimsKeyFile %s" % keys.jwks_path)
    body += "<Location /cgi/>\n    ClaimsAudience %s\n</Location>\n" % AUDIENCE + protected()
    h = make_httpd(body)
    assert h.get("/cgi/env.py", mint(keys.rsa)).status_code == 200


# ------------------------------------------------------------------ key rotation (graceful restart)

def _wait_for(h, token, status, timeout=15):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = h.get("/cgi/env.py", token).status_code
        if last == status:
            return last
        time.sleep(0.2)
    return last


def test_graceful_restart_picks_up_a_rotated_key_file(make_httpd, keys):
    path = keys.write("rotating.jwks.json", json.dumps({"keys": [json.loads(keys.rsa.export_public())]}))
    body = issuer("ClaimsKeyFile %s\nClaimsAudience %s" % (path, AUDIENCE)) + protected()
    h = make_httpd(body)
    old_token, new_token = mint(keys.rsa), mint(keys.rsa2)
    assert h.get("/cgi/env.py", old_token).status_code == 200
    r = h.get("/cgi/env.py", new_token)
    assert r.status_code == 401
    assert challenge(r)[1]["error"] == "invalid_token"

    keys.write("rotating.jwks.json", json.dumps({"keys": [json.loads(keys.rsa2.export_public())]}))
    h.graceful()
    assert _wait_for(h, new_token, 200) == 200, h.log()[-3000:]
    assert h.get("/cgi/env.py", old_token).status_code == 401


# ------------------------------------------------------------------ other MPMs

@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_module_works_under_other_mpms(make_httpd, keys, mpm):
    body = issuer_block(keys) + protected("Require claim groups admin")
    h = make_httpd(body, mpm=mpm)
    r = h.get("/cgi/env.py", mint(keys.rsa, {"groups": ["admin"]}))
    assert r.status_code == 200, h.log()
    assert r.json()["REMOTE_USER"] == "alice"
    assert h.get("/cgi/env.py").status_code == 401
    assert h.get("/cgi/env.py", mint(keys.attacker)).status_code == 401
    r = h.get("/cgi/env.py", mint(keys.rsa, {"groups": ["users"]}))
    assert r.status_code == 403
    assert challenge(r)[1]["error"] == "insufficient_scope"


# ------------------------------------------------------------------ no way to turn verification off (CL-71)

SHORTCUTS = {
    "verify-off": "ClaimsVerify Off",
    "signature-off": "ClaimsVerifySignature Off",
    "insecure": "ClaimsInsecure On",
    "allow-none": "ClaimsAllowNone On",
    "allow-unsigned": "ClaimsAllowUnsigned On",
    "algorithms-any": "ClaimsAlgorithms any",
    "algorithms-star": "ClaimsAlgorithms *",
    "algorithms-all": "ClaimsAlgorithms all",
    "key-alg-none": "ClaimsKeyFile %(jwks)s alg=none",
    "key-alg-any": "ClaimsKeyFile %(jwks)s alg=any",
    "key-verify-off": "ClaimsKeyFile %(jwks)s verify=off",
}


@pytest.mark.parametrize("case", list(SHORTCUTS))
def test_no_configuration_shortcut_turns_verification_off(make_httpd, keys, case):
    line = SHORTCUTS[case] % {"jwks": keys.jwks_path}
    body = issuer("ClaimsKeyFile %s\n    ClaimsAudience %s\n    %s" % (keys.jwks_path, AUDIENCE, line)) + protected()
    rc, out = make_httpd(body, start=False).configtest()
    assert rc != 0, "accepted: %s\n%s" % (line, out)


def test_no_directive_is_a_switch_that_weakens_verification():
    # every directive of the command table; none may be named like a way around verification
    import os
    import re
    from conftest import SRC_DIR
    names = set()
    for fn in os.listdir(SRC_DIR):
        if fn.startswith("mod_claims") and fn.endswith(".c"):
            with open(os.path.join(SRC_DIR, fn), encoding="utf-8") as f:
                names |= set(re.findall(r'AP_INIT_[A-Z0-9_]+\("<?(Claims[A-Za-z]+)"', f.read()))
    assert {"ClaimsIssuer", "ClaimsKeyFile", "ClaimsAlgorithms"} <= names
    weakening = re.compile(r"verif|insecure|unsigned|none|skip|nocheck|anyalg|disable|unsafe|trustall", re.I)
    assert [n for n in names if weakening.search(n)] == []


# ------------------------------------------------------------------ an audience opt-out is warned about (CL-72)

@pytest.mark.parametrize("where", ["location", "issuer"])
def test_claims_audience_any_is_warned_about_at_startup(make_httpd, keys, where):
    # SECURITY.md CL-72: a location without audience is refused "unless explicitly opted out
    # (warning at startup)": the opt-out itself must leave a warning in the error log
    if where == "location":
        body = issuer("ClaimsKeyFile %s" % keys.jwks_path) + protected("ClaimsAudience any", "Require valid-user")
    else:
        body = issuer("ClaimsKeyFile %s\nClaimsAudience any" % keys.jwks_path) + protected()
    h = make_httpd(body)
    assert h.get("/cgi/env.py", mint(keys.rsa, aud="https://whatever.test")).status_code == 200
    warnings = [l for l in h.log().splitlines() if ":warn]" in l and "ClaimsAudience any" in l]
    assert warnings, "no startup warning about ClaimsAudience any:\n" + h.log()[-3000:]


# ------------------------------------------------------------------ HMAC secrets stay out of output and logs (CL-59, CL-64)

HMAC_MARKER = b"HMACSECRETMARKER"


def _secret_forms(secret):
    import base64
    return [secret.decode(), base64.urlsafe_b64encode(secret).rstrip(b"=").decode(),
            base64.b64encode(secret).decode(), secret.hex(), secret.hex().upper(), HMAC_MARKER.decode()]


def test_refused_hmac_secret_is_not_echoed_by_configtest(make_httpd, keys):
    path = keys.write("marker-short.key", HMAC_MARKER)  # 16 bytes: too short for HS256
    rc, out = make_httpd(issuer("ClaimsSecretFile %s alg=HS256\nClaimsAudience %s" % (path, AUDIENCE))
                         + protected(), start=False).configtest()
    assert rc != 0 and "ClaimsSecretFile" in out, out
    for form in _secret_forms(HMAC_MARKER):
        assert form not in out


def test_hmac_secret_never_reaches_the_error_log(make_httpd, keys):
    import base64
    import hashlib
    import hmac as hmac_mod
    secret = HMAC_MARKER * 2  # 32 bytes
    path = keys.write("marker.key", secret)
    h = make_httpd(issuer("ClaimsSecretFile %s alg=HS256 kid=hs\nClaimsAudience %s" % (path, AUDIENCE))
                   + protected())

    def hs(key, header, payload):
        b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
        si = b(json.dumps(header).encode()) + "." + b(json.dumps(payload).encode())
        return si + "." + b(hmac_mod.new(key, si.encode(), hashlib.sha256).digest())

    now_ = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now_, "exp": now_ + 300}
    assert h.get("/cgi/env.py", hs(secret, {"alg": "HS256", "kid": "hs"}, claims)).status_code == 200
    for t in (hs(b"x" * 32, {"alg": "HS256", "kid": "hs"}, claims),
              hs(secret, {"alg": "HS256", "kid": "other"}, claims),
              hs(secret, {"alg": "HS256", "kid": "hs"}, dict(claims, exp=now_ - 3600))):
        assert h.get("/cgi/env.py", t).status_code == 401
    log = h.log()
    assert "CLM0" in log  # the module did log (LogLevel claims:debug)
    for form in _secret_forms(secret):
        assert form not in log
