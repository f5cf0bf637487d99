/*
 * test_keys.c - key import, algorithm binding, strength checks, key sets and key selection
 * (RFC 7517, RFC 7518 section 6; SECURITY.md CL-21..CL-23, CL-27, CL-28, CL-60..CL-66). Which
 * keys of a JWK Set are skipped, and how that is reported, is in test_jwk.c.
 */
#include "test_util.h"

#include "claims_keys.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static claims_key_opts_t opts_allowed(claims_alg_set_t allowed)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    o.allowed = allowed;
    return o;
}

/* A big-number parameter of key as base64url of its minimal bytes, with zeros octets in front. */
static char *bn_b64(EVP_PKEY *k, const char *param, int zeros)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int n;
    char *out;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    n = BN_num_bytes(bn);
    buf = apr_pcalloc(tu_p, (apr_size_t)(n + zeros));
    BN_bn2bin(bn, buf + zeros);
    out = tu_b64n(tu_p, buf, (apr_size_t)(n + zeros));
    BN_free(bn);
    return out;
}

/* An EC P-256 public JWK with the given coordinates (base64url). */
static char *ec_jwk(const char *x, const char *y)
{
    return apr_psprintf(tu_p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
}

static char *rsa_jwk(const char *n, const char *e, const char *extra)
{
    return apr_psprintf(tu_p, "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"%s%s}", n, e,
                        extra != NULL ? "," : "", extra != NULL ? extra : "");
}

static char *coord(EVP_PKEY *k, const char *param, int zeros, int drop)
{
    BIGNUM *bn = NULL;
    unsigned char buf[80] = {0};
    char *out;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    ck_assert_int_eq(BN_bn2binpad(bn, buf + zeros, 32), 32);
    out = tu_b64n(tu_p, buf + drop, (apr_size_t)(32 + zeros - drop));
    BN_free(bn);
    return out;
}

/* ------------------------------------------------------------------ accepted formats */

START_TEST(test_pem_spki_rsa_key_loads_bound_to_the_configured_alg)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_RS256);
    claims_key_t *k = tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_RS256);
    ck_assert_ptr_nonnull(k->pkey);
    ck_assert_ptr_nonnull(k->md);
    ck_assert_ptr_null(k->secret);
    ck_assert_int_eq(k->bits, 2048);
    ck_assert_ptr_null(k->kid);
    ck_assert_str_eq(k->label, "test-key");
}
END_TEST

START_TEST(test_pem_pkcs1_rsa_public_key_loads)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_PS384);
    const char *pem = tu_pem_pkcs1(tu_p, tu_keys.rsa);
    claims_key_t *k;
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN RSA PUBLIC KEY-----"));
    k = tu_key(tu_p, pem, &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_PS384);
    ck_assert_int_eq(EVP_PKEY_eq(k->pkey, tu_keys.rsa), 1);
}
END_TEST

START_TEST(test_pem_certificate_loads_its_public_key)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_RS512);
    claims_key_t *k = tu_key(tu_p, tu_cert_pem(tu_p, tu_keys.rsa, NULL, NULL), &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_RS512);
    ck_assert_int_eq(EVP_PKEY_eq(k->pkey, tu_keys.rsa), 1);
}
END_TEST

START_TEST(test_der_certificate_loads_its_public_key)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    unsigned char *der;
    apr_size_t der_len;
    char *err = NULL;
    claims_key_t *k;
    tu_cert_pem(tu_p, tu_keys.ec384, &der, &der_len);
    ck_assert_int_eq(claims_keys_parse(tu_p, (const char *)der, der_len, "cert.der", &o, keys, &err), CLAIMS_OK);
    ck_assert_int_eq(keys->nelts, 1);
    k = APR_ARRAY_IDX(keys, 0, claims_key_t *);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_ES384);
    ck_assert_int_eq(EVP_PKEY_eq(k->pkey, tu_keys.ec384), 1);
}
END_TEST

START_TEST(test_der_spki_loads)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    apr_size_t der_len;
    unsigned char *der = tu_der_spki(tu_p, tu_keys.ed25519, &der_len);
    char *err = NULL;
    ck_assert_int_eq(claims_keys_parse(tu_p, (const char *)der, der_len, "k.der", &o, keys, &err), CLAIMS_OK);
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->alg, CLAIMS_ALG_ED25519);
}
END_TEST

START_TEST(test_pem_with_surrounding_whitespace_loads)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    claims_key_t *k = tu_key(tu_p, apr_pstrcat(tu_p, "\r\n \t", tu_pem_spki(tu_p, tu_keys.ec256), "\n\n", NULL), &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_ES256);
}
END_TEST

START_TEST(test_jwk_loads_with_its_alg_and_kid)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    claims_key_t *k = tu_key(tu_p, tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"PS512\",\"kid\":\"2024-01\",\"use\":\"sig\""), &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_PS512);
    ck_assert_uint_eq(k->kid_len, 7);
    ck_assert_str_eq(k->kid, "2024-01");
    ck_assert_int_eq(EVP_PKEY_eq(k->pkey, tu_keys.rsa), 1);
}
END_TEST

START_TEST(test_jwk_with_key_ops_verify_loads)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    claims_key_t *k = tu_key(tu_p, tu_jwk(tu_p, tu_keys.ec256, "\"key_ops\":[\"verify\"]"), &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_ES256);
}
END_TEST

START_TEST(test_jwk_set_is_detected_and_every_key_loaded)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err;
    char *set = apr_psprintf(tu_p, "{\"keys\":[%s,%s,%s]}",
                             tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\",\"kid\":\"a\""),
                             tu_jwk(tu_p, tu_keys.ec521, "\"kid\":\"b\""),
                             tu_jwk(tu_p, tu_keys.ed448, "\"alg\":\"EdDSA\",\"kid\":\"c\""));
    ck_assert_int_eq(tu_parse(tu_p, set, &o, &keys, &err), CLAIMS_OK);
    ck_assert_int_eq(keys->nelts, 3);
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->alg, CLAIMS_ALG_RS256);
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 1, claims_key_t *)->alg, CLAIMS_ALG_ES512);
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 2, claims_key_t *)->alg, CLAIMS_ALG_ED448);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 2, claims_key_t *)->kid, "c");
}
END_TEST

