/*
 * fuzz_common.c - test keys and signing for the fuzz harnesses and the seed generator; see
 * fuzz_common.h.
 *
 * The keys are derived from fixed labels (SHA-256 in counter mode) instead of being generated
 * from the random generator, so that the seed corpus can hold tokens these keys verify. They are
 * test keys: their "secret" is this file.
 */
#include "fuzz_common.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_die(const char *what)
{
    fprintf(stderr, "fuzz setup failed: %s\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

apr_pool_t *fz_global_pool(void)
{
    static apr_pool_t *gp;
    if (gp == NULL) {
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&gp, NULL) != APR_SUCCESS) {
            fz_die("apr_initialize");
        }
    }
    return gp;
}

/* ------------------------------------------------------------------ deterministic keys */

/* len bytes of SHA-256(label ":" counter) blocks. */
static void derive(const char *label, unsigned char *out, size_t len)
{
    unsigned char block[SHA256_DIGEST_LENGTH];
    char buf[256];
    for (size_t off = 0, i = 0; off < len; i++) {
        int n = snprintf(buf, sizeof(buf), "mod_claims fuzz key:%s:%zu", label, i);
        size_t take = len - off < sizeof(block) ? len - off : sizeof(block);
        SHA256((const unsigned char *)buf, (size_t)n, block);
        memcpy(out + off, block, take);
        off += take;
    }
}

/* The first prime >= a derived odd number with its two top bits set, p - 1 coprime to e. */
static BIGNUM *det_prime(const char *label, int bits, const BIGNUM *e, BN_CTX *ctx)
{
    unsigned char buf[512];
    size_t n = (size_t)bits / 8;
    BIGNUM *p, *pm1 = BN_new(), *g = BN_new();

    derive(label, buf, n);
    buf[0] |= 0xc0;
    buf[n - 1] |= 0x01;
    p = BN_bin2bn(buf, (int)n, NULL);
    if (p == NULL || pm1 == NULL || g == NULL) {
        fz_die("BN alloc");
    }
    for (;;) {
        if (BN_check_prime(p, ctx, NULL) == 1) {
            if (BN_sub(pm1, p, BN_value_one()) != 1 || BN_gcd(g, pm1, e, ctx) != 1) {
                fz_die("BN arithmetic");
            }
            if (BN_is_one(g)) {
                break;
            }
        }
        if (BN_add_word(p, 2) != 1) {
            fz_die("BN_add_word");
        }
    }
    BN_free(pm1);
    BN_free(g);
    return p;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) {
        fz_die(type);
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *det_rsa(const char *label)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *e = BN_new(), *n = BN_new(), *d = BN_new(), *phi = BN_new();
    BIGNUM *pm1 = BN_new(), *qm1 = BN_new(), *dp = BN_new(), *dq = BN_new(), *qinv = BN_new();
    BIGNUM *p, *q;
    char lp[128], lq[128];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey;

    if (ctx == NULL || e == NULL || n == NULL || d == NULL || phi == NULL || pm1 == NULL || qm1 == NULL
        || dp == NULL || dq == NULL || qinv == NULL || bld == NULL || BN_set_word(e, 65537) != 1) {
        fz_die("RSA alloc");
    }
    snprintf(lp, sizeof(lp), "%s:p", label);
    snprintf(lq, sizeof(lq), "%s:q", label);
    p = det_prime(lp, 1024, e, ctx);
    q = det_prime(lq, 1024, e, ctx);
    if (BN_mul(n, p, q, ctx) != 1 || BN_sub(pm1, p, BN_value_one()) != 1 || BN_sub(qm1, q, BN_value_one()) != 1
        || BN_mul(phi, pm1, qm1, ctx) != 1 || BN_mod_inverse(d, e, phi, ctx) == NULL
        || BN_mod(dp, d, pm1, ctx) != 1 || BN_mod(dq, d, qm1, ctx) != 1
        || BN_mod_inverse(qinv, q, p, ctx) == NULL || BN_num_bits(n) != 2048) {
        fz_die("RSA arithmetic");
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv) != 1) {
        fz_die("RSA params");
    }
    pkey = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(dp);
    BN_clear_free(dq);
    BN_free(qinv);
    BN_free(phi);
    BN_free(pm1);
    BN_free(qm1);
    BN_free(n);
    BN_free(e);
    BN_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *det_ec(const char *label, const char *group_name, int nid)
{
    BN_CTX *ctx = BN_CTX_new();
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    EC_POINT *pub = group != NULL ? EC_POINT_new(group) : NULL;
    BIGNUM *d = BN_new(), *raw;
    unsigned char buf[80], pt[1 + 2 * 66];
    size_t ptlen;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey;

    if (ctx == NULL || group == NULL || pub == NULL || d == NULL || bld == NULL) {
        fz_die("EC alloc");
    }
    derive(label, buf, sizeof(buf));
    raw = BN_bin2bn(buf, (int)sizeof(buf), NULL);
    if (raw == NULL || BN_nnmod(d, raw, EC_GROUP_get0_order(group), ctx) != 1 || BN_is_zero(d)
        || EC_POINT_mul(group, pub, d, NULL, NULL, ctx) != 1) {
        fz_die("EC arithmetic");
    }
    ptlen = EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof(pt), ctx);
    if (ptlen == 0 || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen) != 1) {
        fz_die("EC params");
    }
    pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(raw);
    BN_clear_free(d);
    EC_POINT_free(pub);
    EC_GROUP_free(group);
    BN_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *det_ed(const char *label, int type, size_t len)
{
    unsigned char seed[57];
    EVP_PKEY *pkey;
    derive(label, seed, len);
    pkey = EVP_PKEY_new_raw_private_key(type, NULL, seed, len);
    if (pkey == NULL) {
        fz_die(label);
    }
    return pkey;
}

