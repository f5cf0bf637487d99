/*
 * test_jws.c - compact JWS parsing (RFC 7515, RFC 8725) and signature verification at the
 * primitive and JWS layers, with a round trip through claims_verify for each algorithm.
 * SECURITY.md CL-05, CL-07..CL-19, CL-20, CL-29..CL-34, CL-36..CL-39. Choosing the issuer and
 * the key is tested in test_verify.c, the verified-token cache in test_cache.c.
 */
#include "test_util.h"

#include "claims_jws.h"
#include "claims_verify.h"

#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <string.h>

#define BIG_MAX ((apr_size_t)1 << 20)
/* a string literal that holds NUL bytes, with its exact length */
#define BYTES(s) s, sizeof(s) - 1

/* ------------------------------------------------------------------ helpers */

/* header and payload bytes (not necessarily text), garbage signature "c2ln" */
static char *token_of(const char *header, apr_size_t hlen, const char *payload, apr_size_t plen)
{
    return apr_pstrcat(tu_p, tu_b64n(tu_p, header, hlen), ".", tu_b64n(tu_p, payload, plen), ".c2ln", NULL);
}

static claims_status_t parse_header(const char *header, claims_jws_t **jws)
{
    claims_jws_t *dummy;
    char *tok = token_of(header, strlen(header), "{}", 2);
    return claims_jws_parse(tu_p, tok, strlen(tok), 0, jws != NULL ? jws : &dummy);
}

static claims_status_t parse_str(const char *tok, apr_size_t max)
{
    claims_jws_t *jws;
    return claims_jws_parse(tu_p, tok, strlen(tok), max, &jws);
}

/* parse a token whose header is fine and whose payload bytes are given; then its claims */
static claims_status_t payload_claims(const char *payload, apr_size_t plen, json_t **claims)
{
    claims_jws_t *jws = NULL;
    json_t *dummy;
    char *tok = token_of("{\"alg\":\"RS256\"}", 15, payload, plen);
    claims_status_t st = claims_jws_parse(tu_p, tok, strlen(tok), BIG_MAX, &jws);
    ck_assert_int_eq(st, CLAIMS_OK);
    return claims_jws_claims(tu_p, jws, claims != NULL ? claims : &dummy);
}

static char *nested(const char *open, const char *inner, const char *close, int depth)
{
    apr_size_t ol = strlen(open), cl = strlen(close), il = strlen(inner);
    char *s = apr_palloc(tu_p, (ol + cl) * (apr_size_t)depth + il + 1), *o = s;
    for (int i = 0; i < depth; i++, o += ol) {
        memcpy(o, open, ol);
    }
    memcpy(o, inner, il);
    o += il;
    for (int i = 0; i < depth; i++, o += cl) {
        memcpy(o, close, cl);
    }
    *o = '\0';
    return s;
}

static claims_key_t *add_secret(claims_issuer_t *is, claims_alg_t alg, const char *kid)
{
    claims_key_t *k = NULL;
    char *err = NULL;
    ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, sizeof(tu_secret), alg, kid, "secret", &k, &err), CLAIMS_OK);
    *(claims_key_t **)apr_array_push(is->keys) = k;
    return k;
}

/* ------------------------------------------------------------------ size and segments */

START_TEST(test_oversized_garbage_is_too_large_not_format)
{
    char *big = apr_palloc(tu_p, 9001);
    memset(big, '!', 9000);
    big[9000] = '\0';
    ck_assert_int_eq(parse_str(big, 0), CLAIMS_ERR_TOO_LARGE);
}
END_TEST

START_TEST(test_oversized_well_formed_token_is_too_large)
{
    /* a signed-looking token just over the default cap: refused by size alone */
    char *payload = apr_palloc(tu_p, 7000);
    char *tok;
    memset(payload, 'a', 6999);
    payload[6999] = '\0';
    tok = apr_pstrcat(tu_p, tu_b64(tu_p, "{\"alg\":\"RS256\"}"), ".", tu_b64(tu_p, payload), ".c2ln", NULL);
    ck_assert_uint_gt(strlen(tok), CLAIMS_DEFAULT_MAX_TOKEN);
    ck_assert_int_eq(parse_str(tok, 0), CLAIMS_ERR_TOO_LARGE);
}
END_TEST

START_TEST(test_configured_cap_is_applied_exactly)
{
    char *tok = token_of("{\"alg\":\"RS256\"}", 15, "{}", 2);
    apr_size_t n = strlen(tok);
    ck_assert_int_eq(parse_str(tok, n), CLAIMS_OK);
    ck_assert_int_eq(parse_str(tok, n - 1), CLAIMS_ERR_TOO_LARGE);
}
END_TEST

START_TEST(test_token_at_the_default_cap_is_not_too_large)
{
    char *big = apr_palloc(tu_p, CLAIMS_DEFAULT_MAX_TOKEN + 1);
    memset(big, 'A', CLAIMS_DEFAULT_MAX_TOKEN);
    big[CLAIMS_DEFAULT_MAX_TOKEN] = '\0';
    ck_assert_int_eq(parse_str(big, 0), CLAIMS_ERR_FORMAT);
}
END_TEST

