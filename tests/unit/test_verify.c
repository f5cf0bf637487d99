/*
 * test_verify.c - token verification against the trusted issuers (claims_verify.h): the issuer
 * chosen by exact "iss" and never another's keys, the key by kid or by alg, the algorithm bound
 * to the key and the issuer's allow-list, header key material ignored, and the verifier record
 * (key supplier asked again on a miss, size cap). SECURITY.md CL-20..CL-27, CL-32.
 */
#include "test_util.h"

#include "claims_b64url.h"
#include "claims_jws.h"
#include "claims_verify.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

/* s as a JSON string literal (quoted, escaped) */
static char *json_quote(const char *s)
{
    json_t *j = json_string(s);
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    char *out = apr_pstrdup(tu_p, text);
    free(text);
    json_decref(j);
    return out;
}

/* ------------------------------------------------------------------ issuers (CL-26, CL-27) */

START_TEST(test_token_for_issuer_a_signed_by_issuer_b_key_is_refused)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0), *b = tu_issuer("https://issuer.b", 0);
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    tu_issuer_jwk(b, tu_keys.rsa_b, "RS256", "k1");
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa_b, NULL, 0, tu_hdr("RS256", "k1"), TU_PAYLOAD_A),
                             a, b, NULL), CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa_b, NULL, 0, tu_hdr("RS256", "k1"), TU_PAYLOAD_B),
                             a, b, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_token_without_kid_never_tries_another_issuers_keys)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0), *b = tu_issuer("https://issuer.b", 0);
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", NULL);
    tu_issuer_jwk(b, tu_keys.ec256_b, "ES256", NULL);
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256_b, NULL, 0, tu_hdr("ES256", NULL), TU_PAYLOAD_A),
                             a, b, NULL), CLAIMS_ERR_SIGNATURE);
}
END_TEST

START_TEST(test_token_from_an_untrusted_issuer_is_refused)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const char *payloads[] = {
        "{\"iss\":\"https://issuer.a/\",\"sub\":\"x\"}",
        "{\"iss\":\"https://ISSUER.a\",\"sub\":\"x\"}",
        "{\"iss\":\"https://issuer.a.evil\",\"sub\":\"x\"}",
        "{\"iss\":\"https://issuer\",\"sub\":\"x\"}",
        "{\"iss\":[\"https://issuer.a\"],\"sub\":\"x\"}",
        "{\"iss\":null,\"sub\":\"x\"}",
        "{\"sub\":\"x\"}",
    };
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    for (int i = 0; i < TU_COUNT(payloads); i++) {
        char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), payloads[i]);
        ck_assert_msg(tu_verify2(tok, a, NULL, NULL) == CLAIMS_ERR_ISSUER, "%s accepted", payloads[i]);
    }
}
END_TEST

START_TEST(test_issuer_find_is_exact)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[] = {a};
    ck_assert_ptr_eq(claims_issuer_find(trusted, 1, "https://issuer.a", 16), a);
    ck_assert_ptr_null(claims_issuer_find(trusted, 1, "https://issuer.a/", 17));
    ck_assert_ptr_null(claims_issuer_find(trusted, 1, "https://issuer.", 15));
    ck_assert_ptr_null(claims_issuer_find(trusted, 1, "https://issuer.ab", 17));
}
END_TEST

START_TEST(test_token_without_kid_tries_at_most_four_keys)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    EVP_PKEY *k[6];
    for (int i = 0; i < 6; i++) {
        k[i] = tu_gen_ec(tu_p, "P-256");
        tu_issuer_jwk(a, k[i], "ES256", NULL);
    }
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ES256, k[3], NULL, 0, tu_hdr("ES256", NULL), TU_PAYLOAD_A), a, NULL, NULL),
                     CLAIMS_OK);
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ES256, k[4], NULL, 0, tu_hdr("ES256", NULL), TU_PAYLOAD_A), a, NULL, NULL),
                     CLAIMS_ERR_SIGNATURE);
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ES256, k[5], NULL, 0, tu_hdr("ES256", NULL), TU_PAYLOAD_A), a, NULL, NULL),
                     CLAIMS_ERR_SIGNATURE);
}
END_TEST