const fz_keys_t *fz_keys(void)
{
    static fz_keys_t k;
    static int done;
    if (!done) {
        k.rsa = det_rsa("rsa-2048");
        k.p256 = det_ec("p-256", "P-256", NID_X9_62_prime256v1);
        k.p384 = det_ec("p-384", "P-384", NID_secp384r1);
        k.p521 = det_ec("p-521", "P-521", NID_secp521r1);
        k.ed25519 = det_ed("ed25519", EVP_PKEY_ED25519, 32);
        k.ed448 = det_ed("ed448", EVP_PKEY_ED448, 57);
        derive("hs256", k.hs256, sizeof(k.hs256));
        derive("hs384", k.hs384, sizeof(k.hs384));
        derive("hs512", k.hs512, sizeof(k.hs512));
        /* the core refuses a secret that looks like a PEM, a JWK or DER: keep these clear of it */
        k.hs256[0] = k.hs384[0] = k.hs512[0] = 's';
        done = 1;
    }
    return &k;
}

EVP_PKEY *fz_key_for(const fz_keys_t *k, claims_alg_t alg)
{
    switch (claims_alg_info(alg)->family) {
    case CLAIMS_FAMILY_RSA:
    case CLAIMS_FAMILY_PSS:
        return k->rsa;
    case CLAIMS_FAMILY_EC:
        return alg == CLAIMS_ALG_ES256 ? k->p256 : alg == CLAIMS_ALG_ES384 ? k->p384 : k->p521;
    case CLAIMS_FAMILY_OKP:
        return alg == CLAIMS_ALG_ED448 ? k->ed448 : k->ed25519;
    default:
        return NULL;
    }
}

const unsigned char *fz_secret(const fz_keys_t *k, claims_alg_t alg, size_t *len)
{
    switch (alg) {
    case CLAIMS_ALG_HS256:
        *len = sizeof(k->hs256);
        return k->hs256;
    case CLAIMS_ALG_HS384:
        *len = sizeof(k->hs384);
        return k->hs384;
    case CLAIMS_ALG_HS512:
        *len = sizeof(k->hs512);
        return k->hs512;
    default:
        *len = 0;
        return NULL;
    }
}

/* ------------------------------------------------------------------ encoding, signing */

