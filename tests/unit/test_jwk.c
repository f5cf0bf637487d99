/*
 * test_jwk.c - JWK and JWK Set documents (claims_jwk): each key read in document order with its
 * label, and the keys of a set that are skipped rather than loaded, with why (RFC 7517 section
 * 5; SECURITY.md CL-22, CL-60, CL-63, CL-66), through claims_jwk_load directly and through
 * claims_keys_parse, which binds what it reads (test_keys.c tests the binding itself).
 */
#include "test_util.h"

#include "claims_jwk.h"
#include "claims_keys.h"

#include <apr_strings.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static claims_key_opts_t opts_allowed(claims_alg_set_t allowed)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    o.allowed = allowed;
    return o;
}

/* What claims_jwk_load hands over, kept by a claims_jwk_add_fn: a copy of every key, and, for
 * the key at skip_at (-1: none), a skip; for the key at refuse_at (-1: none), a refusal. */
typedef struct taken_t {
    apr_array_header_t *keys;          /* claims_jwk_t */
    int skip_at, refuse_at;
} taken_t;

static const claims_jwk_skip_t SKIP_BY_CALLER = {"skipped by the caller", CLAIMS_LOG_NOTICE};

static claims_status_t take(void *baton, apr_pool_t *p, const claims_jwk_t *jwk, const claims_jwk_skip_t **skip,
                            char **err)
{
    taken_t *t = baton;
    int at = t->keys->nelts;
    APR_ARRAY_PUSH(t->keys, claims_jwk_t) = *jwk;
    if (at == t->refuse_at) {
        *err = apr_pstrcat(p, jwk->label, ": refused by the caller", NULL);
        return CLAIMS_ERR_KEY;
    }
    if (at == t->skip_at) {
        *skip = &SKIP_BY_CALLER;
    }
    return CLAIMS_OK;
}

static claims_status_t load(const char *doc, int flags, taken_t *t, apr_array_header_t *skipped, char **err)
{
    claims_jwk_load_t how = {0};
    how.flags = flags;
    how.add = take;
    how.baton = t;
    how.skipped = skipped;
    t->keys = apr_array_make(tu_p, 4, sizeof(claims_jwk_t));
    *err = NULL;
    return claims_jwk_load(tu_p, doc, strlen(doc), "doc", &how, err);
}

static const claims_jwk_t *taken_at(const taken_t *t, int i)
{
    ck_assert_int_gt(t->keys->nelts, i);
    return &APR_ARRAY_IDX(t->keys, i, claims_jwk_t);
}

/* ------------------------------------------------------------------ claims_jwk_load */

/* Every key in the document's order, with a label that names its place and kid, its own alg
 * (or none), and the public key it holds. */
START_TEST(test_jwk_load_hands_over_each_key_in_order_with_its_label)
{
    taken_t t = {NULL, -1, -1};
    char *err;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s,%s]}", tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"e\""),
                             tu_jwk(tu_p, tu_keys.ed25519, NULL),
                             tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"PS256\",\"kid\":\"r\\n1\""),
                             tu_jwk(tu_p, tu_keys.ed448, "\"alg\":\"EdDSA\""));
    ck_assert_msg(load(set, 0, &t, NULL, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(t.keys->nelts, 4);
    ck_assert_str_eq(taken_at(&t, 0)->label, "doc key #0 (kid \"e\")");
    ck_assert_str_eq(taken_at(&t, 0)->kid, "e");
    ck_assert_uint_eq(taken_at(&t, 0)->kid_len, 1);
    ck_assert_str_eq(taken_at(&t, 0)->kty, "EC");
    ck_assert_int_eq(taken_at(&t, 0)->alg, CLAIMS_ALG_UNKNOWN);
    ck_assert_int_eq(EVP_PKEY_eq(taken_at(&t, 0)->pkey, tu_keys.ec256), 1);
    ck_assert_str_eq(taken_at(&t, 1)->label, "doc key #1");
    ck_assert_ptr_null(taken_at(&t, 1)->kid);
    ck_assert_int_eq(EVP_PKEY_eq(taken_at(&t, 1)->pkey, tu_keys.ed25519), 1);
    ck_assert_str_eq(taken_at(&t, 2)->label, "doc key #2 (kid \"r\\x0a1\")");   /* escaped for logs */
    ck_assert_str_eq(taken_at(&t, 2)->kid, "r\n1");                             /* exact bytes */
    ck_assert_int_eq(taken_at(&t, 2)->alg, CLAIMS_ALG_PS256);
    ck_assert_int_eq(EVP_PKEY_eq(taken_at(&t, 2)->pkey, tu_keys.rsa), 1);
    ck_assert_int_eq(taken_at(&t, 3)->alg, CLAIMS_ALG_EDDSA);
    ck_assert_int_eq(EVP_PKEY_eq(taken_at(&t, 3)->pkey, tu_keys.ed448), 1);
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_null(taken_at(&t, i)->secret);
        ck_assert_ptr_null(taken_at(&t, i)->skip);
    }
}
END_TEST