START_TEST(test_token_without_kid_only_uses_keys_bound_to_the_header_alg)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    claims_verified_t out;
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "r1");
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "e1");
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", NULL), TU_PAYLOAD_A),
                             a, NULL, &out), CLAIMS_OK);
    ck_assert_ptr_eq(out.key, APR_ARRAY_IDX(a->keys, 1, claims_key_t *));
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ES384, tu_keys.ec384, NULL, 0, tu_hdr("ES384", NULL), TU_PAYLOAD_A),
                             a, NULL, NULL), CLAIMS_ERR_NO_KEY);
}
END_TEST

/* ------------------------------------------------------------------ algorithm confusion */

/* CL-21: the classic RS256 -> HS256 attack, with every plausible encoding of the public key. */
START_TEST(test_hs256_token_keyed_with_the_public_key_is_refused)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    apr_size_t der_len, n_len;
    unsigned char *der = tu_der_spki(tu_p, tu_keys.rsa, &der_len);
    char *n_b64 = tu_rsa_n(tu_p, tu_keys.rsa);
    unsigned char *n_raw;
    const char *jwk = tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\",\"kid\":\"k1\"");
    struct {
        const void *key;
        apr_size_t len;
    } secrets[6];
    {
        unsigned char *buf;
        apr_size_t blen;
        ck_assert_int_eq(claims_b64url_decode(tu_p, n_b64, strlen(n_b64), &buf, &blen), 0);
        n_raw = buf;
        n_len = blen;
    }
    secrets[0].key = tu_pem_spki(tu_p, tu_keys.rsa), secrets[0].len = strlen(secrets[0].key);
    secrets[1].key = tu_pem_pkcs1(tu_p, tu_keys.rsa), secrets[1].len = strlen(secrets[1].key);
    secrets[2].key = der, secrets[2].len = der_len;
    secrets[3].key = jwk, secrets[3].len = strlen(jwk);
    secrets[4].key = n_raw, secrets[4].len = n_len;
    secrets[5].key = "", secrets[5].len = 0;
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    for (int i = 0; i < TU_COUNT(secrets); i++) {
        char *with_kid = tu_jws(tu_p, CLAIMS_ALG_HS256, NULL, secrets[i].key, secrets[i].len, tu_hdr("HS256", "k1"),
                                TU_PAYLOAD_A);
        char *without = tu_jws(tu_p, CLAIMS_ALG_HS256, NULL, secrets[i].key, secrets[i].len, tu_hdr("HS256", NULL),
                               TU_PAYLOAD_A);
        ck_assert_msg(tu_verify2(with_kid, a, NULL, NULL) == CLAIMS_ERR_NO_KEY, "encoding %d accepted (kid)", i);
        ck_assert_msg(tu_verify2(without, a, NULL, NULL) == CLAIMS_ERR_NO_KEY, "encoding %d accepted (no kid)", i);
    }
}
END_TEST

START_TEST(test_rs256_key_cannot_verify_a_ps256_token)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    claims_key_t *k = tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    char *tok = tu_jws(tu_p, CLAIMS_ALG_PS256, tu_keys.rsa, NULL, 0, tu_hdr("PS256", "k1"), TU_PAYLOAD_A);
    claims_jws_t *jws;
    ck_assert_int_eq(tu_verify2(tok, a, NULL, NULL), CLAIMS_ERR_NO_KEY);
    ck_assert_int_eq(claims_jws_parse(tu_p, tok, strlen(tok), 0, &jws), CLAIMS_OK);
    ck_assert_int_eq(claims_jws_verify(jws, k), CLAIMS_ERR_NO_KEY);
}
END_TEST

START_TEST(test_ps256_key_cannot_verify_an_rs256_token)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    tu_issuer_jwk(a, tu_keys.rsa, "PS256", "k1");
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa, NULL, 0, tu_hdr("RS256", "k1"), TU_PAYLOAD_A),
                             a, NULL, NULL), CLAIMS_ERR_NO_KEY);
}
END_TEST

START_TEST(test_pss_signature_under_an_rs256_header_is_refused)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    char *input = tu_signing_input(tu_p, tu_hdr("RS256", "k1"), TU_PAYLOAD_A);
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_PS256, tu_keys.rsa, NULL, 0, input, strlen(input), -1, &n);
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    ck_assert_int_eq(tu_verify2(tu_join(tu_p, input, sig, n), a, NULL, NULL), CLAIMS_ERR_SIGNATURE);
}
END_TEST

