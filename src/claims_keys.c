/*
 * claims_keys.c - key import (PEM, DER, certificates, HMAC secrets, and the keys claims_jwk reads
 * from JWK and JWK Set documents), algorithm binding and strength checks; see claims_keys.h.
 */
#include "claims_keys.h"
#include "claims_jwk.h"

#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

/* ------------------------------------------------------------------ cleanups */

static apr_uint32_t key_serial;

/* Serials tell a key apart from a later key at the same address (verified-token cache). */
static apr_uint32_t next_serial(void)
{
    return apr_atomic_inc32(&key_serial) + 1;
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static apr_status_t md_cleanup(void *data)
{
    EVP_MD_free(data);
    return APR_SUCCESS;
}

static apr_status_t md_ctx_cleanup(void *data)
{
    EVP_MD_CTX_free(data);
    return APR_SUCCESS;
}

/* The key's verification context, with digest and padding set once at load; every token's
 * verification starts from a copy (EVP_DigestVerifyInit costs more than an RSA check's tenth). */
static EVP_MD_CTX *make_verify_proto(apr_pool_t *p, const claims_key_t *k)
{
    const claims_alg_info_t *ai = claims_alg_info(k->alg);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, &pctx, k->md, NULL, k->pkey) == 1;
    if (ok && ai->family == CLAIMS_FAMILY_PSS) {
        /* salt length = hash length, set explicitly: OpenSSL's verify default is "auto" (CL-32) */
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, k->md) == 1
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)ai->hash_len) == 1;
    }
    if (!ok) {
        EVP_MD_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    apr_pool_cleanup_register(p, ctx, md_ctx_cleanup, apr_pool_cleanup_null);
    return ctx;
}

static claims_status_t fail(apr_pool_t *p, char **err, const char *label, const char *what)
{
    if (err != NULL) {
        *err = apr_pstrcat(p, label, ": ", what, NULL);
    }
    ERR_clear_error();
    return CLAIMS_ERR_KEY;
}

/* ------------------------------------------------------------------ binding + strength */

/* Why a remote set (opts->skip_unusable) skips a key that claims_jwk read: no algorithm of the
 * issuer's can be bound to it (the reasons found on a key's members are claims_jwk's). */
static const claims_jwk_skip_t SKIP_RSA_NO_ALG = {"no alg: RSA key usable with several algorithms",
                                                  CLAIMS_LOG_WARNING};
static const claims_jwk_skip_t SKIP_NOT_ALLOWED = {"algorithm not in ClaimsAlgorithms", CLAIMS_LOG_INFO};

static int alg_family_matches_pkey(claims_alg_t alg, EVP_PKEY *pkey, const char *curve)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    switch (ai->family) {
    case CLAIMS_FAMILY_RSA:
    case CLAIMS_FAMILY_PSS:
        return EVP_PKEY_is_a(pkey, "RSA");
    case CLAIMS_FAMILY_EC:
        return EVP_PKEY_is_a(pkey, "EC") && curve != NULL && strcmp(curve, ai->curve) == 0;
    case CLAIMS_FAMILY_OKP:
        if (alg == CLAIMS_ALG_ED25519) {
            return EVP_PKEY_is_a(pkey, "ED25519");
        }
        if (alg == CLAIMS_ALG_ED448) {
            return EVP_PKEY_is_a(pkey, "ED448");
        }
        return 0;
    default:
        return 0;
    }
}

/* JWK crv name of an EC/OKP key, or NULL. */
static const char *pkey_curve(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        return "Ed25519";
    }
    if (EVP_PKEY_is_a(pkey, "ED448")) {
        return "Ed448";
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1) {
            return NULL;
        }
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
            return "P-256";
        }
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
            return "P-384";
        }
        if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0) {
            return "P-521";
        }
    }
    return NULL;
}

/* The algorithm of a key that declares none: for RSA, the only RSA algorithm of the allow-list;
 * for EC and Ed keys, the one their curve names. */
