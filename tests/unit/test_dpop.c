/*
 * test_dpop.c - sender-constrained tokens (SECURITY.md CL-95 .. CL-99): RFC 7638 thumbprints
 * (the RFC 7638 and RFC 8037 examples), the htu normal form, DPoP proofs signed here with
 * OpenSSL (test_util) for every asymmetric algorithm and a table of hostile ones, server nonces,
 * the cnf binding, and client certificates from PEM and from an RFC 9440 Client-Cert header.
 */
#include "test_util.h"

#include "claims_dpop.h"
#include "claims_keys.h"

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <openssl/evp.h>
#include <string.h>

#define NOW_S 1750000000L
#define NOW apr_time_from_sec(NOW_S)
#define HTU "https://api.example/resource"
#define TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

static const unsigned char secret_a[40] = "0123456789abcdef0123456789abcdef-fleet-A";
static const unsigned char secret_b[40] = "0123456789abcdef0123456789abcdef-fleet-B";

/* ------------------------------------------------------------------ helpers */

/* base64url(SHA-256(s)), computed here rather than by the code under test. */
static char *sha_b64(const char *s, apr_size_t len)
{
    unsigned char md[32];
    unsigned int n = 0;
    ck_assert_int_eq(EVP_Digest(s, len, md, &n, EVP_sha256(), NULL), 1);
    return tu_b64n(tu_p, md, n);
}

static claims_dpop_expect_t expect(void)
{
    claims_dpop_expect_t e;
    claims_dpop_expect_init(&e);
    e.htm = "GET";
    e.htu = HTU;
    e.now = NOW;
    e.token = TOKEN;
    e.token_len = strlen(TOKEN);
    return e;
}

/* The claims of a proof: NULL takes the valid value, "-" leaves the member out, anything else
 * is the member's JSON text. */
typedef struct pl_t {
    const char *jti, *htm, *htu, *iat, *ath, *nonce, *extra;
} pl_t;

static const char *member(const char *name, const char *v, const char *dflt)
{
    if (v == NULL) {
        v = dflt;
    }
    if (v == NULL || strcmp(v, "-") == 0) {
        return "";
    }
    return apr_psprintf(tu_p, ",\"%s\":%s", name, v);
}

static char *payload(const pl_t *pl)
{
    char *s = apr_pstrcat(tu_p, member("jti", pl->jti, "\"e1j3V_bKic8-LAEB\""), member("htm", pl->htm, "\"GET\""),
                          member("htu", pl->htu, "\"" HTU "\""),
                          member("iat", pl->iat, apr_psprintf(tu_p, "%ld", NOW_S)),
                          member("ath", pl->ath, apr_pstrcat(tu_p, "\"", sha_b64(TOKEN, strlen(TOKEN)), "\"", NULL)),
                          member("nonce", pl->nonce, NULL), pl->extra != NULL ? "," : "", pl->extra, NULL);
    s[0] = '{';
    return apr_pstrcat(tu_p, s, "}", NULL);
}

/* A proof of alg signed with key, carrying jwk (JSON text; NULL: none) and typ ("-": none). */
static char *sign_proof(const char *alg_name, claims_alg_t alg, EVP_PKEY *key, const char *jwk, const char *typ,
                        const char *extra, const char *claims)
{
    const char *hdr = apr_psprintf(tu_p, "{\"alg\":\"%s\"%s%s%s%s%s%s%s}", alg_name,
                                   typ != NULL && strcmp(typ, "-") == 0 ? "" : ",\"typ\":\"",
                                   typ != NULL && strcmp(typ, "-") == 0 ? "" : (typ != NULL ? typ : "dpop+jwt"),
                                   typ != NULL && strcmp(typ, "-") == 0 ? "" : "\"",
                                   jwk != NULL ? ",\"jwk\":" : "", jwk != NULL ? jwk : "",
                                   extra != NULL ? "," : "", extra != NULL ? extra : "");
    return tu_jws(tu_p, alg, key, tu_secret, 64, hdr, claims);
}

static char *valid_proof(const char *alg_name, claims_alg_t alg, EVP_PKEY *key)
{
    pl_t pl = {0};
    return sign_proof(alg_name, alg, key, tu_jwk(tu_p, key, NULL), NULL, NULL, payload(&pl));
}

static claims_status_t run(const char *proof, const claims_dpop_expect_t *e, claims_dpop_result_t *out)
{
    return claims_dpop_verify(tu_p, proof, strlen(proof), e, out);
}

static char *thumbprint_of(const char *jwk_text)
{
    char *jkt = NULL;
    const char *err = NULL;
    ck_assert_int_eq(claims_jwk_thumbprint(tu_p, tu_json(jwk_text), &jkt, &err), CLAIMS_OK);
    return jkt;
}

/* ------------------------------------------------------------------ RFC 7638 thumbprints */

