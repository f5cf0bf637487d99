/*
 * test_util.c - shared helpers of the unit tests; see test_util.h.
 */
#include "test_util.h"

#include <apr_file_info.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

apr_pool_t *tu_p;
tu_keyring_t tu_keys;

/* 64 bytes that do not start with '{', "-----BEGIN" or a DER SEQUENCE. */
const unsigned char tu_secret[64] = "mod_claims unit-test HMAC secret, 64 bytes long, not a key!!!!!";

/* ------------------------------------------------------------------ pools, test cases */

static void pool_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&tu_p, NULL), APR_SUCCESS);
}

static void pool_teardown(void)
{
    if (tu_p != NULL) {
        apr_pool_destroy(tu_p);
        tu_p = NULL;
    }
}

TCase *tu_tcase(const char *name, double timeout)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    if (timeout > 0) {
        tcase_set_timeout(tc, timeout);
    }
    return tc;
}

/* ------------------------------------------------------------------ keys */

static EVP_PKEY *must(EVP_PKEY *k, const char *what)
{
    if (k == NULL) {
        fprintf(stderr, "key generation failed: %s\n", what);
        ERR_print_errors_fp(stderr);
        abort();
    }
    return k;
}

void tu_keys_init(void)
{
    tu_keys.rsa = must(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), "RSA 2048");
    tu_keys.rsa_b = must(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), "RSA 2048 (B)");
    tu_keys.rsa_1024 = must(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024), "RSA 1024");
    tu_keys.rsa_3072 = must(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072), "RSA 3072");
    tu_keys.ec256 = must(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), "P-256");
    tu_keys.ec256_b = must(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), "P-256 (B)");
    tu_keys.ec384 = must(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), "P-384");
    tu_keys.ec521 = must(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"), "P-521");
    tu_keys.ed25519 = must(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), "Ed25519");
    tu_keys.ed448 = must(EVP_PKEY_Q_keygen(NULL, NULL, "ED448"), "Ed448");
}

void tu_keys_free(void)
{
    EVP_PKEY *all[] = {tu_keys.rsa, tu_keys.rsa_b, tu_keys.rsa_1024, tu_keys.rsa_3072, tu_keys.ec256,
                       tu_keys.ec256_b, tu_keys.ec384, tu_keys.ec521, tu_keys.ed25519, tu_keys.ed448};
    for (int i = 0; i < TU_COUNT(all); i++) {
        EVP_PKEY_free(all[i]);
    }
    memset(&tu_keys, 0, sizeof(tu_keys));
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

EVP_PKEY *tu_gen_ec(apr_pool_t *p, const char *curve)
{
    EVP_PKEY *k = must(EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve), curve);
    apr_pool_cleanup_register(p, k, pkey_cleanup, apr_pool_cleanup_null);
    return k;
}

/* ------------------------------------------------------------------ encodings */

char *tu_b64n(apr_pool_t *p, const void *buf, apr_size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = buf;
    char *out = apr_palloc(p, len / 3 * 4 + 5);
    apr_size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        out[o++] = tab[in[i] >> 2];
        out[o++] = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        out[o++] = tab[in[i + 2] & 63];
    }
    if (len - i == 1) {
        out[o++] = tab[in[i] >> 2];
        out[o++] = tab[(in[i] & 3) << 4];
    }
    else if (len - i == 2) {
        out[o++] = tab[in[i] >> 2];
        out[o++] = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = tab[(in[i + 1] & 15) << 2];
    }
    out[o] = '\0';
    return out;
}