/* CL-07, CL-08: exactly three segments, header and signature not empty. */
static const char *const bad_segments[] = {
    "",
    "eyJhbGciOiJSUzI1NiJ9",
    "eyJhbGciOiJSUzI1NiJ9.e30",
    "eyJhbGciOiJSUzI1NiJ9.e30.",
    ".e30.c2ln",
    "..",
    "...",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln.c2ln",
    "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
    "{\"payload\":\"e30\",\"signatures\":[]}",
};

START_TEST(test_wrong_segment_counts_and_empty_segments_are_refused)
{
    ck_assert_msg(parse_str(bad_segments[_i], 0) == CLAIMS_ERR_FORMAT, "\"%s\" not refused as FORMAT",
                  bad_segments[_i]);
}
END_TEST

START_TEST(test_empty_payload_segment_is_allowed)
{
    claims_jws_t *jws = NULL;
    char *tok = apr_pstrcat(tu_p, tu_b64(tu_p, "{\"alg\":\"RS256\"}"), "..c2ln", NULL);
    ck_assert_int_eq(claims_jws_parse(tu_p, tok, strlen(tok), 0, &jws), CLAIMS_OK);
    ck_assert_uint_eq(jws->payload_len, 0);
}
END_TEST

START_TEST(test_parse_exposes_signing_input_payload_and_signature)
{
    claims_jws_t *jws = NULL;
    const char *h = "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}";
    char *tok = token_of(h, strlen(h), "{\"a\":1}", 7);
    ck_assert_int_eq(claims_jws_parse(tu_p, tok, strlen(tok), 0, &jws), CLAIMS_OK);
    ck_assert_int_eq(jws->alg, CLAIMS_ALG_ES256);
    ck_assert_uint_eq(jws->kid_len, 2);
    ck_assert_mem_eq(jws->kid, "k1", 2);
    ck_assert_str_eq(jws->typ, "at+jwt");
    ck_assert_uint_eq(jws->payload_len, 7);
    ck_assert_mem_eq(jws->payload, "{\"a\":1}", 7);
    ck_assert_uint_eq(jws->sig_len, 3);
    ck_assert_mem_eq(jws->sig, "sig", 3);
    ck_assert_ptr_eq(jws->signing_input, tok);
    ck_assert_uint_eq(jws->signing_input_len, (apr_size_t)(strrchr(tok, '.') - tok));
}
END_TEST

/* CL-36: every segment is strict base64url. */
static const char *const bad_base64[] = {
    "eyJhbGciOiJSUzI1NiJ9=.e30.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2ln=",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2l+",
    "eyJhbGciOiJSUzI1NiJ9.e3/0.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2 ln",
    "eyJhbGciOiJSUzI1NiJ9 .e30.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2l?",
    "eyJhbGciOiJSUzI1NiJ9.e3#0.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2lnZ",
    "eyJhbGciOiJSUzI1NiJ9.e31.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2lnZh",
    "eyJhbGciOiJSUzI1NiIgfR.e30.c2ln",
};

START_TEST(test_non_strict_base64url_in_any_segment_is_refused)
{
    ck_assert_msg(parse_str(bad_base64[_i], 0) == CLAIMS_ERR_BASE64, "\"%s\" not refused as BASE64",
                  bad_base64[_i]);
}
END_TEST

/* ------------------------------------------------------------------ header: alg */

static const char *const alg_none[] = {
    "{\"alg\":\"none\"}",
    "{\"alg\":\"None\"}",
    "{\"alg\":\"NONE\"}",
    "{\"alg\":\"nOnE\"}",
    "{\"alg\":\"none\",\"kid\":\"k1\"}",
    "{\"alg\":\"n\\u006fne\"}",
};

START_TEST(test_alg_none_in_any_case_is_refused)
{
    ck_assert_int_eq(parse_header(alg_none[_i], NULL), CLAIMS_ERR_ALG_NONE);
}
END_TEST

START_TEST(test_alg_none_with_empty_signature_is_refused)
{
    char *tok = apr_pstrcat(tu_p, tu_b64(tu_p, "{\"alg\":\"none\"}"), ".", tu_b64(tu_p, "{}"), ".", NULL);
    ck_assert_int_ne(parse_str(tok, 0), CLAIMS_OK);
}
END_TEST

/* CL-11 */
static const char *const alg_bad[] = {
    "{}",
    "{\"typ\":\"JWT\"}",
    "{\"alg\":\"\"}",
    "{\"alg\":null}",
    "{\"alg\":[\"RS256\"]}",
    "{\"alg\":256}",
    "{\"alg\":true}",
    "{\"alg\":{\"name\":\"RS256\"}}",
    "{\"alg\":\"RS256 \"}",
    "{\"alg\":\" RS256\"}",
    "{\"alg\":\"rs256\"}",
    "{\"alg\":\"Rs256\"}",
    "{\"alg\":\"RS256\\n\"}",
    "{\"alg\":\"RS\"}",
    "{\"alg\":\"RS2560\"}",
    "{\"alg\":\"ES521\"}",
    "{\"alg\":\"ES256K\"}",
    "{\"alg\":\"RSA1_5\"}",
    "{\"alg\":\"A256GCM\"}",
    "{\"alg\":\"dir\"}",
    "{\"alg\":\"HS1\"}",
    "{\"alg\":\"eddsa\"}",
    "{\"alg\":\"unknown\"}",
};