START_TEST(test_x5c_holding_the_same_key_is_accepted)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    char *extra = apr_psprintf(tu_p, "\"alg\":\"RS256\",\"x5c\":[\"%s\"]", tu_cert_x5c(tu_p, tu_keys.rsa));
    ck_assert_int_eq(tu_key(tu_p, tu_jwk(tu_p, tu_keys.rsa, extra), &o)->alg, CLAIMS_ALG_RS256);
}
END_TEST

/* ------------------------------------------------------------------ algorithm binding */

static const struct {
    EVP_PKEY **key;
    claims_alg_t want;
} curve_binding[] = {
    {&tu_keys.ec256, CLAIMS_ALG_ES256},
    {&tu_keys.ec384, CLAIMS_ALG_ES384},
    {&tu_keys.ec521, CLAIMS_ALG_ES512},
    {&tu_keys.ed25519, CLAIMS_ALG_ED25519},
    {&tu_keys.ed448, CLAIMS_ALG_ED448},
};

START_TEST(test_ec_and_ed_keys_without_alg_are_bound_from_their_curve)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    ck_assert_int_eq(tu_key(tu_p, tu_pem_spki(tu_p, *curve_binding[_i].key), &o)->alg, curve_binding[_i].want);
    ck_assert_int_eq(tu_key(tu_p, tu_jwk(tu_p, *curve_binding[_i].key, NULL), &o)->alg, curve_binding[_i].want);
}
END_TEST

START_TEST(test_eddsa_binds_to_the_curve_of_the_key)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_EDDSA);
    ck_assert_int_eq(tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.ed25519), &o)->alg, CLAIMS_ALG_ED25519);
    ck_assert_int_eq(tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.ed448), &o)->alg, CLAIMS_ALG_ED448);
}
END_TEST

START_TEST(test_rsa_key_without_alg_is_refused)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err;
    ck_assert_int_eq(tu_parse(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(tu_parse(tu_p, tu_jwk(tu_p, tu_keys.rsa, NULL), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
}
END_TEST

START_TEST(test_rsa_key_takes_the_only_rsa_alg_of_the_allow_list)
{
    claims_key_opts_t o = opts_allowed(CLAIMS_ALG_BIT(CLAIMS_ALG_PS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_ES256));
    ck_assert_int_eq(tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &o)->alg, CLAIMS_ALG_PS256);
}
END_TEST

START_TEST(test_rsa_key_with_two_rsa_algs_allowed_is_refused)
{
    claims_key_opts_t o = opts_allowed(CLAIMS_ALG_BIT(CLAIMS_ALG_RS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_PS256));
    apr_array_header_t *keys;
    char *err;
    ck_assert_int_eq(tu_parse(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &o, &keys, &err), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_key_alg_outside_the_allow_list_is_refused)
{
    claims_key_opts_t o = opts_allowed(CLAIMS_ALG_BIT(CLAIMS_ALG_ES256));
    apr_array_header_t *keys;
    char *err;
    ck_assert_int_eq(tu_parse(tu_p, tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\""), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(tu_parse(tu_p, tu_jwk(tu_p, tu_keys.ec384, NULL), &o, &keys, &err), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_configured_kid_replaces_the_jwk_kid)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    claims_key_t *k;
    o.kid = "from-config";
    k = tu_key(tu_p, tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"from-jwk\""), &o);
    ck_assert_str_eq(k->kid, "from-config");
    ck_assert_uint_eq(k->kid_len, 11);
}
END_TEST

/* ------------------------------------------------------------------ refusals */

typedef struct refusal_t {
    const char *what;
    const char *(*make)(claims_key_opts_t *o);
} refusal_t;

static const char *r_rsa_1024(claims_key_opts_t *o)
{
    o->alg = CLAIMS_ALG_RS256;
    return tu_pem_spki(tu_p, tu_keys.rsa_1024);
}

static const char *r_rsa_1024_jwk(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa_1024, "\"alg\":\"RS256\"");
}

static const char *r_rsa_above_max(claims_key_opts_t *o)
{
    o->alg = CLAIMS_ALG_RS256;
    o->max_rsa_bits = 2048;
    return tu_pem_spki(tu_p, tu_keys.rsa_3072);
}

static const char *r_rsa_e_1(claims_key_opts_t *o)
{
    (void)o;
    return rsa_jwk(tu_rsa_n(tu_p, tu_keys.rsa), "AQ", NULL);
}

static const char *r_rsa_e_2(claims_key_opts_t *o)
{
    (void)o;
    return rsa_jwk(tu_rsa_n(tu_p, tu_keys.rsa), "Ag", NULL);
}

static const char *r_rsa_e_65536(claims_key_opts_t *o)
{
    (void)o;
    return rsa_jwk(tu_rsa_n(tu_p, tu_keys.rsa), "AQAA", NULL);
}

static const char *r_rsa_n_leading_zero(claims_key_opts_t *o)
{
    (void)o;
    return rsa_jwk(bn_b64(tu_keys.rsa, OSSL_PKEY_PARAM_RSA_N, 1), "AQAB", NULL);
}

static const char *r_rsa_e_leading_zero(claims_key_opts_t *o)
{
    (void)o;
    return rsa_jwk(tu_rsa_n(tu_p, tu_keys.rsa), "AAEAAQ", NULL);
}

static const char *r_rsa_n_not_base64url(claims_key_opts_t *o)
{
    (void)o;
    return rsa_jwk(apr_pstrcat(tu_p, tu_rsa_n(tu_p, tu_keys.rsa), "=", NULL), "AQAB", NULL);
}

static const char *r_ec_off_curve(claims_key_opts_t *o)
{
    (void)o;
    return ec_jwk(coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_X, 0, 0),
                  coord(tu_keys.ec256_b, OSSL_PKEY_PARAM_EC_PUB_Y, 0, 0));
}

static const char *r_ec_short_x(claims_key_opts_t *o)
{
    (void)o;
    return ec_jwk(coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_X, 0, 1),
                  coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_Y, 0, 0));
}

static const char *r_ec_long_y(claims_key_opts_t *o)
{
    (void)o;
    return ec_jwk(coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_X, 0, 0),
                  coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_Y, 1, 0));
}

static const char *r_ec_wrong_crv(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}",
                        coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_X, 0, 0),
                        coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_Y, 0, 0));
}