char *tu_b64(apr_pool_t *p, const char *s)
{
    return tu_b64n(p, s, strlen(s));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

unsigned char *tu_hex(apr_pool_t *p, const char *hex, apr_size_t *len)
{
    apr_size_t n = strlen(hex);
    unsigned char *out;
    ck_assert_msg(n % 2 == 0, "odd-length hex string");
    out = apr_palloc(p, n / 2 + 1);
    for (apr_size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        ck_assert_msg(hi >= 0 && lo >= 0, "bad hex digit");
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

char *tu_signing_input(apr_pool_t *p, const char *header, const char *payload)
{
    return apr_pstrcat(p, tu_b64(p, header), ".", tu_b64(p, payload), NULL);
}

char *tu_join(apr_pool_t *p, const char *input, const unsigned char *sig, apr_size_t sig_len)
{
    return apr_pstrcat(p, input, ".", tu_b64n(p, sig, sig_len), NULL);
}

/* ------------------------------------------------------------------ signing */

static unsigned char *ecdsa_der_to_p1363(apr_pool_t *p, const unsigned char *der, size_t der_len,
                                         apr_size_t coord, apr_size_t *sig_len)
{
    const unsigned char *q = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
    unsigned char *out = apr_palloc(p, 2 * coord);
    const BIGNUM *r, *s;
    ck_assert_ptr_nonnull(es);
    ECDSA_SIG_get0(es, &r, &s);
    ck_assert_int_eq(BN_bn2binpad(r, out, (int)coord), (int)coord);
    ck_assert_int_eq(BN_bn2binpad(s, out + coord, (int)coord), (int)coord);
    ECDSA_SIG_free(es);
    *sig_len = 2 * coord;
    return out;
}

unsigned char *tu_sign(apr_pool_t *p, claims_alg_t alg, EVP_PKEY *key, const unsigned char *secret,
                       apr_size_t secret_len, const void *data, apr_size_t len, int pss_salt,
                       apr_size_t *sig_len)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    const EVP_MD *md = ai->digest != NULL ? EVP_get_digestbyname(ai->digest) : NULL;
    EVP_MD_CTX *ctx;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *out;
    size_t n = 0;

    ck_assert_int_ne(ai->family, CLAIMS_FAMILY_NONE);
    if (ai->family == CLAIMS_FAMILY_HMAC) {
        unsigned int tlen = 0;
        out = apr_palloc(p, EVP_MAX_MD_SIZE);
        ck_assert_ptr_nonnull(HMAC(md, secret, (int)secret_len, data, len, out, &tlen));
        *sig_len = tlen;
        return out;
    }
    ctx = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
    if (ai->family == CLAIMS_FAMILY_PSS) {
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt < 0 ? (int)ai->hash_len : pss_salt), 1);
    }
    ck_assert_int_eq(EVP_DigestSign(ctx, NULL, &n, data, len), 1);
    out = apr_palloc(p, n);
    ck_assert_int_eq(EVP_DigestSign(ctx, out, &n, data, len), 1);
    EVP_MD_CTX_free(ctx);
    if (ai->family == CLAIMS_FAMILY_EC) {
        return ecdsa_der_to_p1363(p, out, n, ai->coord_len, sig_len);
    }
    *sig_len = n;
    return out;
}

char *tu_jws(apr_pool_t *p, claims_alg_t alg, EVP_PKEY *key, const unsigned char *secret,
             apr_size_t secret_len, const char *header, const char *payload)
{
    char *input = tu_signing_input(p, header, payload);
    apr_size_t sig_len;
    unsigned char *sig = tu_sign(p, alg, key, secret, secret_len, input, strlen(input), -1, &sig_len);
    return tu_join(p, input, sig, sig_len);
}

/* ------------------------------------------------------------------ key export */

static char *bio_text(apr_pool_t *p, BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out = apr_pstrmemdup(p, data, (apr_size_t)n);
    BIO_free(bio);
    return out;
}

char *tu_pem_spki(apr_pool_t *p, EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, key), 1);
    return bio_text(p, bio);
}

char *tu_pem_pkcs1(apr_pool_t *p, EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM",
                                                           "type-specific", NULL);
    ck_assert_ptr_nonnull(ectx);
    ck_assert_int_eq(OSSL_ENCODER_to_bio(ectx, bio), 1);
    OSSL_ENCODER_CTX_free(ectx);
    return bio_text(p, bio);
}

char *tu_pem_private(apr_pool_t *p, EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    return bio_text(p, bio);
}

unsigned char *tu_der_spki(apr_pool_t *p, EVP_PKEY *key, apr_size_t *len)
{
    unsigned char *der = NULL, *out;
    int n = i2d_PUBKEY(key, &der);
    ck_assert_int_gt(n, 0);
    out = apr_pmemdup(p, der, (apr_size_t)n);
    OPENSSL_free(der);
    *len = (apr_size_t)n;
    return out;
}