static claims_status_t infer_alg(apr_pool_t *p, EVP_PKEY *pkey, const char *curve, const claims_key_opts_t *opts,
                                 const char *label, claims_alg_t *alg, const claims_jwk_skip_t **why, char **err)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        /* RSA fits six algorithms: only an allow-list naming exactly one settles it. That
         * binding is the operator's, as alg= would be, so each key still has one algorithm
         * (RFC 8725 section 3.1, CL-60); without it, guessing RS256 could be wrong. */
        int found = 0;
        for (int a = CLAIMS_ALG_RS256; a <= CLAIMS_ALG_PS512; a++) {
            if (opts->allowed & CLAIMS_ALG_BIT(a)) {
                found++;
                *alg = (claims_alg_t)a;
            }
        }
        if (found != 1) {
            /* none allowed: of no use to this issuer, whatever its algorithm */
            *why = found == 0 && opts->allowed != 0 ? &SKIP_NOT_ALLOWED : &SKIP_RSA_NO_ALG;
            return fail(p, err, label,
                        "RSA key without an algorithm: bind one with alg= (RS256, RS384, RS512, "
                        "PS256, PS384, PS512) or allow exactly one RSA algorithm in ClaimsAlgorithms");
        }
        return CLAIMS_OK;
    }
    if (curve == NULL) {
        return fail(p, err, label, "unsupported key type or curve (RSA, EC P-256/P-384/P-521, Ed25519, Ed448)");
    }
    for (int a = CLAIMS_ALG_ES256; a <= CLAIMS_ALG_ED448; a++) {
        if (strcmp(claims_alg_info((claims_alg_t)a)->curve, curve) == 0) {
            *alg = (claims_alg_t)a;
        }
    }
    return CLAIMS_OK;
}

/* Chooses the algorithm of an asymmetric key. declared: from configuration (wins) or JWK.
 * On a refusal due to the algorithm alone, not to the key, *why says so (a remote set skips). */
static claims_status_t bind_alg(apr_pool_t *p, EVP_PKEY *pkey, claims_alg_t declared,
                                const claims_key_opts_t *opts, const char *label,
                                claims_alg_t *out, const claims_jwk_skip_t **why, char **err)
{
    const char *curve = pkey_curve(pkey);
    claims_alg_t alg = declared;
    claims_status_t st;

    if (alg == CLAIMS_ALG_EDDSA) {
        alg = curve != NULL && strcmp(curve, "Ed448") == 0 ? CLAIMS_ALG_ED448 : CLAIMS_ALG_ED25519;
    }
    if (alg == CLAIMS_ALG_UNKNOWN && (st = infer_alg(p, pkey, curve, opts, label, &alg, why, err)) != CLAIMS_OK) {
        return st;
    }
    if (claims_alg_info(alg)->family == CLAIMS_FAMILY_HMAC) {
        return fail(p, err, label, apr_psprintf(p, "%s needs a secret (ClaimsSecretFile), not a public key",
                                               claims_alg_name(alg)));
    }
    if (!alg_family_matches_pkey(alg, pkey, curve)) {
        return fail(p, err, label, apr_psprintf(p, "algorithm %s does not fit this key (%s%s%s)",
                                               claims_alg_name(alg), EVP_PKEY_get0_type_name(pkey),
                                               curve ? " " : "", curve ? curve : ""));
    }
    if (opts->allowed != 0 && !claims_alg_set_allows(opts->allowed, alg, alg)) {
        *why = &SKIP_NOT_ALLOWED;
        return fail(p, err, label, apr_psprintf(p, "key algorithm %s is not in ClaimsAlgorithms",
                                               claims_alg_name(alg)));
    }
    *out = alg;
    return CLAIMS_OK;
}

/* An Ed25519 public key that is a point of small order (or a non-canonical encoding, y >= p,
 * RFC 8032 section 5.1.3) verifies signatures anyone can make: OpenSSL accepts R = the neutral
 * point, S = 0 under the neutral key for every message. The y values of the eight small-order
 * points, with the sign bit of x cleared. */