static const char *r_ec_unsupported_crv(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"%s\",\"y\":\"%s\"}",
                        coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_X, 0, 0),
                        coord(tu_keys.ec256, OSSL_PKEY_PARAM_EC_PUB_Y, 0, 0));
}

static const char *r_okp_x25519(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\"}";
}

static const char *r_okp_short_x(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ\"}";
}

/* Ed25519 keys anyone can sign for: points of small order, and y >= p (RFC 8032 5.1.3) */
static const char *okp_x(const unsigned char *x, apr_size_t len)
{
    return apr_psprintf(tu_p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", tu_b64n(tu_p, x, len));
}

static const char *r_ed25519_neutral(claims_key_opts_t *o)
{
    static const unsigned char y1[32] = {0x01};
    (void)o;
    return okp_x(y1, 32);
}

static const char *r_ed25519_order_4(claims_key_opts_t *o)
{
    static const unsigned char y0_negative_x[32] = {[31] = 0x80};
    (void)o;
    return okp_x(y0_negative_x, 32);
}

static const char *r_ed25519_order_8(claims_key_opts_t *o)
{
    static const unsigned char y[32] = {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
                                        0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
                                        0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05};
    (void)o;
    return okp_x(y, 32);
}

static const char *r_ed25519_y_not_canonical(claims_key_opts_t *o)
{
    unsigned char y[32];
    (void)o;
    memset(y, 0xff, sizeof(y));
    y[0] = 0xee;   /* p + 1 = 2^255 - 18: the neutral point, encoded non-canonically */
    y[31] = 0x7f;
    return okp_x(y, 32);
}

static const char *r_use_enc(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"use\":\"enc\"");
}

static const char *r_use_other(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"use\":\"signature\"");
}

static const char *r_key_ops_without_verify(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"key_ops\":[\"sign\",\"encrypt\"]");
}

static const char *r_key_ops_empty(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"key_ops\":[]");
}

static const char *r_alg_a256gcm(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"A256GCM\"");
}

static const char *r_alg_rsa1_5(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RSA1_5\"");
}

static const char *r_alg_es521(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec521, "\"alg\":\"ES521\"");
}

static const char *r_alg_es384_on_p256(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"alg\":\"ES384\"");
}

static const char *r_alg_rs256_on_ec(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"alg\":\"RS256\"");
}

static const char *r_alg_es256_on_rsa(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"ES256\"");
}

static const char *r_alg_hs256_on_rsa(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"HS256\"");
}

static const char *r_config_hs256_on_pem(claims_key_opts_t *o)
{
    o->alg = CLAIMS_ALG_HS256;
    return tu_pem_spki(tu_p, tu_keys.rsa);
}

static const char *r_config_ed448_on_ed25519(claims_key_opts_t *o)
{
    o->alg = CLAIMS_ALG_ED448;
    return tu_pem_spki(tu_p, tu_keys.ed25519);
}

static const char *r_private_rsa_jwk(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, apr_psprintf(tu_p, "\"alg\":\"RS256\",\"d\":\"%s\"",
                                                  bn_b64(tu_keys.rsa, OSSL_PKEY_PARAM_RSA_D, 0)));
}

static const char *r_private_rsa_jwk_p_only(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, apr_psprintf(tu_p, "\"alg\":\"RS256\",\"p\":\"%s\"",
                                                  bn_b64(tu_keys.rsa, OSSL_PKEY_PARAM_RSA_FACTOR1, 0)));
}

static const char *r_private_ec_jwk(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, apr_psprintf(tu_p, "\"d\":\"%s\"",
                                                    bn_b64(tu_keys.ec256, OSSL_PKEY_PARAM_PRIV_KEY, 0)));
}

static const char *r_private_okp_jwk(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ed25519, "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"");
}

static const char *r_private_pem(claims_key_opts_t *o)
{
    o->alg = CLAIMS_ALG_RS256;
    return tu_pem_private(tu_p, tu_keys.rsa);
}

static const char *r_private_pem_ec(claims_key_opts_t *o)
{
    (void)o;
    return tu_pem_private(tu_p, tu_keys.ec256);
}

static const char *r_oct_not_allowed(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 64));
}

static const char *r_oct_empty_k(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"\"}";
}

static const char *r_oct_missing_k(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return "{\"kty\":\"oct\",\"alg\":\"HS256\"}";
}

static const char *r_oct_short_k(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 31));
}

static const char *r_oct_short_for_hs512(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 63));
}

static const char *r_oct_without_alg(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 64));
}

static const char *r_oct_with_rsa_alg(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 64));
}

static const char *r_oct_alg_outside_allow_list(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    o->allowed = CLAIMS_ALG_BIT(CLAIMS_ALG_HS256);
    return apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"%s\"}", tu_b64n(tu_p, tu_secret, 64));
}

static const char *r_kid_number(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"kid\":1");
}

static const char *r_alg_number(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"alg\":256");
}

static const char *r_use_number(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"use\":1");
}

static const char *r_key_ops_not_array(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"key_ops\":\"verify\"");
}

static const char *r_key_ops_number(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.ec256, "\"key_ops\":[\"verify\",1]");
}

static const char *r_kty_missing(claims_key_opts_t *o)
{
    (void)o;
    return "{\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
}

static const char *r_kty_number(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":1,\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
}

static const char *r_kty_unknown_single(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"XYZ\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
}

static const char *r_n_number(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":12345,\"e\":\"AQAB\"}";
}

static const char *r_x_array(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":[\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"]}";
}

static const char *r_keys_not_array(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"keys\":%s}", tu_jwk(tu_p, tu_keys.ec256, NULL));
}

static const char *r_keys_element_not_object(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"keys\":[%s,\"x\"]}", tu_jwk(tu_p, tu_keys.ec256, NULL));
}

static const char *r_keys_empty(claims_key_opts_t *o)
{
    (void)o;
    return "{\"keys\":[]}";
}

static const char *r_keys_only_unknown_kty(claims_key_opts_t *o)
{
    (void)o;
    return "{\"keys\":[{\"kty\":\"XYZ\"}]}";
}