START_TEST(test_rfc7638_rsa_example_thumbprint)
{
    /* RFC 7638 section 3.1, with alg and kid that do not count */
    const char *jwk = "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zw"
        "u1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGj"
        "QR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0"
        "fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\","
        "\"kid\":\"2011-04-29\"}";
    ck_assert_str_eq(thumbprint_of(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}
END_TEST

START_TEST(test_rfc8037_okp_example_thumbprint)
{
    /* RFC 8037 appendix A.3 */
    ck_assert_str_eq(thumbprint_of("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                   "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"),
                     "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}
END_TEST

START_TEST(test_ec_thumbprint_is_the_hash_of_the_ordered_required_members)
{
    const char *x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", *y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const char *canon = apr_psprintf(tu_p, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    const char *shuffled = apr_psprintf(tu_p, "{\"use\":\"sig\",\"y\":\"%s\",\"kid\":\"k\",\"x\":\"%s\",\"kty\":\"EC\","
                                        "\"crv\":\"P-256\",\"alg\":\"ES256\"}", y, x);
    ck_assert_str_eq(thumbprint_of(shuffled), sha_b64(canon, strlen(canon)));
}
END_TEST

START_TEST(test_malformed_jwks_have_no_thumbprint)
{
    static const char *const bad[] = {
        "[]", "{}", "{\"kty\":\"oct\",\"k\":\"AAAA\"}", "{\"kty\":\"ec\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1,\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"A+A\",\"y\":\"AA\"}", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\",\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P\\\"256\",\"x\":\"AA\",\"y\":\"AA\"}", "{\"kty\":\"RSA\",\"n\":\"AQAB\"}",
        "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"AQ=\"}", "{\"kty\":\"OKP\",\"x\":\"AA\"}", "{\"kty\":7}",
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"A\\u00e9\"}",
    };
    for (int i = 0; i < TU_COUNT(bad); i++) {
        char *jkt = NULL;
        const char *err = NULL;
        ck_assert_msg(claims_jwk_thumbprint(tu_p, tu_json(bad[i]), &jkt, &err) == CLAIMS_ERR_KEY, "%s", bad[i]);
        ck_assert_ptr_nonnull(err);
    }
}
END_TEST

/* ------------------------------------------------------------------ htu */

typedef struct htu_case_t {
    const char *proof, *expected;
    int match;
} htu_case_t;

START_TEST(test_htu_comparison_after_rfc3986_normalisation)
{
    static const htu_case_t cases[] = {
        {"https://api.example/resource", "https://api.example/resource", 1},
        /* scheme and host case-insensitive, path not */
        {"HTTPS://API.Example/resource", "https://api.example/resource", 1},
        {"https://api.example/Resource", "https://api.example/resource", 0},
        /* scheme, host, port, path differ */
        {"http://api.example/resource", "https://api.example/resource", 0},
        {"https://api.example.org/resource", "https://api.example/resource", 0},
        {"https://api.example:8443/resource", "https://api.example/resource", 0},
        {"https://api.example/resource2", "https://api.example/resource", 0},
        /* default ports elided, empty port, leading zeros of a port */
        {"https://api.example:443/resource", "https://api.example/resource", 1},
        {"http://api.example:80/", "http://api.example", 1},
        {"https://api.example:/resource", "https://api.example/resource", 1},
        {"https://api.example:00443/resource", "https://api.example/resource", 1},
        {"http://api.example:443/", "http://api.example/", 0},
        {"https://api.example:8443/x", "https://api.example:8443/x", 1},
        /* a trailing dot names another host */
        {"https://api.example./resource", "https://api.example/resource", 0},
        /* empty path is "/" */
        {"https://api.example", "https://api.example/", 1},
        /* query and fragment of the proof are ignored */
        {"https://api.example/resource?x=1&y=%2F", "https://api.example/resource", 1},
        {"https://api.example/resource#frag", "https://api.example/resource", 1},
        {"https://api.example/resource?q#f", "https://api.example/resource?other", 1},
        {"https://api.example?x", "https://api.example/", 1},
        /* percent-encoding: unreserved decoded, hex case, reserved kept escaped */
        {"https://api.example/%7Euser/a%2db", "https://api.example/~user/a-b", 1},
        {"https://api.example/a%2fb", "https://api.example/a%2Fb", 1},
        {"https://api.example/a%2Fb", "https://api.example/a/b", 0},
        {"https://api.example/caf%C3%A9", "https://api.example/caf%c3%a9", 1},
        {"https://api.example/%41", "https://api.example/A", 1},
        {"https://api.example/a%20b", "https://api.example/a%20b", 1},
        /* dot segments, also escaped ones */
        {"https://api.example/a/./b/../c", "https://api.example/a/c", 1},
        {"https://api.example/a/%2E%2E/c", "https://api.example/c", 1},
        {"https://api.example/../../resource", "https://api.example/resource", 1},
        {"https://api.example/a/b/..", "https://api.example/a/", 1},
        {"https://api.example/a/.", "https://api.example/a/", 1},
        {"https://api.example/a//b", "https://api.example/a/b", 0},
        /* IPv6 and IPv4 literals */
        {"https://[2001:DB8::1]:443/r", "https://[2001:db8::1]/r", 1},
        {"https://[::1]/r", "https://[0:0:0:0:0:0:0:1]/r", 0},
        {"http://127.0.0.1:8080/r", "http://127.0.0.1:8080/r", 1},
        /* odd proofs never match, even themselves */
        {"https://user@api.example/resource", "https://api.example/resource", 0},
        {"https://user:pw@api.example/resource", "https://user:pw@api.example/resource", 0},
        {"/resource", "/resource", 0},
        {"api.example/resource", "api.example/resource", 0},
        {"ftp://api.example/resource", "ftp://api.example/resource", 0},
        {"https:/api.example/resource", "https:/api.example/resource", 0},
        {"https:///resource", "https:///resource", 0},
        {"https://api.example/re source", "https://api.example/re source", 0},
        {"https://api.example/a%2", "https://api.example/a%2", 0},
        {"https://api.example/a%zz", "https://api.example/a%zz", 0},
        {"https://api.example/a\\b", "https://api.example/a\\b", 0},
        {"https://api.example/caf\xc3\xa9", "https://api.example/caf\xc3\xa9", 0},
        {"https://api.ex%61mple/", "https://api.ex%61mple/", 0},
        {"https://[::1%25eth0]/", "https://[::1%25eth0]/", 0},
        {"https://[v1.x]/", "https://[v1.x]/", 0},
        {"https://[::1]x/", "https://[::1]x/", 0},
        {"https://api.example:65536/", "https://api.example:65536/", 0},
        {"https://api.example:0/", "https://api.example:0/", 0},
        {"https://api.example:123456/", "https://api.example:123456/", 0},
        {"https://api.example:-1/", "https://api.example:-1/", 0},
        {"https://api.example/a#b#c", "https://api.example/a#b#c", 0},
        {"https://api.example/a?b[1]", "https://api.example/a?b[1]", 0},
        {"https://api.example/[x]", "https://api.example/[x]", 0},
        {"https://api.example/resource", NULL, 0},
        {"", "", 0},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        ck_assert_msg(claims_dpop_htu_match(tu_p, cases[i].proof, cases[i].expected) == cases[i].match,
                      "case %d: %s vs %s", i, cases[i].proof, cases[i].expected ? cases[i].expected : "(null)");
    }
}
END_TEST

START_TEST(test_htu_normal_form)
{
    static const char *const cases[][2] = {
        {"HTTPS://API.EXAMPLE:443", "https://api.example/"},
        {"http://H:8080/a/../b?c#d", "http://h:8080/b"},
        {"https://[ABCD::1]:443/%7e%2f", "https://[abcd::1]/~%2F"},
        {"https://h/%2e", "https://h/"},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        char *out = NULL;
        ck_assert_int_eq(claims_dpop_htu_normalize(tu_p, cases[i][0], strlen(cases[i][0]), &out), CLAIMS_OK);
        ck_assert_str_eq(out, cases[i][1]);
    }
    {
        char *big = apr_pstrcat(tu_p, "https://h/", apr_psprintf(tu_p, "%0*d", CLAIMS_DPOP_MAX_URL, 0), NULL);
        char *out = NULL;
        ck_assert_int_eq(claims_dpop_htu_normalize(tu_p, big, strlen(big), &out), CLAIMS_ERR_REQUEST);
        ck_assert_int_eq(claims_dpop_htu_normalize(tu_p, "https://h/\0x", 12, &out), CLAIMS_ERR_REQUEST);
    }
}
END_TEST

typedef struct htu_build_t {
    const char *scheme, *host;
    int port;
    const char *path, *want;   /* want NULL: refused */
} htu_build_t;

START_TEST(test_htu_built_from_the_server_names)
{
    static const htu_build_t cases[] = {
        {"https", "api.example", 443, "/resource", "https://api.example/resource"},
        {"https", "api.example", 0, "/resource?x=1", "https://api.example/resource"},
        {"http", "api.example", 8080, "/a/%7Eb#f", "http://api.example:8080/a/~b"},
        {"HTTP", "Api.Example", 80, NULL, "http://api.example/"},
        {"https", "2001:db8::1", 8443, "/", "https://[2001:db8::1]:8443/"},
        {"https", "[::1]", 443, "", "https://[::1]/"},
        {"https", "api.example", 443, "?q", "https://api.example/"},
        {"https", "api.example", 443, "*", NULL},
        {"https", "api.example", 443, "relative", NULL},
        {"https", "api.example", 443, "/a b", NULL},
        {"ftp", "api.example", 21, "/", NULL},
        {"https", "", 443, "/", NULL},
        {"https", "user@api.example", 443, "/", NULL},
        {"https", "api.example", 70000, "/", NULL},
        {NULL, "api.example", 443, "/", NULL},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        char *out = NULL;
        claims_status_t st = claims_dpop_htu(tu_p, cases[i].scheme, cases[i].host, cases[i].port, cases[i].path, &out);
        if (cases[i].want == NULL) {
            ck_assert_msg(st == CLAIMS_ERR_REQUEST, "case %d accepted as %s", i, out);
        }
        else {
            ck_assert_msg(st == CLAIMS_OK, "case %d refused", i);
            ck_assert_str_eq(out, cases[i].want);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ valid proofs */

typedef struct alg_case_t {
    const char *name;
    claims_alg_t alg;
    EVP_PKEY **key;
} alg_case_t;

START_TEST(test_valid_proofs_of_every_asymmetric_algorithm_are_accepted)
{
    const alg_case_t cases[] = {
        {"ES256", CLAIMS_ALG_ES256, &tu_keys.ec256}, {"ES384", CLAIMS_ALG_ES384, &tu_keys.ec384},
        {"ES512", CLAIMS_ALG_ES512, &tu_keys.ec521}, {"RS256", CLAIMS_ALG_RS256, &tu_keys.rsa},
        {"RS512", CLAIMS_ALG_RS512, &tu_keys.rsa}, {"PS256", CLAIMS_ALG_PS256, &tu_keys.rsa},
        {"PS384", CLAIMS_ALG_PS384, &tu_keys.rsa_3072}, {"EdDSA", CLAIMS_ALG_EDDSA, &tu_keys.ed25519},
        {"EdDSA", CLAIMS_ALG_EDDSA, &tu_keys.ed448}, {"Ed25519", CLAIMS_ALG_ED25519, &tu_keys.ed25519},
        {"Ed448", CLAIMS_ALG_ED448, &tu_keys.ed448},
    };
    claims_dpop_expect_t e = expect();
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_dpop_result_t out;
        const char *jwk = tu_jwk(tu_p, *cases[i].key, NULL);
        claims_status_t st = run(valid_proof(cases[i].name, cases[i].alg, *cases[i].key), &e, &out);
        ck_assert_msg(st == CLAIMS_OK, "%s (%d): %s", cases[i].name, i, out.why ? out.why : "?");
        ck_assert_str_eq(out.jkt, thumbprint_of(jwk));
        ck_assert_int_eq(out.alg, cases[i].alg);
        ck_assert_int_eq((int)out.jti_len, 16);
        ck_assert_mem_eq(out.jti, "e1j3V_bKic8-LAEB", 16);
        ck_assert(out.iat == NOW);
        ck_assert(out.expires == NOW + apr_time_from_sec(CLAIMS_DPOP_DEFAULT_WINDOW));
        ck_assert_ptr_null(out.nonce);
        ck_assert_ptr_null(out.why);
    }
}
END_TEST

/* Accepted variants: typ spelling, URL spelling, time at the edges, header members ignored. */
typedef struct ok_case_t {
    const char *typ, *extra_header, *jwk_extra;
    pl_t pl;
} ok_case_t;

START_TEST(test_proofs_within_the_rules_are_accepted)
{
    const ok_case_t cases[] = {
        {"DPoP+JWT", NULL, NULL, {0}},
        {"application/dpop+jwt", NULL, NULL, {0}},
        {NULL, "\"kid\":\"k1\",\"jku\":\"https://evil.example/jwks\",\"x5u\":\"https://evil.example/c\"", NULL, {0}},
        {NULL, "\"x-unknown\":{\"a\":[1]}", NULL, {0}},
        {NULL, NULL, "\"alg\":\"ES256\",\"use\":\"sig\",\"kid\":\"client\"", {0}},
        {NULL, NULL, NULL, {.htu = "\"HTTPS://API.EXAMPLE:443/resource?query=1#frag\""}},
        {NULL, NULL, NULL, {.iat = apr_psprintf(tu_p, "%ld", NOW_S - CLAIMS_DPOP_DEFAULT_WINDOW)}},
        {NULL, NULL, NULL, {.iat = apr_psprintf(tu_p, "%ld", NOW_S + CLAIMS_DPOP_DEFAULT_LEEWAY)}},
        {NULL, NULL, NULL, {.iat = apr_psprintf(tu_p, "%ld.5", NOW_S - 1)}},
        {NULL, NULL, NULL, {.jti = apr_psprintf(tu_p, "\"%0*d\"", CLAIMS_DPOP_MAX_JTI, 7)}},
        {NULL, NULL, NULL, {.extra = "\"sub\":\"x\",\"exp\":1,\"nonce2\":[]"}},
    };
    claims_dpop_expect_t e = expect();
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_dpop_result_t out;
        const char *proof = sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256,
                                       tu_jwk(tu_p, tu_keys.ec256, cases[i].jwk_extra), cases[i].typ,
                                       cases[i].extra_header, payload(&cases[i].pl));
        ck_assert_msg(run(proof, &e, &out) == CLAIMS_OK, "case %d: %s", i, out.why ? out.why : "?");
    }
}
END_TEST

START_TEST(test_proof_without_token_needs_no_ath)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    pl_t pl = {.ath = "-"};
    e.token = NULL;
    e.token_len = 0;
    ck_assert_int_eq(run(sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, tu_jwk(tu_p, tu_keys.ec256, NULL), NULL,
                                    NULL, payload(&pl)), &e, &out), CLAIMS_OK);
    /* with a token presented, the same proof lacks its ath */
    e = expect();
    ck_assert_int_eq(run(sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, tu_jwk(tu_p, tu_keys.ec256, NULL), NULL,
                                    NULL, payload(&pl)), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_ATH_MISSING);
}
END_TEST

/* ------------------------------------------------------------------ hostile proofs */

typedef enum jwk_sel_t {
    J_OWN = 0, J_OTHER, J_NONE, J_STRING, J_PRIVATE_D, J_PRIVATE_K, J_P384, J_RSA, J_OCT, J_ALG_MEMBER_RS256
} jwk_sel_t;

typedef enum mangle_t { M_NONE = 0, M_FLIP_SIG, M_TWO_PROOFS, M_TWO_JOINED, M_OVERSIZE, M_TRAILING_NL } mangle_t;

typedef struct neg_case_t {
    const char *name;
    const char *alg;          /* header alg */
    claims_alg_t sign;        /* how it is signed (HS256: with the test secret) */
    EVP_PKEY **key;           /* signing key (NULL: ec256) */
    jwk_sel_t jwk;
    const char *typ;          /* NULL: dpop+jwt, "-": none */
    const char *hextra;
    pl_t pl;
    mangle_t mangle;
    claims_dpop_fail_t want;
} neg_case_t;

static const char *jwk_text(jwk_sel_t sel, EVP_PKEY *key)
{
    switch (sel) {
    case J_OTHER:
        return tu_jwk(tu_p, tu_keys.ec256_b, NULL);
    case J_NONE:
        return NULL;
    case J_STRING:
        return apr_pstrcat(tu_p, "\"", tu_b64(tu_p, tu_jwk(tu_p, key, NULL)), "\"", NULL);
    case J_PRIVATE_D:
        return tu_jwk(tu_p, key, "\"d\":\"AAAA\"");
    case J_PRIVATE_K:
        return tu_jwk(tu_p, key, "\"k\":\"AAAA\"");
    case J_P384:
        return tu_jwk(tu_p, tu_keys.ec384, NULL);
    case J_RSA:
        return tu_jwk(tu_p, tu_keys.rsa, NULL);
    case J_OCT:
        return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 64));
    case J_ALG_MEMBER_RS256:
        return tu_jwk(tu_p, key, "\"alg\":\"RS256\"");
    default:
        return tu_jwk(tu_p, key, NULL);
    }
}

static char *mangle(char *proof, mangle_t m)
{
    char *last;
    switch (m) {
    case M_FLIP_SIG:
        last = strrchr(proof, '.') + 1;
        last[3] = last[3] == 'A' ? 'B' : 'A';
        return proof;
    case M_TWO_PROOFS:
        return apr_pstrcat(tu_p, proof, ".", proof, NULL);
    case M_TWO_JOINED:
        return apr_pstrcat(tu_p, proof, ",", proof, NULL);
    case M_OVERSIZE:
        return apr_pstrcat(tu_p, proof, apr_psprintf(tu_p, "%0*d", CLAIMS_DPOP_DEFAULT_MAX, 0), NULL);
    case M_TRAILING_NL:
        return apr_pstrcat(tu_p, proof, "\n", NULL);
    default:
        return proof;
    }
}

START_TEST(test_hostile_proofs_are_refused_with_their_reason)
{
    const char *ath_other = apr_pstrcat(tu_p, "\"", sha_b64("other.token.x", 13), "\"", NULL);
    const char *ath_padded = apr_pstrcat(tu_p, "\"", sha_b64(TOKEN, strlen(TOKEN)), "=\"", NULL);
    const neg_case_t cases[] = {
        {"wrong htm", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htm = "\"POST\""}, 0, CLAIMS_DPOP_HTM},
        {"htm lower case", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htm = "\"get\""}, 0, CLAIMS_DPOP_HTM},
        {"htm missing", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htm = "-"}, 0, CLAIMS_DPOP_HTM},
        {"htm array", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htm = "[\"GET\"]"}, 0, CLAIMS_DPOP_HTM},
        {"htu scheme", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"http://api.example/resource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu host", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://evil.example/resource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu port", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://api.example:444/resource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu path", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://api.example/other\""}, 0, CLAIMS_DPOP_HTU},
        {"htu path case", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://api.example/RESOURCE\""}, 0, CLAIMS_DPOP_HTU},
        {"htu trailing dot", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://api.example./resource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu userinfo", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://u@api.example/resource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu relative", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"/resource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu encoded slash", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "\"https://api.example%2Fresource\""}, 0, CLAIMS_DPOP_HTU},
        {"htu missing", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.htu = "-"}, 0, CLAIMS_DPOP_HTU},
        {"iat too old", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.iat = "1749999939"}, 0, CLAIMS_DPOP_IAT_OLD},
        {"iat in the future", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.iat = "1750000006"}, 0, CLAIMS_DPOP_IAT_FUTURE},
        {"iat missing", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.iat = "-"}, 0, CLAIMS_DPOP_IAT},
        {"iat string", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.iat = "\"1750000000\""}, 0, CLAIMS_DPOP_IAT},
        {"iat negative", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.iat = "-1"}, 0, CLAIMS_DPOP_IAT},
        {"jti missing", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.jti = "-"}, 0, CLAIMS_DPOP_JTI},
        {"jti empty", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.jti = "\"\""}, 0, CLAIMS_DPOP_JTI},
        {"jti number", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.jti = "12345"}, 0, CLAIMS_DPOP_JTI},
        {"jti too long", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL,
         {.jti = apr_psprintf(tu_p, "\"%0*d\"", CLAIMS_DPOP_MAX_JTI + 1, 7)}, 0, CLAIMS_DPOP_JTI},
        {"ath missing", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.ath = "-"}, 0, CLAIMS_DPOP_ATH_MISSING},
        {"ath of another token", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.ath = ath_other}, 0, CLAIMS_DPOP_ATH},
        {"ath padded", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.ath = ath_padded}, 0, CLAIMS_DPOP_ATH},
        {"ath of the token itself", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.ath = "\"" TOKEN "\""}, 0, CLAIMS_DPOP_ATH},
        {"ath number", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.ath = "1"}, 0, CLAIMS_DPOP_ATH},
        {"payload array", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.extra = "\"a\":1}]["}, 0, CLAIMS_DPOP_CLAIMS},
        {"payload duplicate member", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {.extra = "\"htm\":\"GET\""}, 0, CLAIMS_DPOP_CLAIMS},
        {"private jwk (d)", "ES256", CLAIMS_ALG_ES256, NULL, J_PRIVATE_D, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK_PRIVATE},
        {"private jwk (k)", "ES256", CLAIMS_ALG_ES256, NULL, J_PRIVATE_K, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK_PRIVATE},
        {"private RSA jwk (d)", "RS256", CLAIMS_ALG_RS256, &tu_keys.rsa, J_PRIVATE_D, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK_PRIVATE},
        {"symmetric HS256", "HS256", CLAIMS_ALG_HS256, NULL, J_OCT, NULL, NULL, {0}, 0, CLAIMS_DPOP_ALG},
        {"alg none", "none", CLAIMS_ALG_HS256, NULL, J_OWN, NULL, NULL, {0}, 0, CLAIMS_DPOP_ALG},
        {"alg NONE", "NONE", CLAIMS_ALG_HS256, NULL, J_OWN, NULL, NULL, {0}, 0, CLAIMS_DPOP_ALG},
        {"alg unknown", "ES256K", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {0}, 0, CLAIMS_DPOP_ALG},
        {"ES256 with a P-384 jwk", "ES256", CLAIMS_ALG_ES256, NULL, J_P384, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"ES384 with a P-256 jwk", "ES384", CLAIMS_ALG_ES384, &tu_keys.ec384, J_OTHER, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"RS256 with an EC jwk", "RS256", CLAIMS_ALG_RS256, &tu_keys.rsa, J_OTHER, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"ES256 with an RSA jwk", "ES256", CLAIMS_ALG_ES256, NULL, J_RSA, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"EdDSA with an EC jwk", "EdDSA", CLAIMS_ALG_EDDSA, &tu_keys.ed25519, J_OTHER, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"jwk alg contradicts", "ES256", CLAIMS_ALG_ES256, NULL, J_ALG_MEMBER_RS256, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"RSA-1024 jwk", "RS256", CLAIMS_ALG_RS256, &tu_keys.rsa_1024, J_OWN, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK},
        {"oct jwk with ES256", "ES256", CLAIMS_ALG_ES256, NULL, J_OCT, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK_PRIVATE},
        {"typ jwt", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, "JWT", NULL, {0}, 0, CLAIMS_DPOP_TYP},
        {"typ at+jwt", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, "at+jwt", NULL, {0}, 0, CLAIMS_DPOP_TYP},
        {"typ dpop+jwt with space", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, "dpop+jwt ", NULL, {0}, 0, CLAIMS_DPOP_TYP},
        {"typ missing", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, "-", NULL, {0}, 0, CLAIMS_DPOP_TYP},
        {"jwk missing", "ES256", CLAIMS_ALG_ES256, NULL, J_NONE, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK_MISSING},
        {"jwk a string", "ES256", CLAIMS_ALG_ES256, NULL, J_STRING, NULL, NULL, {0}, 0, CLAIMS_DPOP_JWK_MISSING},
        {"signed by another key", "ES256", CLAIMS_ALG_ES256, NULL, J_OTHER, NULL, NULL, {0}, 0, CLAIMS_DPOP_SIGNATURE},
        {"RSA signed by another key", "PS256", CLAIMS_ALG_PS256, &tu_keys.rsa_b, J_RSA, NULL, NULL, {0}, 0, CLAIMS_DPOP_SIGNATURE},
        {"bad signature", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {0}, M_FLIP_SIG, CLAIMS_DPOP_SIGNATURE},
        {"EdDSA bad signature", "EdDSA", CLAIMS_ALG_EDDSA, &tu_keys.ed25519, J_OWN, NULL, NULL, {0}, M_FLIP_SIG, CLAIMS_DPOP_SIGNATURE},
        {"two proofs concatenated", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {0}, M_TWO_PROOFS, CLAIMS_DPOP_MALFORMED},
        {"two proofs with a comma", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {0}, M_TWO_JOINED, CLAIMS_DPOP_MALFORMED},
        {"trailing newline", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {0}, M_TRAILING_NL, CLAIMS_DPOP_MALFORMED},
        {"oversized", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, NULL, {0}, M_OVERSIZE, CLAIMS_DPOP_TOO_LARGE},
        {"crit header", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, "\"crit\":[\"htm\"]", {0}, 0, CLAIMS_DPOP_MALFORMED},
        {"b64 header", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, "\"b64\":false", {0}, 0, CLAIMS_DPOP_MALFORMED},
        {"duplicate header alg", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, "\"alg\":\"ES256\"", {0}, 0, CLAIMS_DPOP_MALFORMED},
        {"duplicate header jwk", "ES256", CLAIMS_ALG_ES256, NULL, J_OWN, NULL, "\"jwk\":{}", {0}, 0, CLAIMS_DPOP_MALFORMED},
    };
    claims_dpop_expect_t e = expect();
    for (int i = 0; i < TU_COUNT(cases); i++) {
        const neg_case_t *c = &cases[i];
        EVP_PKEY *key = c->key != NULL ? *c->key : tu_keys.ec256;
        claims_dpop_result_t out;
        char *proof = mangle(sign_proof(c->alg, c->sign, key, jwk_text(c->jwk, key), c->typ, c->hextra, payload(&c->pl)),
                             c->mangle);
        claims_status_t st = run(proof, &e, &out);
        ck_assert_msg(st == CLAIMS_ERR_DPOP, "%s: status %d", c->name, st);
        ck_assert_msg(out.fail == c->want, "%s: reason %d (%s), wanted %d", c->name, out.fail, out.why, c->want);
        ck_assert_str_eq(out.why, claims_dpop_fail_text(c->want));
        ck_assert_int_eq(out.use_nonce, 0);
        ck_assert_ptr_null(out.jkt);
        ck_assert_ptr_null(strpbrk(out.why, "\"\\"));
    }
}
END_TEST