/* CL-32 */
START_TEST(test_pss_signature_with_salt_other_than_hash_length_is_refused)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    char *input = tu_signing_input(tu_p, tu_hdr("PS256", "k1"), TU_PAYLOAD_A);
    int salts[] = {0, 20, 31, 33, 64};
    tu_issuer_jwk(a, tu_keys.rsa, "PS256", "k1");
    for (int i = 0; i < TU_COUNT(salts); i++) {
        apr_size_t n;
        unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_PS256, tu_keys.rsa, NULL, 0, input, strlen(input), salts[i], &n);
        ck_assert_msg(tu_verify2(tu_join(tu_p, input, sig, n), a, NULL, NULL) == CLAIMS_ERR_SIGNATURE,
                      "salt %d accepted", salts[i]);
    }
}
END_TEST

START_TEST(test_ed25519_key_cannot_verify_an_ed448_header)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    tu_issuer_jwk(a, tu_keys.ed25519, "Ed25519", "k1");
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_ED25519, tu_keys.ed25519, NULL, 0, tu_hdr("Ed448", "k1"), TU_PAYLOAD_A),
                             a, NULL, NULL), CLAIMS_ERR_NO_KEY);
}
END_TEST

START_TEST(test_alg_allow_list_refuses_an_unlisted_alg)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", CLAIMS_ALG_BIT(CLAIMS_ALG_RS256));
    tu_issuer_jwk(a, tu_keys.rsa, "PS256", "k1");
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_PS256, tu_keys.rsa, NULL, 0, tu_hdr("PS256", "k1"), TU_PAYLOAD_A),
                             a, NULL, NULL), CLAIMS_ERR_ALG_NOT_ALLOWED);
}
END_TEST

START_TEST(test_alg_allow_list_admits_a_listed_alg)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a",
                                    CLAIMS_ALG_BIT(CLAIMS_ALG_RS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_PS256));
    tu_issuer_jwk(a, tu_keys.rsa, "PS256", "k1");
    ck_assert_int_eq(tu_verify2(tu_jws(tu_p, CLAIMS_ALG_PS256, tu_keys.rsa, NULL, 0, tu_hdr("PS256", "k1"), TU_PAYLOAD_A),
                             a, NULL, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_alg_none_token_is_refused_by_verify)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    char *tok = apr_pstrcat(tu_p, tu_signing_input(tu_p, "{\"alg\":\"none\"}", TU_PAYLOAD_A), ".c2ln", NULL);
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    ck_assert_int_eq(tu_verify2(tok, a, NULL, NULL), CLAIMS_ERR_ALG_NONE);
}
END_TEST

/* ------------------------------------------------------------------ header key material (CL-24) */

START_TEST(test_key_material_in_the_header_is_never_used)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const char *attacker_jwk = tu_jwk(tu_p, tu_keys.rsa_b, "\"alg\":\"RS256\",\"kid\":\"k1\"");
    const char *headers[] = {
        apr_psprintf(tu_p, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"jwk\":%s}", attacker_jwk),
        apr_psprintf(tu_p, "{\"alg\":\"RS256\",\"jwk\":%s}", attacker_jwk),
        apr_psprintf(tu_p, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x5c\":[\"%s\"]}", tu_cert_x5c(tu_p, tu_keys.rsa_b)),
        "{\"alg\":\"RS256\",\"kid\":\"k1\",\"jku\":\"https://127.0.0.1:1/jwks.json\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x5u\":\"https://127.0.0.1:1/cert.pem\"}",
        "{\"alg\":\"RS256\",\"x5t\":\"AAAA\"}",
    };
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    for (int i = 0; i < TU_COUNT(headers); i++) {
        char *tok = tu_jws(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa_b, NULL, 0, headers[i], TU_PAYLOAD_A);
        ck_assert_msg(tu_verify2(tok, a, NULL, NULL) == CLAIMS_ERR_SIGNATURE, "header %d accepted", i);
    }
}
END_TEST