START_TEST(test_alg_missing_mistyped_or_unsupported_is_refused)
{
    ck_assert_msg(parse_header(alg_bad[_i], NULL) == CLAIMS_ERR_ALG, "%s not refused as ERR_ALG", alg_bad[_i]);
}
END_TEST

START_TEST(test_alg_spelled_with_json_escapes_is_the_unescaped_name)
{
    claims_jws_t *jws = NULL;
    ck_assert_int_eq(parse_header("{\"alg\":\"\\u0052S256\"}", &jws), CLAIMS_OK);
    ck_assert_int_eq(jws->alg, CLAIMS_ALG_RS256);
}
END_TEST

static const struct {
    const char *name;
    claims_alg_t alg;
} alg_names[] = {
    {"RS256", CLAIMS_ALG_RS256}, {"RS384", CLAIMS_ALG_RS384}, {"RS512", CLAIMS_ALG_RS512},
    {"PS256", CLAIMS_ALG_PS256}, {"PS384", CLAIMS_ALG_PS384}, {"PS512", CLAIMS_ALG_PS512},
    {"ES256", CLAIMS_ALG_ES256}, {"ES384", CLAIMS_ALG_ES384}, {"ES512", CLAIMS_ALG_ES512},
    {"EdDSA", CLAIMS_ALG_EDDSA}, {"Ed25519", CLAIMS_ALG_ED25519}, {"Ed448", CLAIMS_ALG_ED448},
    {"HS256", CLAIMS_ALG_HS256}, {"HS384", CLAIMS_ALG_HS384}, {"HS512", CLAIMS_ALG_HS512},
};

START_TEST(test_every_supported_alg_name_parses)
{
    claims_jws_t *jws = NULL;
    ck_assert_int_eq(parse_header(tu_hdr(alg_names[_i].name, NULL), &jws), CLAIMS_OK);
    ck_assert_int_eq(jws->alg, alg_names[_i].alg);
}
END_TEST

/* ------------------------------------------------------------------ header: JSON */

static const struct {
    const char *bytes;
    apr_size_t len;   /* 0: strlen */
    const char *why;
} header_bad[] = {
    {"[\"RS256\"]", 0, "array"},
    {"\"RS256\"", 0, "string"},
    {"1", 0, "number"},
    {"null", 0, "null"},
    {"true", 0, "boolean"},
    {"{\"alg\":\"RS256\"}x", 0, "trailing byte"},
    {"{\"alg\":\"RS256\"}{}", 0, "second object"},
    {"{\"alg\":\"RS256\"", 0, "truncated"},
    {"\xef\xbb\xbf{\"alg\":\"RS256\"}", 0, "UTF-8 BOM"},
    {BYTES("\xfe\xff\0{\0\"\0a\0l\0g\0\"\0:\0\"\0R\0S\0\x32\0\x35\0\x36\0\"\0}"), "UTF-16"},
    {"{\"alg\":\"RS256\",\"x\":\"\xff\"}", 0, "invalid UTF-8"},
    {"{\"alg\":\"RS256\",\"x\":\"\xc0\xaf\"}", 0, "overlong UTF-8"},
    {"{\"alg\":\"RS256\",\"x\":\"\xed\xa0\x80\"}", 0, "encoded surrogate"},
    {"{\"alg\":\"RS256\",\"x\":\"\\ud800\"}", 0, "lone high surrogate escape"},
    {"{\"alg\":\"RS256\",\"x\":\"\\udc00\"}", 0, "lone low surrogate escape"},
    {"{'alg':'RS256'}", 0, "single quotes"},
    {"{alg:\"RS256\"}", 0, "unquoted name"},
    {"{\"alg\":\"RS256\",}", 0, "trailing comma"},
    {"{\"alg\":\"RS256\"/*c*/}", 0, "comment"},
    {"{\"alg\":\"RS256\",\"alg\":\"RS256\"}", 0, "duplicate alg"},
    {"{\"alg\":\"HS256\",\"alg\":\"RS256\"}", 0, "duplicate alg, different values"},
    {"{\"alg\":\"RS256\",\"\\u0061lg\":\"HS256\"}", 0, "duplicate alg through an escape"},
    {"{\"alg\":\"RS256\",\"kid\":\"a\",\"kid\":\"b\"}", 0, "duplicate kid"},
    {"{\"alg\":\"RS256\",\"kid\":\"a\\u0000b\"}", 0, "NUL in kid"},
    {BYTES("{\"alg\":\"RS256\",\"kid\":\"a\0b\"}"), "raw NUL in kid"},
    {"{\"alg\":\"RS256\",\"kid\":1}", 0, "kid number"},
    {"{\"alg\":\"RS256\",\"kid\":null}", 0, "kid null"},
    {"{\"alg\":\"RS256\",\"typ\":[\"JWT\"]}", 0, "typ array"},
    {"{\"alg\":\"RS256\",\"cty\":1}", 0, "cty number"},
    {"{\"alg\":\"RS256\",\"x\":NaN}", 0, "NaN"},
    {"{\"alg\":\"RS256\",\"x\":01}", 0, "leading zero"},
};