char *fz_b64url(apr_pool_t *p, const unsigned char *in, size_t len)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1), *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        *o++ = t[(v >> 18) & 63];
        *o++ = t[(v >> 12) & 63];
        *o++ = t[(v >> 6) & 63];
        *o++ = t[v & 63];
    }
    if (len - i == 1) {
        *o++ = t[in[i] >> 2];
        *o++ = t[(in[i] & 3) << 4];
    }
    else if (len - i == 2) {
        *o++ = t[in[i] >> 2];
        *o++ = t[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *o++ = t[(in[i + 1] & 15) << 2];
    }
    *o = '\0';
    return out;
}

int fz_sign(const fz_keys_t *k, claims_alg_t alg, const void *data, size_t len,
            unsigned char *sig, size_t *sig_len)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    EVP_PKEY *pkey = fz_key_for(k, alg);
    EVP_MD_CTX *ctx;
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md = ai->digest != NULL ? EVP_get_digestbyname(ai->digest) : NULL;
    unsigned char der[256];
    size_t der_len = sizeof(der);
    int ok;

    if (ai->family == CLAIMS_FAMILY_HMAC) {
        size_t slen;
        const unsigned char *secret = fz_secret(k, alg, &slen);
        unsigned int n = 0;
        if (md == NULL || HMAC(md, secret, (int)slen, data, len, sig, &n) == NULL) {
            return -1;
        }
        *sig_len = n;
        return 0;
    }
    if (pkey == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
        return -1;
    }
    ok = EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey) == 1;
    if (ok && ai->family == CLAIMS_FAMILY_PSS) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)ai->hash_len) == 1;
    }
    if (ok && ai->family == CLAIMS_FAMILY_EC) {
        ok = EVP_DigestSign(ctx, der, &der_len, data, len) == 1;
        if (ok) {
            const unsigned char *q = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
            ok = es != NULL
                && BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)ai->coord_len) == (int)ai->coord_len
                && BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + ai->coord_len, (int)ai->coord_len)
                       == (int)ai->coord_len;
            ECDSA_SIG_free(es);
            *sig_len = 2 * ai->coord_len;
        }
    }
    else if (ok) {
        *sig_len = 1024;
        ok = EVP_DigestSign(ctx, sig, sig_len, data, len) == 1;
    }
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

char *fz_token(apr_pool_t *p, const fz_keys_t *k, claims_alg_t alg, const char *header_json,
               const char *payload_json)
{
    unsigned char sig[1024];
    size_t sig_len = 0;
    char *input = apr_pstrcat(p, fz_b64url(p, (const unsigned char *)header_json, strlen(header_json)), ".",
                              fz_b64url(p, (const unsigned char *)payload_json, strlen(payload_json)), NULL);
    if (fz_sign(k, alg, input, strlen(input), sig, &sig_len) != 0) {
        fz_die("signing a token");
    }
    return apr_pstrcat(p, input, ".", fz_b64url(p, sig, sig_len), NULL);
}

/* ------------------------------------------------------------------ public forms */

static char *bn_param_b64(apr_pool_t *p, EVP_PKEY *pkey, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;
    char *out;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        fz_die(name);
    }
    n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    if (n <= 0) {
        fz_die(name);
    }
    out = fz_b64url(p, buf, (size_t)n);
    return out;
}

char *fz_jwk(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, const char *alg, const char *extra)
{
    char *body;
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        body = apr_psprintf(p, "\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"",
                            bn_param_b64(p, pkey, OSSL_PKEY_PARAM_RSA_N, 0),
                            bn_param_b64(p, pkey, OSSL_PKEY_PARAM_RSA_E, 0));
    }
    else if (EVP_PKEY_is_a(pkey, "EC")) {
        int bits = EVP_PKEY_get_bits(pkey);
        int coord = (bits + 7) / 8;
        body = apr_psprintf(p, "\"kty\":\"EC\",\"crv\":\"P-%d\",\"x\":\"%s\",\"y\":\"%s\"", bits,
                            bn_param_b64(p, pkey, OSSL_PKEY_PARAM_EC_PUB_X, coord),
                            bn_param_b64(p, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, coord));
    }
    else {
        unsigned char raw[64];
        size_t len = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1) {
            fz_die("raw public key");
        }
        body = apr_psprintf(p, "\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"",
                            EVP_PKEY_is_a(pkey, "ED448") ? "Ed448" : "Ed25519", fz_b64url(p, raw, len));
    }
    return apr_psprintf(p, "{%s%s%s%s%s%s%s%s}", body,
                        kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "",
                        alg ? ",\"alg\":\"" : "", alg ? alg : "", alg ? "\"" : "",
                        extra ? apr_pstrcat(p, ",", extra, NULL) : "");
}