/* A document that is one JWK is labelled as the document itself. */
START_TEST(test_jwk_load_labels_a_single_jwk_as_the_document)
{
    taken_t t = {NULL, -1, -1};
    char *err;
    ck_assert_msg(load(tu_jwk(tu_p, tu_keys.ec384, NULL), 0, &t, NULL, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(t.keys->nelts, 1);
    ck_assert_str_eq(taken_at(&t, 0)->label, "doc");
    ck_assert_int_eq(EVP_PKEY_eq(taken_at(&t, 0)->pkey, tu_keys.ec384), 1);
}
END_TEST

/* "oct" keys are read only when the flags allow them: their "k" bytes, no public key. */
START_TEST(test_jwk_load_reads_oct_keys_only_when_allowed)
{
    taken_t t = {NULL, -1, -1};
    char *err;
    char *oct = apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 32));
    ck_assert_int_eq(load(oct, 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(t.keys->nelts, 0);
    ck_assert_str_eq(err, "doc: symmetric (oct) keys are only accepted from ClaimsSecretFile");
    ck_assert_msg(load(oct, CLAIMS_JWK_ALLOW_SYMMETRIC, &t, NULL, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(t.keys->nelts, 1);
    ck_assert_ptr_null(taken_at(&t, 0)->pkey);
    ck_assert_int_eq(taken_at(&t, 0)->alg, CLAIMS_ALG_HS256);
    ck_assert_uint_eq(taken_at(&t, 0)->secret_len, 32);
    ck_assert_mem_eq(taken_at(&t, 0)->secret, tu_secret, 32);
}
END_TEST

/* Keys this unit skips never reach the caller; with CLAIMS_JWK_SKIP_UNUSABLE off, an encryption
 * key refuses the document instead. */
START_TEST(test_jwk_load_keeps_skipped_keys_from_the_caller)
{
    taken_t t = {NULL, -1, -1};
    apr_array_header_t *skipped = apr_array_make(tu_p, 2, sizeof(claims_key_skipped_t *));
    char *err;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,{\"kty\":\"XYZ\"},%s]}",
                             tu_jwk(tu_p, tu_keys.ec256_b, "\"use\":\"enc\",\"kid\":\"enc\""),
                             tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"sig\""));
    ck_assert_msg(load(set, CLAIMS_JWK_SKIP_UNUSABLE, &t, skipped, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(t.keys->nelts, 1);
    ck_assert_str_eq(taken_at(&t, 0)->kid, "sig");
    ck_assert_int_eq(skipped->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(skipped, 0, const claims_key_skipped_t *)->reason, "encryption key (use enc)");
    ck_assert_str_eq(APR_ARRAY_IDX(skipped, 1, const claims_key_skipped_t *)->reason, "unknown key type");
    ck_assert_int_eq(load(set, 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(t.keys->nelts, 0);
    ck_assert_str_eq(err, "doc key #0 (kid \"enc\"): \"use\" is \"enc\", not \"sig\"");
}
END_TEST

/* The caller's skip is reported like this unit's own; a document whose every key is skipped
 * (here: by the caller) is refused, naming the first reason. */
START_TEST(test_jwk_load_reports_a_skip_by_the_caller_and_refuses_a_document_left_empty)
{
    taken_t t = {NULL, 0, -1};
    apr_array_header_t *skipped = apr_array_make(tu_p, 2, sizeof(claims_key_skipped_t *));
    char *err;
    char *one = apr_psprintf(tu_p, "{\"keys\":[%s]}", tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"a\""));
    char *two = apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"a\""),
                             tu_jwk(tu_p, tu_keys.ec384, "\"kid\":\"b\""));
    ck_assert_int_eq(load(one, 0, &t, skipped, &err), CLAIMS_ERR_KEY);
    ck_assert_str_eq(err, "doc: JWK Set holds no usable signature key (1 skipped; key #0: skipped by the caller)");
    ck_assert_int_eq(skipped->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(skipped, 0, const claims_key_skipped_t *)->kid, "a");
    ck_assert_str_eq(APR_ARRAY_IDX(skipped, 0, const claims_key_skipped_t *)->kty, "EC");
    ck_assert_str_eq(APR_ARRAY_IDX(skipped, 0, const claims_key_skipped_t *)->reason, "skipped by the caller");
    ck_assert_msg(load(two, 0, &t, NULL, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(t.keys->nelts, 2);
    ck_assert_int_eq(load(tu_jwk(tu_p, tu_keys.ec256, NULL), 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_str_eq(err, "doc: JWK holds no usable signature key: skipped by the caller");
    ck_assert_int_eq(load("{\"keys\":[]}", 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_str_eq(err, "doc: JWK Set holds no usable signature key");
}
END_TEST

/* The first refusal ends the document, whether the caller's or this unit's: no later key is
 * handed over, and the message is the first refusal's. */
START_TEST(test_jwk_load_stops_at_the_first_refusal)
{
    taken_t t = {NULL, -1, 1};
    char *err;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,{\"kty\":\"EC\"},%s]}", tu_jwk(tu_p, tu_keys.ec256, NULL),
                             tu_jwk(tu_p, tu_keys.ec384, NULL), tu_jwk(tu_p, tu_keys.ec521, NULL));
    ck_assert_int_eq(load(set, 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(t.keys->nelts, 2);
    ck_assert_str_eq(err, "doc key #1: refused by the caller");
    t.refuse_at = -1;
    ck_assert_int_eq(load(set, 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(t.keys->nelts, 2);
    ck_assert_str_eq(err, "doc key #2: EC key without a string \"crv\"");
}
END_TEST

/* What refuses a whole document before any key is read: each with its message. */
static const struct {
    const char *doc, *err;
} bad_documents[] = {
    {"{", "doc: invalid JSON at line 1: "},
    {"[]", "doc: JSON key file is not an object"},
    {"{\"keys\":{}}", "doc: JWK Set \"keys\" is not an array"},
    {"{\"keys\":[],\"keys\":[]}", "doc: invalid JSON at line 1: "},
    {"{\"kty\":1}", "doc: JWK \"kty\" missing or not a string"},
    {"{\"keys\":[1]}", "doc key #0: JWK is not a JSON object"},
};

START_TEST(test_jwk_load_refuses_a_malformed_document_with_its_message)
{
    taken_t t = {NULL, -1, -1};
    char *err;
    ck_assert_int_eq(load(bad_documents[_i].doc, CLAIMS_JWK_SKIP_UNUSABLE, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(t.keys->nelts, 0);
    ck_assert_msg(strncmp(err, bad_documents[_i].err, strlen(bad_documents[_i].err)) == 0, "%s: %s",
                  bad_documents[_i].doc, err);
}
END_TEST

START_TEST(test_jwk_load_refuses_a_set_of_more_than_the_maximum_of_keys)
{
    taken_t t = {NULL, -1, -1};
    char *err;
    const char *jwk = tu_jwk(tu_p, tu_keys.ec256, NULL);
    char *set = apr_pstrdup(tu_p, "{\"keys\":[");
    for (int i = 0; i <= CLAIMS_MAX_KEYS; i++) {
        set = apr_pstrcat(tu_p, set, i > 0 ? "," : "", jwk, NULL);
    }
    set = apr_pstrcat(tu_p, set, "]}", NULL);
    ck_assert_int_eq(load(set, 0, &t, NULL, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(t.keys->nelts, 0);
    ck_assert_str_eq(err, apr_psprintf(tu_p, "doc: JWK Set holds more than %d keys", CLAIMS_MAX_KEYS));
}
END_TEST

/* ------------------------------------------------------------------ sets, through claims_keys_parse */

/* What npm jose's exportJWK and Microsoft Entra ID publish: an RSA key without "alg" beside
 * keys whose algorithm their curve settles. */
static char *set_with_rsa_without_alg(void)
{
    return apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s]}", tu_jwk(tu_p, tu_keys.rsa, "\"kid\":\"rsa\""),
                        tu_jwk(tu_p, tu_keys.ec256, "\"alg\":\"ES256\",\"kid\":\"ec\""),
                        tu_jwk(tu_p, tu_keys.ed25519, "\"kid\":\"ed\""));
}

static claims_key_opts_t remote_opts(claims_alg_set_t allowed)
{
    claims_key_opts_t o = opts_allowed(allowed);
    o.skip_unusable = 1;
    return o;
}

static const claims_key_skipped_t *skipped_at(const apr_array_header_t *skipped, int i)
{
    ck_assert_int_gt(skipped->nelts, i);
    return APR_ARRAY_IDX(skipped, i, const claims_key_skipped_t *);
}

START_TEST(test_unknown_kty_inside_a_set_is_skipped)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err;
    char *set = apr_psprintf(tu_p, "{\"keys\":[{\"kty\":\"XYZ\",\"kid\":\"future\"},%s]}",
                             tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"e\""));
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_OK);
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "e");
}
END_TEST

START_TEST(test_remote_sets_skip_encryption_keys_when_asked)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s,%s]}",
                             tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RSA-OAEP\",\"use\":\"enc\",\"kid\":\"enc1\""),
                             tu_jwk(tu_p, tu_keys.ec256_b, "\"use\":\"enc\",\"kid\":\"enc2\""),
                             tu_jwk(tu_p, tu_keys.ec384, "\"key_ops\":[\"deriveKey\"],\"kid\":\"enc3\""),
                             tu_jwk(tu_p, tu_keys.ec256, "\"use\":\"sig\",\"kid\":\"sig\""));
    o.skip_unusable = 1;
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_OK);
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "sig");
    o.skip_unusable = 0;
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_ERR_KEY);
}
END_TEST

/* A key file that is one JWK, not a set, and only for encryption: skipping it must not leave a
 * loaded file with no key (a remote refresh would publish an empty set). Found by fuzz_jwk. */
START_TEST(test_single_encryption_jwk_skipped_is_a_file_without_key)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err = NULL;
    const char *by_alg = tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RSA-OAEP\",\"kid\":\"enc1\"");
    const char *by_use = tu_jwk(tu_p, tu_keys.ec256, "\"use\":\"enc\",\"kid\":\"enc2\"");
    o.skip_unusable = 1;
    ck_assert_int_eq(tu_parse(tu_p, by_alg, &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
    ck_assert_ptr_nonnull(strstr(err, "no usable signature key"));
    ck_assert_int_eq(tu_parse(tu_p, by_use, &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
}
END_TEST

START_TEST(test_remote_sets_skip_keys_on_curves_we_do_not_verify_with)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err;
    /* an ES256K (secp256k1) key and an X25519 key beside a signing key we support */
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s]}",
                             "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"kid\":\"k1\",\"x\":\"AA\",\"y\":\"AA\"}",
                             "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"x1\",\"x\":\"AA\"}",
                             tu_jwk(tu_p, tu_keys.ec256, "\"use\":\"sig\",\"kid\":\"sig\""));
    o.skip_unusable = 1;
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_OK);
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "sig");
    o.skip_unusable = 0;
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_remote_set_keeps_ec_and_ed25519_keys_beside_an_rsa_key_without_alg)
{
    claims_key_opts_t o = remote_opts(0);
    apr_array_header_t *keys;
    char *err = NULL;
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    ck_assert_msg(tu_parse(tu_p, set_with_rsa_without_alg(), &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(keys->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "ec");
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->alg, CLAIMS_ALG_ES256);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 1, claims_key_t *)->kid, "ed");
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 1, claims_key_t *)->alg, CLAIMS_ALG_ED25519);
    ck_assert_int_eq(o.skipped->nelts, 1);
    ck_assert_str_eq(skipped_at(o.skipped, 0)->kid, "rsa");
    ck_assert_str_eq(skipped_at(o.skipped, 0)->kty, "RSA");
    ck_assert_str_eq(skipped_at(o.skipped, 0)->reason, "no alg: RSA key usable with several algorithms");
}
END_TEST