static int ed25519_weak(EVP_PKEY *pkey)
{
    static const unsigned char small_order[][32] = {
        {0x00},                                                         /* y = 0, order 4 */
        {0x01},                                                         /* y = 1, neutral */
        {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
         0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
        {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
         0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p - 1 */
    };
    unsigned char y[32];
    size_t len = sizeof(y);
    int high = 1;

    if (EVP_PKEY_get_raw_public_key(pkey, y, &len) != 1 || len != sizeof(y)) {
        return 1;
    }
    y[31] &= 0x7f;
    for (int i = 1; i < 31; i++) {
        high &= y[i] == 0xff;
    }
    if (high && y[31] == 0x7f && y[0] >= 0xed) {
        return 1;  /* y >= p = 2^255 - 19 */
    }
    for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
        if (memcmp(y, small_order[i], sizeof(y)) == 0) {
            return 1;
        }
    }
    return 0;
}

static claims_status_t check_strength(apr_pool_t *p, EVP_PKEY *pkey, const claims_key_opts_t *opts,
                                      const char *label, char **err)
{
    int max_bits = opts->max_rsa_bits > 0 ? opts->max_rsa_bits : CLAIMS_DEFAULT_MAX_RSA_BITS;
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(pkey);
        BIGNUM *e = NULL;
        int ok;
        if (bits < CLAIMS_MIN_RSA_BITS) {
            return fail(p, err, label, apr_psprintf(p, "RSA key of %d bits is too weak (minimum %d)",
                                                   bits, CLAIMS_MIN_RSA_BITS));
        }
        if (bits > max_bits) {
            return fail(p, err, label, apr_psprintf(p, "RSA key of %d bits exceeds the maximum of %d",
                                                   bits, max_bits));
        }
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
            return fail(p, err, label, "cannot read the RSA public exponent");
        }
        ok = BN_is_odd(e) && !BN_is_one(e);
        BN_free(e);
        if (!ok) {
            return fail(p, err, label, "RSA public exponent must be odd and at least 3");
        }
        return CLAIMS_OK;
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        EVP_PKEY_CTX *ctx;
        int ok;
        if (pkey_curve(pkey) == NULL) {
            return fail(p, err, label, "EC curve not supported (P-256, P-384, P-521)");
        }
        /* the quick check: a point on the curve, coordinates in range, not at infinity. The
         * full check adds n*Q == O, which on these curves (cofactor 1: every point on the
         * curve but infinity has order n) says nothing more and costs ~650k instructions:
         * every first proof of a DPoP key pays for it (RFC 9449, issue 15) */
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        ok = ctx != NULL && EVP_PKEY_public_check_quick(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
        if (!ok) {
            return fail(p, err, label, "EC public key is not a valid point on its curve");
        }
        return CLAIMS_OK;
    }
    if (EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448")) {
        if (EVP_PKEY_is_a(pkey, "ED25519") && ed25519_weak(pkey)) {
            return fail(p, err, label, "Ed25519 public key is a point of small order or not canonical");
        }
        return CLAIMS_OK;
    }
    return fail(p, err, label, apr_psprintf(p, "key type %s is not supported", EVP_PKEY_get0_type_name(pkey)));
}

static const EVP_MD *fetch_md(apr_pool_t *p, claims_alg_t alg)
{
    const char *name = claims_alg_info(alg)->digest;
    EVP_MD *md;
    if (name == NULL) {
        return NULL;
    }
    md = EVP_MD_fetch(NULL, name, NULL);
    if (md != NULL) {
        apr_pool_cleanup_register(p, md, md_cleanup, apr_pool_cleanup_null);
    }
    return md;
}

/* Binds, checks and appends pkey, which a cleanup of p already frees. skip (NULL: refuse
 * instead): set, with CLAIMS_OK and nothing appended, when the key is sound but no algorithm
 * can be bound to it. */