static const char *r_keys_too_many(claims_key_opts_t *o)
{
    const char *jwk = tu_jwk(tu_p, tu_keys.ec256, NULL);
    apr_array_header_t *parts = apr_array_make(tu_p, CLAIMS_MAX_KEYS + 1, sizeof(char *));
    (void)o;
    for (int i = 0; i <= CLAIMS_MAX_KEYS; i++) {
        *(const char **)apr_array_push(parts) = jwk;
    }
    return apr_pstrcat(tu_p, "{\"keys\":[", apr_array_pstrcat(tu_p, parts, ','), "]}", NULL);
}

static const char *r_set_duplicate_kid(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"same\""),
                        tu_jwk(tu_p, tu_keys.ec256_b, "\"kid\":\"same\""));
}

static const char *r_set_mixed_symmetry(claims_key_opts_t *o)
{
    o->allow_symmetric = 1;
    return apr_psprintf(tu_p, "{\"keys\":[%s,{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"h\",\"k\":\"%s\"}]}",
                        tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"e\""), tu_b64n(tu_p, tu_secret, 64));
}

static const char *r_set_with_one_bad_key(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", tu_jwk(tu_p, tu_keys.ec256, "\"kid\":\"good\""),
                        tu_jwk(tu_p, tu_keys.rsa_1024, "\"alg\":\"RS256\",\"kid\":\"weak\""));
}

static const char *r_duplicate_member(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"OKP\",\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
}

static const char *r_x5c_other_key(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa,
                  apr_psprintf(tu_p, "\"alg\":\"RS256\",\"x5c\":[\"%s\"]", tu_cert_x5c(tu_p, tu_keys.rsa_b)));
}

static const char *r_x5c_not_array(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, apr_psprintf(tu_p, "\"alg\":\"RS256\",\"x5c\":\"%s\"",
                                                  tu_cert_x5c(tu_p, tu_keys.rsa)));
}

static const char *r_x5c_garbage(claims_key_opts_t *o)
{
    (void)o;
    return tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\",\"x5c\":[\"bm90IGEgY2VydGlmaWNhdGU=\"]");
}

static const char *r_not_a_key(claims_key_opts_t *o)
{
    (void)o;
    return "hello, I am not a key";
}

static const char *r_whitespace_only(claims_key_opts_t *o)
{
    (void)o;
    return " \r\n\t ";
}

static const char *r_empty(claims_key_opts_t *o)
{
    (void)o;
    return "";
}

static const char *r_pem_unknown_type(claims_key_opts_t *o)
{
    (void)o;
    return "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n";
}

static const char *r_pem_truncated(claims_key_opts_t *o)
{
    const char *pem = tu_pem_spki(tu_p, tu_keys.ec256);
    o->alg = CLAIMS_ALG_ES256;
    return apr_pstrndup(tu_p, pem, strlen(pem) / 2);
}

static const char *r_json_array(claims_key_opts_t *o)
{
    (void)o;
    return apr_psprintf(tu_p, "[%s]", tu_jwk(tu_p, tu_keys.ec256, NULL));
}

static const char *r_json_invalid(claims_key_opts_t *o)
{
    (void)o;
    return "{\"kty\":\"EC\",";
}

static const refusal_t refusals[] = {
    {"RSA 1024 PEM", r_rsa_1024},
    {"RSA 1024 JWK", r_rsa_1024_jwk},
    {"RSA above max_rsa_bits", r_rsa_above_max},
    {"RSA e = 1", r_rsa_e_1},
    {"RSA e = 2", r_rsa_e_2},
    {"RSA e = 65536", r_rsa_e_65536},
    {"RSA n with a leading zero octet", r_rsa_n_leading_zero},
    {"RSA e with a leading zero octet", r_rsa_e_leading_zero},
    {"RSA n not base64url", r_rsa_n_not_base64url},
    {"EC point off the curve", r_ec_off_curve},
    {"EC x one octet short", r_ec_short_x},
    {"EC y one octet long", r_ec_long_y},
    {"EC P-256 coordinates labelled P-384", r_ec_wrong_crv},
    {"EC secp256k1", r_ec_unsupported_crv},
    {"OKP X25519", r_okp_x25519},
    {"OKP Ed25519 x short", r_okp_short_x},
    {"Ed25519 neutral point", r_ed25519_neutral},
    {"Ed25519 point of order 4", r_ed25519_order_4},
    {"Ed25519 point of order 8", r_ed25519_order_8},
    {"Ed25519 y not canonical (p + 1)", r_ed25519_y_not_canonical},
    {"use enc", r_use_enc},
    {"use other", r_use_other},
    {"key_ops without verify", r_key_ops_without_verify},
    {"key_ops empty", r_key_ops_empty},
    {"alg A256GCM", r_alg_a256gcm},
    {"alg RSA1_5", r_alg_rsa1_5},
    {"alg ES521", r_alg_es521},
    {"alg ES384 on a P-256 key", r_alg_es384_on_p256},
    {"alg RS256 on an EC key", r_alg_rs256_on_ec},
    {"alg ES256 on an RSA key", r_alg_es256_on_rsa},
    {"alg HS256 on an RSA JWK", r_alg_hs256_on_rsa},
    {"configured HS256 on a PEM public key", r_config_hs256_on_pem},
    {"configured Ed448 on an Ed25519 key", r_config_ed448_on_ed25519},
    {"private RSA JWK (d)", r_private_rsa_jwk},
    {"private RSA JWK (p)", r_private_rsa_jwk_p_only},
    {"private EC JWK", r_private_ec_jwk},
    {"private OKP JWK", r_private_okp_jwk},
    {"private RSA PEM", r_private_pem},
    {"private EC PEM", r_private_pem_ec},
    {"oct JWK without allow_symmetric", r_oct_not_allowed},
    {"oct JWK with empty k", r_oct_empty_k},
    {"oct JWK without k", r_oct_missing_k},
    {"oct JWK shorter than SHA-256", r_oct_short_k},
    {"oct JWK shorter than SHA-512", r_oct_short_for_hs512},
    {"oct JWK without alg", r_oct_without_alg},
    {"oct JWK with alg RS256", r_oct_with_rsa_alg},
    {"oct JWK with an alg outside the allow-list", r_oct_alg_outside_allow_list},
    {"kid a number", r_kid_number},
    {"alg a number", r_alg_number},
    {"use a number", r_use_number},
    {"key_ops a string", r_key_ops_not_array},
    {"key_ops holding a number", r_key_ops_number},
    {"kty missing", r_kty_missing},
    {"kty a number", r_kty_number},
    {"unknown kty outside a set", r_kty_unknown_single},
    {"n a number", r_n_number},
    {"x an array", r_x_array},
    {"keys not an array", r_keys_not_array},
    {"keys holding a non-object", r_keys_element_not_object},
    {"keys empty", r_keys_empty},
    {"keys with only unknown kty", r_keys_only_unknown_kty},
    {"more than CLAIMS_MAX_KEYS keys", r_keys_too_many},
    {"set with a duplicate kid", r_set_duplicate_kid},
    {"set mixing symmetric and asymmetric keys", r_set_mixed_symmetry},
    {"set with one weak key", r_set_with_one_bad_key},
    {"JWK with a duplicate member", r_duplicate_member},
    {"x5c certificate of another key", r_x5c_other_key},
    {"x5c not an array", r_x5c_not_array},
    {"x5c not a certificate", r_x5c_garbage},
    {"not a key", r_not_a_key},
    {"whitespace only", r_whitespace_only},
    {"empty", r_empty},
    {"PEM of an unknown type", r_pem_unknown_type},
    {"truncated PEM", r_pem_truncated},
    {"JSON array", r_json_array},
    {"invalid JSON", r_json_invalid},
};