START_TEST(test_header_that_is_not_a_strict_json_object_is_refused)
{
    apr_size_t len = header_bad[_i].len ? header_bad[_i].len : strlen(header_bad[_i].bytes);
    char *tok = token_of(header_bad[_i].bytes, len, "{}", 2);
    claims_status_t st = claims_jws_parse(tu_p, tok, strlen(tok), 0, &(claims_jws_t *){NULL});
    ck_assert_msg(st == CLAIMS_ERR_HEADER_JSON, "%s: got %s", header_bad[_i].why, claims_status_name(st));
}
END_TEST

START_TEST(test_header_nested_beyond_the_parser_limit_is_refused_without_crash)
{
    char *h = apr_pstrcat(tu_p, "{\"alg\":\"RS256\",\"x\":", nested("[", "", "]", 2100), "}", NULL);
    char *tok = token_of(h, strlen(h), "{}", 2);
    ck_assert_int_eq(claims_jws_parse(tu_p, tok, strlen(tok), BIG_MAX, &(claims_jws_t *){NULL}),
                     CLAIMS_ERR_HEADER_JSON);
}
END_TEST

/* CL-15: unknown members, and key material the parser must never look at (CL-24). */
static const char *const header_ignored[] = {
    "{\"alg\":\"RS256\",\"foo\":\"bar\"}",
    "{\"alg\":\"RS256\",\"foo\":{\"bar\":[1,2,{\"x\":null}]}}",
    "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
    "{\"alg\":\"RS256\",\"cty\":\"text/plain\"}",
    "{\"alg\":\"RS256\",\"jku\":\"https://attacker.example/jwks\"}",
    "{\"alg\":\"RS256\",\"x5u\":\"https://attacker.example/cert\"}",
    "{\"alg\":\"RS256\",\"x5c\":[\"MIIB\"]}",
    "{\"alg\":\"RS256\",\"x5t\":\"abc\"}",
    "{\"alg\":\"RS256\",\"x5t#S256\":\"abc\"}",
    "{\"alg\":\"RS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}",
    "{ \"alg\" : \"RS256\" }",
    "{\"kid\":\"k\",\r\n \"alg\":\"RS256\"}",
};

START_TEST(test_unknown_and_key_carrying_header_members_are_ignored_by_the_parser)
{
    claims_jws_t *jws = NULL;
    ck_assert_msg(parse_header(header_ignored[_i], &jws) == CLAIMS_OK, "%s refused", header_ignored[_i]);
    ck_assert_int_eq(jws->alg, CLAIMS_ALG_RS256);
}
END_TEST

/* CL-16, CL-17, CL-19 */
static const struct {
    const char *header;
    claims_status_t want;
} header_unsupported[] = {
    {"{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", CLAIMS_ERR_CRIT},
    {"{\"alg\":\"RS256\",\"crit\":[\"x-unknown\"],\"x-unknown\":1}", CLAIMS_ERR_CRIT},
    {"{\"alg\":\"RS256\",\"crit\":[]}", CLAIMS_ERR_CRIT},
    {"{\"alg\":\"RS256\",\"crit\":\"b64\"}", CLAIMS_ERR_CRIT},
    {"{\"alg\":\"RS256\",\"crit\":null}", CLAIMS_ERR_CRIT},
    {"{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"b64\":false}", CLAIMS_ERR_CRIT},
    {"{\"alg\":\"RS256\",\"b64\":false}", CLAIMS_ERR_HEADER_UNSUPPORTED},
    {"{\"alg\":\"RS256\",\"b64\":true}", CLAIMS_ERR_HEADER_UNSUPPORTED},
    {"{\"alg\":\"RS256\",\"enc\":\"A256GCM\"}", CLAIMS_ERR_HEADER_UNSUPPORTED},
    {"{\"alg\":\"RS256\",\"zip\":\"DEF\"}", CLAIMS_ERR_HEADER_UNSUPPORTED},
    {"{\"alg\":\"RS256\",\"cty\":\"JWT\"}", CLAIMS_ERR_HEADER_UNSUPPORTED},
    {"{\"alg\":\"RS256\",\"cty\":\"jwt\"}", CLAIMS_ERR_HEADER_UNSUPPORTED},
    {"{\"alg\":\"RS256\",\"cty\":\"application/jwt\"}", CLAIMS_ERR_HEADER_UNSUPPORTED},
};

START_TEST(test_crit_b64_enc_zip_and_nested_jwt_are_refused)
{
    claims_status_t st = parse_header(header_unsupported[_i].header, NULL);
    ck_assert_msg(st == header_unsupported[_i].want, "%s: got %s", header_unsupported[_i].header,
                  claims_status_name(st));
}
END_TEST

/* ------------------------------------------------------------------ payload */

START_TEST(test_payload_object_gives_the_claims)
{
    json_t *claims = NULL;
    const char *p = "{\"s\\u0075b\":\"alice\",\"n\":1}";
    ck_assert_int_eq(payload_claims(p, strlen(p), &claims), CLAIMS_OK);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "alice");
}
END_TEST