static claims_status_t add_pool_pkey(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, claims_alg_t declared,
                                     const claims_key_opts_t *opts, const char *label,
                                     apr_array_header_t *keys, const claims_jwk_skip_t **skip, char **err)
{
    claims_key_t *k;
    claims_alg_t alg = CLAIMS_ALG_UNKNOWN;
    claims_status_t st;
    const claims_jwk_skip_t *why = NULL;
    char *berr = NULL;

    if ((st = check_strength(p, pkey, opts, label, err)) != CLAIMS_OK) {
        return st;
    }
    if (opts->alg != CLAIMS_ALG_UNKNOWN && declared != CLAIMS_ALG_UNKNOWN && opts->alg != declared
        && !(claims_alg_accepts(declared, opts->alg) || claims_alg_accepts(opts->alg, declared))) {
        return fail(p, err, label, apr_psprintf(p, "alg=%s contradicts the key's own \"alg\" %s",
                                               claims_alg_name(opts->alg), claims_alg_name(declared)));
    }
    st = bind_alg(p, pkey, opts->alg != CLAIMS_ALG_UNKNOWN ? opts->alg : declared, opts, label, &alg, &why,
                  &berr);
    if (st != CLAIMS_OK) {
        if (skip != NULL && why != NULL) {
            *skip = why;
            return CLAIMS_OK;
        }
        if (err != NULL) {
            *err = berr;
        }
        return st;
    }
    k = apr_pcalloc(p, sizeof(*k));
    k->pkey = pkey;
    k->alg = alg;
    k->md = fetch_md(p, alg);
    if (claims_alg_info(alg)->digest != NULL && k->md == NULL) {
        return fail(p, err, label, "digest not available in OpenSSL");
    }
    k->bits = EVP_PKEY_get_bits(pkey);
    k->verify_proto = make_verify_proto(p, k);
    if (k->verify_proto == NULL) {
        return fail(p, err, label, "OpenSSL cannot verify with this key");
    }
    k->kid = opts->kid != NULL ? opts->kid : kid;
    k->kid_len = k->kid != NULL ? strlen(k->kid) : 0;
    k->label = label;
    k->serial = next_serial();
    *(claims_key_t **)apr_array_push(keys) = k;
    return CLAIMS_OK;
}

/* Takes ownership of pkey (a PEM or DER key), then as add_pool_pkey, refusing what it cannot bind. */
static claims_status_t add_pkey(apr_pool_t *p, EVP_PKEY *pkey, const claims_key_opts_t *opts, const char *label,
                                apr_array_header_t *keys, char **err)
{
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    return add_pool_pkey(p, pkey, NULL, CLAIMS_ALG_UNKNOWN, opts, label, keys, NULL, err);
}

/* ------------------------------------------------------------------ HMAC secrets */

/* Whether secret bytes are in fact key material of a public key (CL-21, CL-64): PEM, a JWK or
 * JWK Set, or DER of a public key or certificate. Only what really parses as such is refused,
 * so a random binary secret that merely starts like one is still accepted. */
static int looks_like_public_key(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0;
    const unsigned char *q;
    EVP_PKEY *pk;
    X509 *x;
    json_t *j;
    int found = 0;

    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
        i++;
    }
    if (len - i >= 10 && memcmp(s + i, "-----BEGIN", 10) == 0) {
        return 1;
    }
    if (len - i >= 2 && s[i] == '{') {
        j = json_loadb((const char *)s + i, len - i, 0, NULL);
        found = json_is_object(j) && (json_object_get(j, "kty") != NULL || json_object_get(j, "keys") != NULL);
        json_decref(j);
        if (found) {
            return 1;
        }
    }
    if (len > LONG_MAX) {
        return 0;
    }
    q = s;
    pk = d2i_PUBKEY(NULL, &q, (long)len);
    found = pk != NULL;
    EVP_PKEY_free(pk);
    if (!found) {
        q = s;
        x = d2i_X509(NULL, &q, (long)len);
        found = x != NULL;
        X509_free(x);
    }
    if (!found) {
        q = s;
        pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len);
        found = pk != NULL;
        EVP_PKEY_free(pk);
    }
    ERR_clear_error();
    return found;
}

claims_status_t claims_key_secret(apr_pool_t *p, const unsigned char *secret, apr_size_t len,
                                  claims_alg_t alg, const char *kid, const char *label,
                                  claims_key_t **out, char **err)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    claims_key_t *k;
    unsigned char *copy;

    if (ai->family != CLAIMS_FAMILY_HMAC) {
        return fail(p, err, label, "a secret needs an HMAC algorithm (HS256, HS384, HS512)");
    }
    if (len == 0) {
        return fail(p, err, label, "the secret is empty");
    }
    if (len < ai->hash_len) {
        return fail(p, err, label, apr_psprintf(p, "a %s secret needs at least %" APR_SIZE_T_FMT
                                               " bytes, this one has %" APR_SIZE_T_FMT,
                                               ai->name, ai->hash_len, len));
    }
    if (looks_like_public_key(secret, len)) {
        return fail(p, err, label, "this is a public key or certificate, never usable as an HMAC secret");
    }
    k = apr_pcalloc(p, sizeof(*k));
    copy = apr_palloc(p, len);
    memcpy(copy, secret, len);
    k->secret = copy;
    k->secret_len = len;
    k->alg = alg;
    k->md = fetch_md(p, alg);
    if (k->md == NULL) {
        return fail(p, err, label, "digest not available in OpenSSL");
    }
    k->bits = (int)(len * 8);
    k->kid = kid;
    k->kid_len = kid != NULL ? strlen(kid) : 0;
    k->label = label;
    k->serial = next_serial();
    *out = k;
    return CLAIMS_OK;
}