START_TEST(test_unacceptable_key_material_is_refused)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    const char *text = refusals[_i].make(&o);
    apr_array_header_t *keys = apr_array_make(tu_p, 2, sizeof(claims_key_t *));
    char *err = NULL;
    claims_status_t st;
    *(claims_key_t **)apr_array_push(keys) = NULL;  /* a key loaded earlier must stay */
    st = claims_keys_parse(tu_p, text, strlen(text), "test-key", &o, keys, &err);
    ck_assert_msg(st == CLAIMS_ERR_KEY, "%s: got %s", refusals[_i].what, claims_status_name(st));
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_msg(err != NULL && *err != '\0', "%s: no message", refusals[_i].what);
}
END_TEST

/* CL-59: a refusal names the key, never its material. */
START_TEST(test_refusal_message_names_the_key_and_holds_no_key_bytes)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    const char *text = refusals[_i].make(&o);
    apr_array_header_t *keys;
    char *err = NULL;
    tu_parse(tu_p, text, &o, &keys, &err);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "test-key") != NULL, "%s: message does not name the key: %s", refusals[_i].what, err);
    /* no run of 12 base64/hex-looking characters of the input may appear in the message */
    for (const char *s = text; *s; s++) {
        apr_size_t run = 0;
        while ((s[run] >= 'A' && s[run] <= 'Z') || (s[run] >= 'a' && s[run] <= 'z') || (s[run] >= '0' && s[run] <= '9')
               || s[run] == '-' || s[run] == '_' || s[run] == '+' || s[run] == '/') {
            run++;
        }
        if (run >= 24) {
            char *chunk = apr_pstrndup(tu_p, s, 12);
            ck_assert_msg(strstr(err, chunk) == NULL, "%s: message leaks key material: %s", refusals[_i].what, err);
        }
        if (run > 0) {
            s += run - 1;
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ key sets, configured alg */

START_TEST(test_configured_alg_contradicting_the_jwk_alg_is_refused)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_PS256);
    apr_array_header_t *keys;
    char *err = NULL;
    ck_assert_int_eq(tu_parse(tu_p, tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\""), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "contradicts"));
    o = tu_opts(CLAIMS_ALG_RS256);
    ck_assert_int_eq(tu_parse(tu_p, tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\""), &o, &keys, &err), CLAIMS_OK);
    o = tu_opts(CLAIMS_ALG_EDDSA);
    ck_assert_int_eq(tu_parse(tu_p, tu_jwk(tu_p, tu_keys.ed25519, "\"alg\":\"Ed25519\""), &o, &keys, &err),
                     CLAIMS_OK);
}
END_TEST

START_TEST(test_oct_jwk_loads_when_symmetric_keys_are_allowed)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    claims_key_t *k;
    o.allow_symmetric = 1;
    k = tu_key(tu_p, apr_psprintf(tu_p, "{\"kty\":\"oct\",\"alg\":\"HS384\",\"kid\":\"h\",\"k\":\"%s\"}",
                                  tu_b64n(tu_p, tu_secret, 48)), &o);
    ck_assert_int_eq(k->alg, CLAIMS_ALG_HS384);
    ck_assert_ptr_null(k->pkey);
    ck_assert_uint_eq(k->secret_len, 48);
    ck_assert_mem_eq(k->secret, tu_secret, 48);
}
END_TEST

static claims_key_t *key_with(const char *jwk_extra, EVP_PKEY *pk)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    return tu_key(tu_p, tu_jwk(tu_p, pk, jwk_extra), &o);
}

START_TEST(test_check_set_refuses_a_duplicate_kid_across_files)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 2, sizeof(claims_key_t *));
    char *err = NULL;
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"k\"", tu_keys.ec256);
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"k\"", tu_keys.ec384);
    ck_assert_int_eq(claims_keys_check_set(tu_p, keys, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "duplicate kid"));
}
END_TEST

START_TEST(test_check_set_refuses_mixed_symmetric_and_asymmetric_keys)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 2, sizeof(claims_key_t *));
    claims_key_t *h = NULL;
    char *err = NULL;
    ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, 32, CLAIMS_ALG_HS256, "h", "secret", &h, &err), CLAIMS_OK);
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"e\"", tu_keys.ec256);
    *(claims_key_t **)apr_array_push(keys) = h;
    ck_assert_int_eq(claims_keys_check_set(tu_p, keys, &err), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_check_set_accepts_distinct_kids_and_kidless_keys)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 4, sizeof(claims_key_t *));
    char *err = NULL;
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"a\"", tu_keys.ec256);
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"b\"", tu_keys.ec384);
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ec521);
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ed25519);
    ck_assert_int_eq(claims_keys_check_set(tu_p, keys, &err), CLAIMS_OK);
}
END_TEST

/* ------------------------------------------------------------------ selection (CL-25, CL-27) */