/* CL-37, CL-38, CL-39 */
static const struct {
    const char *bytes;
    apr_size_t len;
    const char *why;
} payload_bad[] = {
    {"[]", 0, "array"},
    {"[{\"sub\":\"a\"}]", 0, "array of an object"},
    {"\"sub\"", 0, "string"},
    {"1", 0, "number"},
    {"null", 0, "null"},
    {"", 0, "empty"},
    {"Payload", 0, "not JSON"},
    {"{\"sub\":\"a\",\"sub\":\"b\"}", 0, "duplicate claim"},
    {"{\"sub\":\"a\",\"\\u0073ub\":\"b\"}", 0, "duplicate claim through an escape"},
    {"{\"sub\":\"a\",\"s\\u0075\\u0062\":\"a\"}", 0, "duplicate claim, same value, escapes"},
    {"{\"sub\":\"\xff\"}", 0, "invalid UTF-8"},
    {"{\"sub\":\"\\ud800\"}", 0, "lone surrogate"},
    {"{\"sub\":\"a\"} x", 0, "trailing garbage"},
    {"\xef\xbb\xbf{\"sub\":\"a\"}", 0, "BOM"},
    {BYTES("\xff\xfe{\0}\0"), "UTF-16LE"},
    {"{\"sub\":\"a\\u0000b\"}", 0, "NUL escape"},
    {BYTES("{\"sub\":\"a\0b\"}"), "raw NUL"},
    {"{'sub':'a'}", 0, "single quotes"},
    {"{\"n\":NaN}", 0, "NaN"},
    {"{\"n\":Infinity}", 0, "Infinity"},
    {"{\"n\":1e400}", 0, "real overflow"},
    {"{\"n\":99999999999999999999}", 0, "integer beyond int64"},
};

START_TEST(test_payload_that_is_not_a_strict_json_object_is_refused)
{
    apr_size_t len = payload_bad[_i].len ? payload_bad[_i].len : strlen(payload_bad[_i].bytes);
    claims_status_t st = payload_claims(payload_bad[_i].bytes, len, NULL);
    ck_assert_msg(st == CLAIMS_ERR_PAYLOAD_JSON, "%s: got %s", payload_bad[_i].why, claims_status_name(st));
}
END_TEST

START_TEST(test_claims_nested_2100_deep_are_refused_without_crash)
{
    char *p = apr_pstrcat(tu_p, "{\"a\":", nested("[", "", "]", 2100), "}", NULL);
    ck_assert_int_eq(payload_claims(p, strlen(p), NULL), CLAIMS_ERR_PAYLOAD_JSON);
}
END_TEST

START_TEST(test_objects_nested_2100_deep_are_refused_without_crash)
{
    char *p = nested("{\"a\":", "1", "}", 2100);
    ck_assert_int_eq(payload_claims(p, strlen(p), NULL), CLAIMS_ERR_PAYLOAD_JSON);
}
END_TEST

START_TEST(test_claims_nested_200_deep_are_accepted)
{
    json_t *claims = NULL;
    char *p = apr_pstrcat(tu_p, "{\"sub\":\"a\",\"deep\":", nested("{\"a\":", "[1]", "}", 200), "}", NULL);
    ck_assert_int_eq(payload_claims(p, strlen(p), &claims), CLAIMS_OK);
    ck_assert_ptr_nonnull(json_object_get(claims, "deep"));
}
END_TEST

/* ------------------------------------------------------------------ signatures: round trips */

typedef struct alg_case_t {
    const char *header_alg;   /* alg in the token header */
    const char *key_alg;      /* alg bound to the key (JWK "alg"); NULL: HMAC secret */
    claims_alg_t sign_alg;    /* algorithm actually used to sign */
    EVP_PKEY **key;
} alg_case_t;

static const alg_case_t alg_cases[] = {
    {"RS256", "RS256", CLAIMS_ALG_RS256, &tu_keys.rsa},
    {"RS384", "RS384", CLAIMS_ALG_RS384, &tu_keys.rsa},
    {"RS512", "RS512", CLAIMS_ALG_RS512, &tu_keys.rsa},
    {"PS256", "PS256", CLAIMS_ALG_PS256, &tu_keys.rsa},
    {"PS384", "PS384", CLAIMS_ALG_PS384, &tu_keys.rsa},
    {"PS512", "PS512", CLAIMS_ALG_PS512, &tu_keys.rsa},
    {"ES256", "ES256", CLAIMS_ALG_ES256, &tu_keys.ec256},
    {"ES384", "ES384", CLAIMS_ALG_ES384, &tu_keys.ec384},
    {"ES512", "ES512", CLAIMS_ALG_ES512, &tu_keys.ec521},
    {"EdDSA", "EdDSA", CLAIMS_ALG_ED25519, &tu_keys.ed25519},
    {"Ed25519", "Ed25519", CLAIMS_ALG_ED25519, &tu_keys.ed25519},
    {"EdDSA", "Ed25519", CLAIMS_ALG_ED25519, &tu_keys.ed25519},
    {"EdDSA", "EdDSA", CLAIMS_ALG_ED448, &tu_keys.ed448},
    {"Ed448", "Ed448", CLAIMS_ALG_ED448, &tu_keys.ed448},
    {"HS256", NULL, CLAIMS_ALG_HS256, NULL},
    {"HS384", NULL, CLAIMS_ALG_HS384, NULL},
    {"HS512", NULL, CLAIMS_ALG_HS512, NULL},
};

