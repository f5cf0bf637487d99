"""Every directive fed with garbage, empty, huge and boundary values: a configtest error that
names the directive, never a crash or a silent default (issue 7, SECURITY.md CL-70, CL-73).
Boundary values that are valid must pass."""
import pytest

from conftest import AUDIENCE, ISSUER

HUGE = "A" * 5000


def issuer_ctx(keys, line):
    return ("<ClaimsIssuer %s>\n    ClaimsKeyFile %s\n    ClaimsAudience %s\n    %s\n</ClaimsIssuer>\n"
            % (ISSUER, keys.jwks_path, AUDIENCE, line))


def bare_issuer_ctx(keys, line):
    return "<ClaimsIssuer %s>\n    ClaimsKeyFile %s\n    %s\n</ClaimsIssuer>\n" % (ISSUER, keys.jwks_path, line)


def remote_ctx(keys, line):
    return ("<ClaimsIssuer %s>\n    ClaimsJWKS https://127.0.0.1:9/jwks\n    ClaimsAudience %s\n"
            "    %s\n</ClaimsIssuer>\n" % (ISSUER, AUDIENCE, line))


def dir_ctx(keys, line):
    return issuer_ctx(keys, "") + ("<Location /cgi/>\n    AuthType claims\n    %s\n"
                                   "    Require valid-user\n</Location>\n" % line)


def server_ctx(keys, line):
    return issuer_ctx(keys, "") + line + "\n"


# (directive, context, bad values, good boundary values)
TABLE = [
    ("ClaimsLeeway", issuer_ctx, ["abc", '""', "-1", "601", "99999999999999999999", "1e3", "60s", HUGE],
     ["0", "600"]),
    ("ClaimsAlgorithms", issuer_ctx, ["none", "NONE", "ES521", "rs256", '""', HUGE], ["RS256 PS256 ES256 ES384 EdDSA"]),
    ("ClaimsAudience", bare_issuer_ctx, ['""', "any https://x", "https://x any"], ["any", "https://a https://b"]),
    ("ClaimsTokenType", issuer_ctx, ['""', '"at jwt"'], ["at+jwt"]),
    ("ClaimsRequiredClaims", issuer_ctx, ['""'], ["sub client_id"]),
    ("ClaimsKeyFile", issuer_ctx, ['""', "/nonexistent/key.pem", "/" + HUGE, "%s kid=", "%s alg=XX",
                                   "%s color=red", "%s alg=HS256", "%s kid=k"], ["%p kid=k alg=RS256"]),
    ("ClaimsSecretFile", issuer_ctx, ["%s", "%s alg=RS256", '"" alg=HS256'], []),
    ("ClaimsJWKS", remote_ctx, ['""', "ftp://127.0.0.1/jwks", "http://idp.example.com/jwks", "not-a-url",
                                "https://" + HUGE + "/jwks"], []),
    ("ClaimsDiscovery", remote_ctx, ["http://idp.example.com/", "https://a https://b"], []),
    ("ClaimsRefreshInterval", remote_ctx, ["0", '""', "x", "604801", HUGE], ["1", "604800"]),
    ("ClaimsFetchTimeout", remote_ctx, ["0", "61", "x", "-5"], ["1", "60"]),
    ("ClaimsUnknownKidInterval", remote_ctx, ["0", "86401", "x"], ["1", "86400"]),
    ("ClaimsMaxStale", remote_ctx, ["0", "2592001", "x"], ["1", "2592000"]),
    ("ClaimsRefreshWaiters", remote_ctx, ["-1", "1001", "x", '""', "2.5"], ["0", "1000"]),
    ("ClaimsCAFile", remote_ctx, ["/nonexistent/ca.pem", '""', "/" + HUGE], []),
    ("ClaimsCAPath", remote_ctx, ["/nonexistent/dir", '""'], ["/etc/ssl/certs"]),
    ("ClaimsProxy", remote_ctx, ["ftp://proxy", '""', "proxy:3128"], ["http://127.0.0.1:3128"]),
    ("ClaimsAllowHTTP", remote_ctx, ["maybe", '""'], ["On", "Off"]),
    ("ClaimsKeyCache", server_ctx, ['""', "nosuchprovider", "memcache:127.0.0.1:9"], ["shmcb"]),
    ("ClaimsCacheSecret", server_ctx, ['""', "/nonexistent/secret", "/etc", "%short"], ["%secret"]),
    ("ClaimsCache", server_ctx, ["maybe", '""', "1"], ["On", "Off"]),
    ("ClaimsCacheEntries", server_ctx, ["15", "10000001", "x", '""', HUGE], ["16", "10000000"]),
    ("ClaimsCacheSize", server_ctx, ["65535", "x", "-1", '""'], ["65536"]),
    ("ClaimsTrust", dir_ctx, ['""', "https://undeclared.example"], [ISSUER]),
    ("ClaimsRemoteUser", dir_ctx, ['""', "a..b", "sub qualified", ".sub"], ["preferred_username", "sub issuer-qualified"]),
    ("ClaimsExport", dir_ctx, ['""', "all none", "sub all", "a..b"], ["none", "all", "sub email"]),
    ("ClaimsMaxTokenSize", dir_ctx, ["abc", '""', "511", "65537", "0x400", HUGE], ["512", "65536"]),
    ("ClaimsTokenFrom", dir_ctx, ["body", "cookie=", '"cookie=a b"', "header header", '""'],
     ["header cookie=at form query=t"]),
    ("ClaimsHeader", dir_ctx, ["X-User", '"Bad Header" sub', "Authorization sub", "X-User a..b", '"" sub'],
     ["X-User sub"]),
    ("ClaimsHeaderPrefix", dir_ctx, ["X", '"bad prefix"', '""'], ["X-Claim-", "none"]),
    ("ClaimsHeaderEncoding", dir_ctx, ["gzip", '""'], ["percent", "raw", "base64url"]),
    ("ClaimsForwardToken", dir_ctx, ["maybe", '""'], ["On", "Off"]),
    ("ClaimsOptional", dir_ctx, ["yes", '""'], ["On", "Off"]),
    ("ClaimsPreflight", dir_ctx, ["allow", '""'], ["pass", "authenticate"]),
    ("ClaimsDPoP", dir_ctx, ["maybe", '""', "1"], ["On", "Off", "Required", "required"]),
    ("ClaimsDPoPAlgorithms", dir_ctx, ["none", "HS256", "es256", '""', "RS256 HS384", HUGE],
     ["ES256", "ES256 EdDSA Ed25519 PS512 RS256"]),
    ("ClaimsDPoPWindow", dir_ctx, ["0", "3601", "x", "-1", '""', HUGE], ["1", "3600"]),
    ("ClaimsDPoPNonce", dir_ctx, ["maybe", '""'], ["On", "Off"]),
    ("ClaimsDPoPNonceSecret", server_ctx, ['""', "/nonexistent/secret", "/etc", "%short"], ["%secret"]),
    ("ClaimsClientCertHeader", dir_ctx, ["Client-Cert", "Client-Cert 127.0.0.1", "Client-Cert from=",
                                         "Client-Cert from=300.1.1.1", '"Bad Name" from=127.0.0.1',
                                         "DPoP from=127.0.0.1", HUGE],
     ["Client-Cert from=127.0.0.1", "X-SSL-Cert from=10.0.0.0/8 from=::1 from=192.168.0.0/16"]),
    ("ClaimsReplayCache", server_ctx, ['""', "nosuchprovider", "memcache:127.0.0.1:9", "redis:nohostport",
                                       "shmcb:(65536)", "shmcb:/tmp/claims-replay-test", "shmcb:(0x100000)", "shmcb:()"],
     ["shmcb", "shmcb:/tmp/claims-replay-test(1048576)"]),
]