static claims_status_t read_file(apr_pool_t *p, const char *path, char **data, apr_size_t *len, char **err)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char ebuf[128];
    apr_size_t n;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: cannot open: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return CLAIMS_ERR_IO;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv != APR_SUCCESS || fi.filetype != APR_REG) {
        apr_file_close(f);
        *err = apr_psprintf(p, "%s: not a regular file", path);
        return CLAIMS_ERR_IO;
    }
    if (fi.size > CLAIMS_MAX_KEY_FILE) {
        apr_file_close(f);
        *err = apr_psprintf(p, "%s: larger than %d bytes", path, CLAIMS_MAX_KEY_FILE);
        return CLAIMS_ERR_IO;
    }
    n = (apr_size_t)fi.size;
    *data = apr_palloc(p, n + 1);
    rv = apr_file_read_full(f, *data, n, len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !(APR_STATUS_IS_EOF(rv) && *len == 0 && n == 0)) {
        *err = apr_psprintf(p, "%s: read error: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return CLAIMS_ERR_IO;
    }
    (*data)[*len] = '\0';
    return CLAIMS_OK;
}

claims_status_t claims_key_secret_file(apr_pool_t *p, const char *path, claims_alg_t alg, const char *kid,
                                       claims_key_t **out, char **err)
{
    char *data;
    apr_size_t len = 0;
    claims_status_t st = read_file(p, path, &data, &len, err);
    if (st != CLAIMS_OK) {
        return st;
    }
    if (len > 0 && data[len - 1] == '\n') {
        len--;
        if (len > 0 && data[len - 1] == '\r') {
            len--;
        }
    }
    return claims_key_secret(p, (const unsigned char *)data, len, alg, kid, path, out, err);
}

/* ------------------------------------------------------------------ PEM / DER */

static claims_status_t parse_pem(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                 const claims_key_opts_t *opts, apr_array_header_t *keys, char **err)
{
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long derlen = 0;
    EVP_PKEY *pkey = NULL;
    const unsigned char *q;
    claims_status_t st;

    if (len > INT_MAX) {
        return fail(p, err, label, "too large");
    }
    bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL || PEM_read_bio(bio, &name, &header, &der, &derlen) != 1) {
        BIO_free(bio);
        return fail(p, err, label, "not a readable PEM file");
    }
    BIO_free(bio);
    q = der;
    if (strcmp(name, "PUBLIC KEY") == 0) {
        pkey = d2i_PUBKEY(NULL, &q, derlen);
    }
    else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, derlen);
    }
    else if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "TRUSTED CERTIFICATE") == 0) {
        X509 *x = d2i_X509(NULL, &q, derlen);
        if (x != NULL) {
            pkey = X509_get_pubkey(x);
            X509_free(x);
        }
    }
    else {
        int priv = strstr(name, "PRIVATE") != NULL;
        st = fail(p, err, label, priv ? "holds a private key: give the public key or certificate instead"
                                       : apr_psprintf(p, "PEM type \"%s\" is not a public key or certificate",
                                                      claims_log_escape(p, name, strlen(name), 40)));
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        return st;
    }
    if (pkey != NULL && q != der + derlen) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    if (pkey == NULL) {
        return fail(p, err, label, "PEM content could not be decoded as a public key");
    }
    return add_pkey(p, pkey, opts, label, keys, err);
}