static claims_issuer_t *issuer_for(const alg_case_t *c, const char *kid)
{
    claims_issuer_t *is = tu_issuer("https://issuer.a", 0);
    if (c->key_alg == NULL) {
        add_secret(is, c->sign_alg, kid);
    }
    else {
        tu_issuer_jwk(is, *c->key, c->key_alg, kid);
    }
    return is;
}

static char *sign_case(const alg_case_t *c, const char *header, const char *payload)
{
    return tu_jws(tu_p, c->sign_alg, c->key ? *c->key : NULL, tu_secret, sizeof(tu_secret), header, payload);
}

START_TEST(test_token_signed_with_each_algorithm_verifies)
{
    const alg_case_t *c = &alg_cases[_i];
    claims_issuer_t *is = issuer_for(c, "k1");
    char *tok = sign_case(c, tu_hdr(c->header_alg, "k1"), TU_PAYLOAD_A);
    claims_verified_t out;
    claims_status_t st = tu_verify2(tok, is, NULL, &out);
    ck_assert_msg(st == CLAIMS_OK, "%s: %s", c->header_alg, claims_status_name(st));
    ck_assert_ptr_eq(out.issuer, is);
    ck_assert_ptr_eq(out.key, APR_ARRAY_IDX(is->keys, 0, claims_key_t *));
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "sub")), "alice");
}
END_TEST

START_TEST(test_token_without_kid_verifies_with_the_key_bound_to_its_alg)
{
    const alg_case_t *c = &alg_cases[_i];
    claims_issuer_t *is = issuer_for(c, NULL);
    char *tok = sign_case(c, tu_hdr(c->header_alg, NULL), TU_PAYLOAD_A);
    ck_assert_int_eq(tu_verify2(tok, is, NULL, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_modified_signature_is_refused_for_each_algorithm)
{
    const alg_case_t *c = &alg_cases[_i];
    claims_issuer_t *is = issuer_for(c, "k1");
    char *input = tu_signing_input(tu_p, tu_hdr(c->header_alg, "k1"), TU_PAYLOAD_A);
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, c->sign_alg, c->key ? *c->key : NULL, tu_secret, sizeof(tu_secret), input,
                                 strlen(input), -1, &n);
    sig[n / 2] ^= 0x01;
    ck_assert_int_eq(tu_verify2(tu_join(tu_p, input, sig, n), is, NULL, NULL), CLAIMS_ERR_SIGNATURE);
}
END_TEST

START_TEST(test_modified_payload_is_refused_for_each_algorithm)
{
    const alg_case_t *c = &alg_cases[_i];
    claims_issuer_t *is = issuer_for(c, "k1");
    char *tok = sign_case(c, tu_hdr(c->header_alg, "k1"), TU_PAYLOAD_A);
    char *input = tu_signing_input(tu_p, tu_hdr(c->header_alg, "k1"),
                                   "{\"iss\":\"https://issuer.a\",\"sub\":\"admin\",\"aud\":\"api\",\"exp\":4102444800}");
    char *forged = apr_pstrcat(tu_p, input, strrchr(tok, '.'), NULL);
    ck_assert_int_eq(tu_verify2(forged, is, NULL, NULL), CLAIMS_ERR_SIGNATURE);
}
END_TEST

/* ------------------------------------------------------------------ primitive rules */

static claims_key_t *ec_key(EVP_PKEY *k, const char *alg)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    return tu_key(tu_p, tu_jwk(tu_p, k, apr_psprintf(tu_p, "\"alg\":\"%s\"", alg)), &o);
}

static const char p256_order[] = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

/* CL-34: (r, n - s) is as valid as (r, s). */
START_TEST(test_high_s_ecdsa_signature_is_accepted)
{
    claims_key_t *k = ec_key(tu_keys.ec256, "ES256");
    const char *msg = "high-s";
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, msg, 6, -1, &n);
    BIGNUM *order = NULL, *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char flipped[64];
    ck_assert_int_gt(BN_hex2bn(&order, p256_order), 0);
    ck_assert_int_eq(BN_sub(s, order, s), 1);
    memcpy(flipped, sig, 32);
    ck_assert_int_eq(BN_bn2binpad(s, flipped + 32, 32), 32);
    BN_free(order);
    BN_free(s);
    ck_assert_int_eq(claims_sig_verify(k, (const unsigned char *)msg, 6, sig, 64), CLAIMS_OK);
    ck_assert_int_eq(claims_sig_verify(k, (const unsigned char *)msg, 6, flipped, 64), CLAIMS_OK);
}
END_TEST