def line_for(keys, directive, value):
    if value == "%short":
        value = keys.write("short-cache-secret", b"s" * 31)
    if value == "%secret":
        value = keys.write("cache-secret", b"s" * 32)
    if "%s" in value:
        path = keys.secret_path if directive == "ClaimsSecretFile" else keys.jwks_path
        value = value.replace("%s", path)
    value = value.replace("%p", keys.rsa_pem_path)
    return "%s %s" % (directive, value)


BAD = [(d, ctx, v) for d, ctx, bad, _ in TABLE for v in bad]
GOOD = [(d, ctx, v) for d, ctx, _, good in TABLE for v in good]


def case_id(case):
    d, _, v = case
    return "%s=%s" % (d, v[:20])


@pytest.mark.parametrize("case", BAD, ids=[case_id(c) for c in BAD])
def test_bad_value_is_a_configtest_error_naming_the_directive(make_httpd, keys, case):
    directive, ctx, value = case
    h = make_httpd(ctx(keys, line_for(keys, directive, value)), modules=["socache_shmcb"], start=False)
    rc, out = h.configtest()
    assert rc != 0, "accepted: %s %s" % (directive, value[:60])
    assert directive in out, out
    assert "Segmentation" not in out and "Aborted" not in out


@pytest.mark.parametrize("case", GOOD, ids=[case_id(c) for c in GOOD])
def test_boundary_value_is_accepted(make_httpd, keys, case):
    directive, ctx, value = case
    h = make_httpd(ctx(keys, line_for(keys, directive, value)), modules=["socache_shmcb"], start=False)
    rc, out = h.configtest()
    assert rc == 0, out