/* CL-25: a kid is only ever compared with the configured kids. */
START_TEST(test_hostile_kids_are_refused_quickly)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    char *long_kid = apr_palloc(tu_p, 2001);
    const char *kids[] = {
        "../../../../../../etc/passwd",
        "/dev/zero",
        "/proc/self/environ",
        "' OR '1'='1",
        "k1' --",
        "$(touch /tmp/claims-kid-pwned)",
        "`id`",
        "| id",
        "k1 ",
        "K1",
        "k",
        long_kid,
    };
    memset(long_kid, 'k', 2000);
    long_kid[2000] = '\0';
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    for (int i = 0; i < TU_COUNT(kids); i++) {
        char *h = apr_pstrcat(tu_p, "{\"alg\":\"RS256\",\"kid\":", json_quote(kids[i]),
                              "}", NULL);
        char *tok = tu_jws(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa, NULL, 0, h, TU_PAYLOAD_A);
        apr_time_t t0 = apr_time_now();
        ck_assert_msg(tu_verify2(tok, a, NULL, NULL) == CLAIMS_ERR_NO_KEY, "kid %d not refused", i);
        ck_assert_int_lt(apr_time_now() - t0, apr_time_from_sec(1));
    }
}
END_TEST

START_TEST(test_kid_with_a_nul_escape_is_refused)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    char *tok = tu_jws(tu_p, CLAIMS_ALG_RS256, tu_keys.rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"k1\\u0000\"}",
                       TU_PAYLOAD_A);
    tu_issuer_jwk(a, tu_keys.rsa, "RS256", "k1");
    ck_assert_int_eq(tu_verify2(tok, a, NULL, NULL), CLAIMS_ERR_HEADER_JSON);
}
END_TEST

/* ------------------------------------------------------------------ the verifier record */

/* A key supplier that counts its looks, remembers each refresh flag, and has keys only from the
 * look numbered from_look on (0: always; -1: never). */
typedef struct supplier_t {
    int looks, from_look;
    int refresh[4];
} supplier_t;

static const apr_array_header_t *supply(void *baton, apr_pool_t *p, const claims_issuer_t *issuer, int refresh)
{
    supplier_t *s = baton;
    int look = s->looks++;
    (void)p;
    if (look < TU_COUNT(s->refresh)) {
        s->refresh[look] = refresh;
    }
    return s->from_look >= 0 && look >= s->from_look ? issuer->keys : NULL;
}

/* A key set rotated at the identity provider: no key matches at the first look, so the
 * supplier is asked once more (refresh 1), and only then; a key found at once costs one look. */
START_TEST(test_verifier_asks_for_newer_keys_once_when_none_matched)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    supplier_t s = {0, 1, {-1, -1, -1, -1}};
    claims_verifier_t v = {trusted, 1, 0, supply, &s, NULL};
    claims_verified_t out;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(claims_verify_uncached(&v, tu_p, tok, strlen(tok), &out), CLAIMS_OK);
    ck_assert_int_eq(s.looks, 2);
    ck_assert_int_eq(s.refresh[0], 0);
    ck_assert_int_eq(s.refresh[1], 1);
    ck_assert_ptr_eq(out.key, APR_ARRAY_IDX(a->keys, 0, const claims_key_t *));

    s.looks = 0;
    s.from_look = 0;
    ck_assert_int_eq(claims_verify_uncached(&v, tu_p, tok, strlen(tok), &out), CLAIMS_OK);
    ck_assert_int_eq(s.looks, 1);

    s.looks = 0;
    s.from_look = -1;
    ck_assert_int_eq(claims_verify_uncached(&v, tu_p, tok, strlen(tok), &out), CLAIMS_ERR_NO_KEY);
    ck_assert_int_eq(s.looks, 2);
    ck_assert_ptr_eq(out.issuer, a);
}
END_TEST