/* CL-30: only exactly 2 x 32 octets; DER or one octet more or less is refused. */
START_TEST(test_ecdsa_signature_not_exactly_r_s_is_refused)
{
    claims_key_t *k = ec_key(tu_keys.ec256, "ES256");
    const unsigned char *msg = (const unsigned char *)"exact";
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, msg, 5, -1, &n);
    unsigned char buf[80], *der = NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    int der_len;
    ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
    der_len = i2d_ECDSA_SIG(es, &der);
    ck_assert_int_gt(der_len, 0);
    ck_assert_int_eq(claims_sig_verify(k, msg, 5, sig, 64), CLAIMS_OK);
    ck_assert_int_eq(claims_sig_verify(k, msg, 5, der, (apr_size_t)der_len), CLAIMS_ERR_SIGNATURE);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    buf[0] = 0;
    memcpy(buf + 1, sig, 64);
    ck_assert_int_eq(claims_sig_verify(k, msg, 5, buf, 65), CLAIMS_ERR_SIGNATURE);
    memcpy(buf, sig, 64);
    buf[64] = 0;
    ck_assert_int_eq(claims_sig_verify(k, msg, 5, buf, 65), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 5, sig, 63), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 5, sig + 1, 63), CLAIMS_ERR_SIGNATURE);
}
END_TEST

/* CL-29 */
START_TEST(test_ecdsa_r_or_s_zero_or_order_is_refused)
{
    claims_key_t *k = ec_key(tu_keys.ec256, "ES256");
    const unsigned char *msg = (const unsigned char *)"m";
    apr_size_t n, olen;
    unsigned char *good = tu_sign(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, msg, 1, -1, &n);
    unsigned char *order = tu_hex(tu_p, p256_order, &olen);
    unsigned char zero[32] = {0}, sig[64];
    const unsigned char *r_vals[] = {zero, good, order, zero, order};
    const unsigned char *s_vals[] = {good + 32, zero, good + 32, zero, order};
    for (int i = 0; i < TU_COUNT(r_vals); i++) {
        memcpy(sig, r_vals[i], 32);
        memcpy(sig + 32, s_vals[i], 32);
        ck_assert_msg(claims_sig_verify(k, msg, 1, sig, 64) == CLAIMS_ERR_SIGNATURE, "case %d accepted", i);
    }
}
END_TEST

/* CL-33 */
START_TEST(test_hmac_tag_truncated_or_extended_is_refused)
{
    claims_key_t *k = NULL;
    char *err;
    const unsigned char *msg = (const unsigned char *)"mac me";
    apr_size_t n;
    unsigned char *tag = tu_sign(tu_p, CLAIMS_ALG_HS256, NULL, tu_secret, 32, msg, 6, -1, &n);
    unsigned char ext[33];
    ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, 32, CLAIMS_ALG_HS256, NULL, "s", &k, &err), CLAIMS_OK);
    ck_assert_int_eq(claims_sig_verify(k, msg, 6, tag, 32), CLAIMS_OK);
    ck_assert_int_eq(claims_sig_verify(k, msg, 6, tag, 31), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 6, tag, 16), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 6, tag, 1), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 6, tag, 0), CLAIMS_ERR_SIGNATURE);
    memcpy(ext, tag, 32);
    ext[32] = 0;
    ck_assert_int_eq(claims_sig_verify(k, msg, 6, ext, 33), CLAIMS_ERR_SIGNATURE);
}
END_TEST

/* CL-31 */
START_TEST(test_rsa_signature_of_the_wrong_length_is_refused)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_RS256);
    claims_key_t *k = tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &o);
    const unsigned char *msg = (const unsigned char *)"rsa";
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa, NULL, 0, msg, 3, -1, &n);
    unsigned char *longer = apr_palloc(tu_p, n + 1);
    longer[0] = 0;
    memcpy(longer + 1, sig, n);
    ck_assert_int_eq(claims_sig_verify(k, msg, 3, sig, n), CLAIMS_OK);
    ck_assert_int_eq(claims_sig_verify(k, msg, 3, longer, n + 1), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 3, sig, n - 1), CLAIMS_ERR_SIGNATURE);
}
END_TEST

START_TEST(test_eddsa_signature_of_the_wrong_length_is_refused)
{
    claims_key_t *k = ec_key(tu_keys.ed25519, "Ed25519");
    const unsigned char *msg = (const unsigned char *)"ed";
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_ED25519, tu_keys.ed25519, NULL, 0, msg, 2, -1, &n);
    unsigned char longer[65];
    memcpy(longer, sig, 64);
    longer[64] = 0;
    ck_assert_int_eq(claims_sig_verify(k, msg, 2, sig, 64), CLAIMS_OK);
    ck_assert_int_eq(claims_sig_verify(k, msg, 2, sig, 63), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(claims_sig_verify(k, msg, 2, longer, 65), CLAIMS_ERR_SIGNATURE);
}
END_TEST

/* R = neutral point, S = 0 holds for every message under a small-order key; such Ed25519 keys
 * are refused at load, and this pins that OpenSSL's Ed448 does not accept it either. */