static claims_status_t parse_der(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                 const claims_key_opts_t *opts, apr_array_header_t *keys, char **err)
{
    const unsigned char *q = (const unsigned char *)data;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &q, (long)len);
    if (pkey == NULL || q != (const unsigned char *)data + len) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
        q = (const unsigned char *)data;
        X509 *x = d2i_X509(NULL, &q, (long)len);
        if (x != NULL && q == (const unsigned char *)data + len) {
            pkey = X509_get_pubkey(x);
        }
        X509_free(x);
    }
    if (pkey == NULL) {
        return fail(p, err, label, "not a PEM, DER, JWK or JWK Set key file");
    }
    return add_pkey(p, pkey, opts, label, keys, err);
}

/* ------------------------------------------------------------------ JWK / JWK Set (claims_jwk) */

typedef struct jwk_add_t {
    const claims_key_opts_t *opts;
    apr_array_header_t *keys;
} jwk_add_t;

/* An "oct" JWK: an HMAC key of the configured alg, else of its own. */
static claims_status_t load_oct(apr_pool_t *p, const claims_jwk_t *jwk, const claims_key_opts_t *opts,
                                apr_array_header_t *keys, char **err)
{
    claims_alg_t alg = opts->alg != CLAIMS_ALG_UNKNOWN ? opts->alg : jwk->alg;
    claims_key_t *key;
    claims_status_t st;

    if (alg == CLAIMS_ALG_UNKNOWN) {
        return fail(p, err, jwk->label, "oct JWK without \"alg\": bind HS256/HS384/HS512 explicitly");
    }
    if (opts->allowed != 0 && !claims_alg_set_allows(opts->allowed, alg, alg)) {
        return fail(p, err, jwk->label, apr_psprintf(p, "key algorithm %s is not in ClaimsAlgorithms",
                                                    claims_alg_name(alg)));
    }
    st = claims_key_secret(p, jwk->secret, jwk->secret_len, alg, opts->kid != NULL ? opts->kid : jwk->kid,
                           jwk->label, &key, err);
    if (st == CLAIMS_OK) {
        *(claims_key_t **)apr_array_push(keys) = key;
    }
    return st;
}

/* claims_jwk_add_fn: a key claims_jwk read, bound, checked and appended; with
 * opts->skip_unusable, a sound key that no algorithm can be bound to is skipped (it was decoded
 * and checked first: a malformed or weak one, or an alg contradicting the key, still refuses
 * the document). */
static claims_status_t add_jwk(void *baton, apr_pool_t *p, const claims_jwk_t *jwk,
                               const claims_jwk_skip_t **skip, char **err)
{
    const jwk_add_t *a = baton;
    if (jwk->pkey == NULL) {
        return load_oct(p, jwk, a->opts, a->keys, err);
    }
    return add_pool_pkey(p, jwk->pkey, jwk->kid, jwk->alg, a->opts, jwk->label, a->keys,
                         a->opts->skip_unusable ? skip : NULL, err);
}

static claims_status_t parse_jwk_doc(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                     const claims_key_opts_t *opts, apr_array_header_t *keys, char **err)
{
    jwk_add_t a = {opts, keys};
    claims_jwk_load_t how = {0};
    how.flags = (opts->skip_unusable ? CLAIMS_JWK_SKIP_UNUSABLE : 0)
                | (opts->allow_symmetric ? CLAIMS_JWK_ALLOW_SYMMETRIC : 0);
    how.add = add_jwk;
    how.baton = &a;
    how.log = opts->log;
    how.skipped = opts->skipped;
    return claims_jwk_load(p, data, len, label, &how, err);
}

claims_status_t claims_key_jwk(apr_pool_t *p, json_t *jwk, const char *label, const claims_key_opts_t *opts,
                               claims_key_t **out, char **err)
{
    claims_jwk_t j;
    apr_array_header_t *one = apr_array_make(p, 1, sizeof(claims_key_t *));
    claims_status_t st = claims_jwk_read(p, jwk, label, 0, &j, err);

    if (st == CLAIMS_OK && j.pkey == NULL) {
        st = fail(p, err, j.label, "not a public key");  /* flags 0: never skipped, never "oct" */
    }
    if (st == CLAIMS_OK) {
        st = add_pool_pkey(p, j.pkey, j.kid, j.alg, opts, j.label, one, NULL, err);
    }
    if (st == CLAIMS_OK) {
        *out = APR_ARRAY_IDX(one, 0, claims_key_t *);
    }
    return st;
}