START_TEST(test_select_by_kid_returns_exactly_that_key)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 3, sizeof(claims_key_t *));
    const claims_key_t *out[CLAIMS_MAX_KID_CANDIDATES];
    claims_key_t *b = key_with("\"kid\":\"b\"", tu_keys.ec256_b);
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"a\"", tu_keys.ec256);
    *(claims_key_t **)apr_array_push(keys) = b;
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ec256);
    ck_assert_int_eq(claims_keys_select(keys, "b", 1, CLAIMS_ALG_ES256, out, CLAIMS_MAX_KID_CANDIDATES), 1);
    ck_assert_ptr_eq(out[0], b);
}
END_TEST

START_TEST(test_select_kid_of_a_key_with_another_alg_finds_nothing)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 2, sizeof(claims_key_t *));
    const claims_key_t *out[CLAIMS_MAX_KID_CANDIDATES];
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"a\",\"alg\":\"RS256\"", tu_keys.rsa);
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ec256);
    ck_assert_int_eq(claims_keys_select(keys, "a", 1, CLAIMS_ALG_PS256, out, CLAIMS_MAX_KID_CANDIDATES), 0);
    ck_assert_int_eq(claims_keys_select(keys, "a", 1, CLAIMS_ALG_HS256, out, CLAIMS_MAX_KID_CANDIDATES), 0);
    /* and the kid-less ES256 key is not tried in its place */
    ck_assert_int_eq(claims_keys_select(keys, "a", 1, CLAIMS_ALG_ES256, out, CLAIMS_MAX_KID_CANDIDATES), 0);
}
END_TEST

START_TEST(test_select_unknown_kid_falls_back_only_to_kidless_keys)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 2, sizeof(claims_key_t *));
    const claims_key_t *out[CLAIMS_MAX_KID_CANDIDATES];
    claims_key_t *anon = key_with(NULL, tu_keys.ec256_b);
    *(claims_key_t **)apr_array_push(keys) = key_with("\"kid\":\"a\"", tu_keys.ec256);
    *(claims_key_t **)apr_array_push(keys) = anon;
    ck_assert_int_eq(claims_keys_select(keys, "zz", 2, CLAIMS_ALG_ES256, out, CLAIMS_MAX_KID_CANDIDATES), 1);
    ck_assert_ptr_eq(out[0], anon);
    ck_assert_int_eq(claims_keys_select(keys, "A", 1, CLAIMS_ALG_ES256, out, CLAIMS_MAX_KID_CANDIDATES), 1);
    ck_assert_ptr_eq(out[0], anon);
}
END_TEST

START_TEST(test_select_without_kid_returns_at_most_four_keys_of_the_alg)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 8, sizeof(claims_key_t *));
    const claims_key_t *out[CLAIMS_MAX_KID_CANDIDATES];
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ec384);
    for (int i = 0; i < 6; i++) {
        *(claims_key_t **)apr_array_push(keys) = key_with(apr_psprintf(tu_p, "\"kid\":\"k%d\"", i),
                                                          tu_gen_ec(tu_p, "P-256"));
    }
    ck_assert_int_eq(claims_keys_select(keys, NULL, 0, CLAIMS_ALG_ES256, out, 100), CLAIMS_MAX_KID_CANDIDATES);
    for (int i = 0; i < CLAIMS_MAX_KID_CANDIDATES; i++) {
        ck_assert_int_eq(out[i]->alg, CLAIMS_ALG_ES256);
    }
    ck_assert_int_eq(claims_keys_select(keys, NULL, 0, CLAIMS_ALG_ES256, out, 2), 2);
    ck_assert_int_eq(claims_keys_select(keys, NULL, 0, CLAIMS_ALG_ES384, out, 4), 1);
    ck_assert_int_eq(claims_keys_select(keys, NULL, 0, CLAIMS_ALG_RS256, out, 4), 0);
}
END_TEST

START_TEST(test_select_eddsa_header_matches_ed_keys)
{
    apr_array_header_t *keys = apr_array_make(tu_p, 2, sizeof(claims_key_t *));
    const claims_key_t *out[CLAIMS_MAX_KID_CANDIDATES];
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ed25519);
    *(claims_key_t **)apr_array_push(keys) = key_with(NULL, tu_keys.ed448);
    ck_assert_int_eq(claims_keys_select(keys, NULL, 0, CLAIMS_ALG_EDDSA, out, 4), 2);
    ck_assert_int_eq(claims_keys_select(keys, NULL, 0, CLAIMS_ALG_ED448, out, 4), 1);
    ck_assert_int_eq(out[0]->alg, CLAIMS_ALG_ED448);
}
END_TEST

/* ------------------------------------------------------------------ HMAC secrets (CL-21, CL-64) */

START_TEST(test_secret_of_the_hash_length_is_accepted)
{
    static const struct {
        claims_alg_t alg;
        apr_size_t len;
    } ok[] = {{CLAIMS_ALG_HS256, 32}, {CLAIMS_ALG_HS384, 48}, {CLAIMS_ALG_HS512, 64}, {CLAIMS_ALG_HS256, 64}};
    for (int i = 0; i < TU_COUNT(ok); i++) {
        claims_key_t *k = NULL;
        char *err = NULL;
        ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, ok[i].len, ok[i].alg, "kid", "s", &k, &err), CLAIMS_OK);
        ck_assert_int_eq(k->alg, ok[i].alg);
        ck_assert_uint_eq(k->secret_len, ok[i].len);
        ck_assert_ptr_null(k->pkey);
        ck_assert_str_eq(k->kid, "kid");
    }
}
END_TEST

START_TEST(test_secret_shorter_than_the_hash_or_empty_is_refused)
{
    static const struct {
        claims_alg_t alg;
        apr_size_t len;
    } bad[] = {{CLAIMS_ALG_HS256, 31}, {CLAIMS_ALG_HS384, 47}, {CLAIMS_ALG_HS512, 63}, {CLAIMS_ALG_HS256, 0},
               {CLAIMS_ALG_HS256, 1}};
    for (int i = 0; i < TU_COUNT(bad); i++) {
        claims_key_t *k = NULL;
        char *err = NULL;
        ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, bad[i].len, bad[i].alg, NULL, "s", &k, &err),
                         CLAIMS_ERR_KEY);
        ck_assert_ptr_nonnull(err);
    }
}
END_TEST