/* Without a supplier, the issuer's own keys count, and nothing is looked up a second time. */
START_TEST(test_verifier_without_a_supplier_uses_the_issuers_keys)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    supplier_t s = {0, 0, {0}};
    claims_verifier_t plain = {trusted, 1, 0, NULL, NULL, NULL}, supplied = {trusted, 1, 0, supply, &s, NULL};
    apr_array_header_t *none = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    claims_issuer_t *b = tu_issuer("https://issuer.b", 0);
    char *tok;
    b->keys = none;
    ck_assert_ptr_eq(claims_verifier_keys(&plain, tu_p, a, 0), a->keys);
    ck_assert_ptr_eq(claims_verifier_keys(&plain, tu_p, a, 1), a->keys);
    ck_assert_ptr_eq(claims_verifier_keys(&supplied, tu_p, b, 0), none);
    ck_assert_int_eq(s.looks, 1);
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256_b, NULL, 0, tu_hdr("ES256", "k2"), TU_PAYLOAD_A);
    ck_assert_int_eq(claims_verify_uncached(&plain, tu_p, tok, strlen(tok), &(claims_verified_t){0}),
                     CLAIMS_ERR_NO_KEY);
}
END_TEST

/* The verifier's size cap is exact, and 0 means CLAIMS_DEFAULT_MAX_TOKEN; the simple form
 * claims_verify applies the same cap. */
START_TEST(test_verifier_size_cap_is_applied_exactly)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    claims_verifier_t v = {trusted, 1, 0, NULL, NULL, NULL};
    claims_verified_t out;
    char *tok, *big;
    apr_size_t len;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    len = strlen(tok);
    v.max_len = len;
    ck_assert_int_eq(claims_verify_uncached(&v, tu_p, tok, len, &out), CLAIMS_OK);
    v.max_len = len - 1;
    ck_assert_int_eq(claims_verify_uncached(&v, tu_p, tok, len, &out), CLAIMS_ERR_TOO_LARGE);
    ck_assert_int_eq(claims_verify(tu_p, tok, len, len - 1, trusted, 1, &out), CLAIMS_ERR_TOO_LARGE);
    big = apr_palloc(tu_p, CLAIMS_DEFAULT_MAX_TOKEN + 2);
    memset(big, 'a', CLAIMS_DEFAULT_MAX_TOKEN + 1);
    big[CLAIMS_DEFAULT_MAX_TOKEN + 1] = '\0';
    v.max_len = 0;
    ck_assert_int_eq(claims_verify_uncached(&v, tu_p, big, CLAIMS_DEFAULT_MAX_TOKEN + 1, &out), CLAIMS_ERR_TOO_LARGE);
}
END_TEST

Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tu_tcase("verify", 30);
    tcase_add_test(tc, test_token_for_issuer_a_signed_by_issuer_b_key_is_refused);
    tcase_add_test(tc, test_token_without_kid_never_tries_another_issuers_keys);
    tcase_add_test(tc, test_token_from_an_untrusted_issuer_is_refused);
    tcase_add_test(tc, test_issuer_find_is_exact);
    tcase_add_test(tc, test_token_without_kid_tries_at_most_four_keys);
    tcase_add_test(tc, test_token_without_kid_only_uses_keys_bound_to_the_header_alg);
    tcase_add_test(tc, test_hs256_token_keyed_with_the_public_key_is_refused);
    tcase_add_test(tc, test_rs256_key_cannot_verify_a_ps256_token);
    tcase_add_test(tc, test_ps256_key_cannot_verify_an_rs256_token);
    tcase_add_test(tc, test_pss_signature_under_an_rs256_header_is_refused);
    tcase_add_test(tc, test_pss_signature_with_salt_other_than_hash_length_is_refused);
    tcase_add_test(tc, test_ed25519_key_cannot_verify_an_ed448_header);
    tcase_add_test(tc, test_alg_allow_list_refuses_an_unlisted_alg);
    tcase_add_test(tc, test_alg_allow_list_admits_a_listed_alg);
    tcase_add_test(tc, test_alg_none_token_is_refused_by_verify);
    tcase_add_test(tc, test_key_material_in_the_header_is_never_used);
    tcase_add_test(tc, test_hostile_kids_are_refused_quickly);
    tcase_add_test(tc, test_kid_with_a_nul_escape_is_refused);
    suite_add_tcase(s, tc);

    tc = tu_tcase("verifier", 30);
    tcase_add_test(tc, test_verifier_asks_for_newer_keys_once_when_none_matched);
    tcase_add_test(tc, test_verifier_without_a_supplier_uses_the_issuers_keys);
    tcase_add_test(tc, test_verifier_size_cap_is_applied_exactly);
    suite_add_tcase(s, tc);
    return s;
}