START_TEST(test_extra_ath_without_a_token_is_refused)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    e.token = NULL;
    ck_assert_int_eq(run(valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_ATH);
}
END_TEST

START_TEST(test_allow_list_restricts_and_never_admits_hmac)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    const char *es256 = valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256);
    const char *eddsa = valid_proof("EdDSA", CLAIMS_ALG_EDDSA, tu_keys.ed25519);
    const char *ed448 = valid_proof("EdDSA", CLAIMS_ALG_EDDSA, tu_keys.ed448);
    pl_t pl = {0};
    const char *hs = sign_proof("HS256", CLAIMS_ALG_HS256, NULL, jwk_text(J_OCT, NULL), NULL, NULL, payload(&pl));

    e.algs = CLAIMS_ALG_BIT(CLAIMS_ALG_ES256);
    ck_assert_int_eq(run(es256, &e, &out), CLAIMS_OK);
    ck_assert_int_eq(run(eddsa, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_ALG);

    /* "Ed25519" in the list admits the EdDSA header with an Ed25519 key, not with Ed448 */
    e.algs = CLAIMS_ALG_BIT(CLAIMS_ALG_ED25519);
    ck_assert_int_eq(run(eddsa, &e, &out), CLAIMS_OK);
    ck_assert_int_eq(run(ed448, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_JWK);

    /* HS* bits allow nothing, and do not fall back to the default list */
    e.algs = CLAIMS_ALG_BIT(CLAIMS_ALG_HS256);
    ck_assert_int_eq(run(hs, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_ALG);
    ck_assert_int_eq(run(es256, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_ALG);
}
END_TEST

START_TEST(test_window_and_leeway_are_the_callers)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    pl_t old = {.iat = apr_psprintf(tu_p, "%ld", NOW_S - 200)}, ahead = {.iat = apr_psprintf(tu_p, "%ld", NOW_S + 30)};
    const char *jwk = tu_jwk(tu_p, tu_keys.ec256, NULL);
    const char *p_old = sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, jwk, NULL, NULL, payload(&old));
    const char *p_ahead = sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, jwk, NULL, NULL, payload(&ahead));

    ck_assert_int_eq(run(p_old, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(run(p_ahead, &e, &out), CLAIMS_ERR_DPOP);
    e.window = 300;
    e.leeway = 30;
    ck_assert_int_eq(run(p_old, &e, &out), CLAIMS_OK);
    ck_assert(out.expires == NOW + apr_time_from_sec(100));
    ck_assert_int_eq(run(p_ahead, &e, &out), CLAIMS_OK);
    e.leeway = 0;
    ck_assert_int_eq(run(p_ahead, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_IAT_FUTURE);
}
END_TEST

START_TEST(test_incomplete_expectations_are_a_configuration_error)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    const char *proof = valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256);

    e.htm = NULL;
    ck_assert_int_eq(run(proof, &e, &out), CLAIMS_ERR_CONFIG);
    e = expect();
    e.htu = NULL;
    ck_assert_int_eq(run(proof, &e, &out), CLAIMS_ERR_CONFIG);
    e = expect();
    e.leeway = -1;
    ck_assert_int_eq(run(proof, &e, &out), CLAIMS_ERR_CONFIG);
    e = expect();
    e.nonce_required = 1;
    ck_assert_int_eq(run(proof, &e, &out), CLAIMS_ERR_CONFIG);
    ck_assert_int_eq(claims_dpop_verify(tu_p, proof, strlen(proof), NULL, &out), CLAIMS_ERR_CONFIG);
    e = expect();
    ck_assert_int_eq(claims_dpop_verify(tu_p, NULL, 0, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(claims_dpop_verify(tu_p, proof, 0, &e, &out), CLAIMS_ERR_DPOP);
}
END_TEST

START_TEST(test_fail_texts_are_fixed_and_printable)
{
    for (int f = 0; f <= CLAIMS_DPOP_FAIL_COUNT; f++) {
        const char *t = claims_dpop_fail_text((claims_dpop_fail_t)f);
        ck_assert_ptr_nonnull(t);
        for (const char *c = t; *c != '\0'; c++) {
            ck_assert_msg(*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\', "reason %d", f);
        }
    }
    ck_assert_str_eq(claims_dpop_fail_text((claims_dpop_fail_t)-1), "DPoP proof is invalid");
}
END_TEST

/* ------------------------------------------------------------------ nonces */

static claims_store_secret_t *secret(const unsigned char *bytes)
{
    claims_store_secret_t *s = NULL;
    ck_assert_int_eq(claims_store_secret_from(tu_p, bytes, 40, &s), CLAIMS_OK);
    return s;
}

START_TEST(test_nonce_valid_now_and_one_step_back_only)
{
    claims_store_secret_t *a = secret(secret_a);
    apr_interval_time_t step = apr_time_from_sec(60);
    char *n = claims_dpop_nonce_make(tu_p, a, NOW, step);

    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(strlen(n), 32);
    ck_assert_int_eq(claims_dpop_nonce_check(a, n, 32, NOW, step), CLAIMS_DPOP_NONCE_CURRENT);
    ck_assert_int_eq(claims_dpop_nonce_check(a, n, 32, NOW + step, step), CLAIMS_DPOP_NONCE_PREVIOUS);
    ck_assert_int_eq(claims_dpop_nonce_check(a, n, 32, NOW + 2 * step, step), CLAIMS_DPOP_NONCE_BAD);
    ck_assert_int_eq(claims_dpop_nonce_check(a, n, 32, NOW - step, step), CLAIMS_DPOP_NONCE_BAD);
    /* another step length reads another counter */
    ck_assert_int_eq(claims_dpop_nonce_check(a, n, 32, NOW, apr_time_from_sec(7)), CLAIMS_DPOP_NONCE_BAD);
    /* the same nonce for everyone within a step, another one in the next */
    ck_assert_str_eq(claims_dpop_nonce_make(tu_p, a, NOW, step), n);
    ck_assert_str_ne(claims_dpop_nonce_make(tu_p, a, NOW + step, step), n);
}
END_TEST

START_TEST(test_nonce_of_another_secret_or_garbage_is_refused)
{
    claims_store_secret_t *a = secret(secret_a), *b = secret(secret_b);
    char *n = claims_dpop_nonce_make(tu_p, b, NOW, 0);
    char *mine = claims_dpop_nonce_make(tu_p, a, NOW, 0);
    const char *garbage[] = {"", "abc", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"};

    ck_assert_int_eq(claims_dpop_nonce_check(a, n, strlen(n), NOW, 0), CLAIMS_DPOP_NONCE_BAD);
    ck_assert_int_eq(claims_dpop_nonce_check(b, n, strlen(n), NOW, 0), CLAIMS_DPOP_NONCE_CURRENT);
    for (int i = 0; i < TU_COUNT(garbage); i++) {
        ck_assert_int_eq(claims_dpop_nonce_check(a, garbage[i], strlen(garbage[i]), NOW, 0), CLAIMS_DPOP_NONCE_BAD);
    }
    /* every changed character of a valid nonce */
    for (int i = 0; i < 32; i++) {
        char *t = apr_pstrdup(tu_p, mine);
        t[i] = t[i] == 'A' ? 'Q' : 'A';
        ck_assert_msg(claims_dpop_nonce_check(a, t, 32, NOW, 0) == CLAIMS_DPOP_NONCE_BAD, "position %d", i);
    }
    ck_assert_int_eq(claims_dpop_nonce_check(NULL, mine, 32, NOW, 0), CLAIMS_DPOP_NONCE_BAD);
    ck_assert_int_eq(claims_dpop_nonce_check(a, NULL, 0, NOW, 0), CLAIMS_DPOP_NONCE_BAD);
    ck_assert_ptr_null(claims_dpop_nonce_make(tu_p, NULL, NOW, 0));
}
END_TEST

START_TEST(test_nonce_mac_is_not_the_record_mac)
{
    claims_store_secret_t *a = secret(secret_a);
    unsigned char m1[CLAIMS_STORE_MAC_LEN], m2[CLAIMS_STORE_MAC_LEN], m3[CLAIMS_STORE_MAC_LEN];
    ck_assert_int_eq(claims_store_mac(a, "purpose one", "data", 4, m1), 0);
    ck_assert_int_eq(claims_store_mac(a, "purpose two", "data", 4, m2), 0);
    ck_assert_int_eq(claims_store_mac(a, "purpose one", "datb", 4, m3), 0);
    ck_assert(memcmp(m1, m2, sizeof(m1)) != 0);
    ck_assert(memcmp(m1, m3, sizeof(m1)) != 0);
    /* "ab" + "c" and "a" + "bc" differ: the purpose is framed */
    ck_assert_int_eq(claims_store_mac(a, "ab", "c", 1, m1), 0);
    ck_assert_int_eq(claims_store_mac(a, "a", "bc", 2, m2), 0);
    ck_assert(memcmp(m1, m2, sizeof(m1)) != 0);
}
END_TEST

static int nonce_cb(void *baton, const char *nonce, apr_size_t len)
{
    int *calls = baton;
    (*calls)++;
    return len == 4 && memcmp(nonce, "good", 4) == 0 ? CLAIMS_DPOP_NONCE_CURRENT : CLAIMS_DPOP_NONCE_BAD;
}

static char *proof_with_nonce(const char *nonce_json)
{
    pl_t pl = {.nonce = nonce_json};
    return sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, tu_jwk(tu_p, tu_keys.ec256, NULL), NULL, NULL,
                      payload(&pl));
}

START_TEST(test_required_nonce_missing_or_stale_asks_for_a_new_one)
{
    claims_store_secret_t *a = secret(secret_a), *b = secret(secret_b);
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    apr_interval_time_t step = apr_time_from_sec(60);
    char *cur = claims_dpop_nonce_make(tu_p, a, NOW, step);
    char *prev = claims_dpop_nonce_make(tu_p, a, NOW - step, step);
    char *old = claims_dpop_nonce_make(tu_p, a, NOW - 2 * step, step);
    char *other = claims_dpop_nonce_make(tu_p, b, NOW, step);

    e.nonce_required = 1;
    e.nonce_secret = a;
    e.nonce_step = step;
    ck_assert_int_eq(run(proof_with_nonce(apr_psprintf(tu_p, "\"%s\"", cur)), &e, &out), CLAIMS_OK);
    ck_assert_str_eq(out.nonce, cur);
    ck_assert_int_eq(out.nonce_renew, 0);
    ck_assert_int_eq(run(proof_with_nonce(apr_psprintf(tu_p, "\"%s\"", prev)), &e, &out), CLAIMS_OK);
    ck_assert_int_eq(out.nonce_renew, 1);

    ck_assert_int_eq(run(proof_with_nonce(NULL), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_NONCE_MISSING);
    ck_assert_int_eq(out.use_nonce, 1);
    ck_assert_int_eq(run(proof_with_nonce(apr_psprintf(tu_p, "\"%s\"", old)), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_NONCE_STALE);
    ck_assert_int_eq(out.use_nonce, 1);
    ck_assert_int_eq(run(proof_with_nonce(apr_psprintf(tu_p, "\"%s\"", other)), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_NONCE_STALE);
    ck_assert_int_eq(run(proof_with_nonce("42"), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.use_nonce, 1);
}
END_TEST

START_TEST(test_nonce_problem_is_told_only_for_an_otherwise_valid_proof)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    pl_t pl = {.htm = "\"PUT\""};
    e.nonce_required = 1;
    e.nonce_secret = secret(secret_a);
    ck_assert_int_eq(run(sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, jwk_text(J_OTHER, NULL), NULL, NULL,
                                    payload(&(pl_t){0})), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_SIGNATURE);
    ck_assert_int_eq(out.use_nonce, 0);
    ck_assert_int_eq(run(sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, jwk_text(J_OWN, tu_keys.ec256), NULL,
                                    NULL, payload(&pl)), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_HTM);
    ck_assert_int_eq(out.use_nonce, 0);
}
END_TEST

START_TEST(test_nonce_callback_decides_when_given)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    int calls = 0;
    e.nonce_required = 1;
    e.nonce_check = nonce_cb;
    e.nonce_baton = &calls;
    ck_assert_int_eq(run(proof_with_nonce("\"good\""), &e, &out), CLAIMS_OK);
    ck_assert_int_eq(run(proof_with_nonce("\"bad!\""), &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_NONCE_STALE);
    ck_assert_int_eq(calls, 2);
    /* not required: reported, never checked */
    e.nonce_required = 0;
    ck_assert_int_eq(run(proof_with_nonce("\"bad!\""), &e, &out), CLAIMS_OK);
    ck_assert_str_eq(out.nonce, "bad!");
    ck_assert_int_eq(calls, 2);
}
END_TEST

/* ------------------------------------------------------------------ cnf */

typedef struct cnf_case_t {
    const char *claims;
    const char *jkt, *x5t;
    claims_status_t want;
    int kind;
} cnf_case_t;

#define JKT_A "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
#define JKT_B "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

START_TEST(test_cnf_binding_table)
{
    static const cnf_case_t cases[] = {
        {"{\"sub\":\"a\"}", NULL, NULL, CLAIMS_OK, CLAIMS_CNF_NONE},
        {"{\"sub\":\"a\"}", JKT_A, JKT_B, CLAIMS_OK, CLAIMS_CNF_NONE},
        {"{\"cnf\":{\"jkt\":\"" JKT_A "\"}}", JKT_A, NULL, CLAIMS_OK, CLAIMS_CNF_JKT},
        {"{\"cnf\":{\"jkt\":\"" JKT_A "\"}}", JKT_B, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_JKT},
        {"{\"cnf\":{\"jkt\":\"" JKT_A "\"}}", NULL, JKT_A, CLAIMS_ERR_BINDING, CLAIMS_CNF_JKT},  /* Bearer */
        {"{\"cnf\":{\"jkt\":\"" JKT_A "x\"}}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_JKT},
        {"{\"cnf\":{\"jkt\":\"\"}}", "", NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_JKT},
        {"{\"cnf\":{\"jkt\":1}}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_JKT},
        {"{\"cnf\":{\"x5t#S256\":\"" JKT_B "\"}}", NULL, JKT_B, CLAIMS_OK, CLAIMS_CNF_X5T},
        {"{\"cnf\":{\"x5t#S256\":\"" JKT_B "\"}}", JKT_B, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_X5T},
        {"{\"cnf\":{\"x5t#S256\":\"" JKT_B "\"}}", NULL, JKT_A, CLAIMS_ERR_BINDING, CLAIMS_CNF_X5T},
        {"{\"cnf\":{\"jkt\":\"" JKT_A "\",\"x5t#S256\":\"" JKT_B "\"}}", JKT_A, JKT_B, CLAIMS_OK,
         CLAIMS_CNF_JKT | CLAIMS_CNF_X5T},
        {"{\"cnf\":{\"jkt\":\"" JKT_A "\",\"x5t#S256\":\"" JKT_B "\"}}", JKT_A, NULL, CLAIMS_ERR_BINDING,
         CLAIMS_CNF_JKT | CLAIMS_CNF_X5T},
        {"{\"cnf\":{\"jkt\":\"" JKT_A "\",\"jwk\":{}}}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_JKT},
        {"{\"cnf\":{\"jwk\":{\"kty\":\"EC\"}}}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":{\"kid\":\"k\"}}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":{\"x5t\":\"" JKT_B "\"}}", NULL, JKT_B, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":{\"JKT\":\"" JKT_A "\"}}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":{}}", JKT_A, JKT_B, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":null}", JKT_A, JKT_B, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":\"" JKT_A "\"}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
        {"{\"cnf\":[{\"jkt\":\"" JKT_A "\"}]}", JKT_A, NULL, CLAIMS_ERR_BINDING, CLAIMS_CNF_NONE},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        int kind = -1;
        claims_status_t st = claims_cnf_check(tu_json(cases[i].claims), cases[i].jkt, cases[i].x5t, &kind);
        ck_assert_msg(st == cases[i].want, "case %d: %s", i, cases[i].claims);
        ck_assert_msg(kind == cases[i].kind, "case %d: kind %d", i, kind);
    }
    ck_assert_int_eq(claims_cnf_check(NULL, NULL, NULL, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_token_bound_to_a_proof_key_matches_its_thumbprint)
{
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    const char *claims;
    ck_assert_int_eq(run(valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256), &e, &out), CLAIMS_OK);
    claims = apr_psprintf(tu_p, "{\"sub\":\"a\",\"cnf\":{\"jkt\":\"%s\"}}", out.jkt);
    ck_assert_int_eq(claims_cnf_check(tu_json(claims), out.jkt, NULL, NULL), CLAIMS_OK);
    ck_assert_int_eq(run(valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256_b), &e, &out), CLAIMS_OK);
    ck_assert_int_eq(claims_cnf_check(tu_json(claims), out.jkt, NULL, NULL), CLAIMS_ERR_BINDING);
}
END_TEST

/* ------------------------------------------------------------------ client certificates */

static char *std_b64(const unsigned char *der, apr_size_t len)
{
    char *out = apr_palloc(tu_p, (len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, der, (int)len);
    return out;
}

START_TEST(test_x5t_s256_from_der_and_pem_agree)
{
    unsigned char *der;
    apr_size_t der_len;
    char *pem = tu_cert_pem(tu_p, tu_keys.ec256, &der, &der_len);
    char *want = sha_b64((const char *)der, der_len), *got = NULL;

    ck_assert_str_eq(claims_x5t_s256(tu_p, der, der_len), want);
    ck_assert_int_eq(claims_x5t_s256_pem(tu_p, pem, strlen(pem), &got), CLAIMS_OK);
    ck_assert_str_eq(got, want);
    {
        char *padded = apr_pstrcat(tu_p, "\n  ", pem, "\n\n", NULL);
        ck_assert_int_eq(claims_x5t_s256_pem(tu_p, padded, strlen(padded), &got), CLAIMS_OK);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

START_TEST(test_odd_pem_certificates_are_refused)
{
    char *pem = tu_cert_pem(tu_p, tu_keys.ec256, NULL, NULL), *got = NULL;
    const char *bad[] = {
        apr_pstrcat(tu_p, pem, pem, NULL),                            /* a chain */
        apr_pstrcat(tu_p, "junk\n", pem, NULL),
        apr_pstrcat(tu_p, pem, "junk", NULL),
        tu_pem_spki(tu_p, tu_keys.ec256),
        tu_pem_private(tu_p, tu_keys.ec256),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "",
    };
    for (int i = 0; i < TU_COUNT(bad); i++) {
        ck_assert_msg(claims_x5t_s256_pem(tu_p, bad[i], strlen(bad[i]), &got) == CLAIMS_ERR_REQUEST, "case %d", i);
    }
}
END_TEST

START_TEST(test_client_cert_header_byte_sequence)
{
    unsigned char *der, *got = NULL;
    apr_size_t der_len, got_len = 0;
    char *b64;

    tu_cert_pem(tu_p, tu_keys.rsa, &der, &der_len);
    b64 = std_b64(der, der_len);
    {
        const char *ok[] = {apr_pstrcat(tu_p, ":", b64, ":", NULL), apr_pstrcat(tu_p, "  :", b64, ":  ", NULL)};
        for (int i = 0; i < TU_COUNT(ok); i++) {
            ck_assert_int_eq(claims_client_cert_parse(tu_p, ok[i], strlen(ok[i]), &got, &got_len), CLAIMS_OK);
            ck_assert_uint_eq(got_len, der_len);
            ck_assert_mem_eq(got, der, der_len);
        }
    }
    {
        char *url = apr_pstrdup(tu_p, b64), *nopad = apr_pstrdup(tu_p, b64), *trail;
        for (char *c = url; *c; c++) {
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        }
        nopad[strcspn(nopad, "=")] = '\0';
        {
            unsigned char *more = apr_palloc(tu_p, der_len + 1);
            memcpy(more, der, der_len);
            more[der_len] = 0;
            trail = std_b64(more, der_len + 1);
        }
        const char *bad[] = {
            b64, apr_pstrcat(tu_p, ":", b64, NULL), apr_pstrcat(tu_p, ":", b64, ":;a=1", NULL),
            apr_pstrcat(tu_p, "\t:", b64, ":", NULL),
            apr_pstrcat(tu_p, ":", trail, ":", NULL), apr_pstrcat(tu_p, "-----BEGIN CERTIFICATE-----", b64, NULL),
            ":AAAA:", "::", ":", "", ":" "QUJD" ":",
        };
        int has_url_chars = strcmp(url, b64) != 0;
        for (int i = 0; i < TU_COUNT(bad); i++) {
            ck_assert_msg(claims_client_cert_parse(tu_p, bad[i], strlen(bad[i]), &got, &got_len) == CLAIMS_ERR_REQUEST,
                          "case %d", i);
        }
        if (strchr(b64, '=') != NULL) {
            const char *u = apr_pstrcat(tu_p, ":", nopad, ":", NULL);
            ck_assert_int_eq(claims_client_cert_parse(tu_p, u, strlen(u), &got, &got_len), CLAIMS_ERR_REQUEST);
        }
        if (has_url_chars) {
            const char *u = apr_pstrcat(tu_p, ":", url, ":", NULL);
            ck_assert_int_eq(claims_client_cert_parse(tu_p, u, strlen(u), &got, &got_len), CLAIMS_ERR_REQUEST);
        }
    }
    {
        char *big = apr_psprintf(tu_p, ":%0*d:", CLAIMS_CLIENT_CERT_MAX, 0);
        ck_assert_int_eq(claims_client_cert_parse(tu_p, big, strlen(big), &got, &got_len), CLAIMS_ERR_REQUEST);
    }
}
END_TEST

/* ------------------------------------------------------------------ the key cache */

START_TEST(test_key_cache_serves_a_repeated_header_and_still_checks_the_signature)
{
    claims_dpop_keys_t *keys = claims_dpop_keys_create(tu_p, 0);
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    const char *jwk = tu_jwk(tu_p, tu_keys.ec256, NULL);
    pl_t other_jti = {.jti = "\"second\""};
    apr_uint64_t hits = 0, misses = 0;
    char *first_jkt;

    e.keys = keys;
    ck_assert_int_eq(run(valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256), &e, &out), CLAIMS_OK);
    first_jkt = apr_pstrdup(tu_p, out.jkt);
    ck_assert_int_eq(run(sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, jwk, NULL, NULL, payload(&other_jti)), &e,
                         &out), CLAIMS_OK);
    ck_assert_str_eq(out.jkt, first_jkt);
    ck_assert_str_eq(out.jkt, thumbprint_of(jwk));
    /* the same header, another key's signature: the cached key verifies nothing it did not sign */
    ck_assert_int_eq(run(mangle(valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256), M_FLIP_SIG), &e, &out),
                     CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_SIGNATURE);
    claims_dpop_keys_stats(keys, &hits, &misses);
    ck_assert_uint_eq(hits, 2);
    ck_assert_uint_eq(misses, 1);
}
END_TEST

START_TEST(test_key_cache_keeps_no_refused_key_and_rechecks_the_allow_list)
{
    claims_dpop_keys_t *keys = claims_dpop_keys_create(tu_p, 8);
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    pl_t pl = {0};
    const char *mismatch = sign_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256, jwk_text(J_P384, NULL), NULL, NULL,
                                      payload(&pl));
    const char *ed448 = valid_proof("EdDSA", CLAIMS_ALG_EDDSA, tu_keys.ed448);
    apr_uint64_t hits = 0;

    e.keys = keys;
    ck_assert_int_eq(run(mismatch, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(run(mismatch, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_JWK);
    claims_dpop_keys_stats(keys, &hits, NULL);
    ck_assert_uint_eq(hits, 0);
    /* cached where every algorithm is allowed, refused where only Ed25519 is */
    ck_assert_int_eq(run(ed448, &e, &out), CLAIMS_OK);
    e.algs = CLAIMS_ALG_BIT(CLAIMS_ALG_ED25519);
    ck_assert_int_eq(run(ed448, &e, &out), CLAIMS_ERR_DPOP);
    ck_assert_int_eq(out.fail, CLAIMS_DPOP_JWK);
    claims_dpop_keys_stats(keys, &hits, NULL);
    ck_assert_uint_eq(hits, 1);
}
END_TEST

START_TEST(test_key_cache_hits_verify_every_algorithm)
{
    const alg_case_t cases[] = {
        {"ES256", CLAIMS_ALG_ES256, &tu_keys.ec256}, {"ES384", CLAIMS_ALG_ES384, &tu_keys.ec384},
        {"ES512", CLAIMS_ALG_ES512, &tu_keys.ec521}, {"RS256", CLAIMS_ALG_RS256, &tu_keys.rsa},
        {"PS256", CLAIMS_ALG_PS256, &tu_keys.rsa}, {"PS384", CLAIMS_ALG_PS384, &tu_keys.rsa_3072},
        {"EdDSA", CLAIMS_ALG_EDDSA, &tu_keys.ed25519}, {"Ed448", CLAIMS_ALG_ED448, &tu_keys.ed448},
    };
    claims_dpop_expect_t e = expect();
    apr_uint64_t hits = 0;
    e.keys = claims_dpop_keys_create(tu_p, 64);
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_dpop_result_t out;
        const char *jwk = tu_jwk(tu_p, *cases[i].key, NULL);
        const char *good = valid_proof(cases[i].name, cases[i].alg, *cases[i].key);
        /* a PSS proof signed with salt 0 under the same header: refused on a hit too (CL-32) */
        pl_t pl = {0};
        const char *hdr = apr_psprintf(tu_p, "{\"alg\":\"%s\",\"typ\":\"dpop+jwt\",\"jwk\":%s}", cases[i].name, jwk);
        char *input = tu_signing_input(tu_p, hdr, payload(&pl));
        apr_size_t sig_len;
        unsigned char *sig = tu_sign(tu_p, cases[i].alg, *cases[i].key, NULL, 0, input, strlen(input), 0, &sig_len);
        const char *salt0 = tu_join(tu_p, input, sig, sig_len);

        for (int round = 0; round < 2; round++) {
            ck_assert_msg(run(good, &e, &out) == CLAIMS_OK, "%s round %d: %s", cases[i].name, round, out.why);
            ck_assert_str_eq(out.jkt, thumbprint_of(jwk));
            if (claims_alg_info(cases[i].alg)->family == CLAIMS_FAMILY_PSS) {
                ck_assert_int_eq(run(salt0, &e, &out), CLAIMS_ERR_DPOP);
                ck_assert_int_eq(out.fail, CLAIMS_DPOP_SIGNATURE);
            }
        }
    }
    claims_dpop_keys_stats(e.keys, &hits, NULL);
    ck_assert_uint_ge(hits, TU_COUNT(cases));
}
END_TEST

START_TEST(test_key_cache_replacement_leaves_keys_in_use_valid)
{
    claims_dpop_keys_t *keys = claims_dpop_keys_create(tu_p, 1);
    claims_dpop_expect_t e = expect();
    claims_dpop_result_t out;
    const char *a = valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256);
    const char *b = valid_proof("EdDSA", CLAIMS_ALG_EDDSA, tu_keys.ed25519);
    apr_pool_t *p1, *p2;

    e.keys = keys;
    ck_assert_int_eq(apr_pool_create(&p1, tu_p), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create(&p2, tu_p), APR_SUCCESS);
    ck_assert_int_eq(claims_dpop_verify(p1, a, strlen(a), &e, &out), CLAIMS_OK);   /* cached */
    ck_assert_int_eq(claims_dpop_verify(p1, a, strlen(a), &e, &out), CLAIMS_OK);   /* p1 holds it */
    ck_assert_int_eq(claims_dpop_verify(p2, b, strlen(b), &e, &out), CLAIMS_OK);   /* replaces it */
    apr_pool_destroy(p1);
    ck_assert_int_eq(claims_dpop_verify(p2, a, strlen(a), &e, &out), CLAIMS_OK);
    apr_pool_destroy(p2);
}
END_TEST

typedef struct cache_worker_t {
    claims_dpop_expect_t e;
    const char *proofs[3];
    int failures;
} cache_worker_t;

static void *APR_THREAD_FUNC cache_worker(apr_thread_t *t, void *data)
{
    cache_worker_t *w = data;
    apr_pool_t *p;
    apr_pool_create_unmanaged(&p);
    for (int i = 0; i < 24; i++) {
        claims_dpop_result_t out;
        const char *proof = w->proofs[i % 3];
        if (claims_dpop_verify(p, proof, strlen(proof), &w->e, &out) != CLAIMS_OK) {
            w->failures++;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    /* returns instead of apr_thread_exit: pthread_exit's unwinding trips a known false
     * stack-use-after-scope in gcc 12's ASan (sigaltstack at thread teardown) */
    (void)t;
    return NULL;
}

START_TEST(test_key_cache_is_shared_by_threads)
{
    cache_worker_t w[4];
    apr_thread_t *th[4];
    claims_dpop_keys_t *keys = claims_dpop_keys_create(tu_p, 2);
    const char *proofs[3] = {valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256),
                             valid_proof("EdDSA", CLAIMS_ALG_EDDSA, tu_keys.ed25519),
                             valid_proof("ES256", CLAIMS_ALG_ES256, tu_keys.ec256_b)};
    for (int i = 0; i < 4; i++) {
        w[i].e = expect();
        w[i].e.keys = keys;
        memcpy(w[i].proofs, proofs, sizeof(proofs));
        w[i].failures = 0;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, cache_worker, &w[i], tu_p), APR_SUCCESS);
    }
    for (int i = 0; i < 4; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, th[i]);
        ck_assert_int_eq(w[i].failures, 0);
    }
}
END_TEST

/* ------------------------------------------------------------------ claims_key_jwk */

START_TEST(test_single_client_jwk_import_keeps_the_strength_rules)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_ES256);
    claims_key_t *k = NULL;
    char *err = NULL;

    ck_assert_int_eq(claims_key_jwk(tu_p, tu_json(tu_jwk(tu_p, tu_keys.ec256, NULL)), "c", &o, &k, &err), CLAIMS_OK);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_ES256);
    /* a JWK Set is not a key here */
    ck_assert_int_eq(claims_key_jwk(tu_p, tu_json(apr_psprintf(tu_p, "{\"keys\":[%s]}", tu_jwk(tu_p, tu_keys.ec256, NULL))),
                                    "c", &o, &k, &err), CLAIMS_ERR_KEY);
    o = tu_opts(CLAIMS_ALG_RS256);
    ck_assert_int_eq(claims_key_jwk(tu_p, tu_json(tu_jwk(tu_p, tu_keys.rsa_1024, NULL)), "c", &o, &k, &err),
                     CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "too weak"));
    o = tu_opts(CLAIMS_ALG_HS256);
    ck_assert_int_eq(claims_key_jwk(tu_p, tu_json(jwk_text(J_OCT, NULL)), "c", &o, &k, NULL), CLAIMS_ERR_KEY);
}
END_TEST

Suite *dpop_suite(void)
{
    Suite *s = suite_create("dpop");
    TCase *tc = tu_tcase("thumbprints and htu", 0);
    tcase_add_test(tc, test_rfc7638_rsa_example_thumbprint);
    tcase_add_test(tc, test_rfc8037_okp_example_thumbprint);
    tcase_add_test(tc, test_ec_thumbprint_is_the_hash_of_the_ordered_required_members);
    tcase_add_test(tc, test_malformed_jwks_have_no_thumbprint);
    tcase_add_test(tc, test_htu_comparison_after_rfc3986_normalisation);
    tcase_add_test(tc, test_htu_normal_form);
    tcase_add_test(tc, test_htu_built_from_the_server_names);
    suite_add_tcase(s, tc);

    tc = tu_tcase("proofs", 30);
    tcase_add_test(tc, test_valid_proofs_of_every_asymmetric_algorithm_are_accepted);
    tcase_add_test(tc, test_proofs_within_the_rules_are_accepted);
    tcase_add_test(tc, test_proof_without_token_needs_no_ath);
    tcase_add_test(tc, test_hostile_proofs_are_refused_with_their_reason);
    tcase_add_test(tc, test_extra_ath_without_a_token_is_refused);
    tcase_add_test(tc, test_allow_list_restricts_and_never_admits_hmac);
    tcase_add_test(tc, test_window_and_leeway_are_the_callers);
    tcase_add_test(tc, test_incomplete_expectations_are_a_configuration_error);
    tcase_add_test(tc, test_fail_texts_are_fixed_and_printable);
    tcase_add_test(tc, test_single_client_jwk_import_keeps_the_strength_rules);
    suite_add_tcase(s, tc);

    tc = tu_tcase("key cache", 60);
    tcase_add_test(tc, test_key_cache_serves_a_repeated_header_and_still_checks_the_signature);
    tcase_add_test(tc, test_key_cache_keeps_no_refused_key_and_rechecks_the_allow_list);
    tcase_add_test(tc, test_key_cache_hits_verify_every_algorithm);
    tcase_add_test(tc, test_key_cache_replacement_leaves_keys_in_use_valid);
    tcase_add_test(tc, test_key_cache_is_shared_by_threads);
    suite_add_tcase(s, tc);

    tc = tu_tcase("nonces", 0);
    tcase_add_test(tc, test_nonce_valid_now_and_one_step_back_only);
    tcase_add_test(tc, test_nonce_of_another_secret_or_garbage_is_refused);
    tcase_add_test(tc, test_nonce_mac_is_not_the_record_mac);
    tcase_add_test(tc, test_required_nonce_missing_or_stale_asks_for_a_new_one);
    tcase_add_test(tc, test_nonce_problem_is_told_only_for_an_otherwise_valid_proof);
    tcase_add_test(tc, test_nonce_callback_decides_when_given);
    suite_add_tcase(s, tc);

    tc = tu_tcase("binding and certificates", 0);
    tcase_add_test(tc, test_cnf_binding_table);
    tcase_add_test(tc, test_token_bound_to_a_proof_key_matches_its_thumbprint);
    tcase_add_test(tc, test_x5t_s256_from_der_and_pem_agree);
    tcase_add_test(tc, test_odd_pem_certificates_are_refused);
    tcase_add_test(tc, test_client_cert_header_byte_sequence);
    suite_add_tcase(s, tc);
    return s;
}