START_TEST(test_secret_for_a_non_hmac_alg_is_refused)
{
    claims_key_t *k = NULL;
    char *err = NULL;
    ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, 64, CLAIMS_ALG_RS256, NULL, "s", &k, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, 64, CLAIMS_ALG_UNKNOWN, NULL, "s", &k, &err), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_public_key_text_is_never_an_hmac_secret)
{
    apr_size_t der_len;
    unsigned char *der = tu_der_spki(tu_p, tu_keys.rsa, &der_len);
    const char *texts[] = {
        tu_pem_spki(tu_p, tu_keys.rsa),
        tu_pem_pkcs1(tu_p, tu_keys.rsa),
        tu_cert_pem(tu_p, tu_keys.ec256, NULL, NULL),
        apr_pstrcat(tu_p, "\n  ", tu_pem_spki(tu_p, tu_keys.ec256), NULL),
        tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\""),
        tu_jwk(tu_p, tu_keys.ed25519, NULL),
        apr_pstrcat(tu_p, " \r\n", tu_jwk(tu_p, tu_keys.ec256, NULL), NULL),
    };
    claims_key_t *k = NULL;
    char *err = NULL;
    for (int i = 0; i < TU_COUNT(texts); i++) {
        ck_assert_msg(claims_key_secret(tu_p, (const unsigned char *)texts[i], strlen(texts[i]), CLAIMS_ALG_HS256,
                                        NULL, "s", &k, &err) == CLAIMS_ERR_KEY, "text %d accepted as a secret", i);
    }
    ck_assert_int_eq(claims_key_secret(tu_p, der, der_len, CLAIMS_ALG_HS256, NULL, "s", &k, &err), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_binary_secret_that_only_starts_like_a_key_is_accepted)
{
    /* random secrets begin with '{' or 0x30 0x82 now and then: only real key material is refused */
    unsigned char s1[32], s2[32];
    claims_key_t *k = NULL;
    char *err = NULL;
    memcpy(s1, tu_secret, 32);
    s1[0] = '{';
    memcpy(s2, tu_secret, 32);
    s2[0] = 0x30;
    s2[1] = 0x82;
    ck_assert_int_eq(claims_key_secret(tu_p, s1, 32, CLAIMS_ALG_HS256, NULL, "s", &k, &err), CLAIMS_OK);
    ck_assert_int_eq(claims_key_secret(tu_p, s2, 32, CLAIMS_ALG_HS256, NULL, "s", &k, &err), CLAIMS_OK);
    {
        static const char jwk[] = "{\"kty\":\"oct\",\"k\":\"abcdefghijklmnopqrstuvwxyz\"}";
        ck_assert_int_eq(claims_key_secret(tu_p, (const unsigned char *)jwk, strlen(jwk), CLAIMS_ALG_HS256, NULL,
                                           "s", &k, &err), CLAIMS_ERR_KEY);
    }
}
END_TEST

static const char *write_temp(const char *content, apr_size_t len)
{
    apr_file_t *f;
    char *path = apr_pstrdup(tu_p, "/tmp/claims-unit-XXXXXX");
    apr_size_t n = len;
    ck_assert_int_eq(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                                   | APR_FOPEN_DELONCLOSE | APR_FOPEN_BINARY, tu_p), APR_SUCCESS);
    if (len > 0) {
        ck_assert_int_eq(apr_file_write_full(f, content, len, &n), APR_SUCCESS);
    }
    ck_assert_int_eq(apr_file_flush(f), APR_SUCCESS);
    return path;  /* removed when the pool closes the file */
}

START_TEST(test_secret_file_drops_one_trailing_newline)
{
    static const struct {
        const char *suffix;
        apr_size_t want;
    } cases[] = {{"", 40}, {"\n", 40}, {"\r\n", 40}, {"\n\n", 41}};
    for (int i = 0; i < TU_COUNT(cases); i++) {
        char *content = apr_pstrcat(tu_p, apr_pstrndup(tu_p, (const char *)tu_secret, 40), cases[i].suffix, NULL);
        const char *path = write_temp(content, strlen(content));
        claims_key_t *k = NULL;
        char *err = NULL;
        ck_assert_int_eq(claims_key_secret_file(tu_p, path, CLAIMS_ALG_HS256, "f", &k, &err), CLAIMS_OK);
        ck_assert_uint_eq(k->secret_len, cases[i].want);
        ck_assert_mem_eq(k->secret, tu_secret, 40);
    }
}
END_TEST

START_TEST(test_secret_file_holding_a_pem_is_refused)
{
    const char *pem = tu_pem_spki(tu_p, tu_keys.rsa);
    claims_key_t *k = NULL;
    char *err = NULL;
    ck_assert_int_eq(claims_key_secret_file(tu_p, write_temp(pem, strlen(pem)), CLAIMS_ALG_HS256, NULL, &k, &err),
                     CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_key_file_loads_with_its_path_as_label)
{
    const char *pem = tu_pem_spki(tu_p, tu_keys.ec256);
    const char *path = write_temp(pem, strlen(pem));
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    char *err = NULL;
    ck_assert_int_eq(claims_keys_load_file(tu_p, path, &o, keys, &err), CLAIMS_OK);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->label, path);
}
END_TEST

START_TEST(test_missing_or_non_regular_key_file_is_an_io_error)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    claims_key_t *k = NULL;
    char *err = NULL;
    ck_assert_int_eq(claims_keys_load_file(tu_p, "/nonexistent/claims/key.pem", &o, keys, &err), CLAIMS_ERR_IO);
    ck_assert_int_eq(claims_keys_load_file(tu_p, "/tmp", &o, keys, &err), CLAIMS_ERR_IO);
    ck_assert_int_eq(claims_key_secret_file(tu_p, "/nonexistent/claims/hs.key", CLAIMS_ALG_HS256, NULL, &k, &err),
                     CLAIMS_ERR_IO);
    ck_assert_int_eq(keys->nelts, 0);
}
END_TEST