char *fz_jwk_oct(apr_pool_t *p, const unsigned char *secret, size_t len, const char *kid, const char *alg)
{
    return apr_psprintf(p, "{\"kty\":\"oct\",\"k\":\"%s\"%s%s%s%s%s%s}", fz_b64url(p, secret, len),
                        kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "",
                        alg ? ",\"alg\":\"" : "", alg ? alg : "", alg ? "\"" : "");
}

static char *bio_text(apr_pool_t *p, BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = apr_pstrmemdup(p, data, (apr_size_t)n);
    BIO_free(bio);
    return out;
}

char *fz_pem_spki(apr_pool_t *p, EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
        fz_die("PEM_write_bio_PUBKEY");
    }
    return bio_text(p, bio);
}

unsigned char *fz_der_spki(apr_pool_t *p, EVP_PKEY *pkey, size_t *len)
{
    unsigned char *der = NULL, *out;
    int n = i2d_PUBKEY(pkey, &der);
    if (n <= 0) {
        fz_die("i2d_PUBKEY");
    }
    out = apr_pmemdup(p, der, (apr_size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return out;
}

char *fz_pem_rsa_pkcs1(apr_pool_t *p, EVP_PKEY *rsa)
{
    unsigned char *der = NULL;
    int n = i2d_PublicKey(rsa, &der);
    BIO *bio = BIO_new(BIO_s_mem());
    if (n <= 0 || bio == NULL || PEM_write_bio(bio, "RSA PUBLIC KEY", "", der, n) <= 0) {
        fz_die("PKCS#1 PEM");
    }
    OPENSSL_free(der);
    return bio_text(p, bio);
}

unsigned char *fz_cert(apr_pool_t *p, const fz_keys_t *k, EVP_PKEY *pkey, int pem, size_t *len)
{
    X509 *x = X509_new();
    X509_NAME *name;
    unsigned char *der = NULL, *out;
    int n;

    if (x == NULL || X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 7) != 1
        || ASN1_TIME_set_string(X509_getm_notBefore(x), "20240101000000Z") != 1
        || ASN1_TIME_set_string(X509_getm_notAfter(x), "20990101000000Z") != 1
        || X509_set_pubkey(x, pkey) != 1 || (name = X509_get_subject_name(x)) == NULL
        || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mod_claims fuzz",
                                      -1, -1, 0) != 1
        || X509_set_issuer_name(x, name) != 1 || X509_sign(x, k->ed25519, NULL) <= 0) {
        fz_die("certificate");
    }
    if (pem) {
        BIO *bio = BIO_new(BIO_s_mem());
        char *text;
        if (bio == NULL || PEM_write_bio_X509(bio, x) != 1) {
            fz_die("PEM_write_bio_X509");
        }
        X509_free(x);
        text = bio_text(p, bio);
        *len = strlen(text);
        return (unsigned char *)text;
    }
    n = i2d_X509(x, &der);
    X509_free(x);
    if (n <= 0) {
        fz_die("i2d_X509");
    }
    out = apr_pmemdup(p, der, (apr_size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return out;
}

char *fz_cstr(apr_pool_t *p, const unsigned char *data, size_t size)
{
    const unsigned char *nul = memchr(data, '\0', size);
    return apr_pstrmemdup(p, (const char *)data, nul != NULL ? (apr_size_t)(nul - data) : size);
}