/* Every way a key of a set is skipped is reported, in the order of the set, with a fixed reason. */
START_TEST(test_skipped_keys_are_reported_with_kid_kty_and_reason)
{
    static const struct {
        const char *kid, *kty, *reason;
    } want[] = {
        {"enc-alg", "RSA", "encryption key (JWE alg)"},
        {"enc-use", "EC", "encryption key (use enc)"},
        {"derive", "EC", "key_ops without verify"},
        {"k1", "EC", "unsupported curve"},
        {"x1", "OKP", "unsupported curve"},
        {"future", "XYZ", "unknown key type"},
        {NULL, "RSA", "no alg: RSA key usable with several algorithms"},
    };
    claims_key_opts_t o = remote_opts(0);
    apr_array_header_t *keys;
    char *err = NULL;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s,%s,%s,%s,%s,%s]}",
                             tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RSA-OAEP\",\"kid\":\"enc-alg\""),
                             tu_jwk(tu_p, tu_keys.ec256_b, "\"use\":\"enc\",\"kid\":\"enc-use\""),
                             tu_jwk(tu_p, tu_keys.ec384, "\"key_ops\":[\"deriveKey\"],\"kid\":\"derive\""),
                             "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"kid\":\"k1\",\"x\":\"AA\",\"y\":\"AA\"}",
                             "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"x1\",\"x\":\"AA\"}",
                             "{\"kty\":\"XYZ\",\"kid\":\"future\"}",
                             tu_jwk(tu_p, tu_keys.rsa_b, NULL),
                             tu_jwk(tu_p, tu_keys.ec256, "\"use\":\"sig\",\"kid\":\"sig\""));
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    ck_assert_msg(tu_parse(tu_p, set, &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_int_eq(o.skipped->nelts, TU_COUNT(want));
    for (int i = 0; i < TU_COUNT(want); i++) {
        const claims_key_skipped_t *sk = skipped_at(o.skipped, i);
        if (want[i].kid == NULL) {
            ck_assert_ptr_null(sk->kid);
        }
        else {
            ck_assert_str_eq(sk->kid, want[i].kid);
        }
        ck_assert_str_eq(sk->kty, want[i].kty);
        ck_assert_str_eq(sk->reason, want[i].reason);
    }
}
END_TEST

/* A key file's set (skip_unusable off) also skips an unknown kty (RFC 7517 section 5): reported. */
START_TEST(test_unknown_kty_in_a_key_file_set_is_reported_as_skipped)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err = NULL;
    char *set = apr_psprintf(tu_p, "{\"keys\":[{\"kty\":\"XYZ\"},%s]}", tu_jwk(tu_p, tu_keys.ec256, NULL));
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    ck_assert_msg(tu_parse(tu_p, set, &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(o.skipped->nelts, 1);
    ck_assert_ptr_null(skipped_at(o.skipped, 0)->kid);
    ck_assert_str_eq(skipped_at(o.skipped, 0)->reason, "unknown key type");
}
END_TEST

/* An unknown kty is the document's to choose: it is reported bounded and printable. */
START_TEST(test_skipped_kty_is_reported_printable_and_bounded)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err = NULL;
    char *set = apr_psprintf(tu_p, "{\"keys\":[{\"kty\":\"A\\n\\\"%s\"},%s]}",
                             "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
                             tu_jwk(tu_p, tu_keys.ec256, NULL));
    const char *kty;
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    ck_assert_msg(tu_parse(tu_p, set, &o, &keys, &err) == CLAIMS_OK, "%s", err);
    kty = skipped_at(o.skipped, 0)->kty;
    ck_assert_uint_lt(strlen(kty), 40);
    for (const char *c = kty; *c; c++) {
        ck_assert_msg(*c >= 0x20 && *c < 0x7f && *c != '"', "kty not printable: %s", kty);
    }
}
END_TEST

typedef struct level_sink_t {
    claims_logger_t logger;
    int levels[8];
    const char *lines[8];
    int n;
} level_sink_t;

static void level_sink_fn(void *baton, claims_log_level_t level, const char *msg)
{
    level_sink_t *s = baton;
    ck_assert_int_lt(s->n, TU_COUNT(s->lines));
    s->levels[s->n] = (int)level;
    s->lines[s->n++] = apr_pstrdup(tu_p, msg);
}

/* A signing key we cannot use is worth a warning (the operator may bind its algorithm); an
 * encryption key beside the signing keys is routine and only noted. */
START_TEST(test_skipped_keys_are_logged_with_the_key_and_the_reason)
{
    claims_key_opts_t o = remote_opts(0);
    level_sink_t sink = {{level_sink_fn, NULL}, {0}, {NULL}, 0};
    apr_array_header_t *keys;
    char *err = NULL;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s]}", tu_jwk(tu_p, tu_keys.rsa, "\"kid\":\"rsa\""),
                             tu_jwk(tu_p, tu_keys.ec256_b, "\"use\":\"enc\",\"kid\":\"enc\""),
                             tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"ec\""));
    sink.logger.baton = &sink;
    o.log = &sink.logger;
    ck_assert_msg(tu_parse(tu_p, set, &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(sink.n, 2);
    ck_assert_int_eq(sink.levels[0], CLAIMS_LOG_WARNING);
    ck_assert_ptr_nonnull(strstr(sink.lines[0], "test-key key #0 (kid \"rsa\")"));
    ck_assert_ptr_nonnull(strstr(sink.lines[0], "no alg: RSA key usable with several algorithms"));
    ck_assert_int_eq(sink.levels[1], CLAIMS_LOG_INFO);
    ck_assert_ptr_nonnull(strstr(sink.lines[1], "key #1"));
    ck_assert_ptr_nonnull(strstr(sink.lines[1], "encryption key (use enc)"));
}
END_TEST

/* Nothing of a refused document stays: neither its keys nor its skipped keys. */
START_TEST(test_refused_set_leaves_no_skipped_key_behind)
{
    claims_key_opts_t o = remote_opts(0);
    apr_array_header_t *keys;
    char *err = NULL;
    const char *rsa = tu_jwk(tu_p, tu_keys.rsa, "\"kid\":\"rsa\"");
    char *broken = apr_psprintf(tu_p, "{\"keys\":[%s,{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1}]}", rsa);
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    ck_assert_int_eq(tu_parse(tu_p, apr_psprintf(tu_p, "{\"keys\":[%s]}", rsa), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(o.skipped->nelts, 0);
    ck_assert_int_eq(tu_parse(tu_p, broken, &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(o.skipped->nelts, 0);
}
END_TEST

/* The array is the caller's: a parse appends to it (the glue appends a remote set to static keys). */
START_TEST(test_skipped_keys_are_appended_to_what_the_array_holds)
{
    claims_key_opts_t o = remote_opts(0);
    apr_array_header_t *keys;
    char *err = NULL;
    static const claims_key_skipped_t earlier = {NULL, "RSA", "earlier"};
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    APR_ARRAY_PUSH(o.skipped, const claims_key_skipped_t *) = &earlier;
    ck_assert_msg(tu_parse(tu_p, set_with_rsa_without_alg(), &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(o.skipped->nelts, 2);
    ck_assert_ptr_eq(skipped_at(o.skipped, 0), &earlier);
    ck_assert_str_eq(skipped_at(o.skipped, 1)->kid, "rsa");
}
END_TEST

START_TEST(test_remote_set_of_only_an_rsa_key_without_alg_is_refused)
{
    claims_key_opts_t o = remote_opts(0);
    apr_array_header_t *keys;
    char *err = NULL;
    const char *jwk = tu_jwk(tu_p, tu_keys.rsa, "\"kid\":\"rsa\"");
    ck_assert_int_eq(tu_parse(tu_p, apr_psprintf(tu_p, "{\"keys\":[%s]}", jwk), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
    ck_assert_ptr_nonnull(strstr(err, "no usable signature key"));
    ck_assert_ptr_nonnull(strstr(err, "RSA"));
    ck_assert_int_eq(tu_parse(tu_p, jwk, &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
}
END_TEST

START_TEST(test_key_file_set_with_an_rsa_key_without_alg_is_still_refused)
{
    claims_key_opts_t o = opts_allowed(0);
    apr_array_header_t *keys;
    char *err = NULL;
    ck_assert_int_eq(tu_parse(tu_p, set_with_rsa_without_alg(), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
    ck_assert_ptr_nonnull(strstr(err, "RSA key without an algorithm"));
}
END_TEST

/* RFC 8725 section 3.1 (one key, one algorithm) holds: the operator's allow-list names the one
 * RSA algorithm the issuer may use, so the key is bound to it, as for ClaimsKeyFile. */
START_TEST(test_remote_rsa_key_without_alg_takes_the_only_rsa_alg_of_the_allow_list)
{
    claims_key_opts_t o = remote_opts(CLAIMS_ALG_BIT(CLAIMS_ALG_RS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_ES256)
                                      | CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA));
    apr_array_header_t *keys;
    char *err = NULL;
    ck_assert_msg(tu_parse(tu_p, set_with_rsa_without_alg(), &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(keys->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "rsa");
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->alg, CLAIMS_ALG_RS256);
}
END_TEST

START_TEST(test_remote_rsa_key_without_alg_is_skipped_when_two_rsa_algs_are_allowed)
{
    claims_key_opts_t o = remote_opts(CLAIMS_ALG_BIT(CLAIMS_ALG_RS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_PS256)
                                      | CLAIMS_ALG_BIT(CLAIMS_ALG_ES256) | CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA));
    apr_array_header_t *keys;
    char *err = NULL;
    ck_assert_msg(tu_parse(tu_p, set_with_rsa_without_alg(), &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(keys->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "ec");
}
END_TEST

/* One skip reason per key of a remote set, checked against the strict path, which refuses. */
static void assert_remote_skip_only(claims_alg_set_t allowed, const char *key, const char *reason)
{
    claims_key_opts_t o = remote_opts(allowed);
    apr_array_header_t *keys;
    char *err = NULL;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", key,
                             tu_jwk(tu_p, tu_keys.ec256, "\"alg\":\"ES256\",\"kid\":\"ec\""));
    o.skipped = apr_array_make(tu_p, 1, sizeof(claims_key_skipped_t *));
    ck_assert_msg(tu_parse(tu_p, set, &o, &keys, &err) == CLAIMS_OK, "%s", err);
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "ec");
    ck_assert_int_eq(o.skipped->nelts, 1);
    ck_assert_str_eq(skipped_at(o.skipped, 0)->reason, reason);
    o.skip_unusable = 0;
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_ERR_KEY);
}

/* Skipping forgives a key we cannot use, never one that lies about itself (CL-22). */
START_TEST(test_remote_set_with_an_alg_contradicting_its_key_is_refused)
{
    const char *liars[] = {
        tu_jwk(tu_p, tu_keys.ec256_b, "\"alg\":\"ES384\",\"kid\":\"l1\""),
        tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"HS256\",\"kid\":\"l2\""),
        tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"ES256\",\"kid\":\"l3\""),
        tu_jwk(tu_p, tu_keys.ed25519, "\"alg\":\"Ed448\",\"kid\":\"l4\""),
    };
    for (int i = 0; i < TU_COUNT(liars); i++) {
        claims_key_opts_t o = remote_opts(0);
        apr_array_header_t *keys;
        char *err = NULL;
        char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", liars[i],
                                 tu_jwk(tu_p, tu_keys.ec256, "\"alg\":\"ES256\",\"kid\":\"ec\""));
        ck_assert_msg(tu_parse(tu_p, set, &o, &keys, &err) == CLAIMS_ERR_KEY, "accepted: %s", liars[i]);
        ck_assert_int_eq(keys->nelts, 0);
    }
}
END_TEST

/* An issuer restricted to ES256 still takes its ES256 key from a set that also publishes RSA
 * keys; a key file with a key outside ClaimsAlgorithms stays a configuration error. */
START_TEST(test_remote_set_skips_a_key_whose_alg_is_not_in_the_allow_list)
{
    claims_alg_set_t es256 = CLAIMS_ALG_BIT(CLAIMS_ALG_ES256);
    assert_remote_skip_only(es256, tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\",\"kid\":\"rs\""),
                            "algorithm not in ClaimsAlgorithms");
    assert_remote_skip_only(es256, tu_jwk(tu_p, tu_keys.ec384, "\"kid\":\"p384\""),
                            "algorithm not in ClaimsAlgorithms");
    assert_remote_skip_only(es256, tu_jwk(tu_p, tu_keys.ed25519, "\"kid\":\"ed\""),
                            "algorithm not in ClaimsAlgorithms");
    assert_remote_skip_only(es256, tu_jwk(tu_p, tu_keys.rsa, "\"kid\":\"rsa-no-alg\""),
                            "algorithm not in ClaimsAlgorithms");
}
END_TEST

/* A JWS algorithm we do not verify (ES256K, RFC 8812), or one from the future, beside ours. */
START_TEST(test_remote_set_skips_a_key_of_a_signature_alg_we_do_not_implement)
{
    assert_remote_skip_only(0, "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"alg\":\"ES256K\",\"kid\":\"k1\","
                               "\"x\":\"AA\",\"y\":\"AA\"}", "unsupported algorithm");
    assert_remote_skip_only(0, tu_jwk(tu_p, tu_keys.rsa_b, "\"alg\":\"RS1\",\"kid\":\"old\""),
                            "unsupported algorithm");
}
END_TEST

/* RFC 7517 section 4.2 allows other "use" values than sig and enc: not for signatures either. */
START_TEST(test_remote_set_skips_a_key_whose_use_is_not_sig)
{
    assert_remote_skip_only(0, tu_jwk(tu_p, tu_keys.ec384, "\"use\":\"tls\",\"kid\":\"tls\""),
                            "use is not sig");
}
END_TEST

/* Only the algorithm is forgiven: a broken key without alg still refuses the whole set. */
START_TEST(test_remote_set_with_a_weak_rsa_key_without_alg_is_refused)
{
    claims_key_opts_t o = remote_opts(0);
    apr_array_header_t *keys;
    char *err = NULL;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", tu_jwk(tu_p, tu_keys.rsa_1024, "\"kid\":\"weak\""),
                             tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"ec\""));
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "too weak"));
}
END_TEST

Suite *jwk_suite(void)
{
    Suite *s = suite_create("jwk");
    TCase *tc = tu_tcase("load", 30);
    tcase_add_test(tc, test_jwk_load_hands_over_each_key_in_order_with_its_label);
    tcase_add_test(tc, test_jwk_load_labels_a_single_jwk_as_the_document);
    tcase_add_test(tc, test_jwk_load_reads_oct_keys_only_when_allowed);
    tcase_add_test(tc, test_jwk_load_keeps_skipped_keys_from_the_caller);
    tcase_add_test(tc, test_jwk_load_reports_a_skip_by_the_caller_and_refuses_a_document_left_empty);
    tcase_add_test(tc, test_jwk_load_stops_at_the_first_refusal);
    tcase_add_loop_test(tc, test_jwk_load_refuses_a_malformed_document_with_its_message, 0, TU_COUNT(bad_documents));
    tcase_add_test(tc, test_jwk_load_refuses_a_set_of_more_than_the_maximum_of_keys);
    suite_add_tcase(s, tc);

    tc = tu_tcase("sets", 30);
    tcase_add_test(tc, test_unknown_kty_inside_a_set_is_skipped);
    tcase_add_test(tc, test_remote_sets_skip_keys_on_curves_we_do_not_verify_with);
    tcase_add_test(tc, test_single_encryption_jwk_skipped_is_a_file_without_key);
    tcase_add_test(tc, test_remote_set_keeps_ec_and_ed25519_keys_beside_an_rsa_key_without_alg);
    tcase_add_test(tc, test_remote_set_of_only_an_rsa_key_without_alg_is_refused);
    tcase_add_test(tc, test_key_file_set_with_an_rsa_key_without_alg_is_still_refused);
    tcase_add_test(tc, test_remote_rsa_key_without_alg_takes_the_only_rsa_alg_of_the_allow_list);
    tcase_add_test(tc, test_remote_rsa_key_without_alg_is_skipped_when_two_rsa_algs_are_allowed);
    tcase_add_test(tc, test_remote_set_with_a_weak_rsa_key_without_alg_is_refused);
    tcase_add_test(tc, test_remote_set_with_an_alg_contradicting_its_key_is_refused);
    tcase_add_test(tc, test_remote_set_skips_a_key_whose_alg_is_not_in_the_allow_list);
    tcase_add_test(tc, test_remote_set_skips_a_key_of_a_signature_alg_we_do_not_implement);
    tcase_add_test(tc, test_remote_set_skips_a_key_whose_use_is_not_sig);
    tcase_add_test(tc, test_skipped_keys_are_reported_with_kid_kty_and_reason);
    tcase_add_test(tc, test_unknown_kty_in_a_key_file_set_is_reported_as_skipped);
    tcase_add_test(tc, test_skipped_kty_is_reported_printable_and_bounded);
    tcase_add_test(tc, test_refused_set_leaves_no_skipped_key_behind);
    tcase_add_test(tc, test_skipped_keys_are_logged_with_the_key_and_the_reason);
    tcase_add_test(tc, test_skipped_keys_are_appended_to_what_the_array_holds);
    tcase_add_test(tc, test_remote_sets_skip_encryption_keys_when_asked);
    suite_add_tcase(s, tc);
    return s;
}