START_TEST(test_key_file_larger_than_the_cap_is_refused)
{
    char *big = apr_palloc(tu_p, CLAIMS_MAX_KEY_FILE + 2);
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    char *err = NULL;
    memset(big, ' ', CLAIMS_MAX_KEY_FILE + 1);
    big[CLAIMS_MAX_KEY_FILE + 1] = '\0';
    ck_assert_int_eq(claims_keys_load_file(tu_p, write_temp(big, CLAIMS_MAX_KEY_FILE + 1), &o, keys, &err),
                     CLAIMS_ERR_IO);
    ck_assert_int_eq(claims_keys_parse(tu_p, big, CLAIMS_MAX_KEY_FILE + 1, "big", &o, keys, &err), CLAIMS_ERR_KEY);
}
END_TEST

/* CL-65: without a configured maximum, RSA moduli above 8192 bits are refused (RFC 7518
 * section 8.6: verifying with a huge modulus costs the verifier, not the attacker). The moduli
 * are synthetic: only their size matters to the check. */
static char *rsa_jwk_of_bits(int bytes, unsigned char top)
{
    unsigned char *n = apr_palloc(tu_p, (apr_size_t)bytes);
    memset(n, 0xa5, (apr_size_t)bytes);
    n[0] = top;
    n[bytes - 1] |= 0x01;
    return rsa_jwk(tu_b64n(tu_p, n, (apr_size_t)bytes), "AQAB", NULL);
}

START_TEST(test_rsa_modulus_above_8192_bits_is_refused_by_default)
{
    claims_key_opts_t o = tu_opts(CLAIMS_ALG_UNKNOWN);
    apr_array_header_t *keys;
    char *err = NULL;
    ck_assert_int_eq(o.max_rsa_bits, 0);
    ck_assert_int_eq(tu_parse(tu_p, rsa_jwk_of_bits(1024, 0xc0), &o, &keys, &err), CLAIMS_OK);
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->bits, 8192);
    ck_assert_int_eq(tu_parse(tu_p, rsa_jwk_of_bits(1025, 0x01), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "8193"));
    ck_assert_int_eq(tu_parse(tu_p, rsa_jwk_of_bits(2048, 0xff), &o, &keys, &err), CLAIMS_ERR_KEY);
    ck_assert_int_eq(keys->nelts, 0);
}
END_TEST

Suite *keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tu_tcase("formats", 30);
    tcase_add_test(tc, test_pem_spki_rsa_key_loads_bound_to_the_configured_alg);
    tcase_add_test(tc, test_pem_pkcs1_rsa_public_key_loads);
    tcase_add_test(tc, test_pem_certificate_loads_its_public_key);
    tcase_add_test(tc, test_der_certificate_loads_its_public_key);
    tcase_add_test(tc, test_der_spki_loads);
    tcase_add_test(tc, test_pem_with_surrounding_whitespace_loads);
    tcase_add_test(tc, test_jwk_loads_with_its_alg_and_kid);
    tcase_add_test(tc, test_jwk_with_key_ops_verify_loads);
    tcase_add_test(tc, test_jwk_set_is_detected_and_every_key_loaded);
    tcase_add_test(tc, test_x5c_holding_the_same_key_is_accepted);
    tcase_add_test(tc, test_oct_jwk_loads_when_symmetric_keys_are_allowed);
    tcase_add_test(tc, test_key_file_loads_with_its_path_as_label);
    tcase_add_test(tc, test_missing_or_non_regular_key_file_is_an_io_error);
    tcase_add_test(tc, test_key_file_larger_than_the_cap_is_refused);
    suite_add_tcase(s, tc);

    tc = tu_tcase("binding", 30);
    tcase_add_loop_test(tc, test_ec_and_ed_keys_without_alg_are_bound_from_their_curve, 0, TU_COUNT(curve_binding));
    tcase_add_test(tc, test_eddsa_binds_to_the_curve_of_the_key);
    tcase_add_test(tc, test_rsa_key_without_alg_is_refused);
    tcase_add_test(tc, test_rsa_key_takes_the_only_rsa_alg_of_the_allow_list);
    tcase_add_test(tc, test_rsa_key_with_two_rsa_algs_allowed_is_refused);
    tcase_add_test(tc, test_key_alg_outside_the_allow_list_is_refused);
    tcase_add_test(tc, test_configured_kid_replaces_the_jwk_kid);
    suite_add_tcase(s, tc);

    tc = tu_tcase("refusals", 30);
    tcase_add_loop_test(tc, test_unacceptable_key_material_is_refused, 0, TU_COUNT(refusals));
    tcase_add_loop_test(tc, test_refusal_message_names_the_key_and_holds_no_key_bytes, 0, TU_COUNT(refusals));
    tcase_add_test(tc, test_rsa_modulus_above_8192_bits_is_refused_by_default);
    suite_add_tcase(s, tc);

    tc = tu_tcase("sets", 30);
    tcase_add_test(tc, test_configured_alg_contradicting_the_jwk_alg_is_refused);
    tcase_add_test(tc, test_check_set_refuses_a_duplicate_kid_across_files);
    tcase_add_test(tc, test_check_set_refuses_mixed_symmetric_and_asymmetric_keys);
    tcase_add_test(tc, test_check_set_accepts_distinct_kids_and_kidless_keys);
    suite_add_tcase(s, tc);

    tc = tu_tcase("select", 30);
    tcase_add_test(tc, test_select_by_kid_returns_exactly_that_key);
    tcase_add_test(tc, test_select_kid_of_a_key_with_another_alg_finds_nothing);
    tcase_add_test(tc, test_select_unknown_kid_falls_back_only_to_kidless_keys);
    tcase_add_test(tc, test_select_without_kid_returns_at_most_four_keys_of_the_alg);
    tcase_add_test(tc, test_select_eddsa_header_matches_ed_keys);
    suite_add_tcase(s, tc);

    tc = tu_tcase("secrets", 30);
    tcase_add_test(tc, test_secret_of_the_hash_length_is_accepted);
    tcase_add_test(tc, test_secret_shorter_than_the_hash_or_empty_is_refused);
    tcase_add_test(tc, test_secret_for_a_non_hmac_alg_is_refused);
    tcase_add_test(tc, test_public_key_text_is_never_an_hmac_secret);
    tcase_add_test(tc, test_binary_secret_that_only_starts_like_a_key_is_accepted);
    tcase_add_test(tc, test_secret_file_drops_one_trailing_newline);
    tcase_add_test(tc, test_secret_file_holding_a_pem_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