START_TEST(test_trivial_ed448_signature_under_the_neutral_key_is_refused)
{
    unsigned char pub[57] = {0x01}, sig[114] = {0x01};
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    const char *jwk = apr_psprintf(tu_p, "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"%s\"}",
                                   tu_b64n(tu_p, pub, sizeof(pub)));
    apr_array_header_t *keys;
    char *err = NULL;
    if (tu_parse(tu_p, jwk, &o, &keys, &err) == CLAIMS_OK) {
        claims_key_t *k = APR_ARRAY_IDX(keys, 0, claims_key_t *);
        static const char *const msgs[] = {"", "a", "hello", "any message at all"};
        for (int i = 0; i < TU_COUNT(msgs); i++) {
            ck_assert_int_eq(claims_sig_verify(k, (const unsigned char *)msgs[i], strlen(msgs[i]), sig, sizeof(sig)),
                             CLAIMS_ERR_SIGNATURE);
        }
    }
}
END_TEST

/* CL-20: the key's algorithm is the only one run; the header must name it. */
START_TEST(test_jws_verify_refuses_a_key_bound_to_another_alg)
{
    claims_key_t *k = ec_key(tu_keys.ec384, "ES384");
    char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", NULL), TU_PAYLOAD_A);
    claims_jws_t *jws;
    ck_assert_int_eq(claims_jws_parse(tu_p, tok, strlen(tok), 0, &jws), CLAIMS_OK);
    ck_assert_int_eq(claims_jws_verify(jws, k), CLAIMS_ERR_NO_KEY);
}
END_TEST

Suite *jws_suite(void)
{
    Suite *s = suite_create("jws");
    TCase *tc = tu_tcase("parse", 0);
    tcase_add_test(tc, test_oversized_garbage_is_too_large_not_format);
    tcase_add_test(tc, test_oversized_well_formed_token_is_too_large);
    tcase_add_test(tc, test_configured_cap_is_applied_exactly);
    tcase_add_test(tc, test_token_at_the_default_cap_is_not_too_large);
    tcase_add_loop_test(tc, test_wrong_segment_counts_and_empty_segments_are_refused, 0, TU_COUNT(bad_segments));
    tcase_add_test(tc, test_empty_payload_segment_is_allowed);
    tcase_add_test(tc, test_parse_exposes_signing_input_payload_and_signature);
    tcase_add_loop_test(tc, test_non_strict_base64url_in_any_segment_is_refused, 0, TU_COUNT(bad_base64));
    tcase_add_loop_test(tc, test_alg_none_in_any_case_is_refused, 0, TU_COUNT(alg_none));
    tcase_add_test(tc, test_alg_none_with_empty_signature_is_refused);
    tcase_add_loop_test(tc, test_alg_missing_mistyped_or_unsupported_is_refused, 0, TU_COUNT(alg_bad));
    tcase_add_test(tc, test_alg_spelled_with_json_escapes_is_the_unescaped_name);
    tcase_add_loop_test(tc, test_every_supported_alg_name_parses, 0, TU_COUNT(alg_names));
    tcase_add_loop_test(tc, test_header_that_is_not_a_strict_json_object_is_refused, 0, TU_COUNT(header_bad));
    tcase_add_test(tc, test_header_nested_beyond_the_parser_limit_is_refused_without_crash);
    tcase_add_loop_test(tc, test_unknown_and_key_carrying_header_members_are_ignored_by_the_parser, 0,
                        TU_COUNT(header_ignored));
    tcase_add_loop_test(tc, test_crit_b64_enc_zip_and_nested_jwt_are_refused, 0, TU_COUNT(header_unsupported));
    tcase_add_test(tc, test_payload_object_gives_the_claims);
    tcase_add_loop_test(tc, test_payload_that_is_not_a_strict_json_object_is_refused, 0, TU_COUNT(payload_bad));
    tcase_add_test(tc, test_claims_nested_2100_deep_are_refused_without_crash);
    tcase_add_test(tc, test_objects_nested_2100_deep_are_refused_without_crash);
    tcase_add_test(tc, test_claims_nested_200_deep_are_accepted);
    suite_add_tcase(s, tc);

    tc = tu_tcase("signatures", 30);
    tcase_add_loop_test(tc, test_token_signed_with_each_algorithm_verifies, 0, TU_COUNT(alg_cases));
    tcase_add_loop_test(tc, test_token_without_kid_verifies_with_the_key_bound_to_its_alg, 0, TU_COUNT(alg_cases));
    tcase_add_loop_test(tc, test_modified_signature_is_refused_for_each_algorithm, 0, TU_COUNT(alg_cases));
    tcase_add_loop_test(tc, test_modified_payload_is_refused_for_each_algorithm, 0, TU_COUNT(alg_cases));
    tcase_add_test(tc, test_high_s_ecdsa_signature_is_accepted);
    tcase_add_test(tc, test_ecdsa_signature_not_exactly_r_s_is_refused);
    tcase_add_test(tc, test_ecdsa_r_or_s_zero_or_order_is_refused);
    tcase_add_test(tc, test_hmac_tag_truncated_or_extended_is_refused);
    tcase_add_test(tc, test_rsa_signature_of_the_wrong_length_is_refused);
    tcase_add_test(tc, test_eddsa_signature_of_the_wrong_length_is_refused);
    tcase_add_test(tc, test_trivial_ed448_signature_under_the_neutral_key_is_refused);
    tcase_add_test(tc, test_jws_verify_refuses_a_key_bound_to_another_alg);
    suite_add_tcase(s, tc);

    return s;
}