claims_status_t claims_keys_parse(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                  const claims_key_opts_t *opts, apr_array_header_t *keys, char **err)
{
    apr_size_t i = 0;
    int before = keys->nelts;
    int skipped_before = opts->skipped != NULL ? opts->skipped->nelts : 0;
    claims_status_t st;

    if (len > CLAIMS_MAX_KEY_FILE) {
        return fail(p, err, label, "key material larger than the size cap");
    }
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) {
        i++;
    }
    if (i == len) {
        return fail(p, err, label, "empty key file");
    }
    if (data[i] == '{') {
        st = parse_jwk_doc(p, data + i, len - i, label, opts, keys, err);
    }
    else if (len - i >= 10 && memcmp(data + i, "-----BEGIN", 10) == 0) {
        st = parse_pem(p, data + i, len - i, label, opts, keys, err);
    }
    else {
        st = parse_der(p, data, len, label, opts, keys, err);
    }
    if (st == CLAIMS_OK) {
        apr_array_header_t view;
        view = *keys;
        view.elts = keys->elts + (apr_size_t)before * sizeof(claims_key_t *);
        view.nelts = keys->nelts - before;
        st = claims_keys_check_set(p, &view, err);
    }
    if (st != CLAIMS_OK) {
        keys->nelts = before;  /* nothing of a refused file stays */
        if (opts->skipped != NULL) {
            opts->skipped->nelts = skipped_before;
        }
    }
    return st;
}

claims_status_t claims_keys_load_file(apr_pool_t *p, const char *path, const claims_key_opts_t *opts,
                                      apr_array_header_t *keys, char **err)
{
    char *data;
    apr_size_t len = 0;
    claims_status_t st = read_file(p, path, &data, &len, err);
    if (st != CLAIMS_OK) {
        return st;
    }
    return claims_keys_parse(p, data, len, path, opts, keys, err);
}

claims_status_t claims_keys_check_set(apr_pool_t *p, const apr_array_header_t *keys, char **err)
{
    const claims_key_t *const *k = (const claims_key_t *const *)keys->elts;
    int sym = 0, asym = 0;
    for (int i = 0; i < keys->nelts; i++) {
        if (k[i]->secret != NULL) {
            sym++;
        }
        else {
            asym++;
        }
        if (k[i]->kid == NULL) {
            continue;
        }
        for (int j = 0; j < i; j++) {
            if (k[j]->kid != NULL && k[j]->kid_len == k[i]->kid_len
                && memcmp(k[j]->kid, k[i]->kid, k[i]->kid_len) == 0) {
                return fail(p, err, k[i]->label, "duplicate kid in the same key set");
            }
        }
    }
    if (sym > 0 && asym > 0) {
        return fail(p, err, k[0]->label, "a key set may not mix symmetric (HMAC) and public keys");
    }
    return CLAIMS_OK;
}

int claims_keys_select(const apr_array_header_t *keys, const char *kid, apr_size_t kid_len,
                       claims_alg_t header_alg, const claims_key_t **out, int max)
{
    const claims_key_t *const *k = (const claims_key_t *const *)keys->elts;
    int n = 0;
    if (max > CLAIMS_MAX_KID_CANDIDATES) {
        max = CLAIMS_MAX_KID_CANDIDATES;
    }
    if (kid != NULL) {
        for (int i = 0; i < keys->nelts; i++) {
            if (k[i]->kid != NULL && k[i]->kid_len == kid_len && memcmp(k[i]->kid, kid, kid_len) == 0) {
                if (claims_alg_accepts(k[i]->alg, header_alg) && max > 0) {
                    out[0] = k[i];
                    return 1;
                }
                return 0;  /* the named key exists but is bound to another algorithm */
            }
        }
    }
    /* no kid, or a kid we do not know: keys configured without a kid and bound to this alg */
    for (int i = 0; i < keys->nelts && n < max; i++) {
        if (k[i]->kid == NULL && claims_alg_accepts(k[i]->alg, header_alg)) {
            out[n++] = k[i];
        }
    }
    if (kid == NULL) {
        for (int i = 0; i < keys->nelts && n < max; i++) {
            if (k[i]->kid != NULL && claims_alg_accepts(k[i]->alg, header_alg)) {
                out[n++] = k[i];
            }
        }
    }
    return n;
}