static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name;
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mod_claims test",
                                                -1, -1, 0), 1);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    ck_assert_int_gt(X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")
                                           ? NULL : EVP_sha256()), 0);
    return x;
}

char *tu_cert_pem(apr_pool_t *p, EVP_PKEY *key, unsigned char **der, apr_size_t *der_len)
{
    X509 *x = self_signed(key);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    if (der != NULL) {
        unsigned char *buf = NULL;
        int n = i2d_X509(x, &buf);
        ck_assert_int_gt(n, 0);
        *der = apr_pmemdup(p, buf, (apr_size_t)n);
        *der_len = (apr_size_t)n;
        OPENSSL_free(buf);
    }
    X509_free(x);
    return bio_text(p, bio);
}

char *tu_cert_x5c(apr_pool_t *p, EVP_PKEY *key)
{
    unsigned char *der;
    apr_size_t der_len;
    char *out;
    tu_cert_pem(p, key, &der, &der_len);
    out = apr_palloc(p, (der_len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, der, (int)der_len);
    return out;
}

static char *bn_param_b64(apr_pool_t *p, EVP_PKEY *key, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int n;
    char *out;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(key, param, &bn), 1);
    n = pad > 0 ? pad : BN_num_bytes(bn);
    buf = apr_palloc(p, (apr_size_t)n + 1);
    ck_assert_int_eq(BN_bn2binpad(bn, buf, n), n);
    out = tu_b64n(p, buf, (apr_size_t)n);
    BN_free(bn);
    return out;
}

char *tu_rsa_n(apr_pool_t *p, EVP_PKEY *key)
{
    return bn_param_b64(p, key, OSSL_PKEY_PARAM_RSA_N, 0);
}

char *tu_jwk(apr_pool_t *p, EVP_PKEY *key, const char *extra)
{
    const char *sep = extra != NULL && *extra != '\0' ? "," : "";
    if (extra == NULL) {
        extra = "";
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        return apr_psprintf(p, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s%s}", tu_rsa_n(p, key),
                            bn_param_b64(p, key, OSSL_PKEY_PARAM_RSA_E, 0), sep, extra);
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64];
        size_t glen = 0;
        const char *crv;
        int coord;
        ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                                        &glen), 1);
        if (strcmp(group, "prime256v1") == 0) {
            crv = "P-256", coord = 32;
        }
        else if (strcmp(group, "secp384r1") == 0) {
            crv = "P-384", coord = 48;
        }
        else {
            ck_assert_str_eq(group, "secp521r1");
            crv = "P-521", coord = 66;
        }
        return apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s%s}", crv,
                            bn_param_b64(p, key, OSSL_PKEY_PARAM_EC_PUB_X, coord),
                            bn_param_b64(p, key, OSSL_PKEY_PARAM_EC_PUB_Y, coord), sep, extra);
    }
    {
        unsigned char raw[64];
        size_t rlen = sizeof(raw);
        const char *crv = EVP_PKEY_is_a(key, "ED448") ? "Ed448" : "Ed25519";
        ck_assert_int_eq(EVP_PKEY_get_raw_public_key(key, raw, &rlen), 1);
        return apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"%s%s}", crv, tu_b64n(p, raw, rlen),
                            sep, extra);
    }
}

/* ------------------------------------------------------------------ loading keys through the core */

claims_status_t tu_parse(apr_pool_t *p, const char *text, const claims_key_opts_t *opts,
                         apr_array_header_t **keys, char **err)
{
    *keys = apr_array_make(p, 4, sizeof(claims_key_t *));
    *err = NULL;
    return claims_keys_parse(p, text, strlen(text), "test-key", opts, *keys, err);
}

claims_key_t *tu_key(apr_pool_t *p, const char *text, const claims_key_opts_t *opts)
{
    apr_array_header_t *keys;
    char *err = NULL;
    claims_status_t st = tu_parse(p, text, opts, &keys, &err);
    ck_assert_msg(st == CLAIMS_OK, "key refused: %s", err != NULL ? err : "(no message)");
    ck_assert_int_ge(keys->nelts, 1);
    return APR_ARRAY_IDX(keys, 0, claims_key_t *);
}

claims_key_opts_t tu_opts(claims_alg_t alg)
{
    claims_key_opts_t o;
    memset(&o, 0, sizeof(o));
    o.alg = alg;
    return o;
}

/* ------------------------------------------------------------------ vectors */

const char *tu_vectors_dir(void)
{
    static char buf[4096];
    const char *env = getenv("CLAIMS_VECTORS");
    const char *src = getenv("CLAIMS_SRC_DIR");
    if (env != NULL && *env != '\0') {
        return env;
    }
    if (src != NULL && *src != '\0') {
        snprintf(buf, sizeof(buf), "%s/../shared/vectors", src);
        return buf;
    }
    {
        /* __FILE__ is tests/unit/test_util.c relative to the build directory (or absolute) */
        const char *file = __FILE__;
        const char *slash = strrchr(file, '/');
        int dirlen = slash != NULL ? (int)(slash - file) : 0;
        snprintf(buf, sizeof(buf), "%.*s%s../../../shared/vectors", dirlen, file, dirlen > 0 ? "/" : "");
        return buf;
    }
}

int tu_vectors_present(void)
{
    apr_pool_t *p;
    apr_finfo_t fi;
    int ok;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    ok = apr_stat(&fi, tu_vectors_dir(), APR_FINFO_TYPE, p) == APR_SUCCESS && fi.filetype == APR_DIR;
    apr_pool_destroy(p);
    return ok;
}

json_t *tu_vector_json(const char *relpath)
{
    char path[4096];
    json_error_t jerr;
    json_t *j;
    snprintf(path, sizeof(path), "%s/%s", tu_vectors_dir(), relpath);
    j = json_load_file(path, 0, &jerr);
    ck_assert_msg(j != NULL, "cannot load vector file %s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

/* ------------------------------------------------------------------ issuers and tokens to verify */

claims_issuer_t *tu_issuer(const char *iss, claims_alg_set_t algs)
{
    claims_issuer_t *is = apr_pcalloc(tu_p, sizeof(*is));
    is->iss = iss;
    is->algs = algs;
    is->keys = apr_array_make(tu_p, 4, sizeof(claims_key_t *));
    return is;
}

claims_key_t *tu_issuer_jwk(claims_issuer_t *is, EVP_PKEY *key, const char *alg, const char *kid)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    char *extra = kid != NULL ? apr_psprintf(tu_p, "\"alg\":\"%s\",\"kid\":\"%s\"", alg, kid)
                              : apr_psprintf(tu_p, "\"alg\":\"%s\"", alg);
    claims_key_t *k = tu_key(tu_p, tu_jwk(tu_p, key, extra), &o);
    *(claims_key_t **)apr_array_push(is->keys) = k;
    return k;
}

char *tu_hdr(const char *alg, const char *kid)
{
    return kid != NULL ? apr_psprintf(tu_p, "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid)
                       : apr_psprintf(tu_p, "{\"alg\":\"%s\"}", alg);
}

claims_status_t tu_verify2(const char *tok, const claims_issuer_t *a, const claims_issuer_t *b,
                           claims_verified_t *out)
{
    const claims_issuer_t *trusted[2] = {a, b};
    claims_verified_t dummy;
    return claims_verify(tu_p, tok, strlen(tok), 0, trusted, b != NULL ? 2 : 1, out != NULL ? out : &dummy);
}

/* ------------------------------------------------------------------ logging */

static void sink_fn(void *baton, claims_log_level_t level, const char *msg)
{
    tu_logsink_t *s = baton;
    (void)level;
    *(char **)apr_array_push(s->lines) = apr_pstrdup(s->p, msg);
}

void tu_logsink_init(tu_logsink_t *sink, apr_pool_t *p)
{
    sink->p = p;
    sink->lines = apr_array_make(p, 4, sizeof(char *));
    sink->logger.fn = sink_fn;
    sink->logger.baton = sink;
}

json_t *tu_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
    return claims_json_pool(tu_p, j);
}
