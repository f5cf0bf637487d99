/*
 * claims_keys.c - key import, algorithm binding and strength checks; see claims_keys.h.
 */
#include "claims_keys.h"
#include "claims_b64url.h"

#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
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

/* Why a remote set (opts->skip_unusable) skips a key rather than refusing the whole set: it is
 * not one this issuer could verify with. Only a key that fails its algorithm binding alone has
 * been decoded and checked; the others are skipped on their members (use, alg, crv, kty). */
typedef struct skip_why_t {
    const char *text;          /* claims_key_skipped_t.reason: fixed, safe to print */
    claims_log_level_t level;  /* WARNING: a signing key we cannot use; INFO: a key not for us */
} skip_why_t;

static const skip_why_t SKIP_RSA_NO_ALG = {"no alg: RSA key usable with several algorithms", CLAIMS_LOG_WARNING};
static const skip_why_t SKIP_NOT_ALLOWED = {"algorithm not in ClaimsAlgorithms", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_UNKNOWN_ALG = {"unsupported algorithm", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_JWE_ALG = {"encryption key (JWE alg)", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_USE_ENC = {"encryption key (use enc)", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_USE_OTHER = {"use is not sig", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_KEY_OPS = {"key_ops without verify", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_CURVE = {"unsupported curve", CLAIMS_LOG_INFO};
static const skip_why_t SKIP_KTY = {"unknown key type", CLAIMS_LOG_INFO};

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

/* Chooses the algorithm of an asymmetric key. declared: from configuration (wins) or JWK.
 * On a refusal due to the algorithm alone, not to the key, *why says so (a remote set skips). */
static claims_status_t bind_alg(apr_pool_t *p, EVP_PKEY *pkey, claims_alg_t declared,
                                const claims_key_opts_t *opts, const char *label,
                                claims_alg_t *out, const skip_why_t **why, char **err)
{
    const char *curve = pkey_curve(pkey);
    claims_alg_t alg = declared;

    if (alg == CLAIMS_ALG_EDDSA) {
        alg = curve != NULL && strcmp(curve, "Ed448") == 0 ? CLAIMS_ALG_ED448 : CLAIMS_ALG_ED25519;
    }
    if (alg == CLAIMS_ALG_UNKNOWN) {
        if (EVP_PKEY_is_a(pkey, "RSA")) {
            /* RSA fits six algorithms: only an allow-list naming exactly one settles it. That
             * binding is the operator's, as alg= would be, so each key still has one algorithm
             * (RFC 8725 section 3.1, CL-60); without it, guessing RS256 could be wrong. */
            int found = 0;
            for (int a = CLAIMS_ALG_RS256; a <= CLAIMS_ALG_PS512; a++) {
                if (opts->allowed & CLAIMS_ALG_BIT(a)) {
                    found++;
                    alg = (claims_alg_t)a;
                }
            }
            if (found != 1) {
                /* none allowed: of no use to this issuer, whatever its algorithm */
                *why = found == 0 && opts->allowed != 0 ? &SKIP_NOT_ALLOWED : &SKIP_RSA_NO_ALG;
                return fail(p, err, label,
                            "RSA key without an algorithm: bind one with alg= (RS256, RS384, RS512, "
                            "PS256, PS384, PS512) or allow exactly one RSA algorithm in ClaimsAlgorithms");
            }
        }
        else if (curve != NULL) {
            for (int a = CLAIMS_ALG_ES256; a <= CLAIMS_ALG_ED448; a++) {
                if (strcmp(claims_alg_info((claims_alg_t)a)->curve, curve) == 0) {
                    alg = (claims_alg_t)a;
                }
            }
        }
        else {
            return fail(p, err, label, "unsupported key type or curve (RSA, EC P-256/P-384/P-521, Ed25519, Ed448)");
        }
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
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
        if (!ok) {
            return fail(p, err, label, "EC public key is not a valid point on its curve");
        }
        if (pkey_curve(pkey) == NULL) {
            return fail(p, err, label, "EC curve not supported (P-256, P-384, P-521)");
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

/* Takes ownership of pkey: binds, checks and appends it. skip (NULL: refuse instead): set, with
 * CLAIMS_OK and nothing appended, when the key is sound but no algorithm can be bound to it. */
static claims_status_t add_pkey(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, claims_alg_t declared,
                                const claims_key_opts_t *opts, const char *label,
                                apr_array_header_t *keys, const skip_why_t **skip, char **err)
{
    claims_key_t *k;
    claims_alg_t alg = CLAIMS_ALG_UNKNOWN;
    claims_status_t st;
    const skip_why_t *why = NULL;
    char *berr = NULL;

    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
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
    return add_pkey(p, pkey, NULL, CLAIMS_ALG_UNKNOWN, opts, label, keys, NULL, err);
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
    return add_pkey(p, pkey, NULL, CLAIMS_ALG_UNKNOWN, opts, label, keys, NULL, err);
}

/* ------------------------------------------------------------------ JWK */

typedef struct jwk_ctx_t {
    apr_pool_t *p;
    const char *label;
    char **err;
} jwk_ctx_t;

static int jwe_alg_name(const char *a)
{
    static const char *const names[] = {
        "RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512", "A128KW", "A192KW",
        "A256KW", "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
        "A128GCMKW", "A192GCMKW", "A256GCMKW", "PBES2-HS256+A128KW", "PBES2-HS384+A192KW",
        "PBES2-HS512+A256KW", "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256",
        "A192CBC-HS384", "A256CBC-HS512", NULL};
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(a, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Optional string member: 0 absent, 1 present (*out set), -1 wrong type. */
static int opt_string(json_t *o, const char *name, const char **out, apr_size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    *out = json_string_value(v);
    if (len != NULL) {
        *len = json_string_length(v);
    }
    return 1;
}

/* A required base64url member decoded; exact: exact length required (0 = any length > 0). */
static int b64_member(jwk_ctx_t *c, json_t *o, const char *name, apr_size_t exact,
                      unsigned char **out, apr_size_t *outlen)
{
    const char *s;
    apr_size_t slen;
    if (opt_string(o, name, &s, &slen) != 1) {
        *c->err = apr_psprintf(c->p, "%s: member \"%s\" missing or not a string", c->label, name);
        return -1;
    }
    if (claims_b64url_decode(c->p, s, slen, out, outlen) != 0) {
        *c->err = apr_psprintf(c->p, "%s: member \"%s\" is not base64url", c->label, name);
        return -1;
    }
    if ((exact != 0 && *outlen != exact) || *outlen == 0) {
        *c->err = apr_psprintf(c->p, "%s: member \"%s\" has the wrong length", c->label, name);
        return -1;
    }
    return 0;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            pkey = NULL;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *jwk_rsa(jwk_ctx_t *c, json_t *jwk)
{
    unsigned char *n, *e;
    apr_size_t nlen, elen;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;

    if (b64_member(c, jwk, "n", 0, &n, &nlen) != 0 || b64_member(c, jwk, "e", 0, &e, &elen) != 0) {
        return NULL;
    }
    /* Base64urlUInt is minimal: no leading zero octet (RFC 7518 section 2, CL-63) */
    if (n[0] == 0 || e[0] == 0) {
        *c->err = apr_psprintf(c->p, "%s: RSA n or e has leading zero octets", c->label);
        return NULL;
    }
    if (elen > 8) {
        *c->err = apr_psprintf(c->p, "%s: RSA exponent is unreasonably large", c->label);
        return NULL;
    }
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n != NULL && bn_e != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
        pkey = pkey_fromdata("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (pkey == NULL) {
        *c->err = apr_psprintf(c->p, "%s: RSA key could not be built", c->label);
    }
    return pkey;
}

static EVP_PKEY *jwk_ec(jwk_ctx_t *c, json_t *jwk)
{
    const char *crv;
    apr_size_t coord = 0;
    const char *group = NULL;
    unsigned char *x, *y, *pt;
    apr_size_t xlen, ylen;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;

    if (opt_string(jwk, "crv", &crv, NULL) != 1) {
        *c->err = apr_psprintf(c->p, "%s: EC key without a string \"crv\"", c->label);
        return NULL;
    }
    if (strcmp(crv, "P-256") == 0) {
        coord = 32, group = "prime256v1";
    }
    else if (strcmp(crv, "P-384") == 0) {
        coord = 48, group = "secp384r1";
    }
    else if (strcmp(crv, "P-521") == 0) {
        coord = 66, group = "secp521r1";
    }
    else {
        *c->err = apr_psprintf(c->p, "%s: EC curve \"%s\" not supported", c->label,
                               claims_log_escape(c->p, crv, strlen(crv), 32));
        return NULL;
    }
    if (b64_member(c, jwk, "x", coord, &x, &xlen) != 0 || b64_member(c, jwk, "y", coord, &y, &ylen) != 0) {
        return NULL;
    }
    pt = apr_palloc(c->p, 1 + 2 * coord);
    pt[0] = 0x04;
    memcpy(pt + 1, x, coord);
    memcpy(pt + 1 + coord, y, coord);
    bld = OSSL_PARAM_BLD_new();
    if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * coord) == 1) {
        pkey = pkey_fromdata("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    if (pkey == NULL) {
        *c->err = apr_psprintf(c->p, "%s: EC point is not on curve %s", c->label, crv);
    }
    return pkey;
}

static EVP_PKEY *jwk_okp(jwk_ctx_t *c, json_t *jwk)
{
    const char *crv;
    unsigned char *x;
    apr_size_t xlen;
    int type;
    apr_size_t len;
    EVP_PKEY *pkey;

    if (opt_string(jwk, "crv", &crv, NULL) != 1) {
        *c->err = apr_psprintf(c->p, "%s: OKP key without a string \"crv\"", c->label);
        return NULL;
    }
    if (strcmp(crv, "Ed25519") == 0) {
        type = EVP_PKEY_ED25519, len = 32;
    }
    else if (strcmp(crv, "Ed448") == 0) {
        type = EVP_PKEY_ED448, len = 57;
    }
    else {
        *c->err = apr_psprintf(c->p, "%s: OKP curve \"%s\" is not a signature curve (Ed25519, Ed448)",
                               c->label, claims_log_escape(c->p, crv, strlen(crv), 32));
        return NULL;
    }
    if (b64_member(c, jwk, "x", len, &x, &xlen) != 0) {
        return NULL;
    }
    pkey = EVP_PKEY_new_raw_public_key(type, NULL, x, xlen);
    if (pkey == NULL) {
        *c->err = apr_psprintf(c->p, "%s: Ed key could not be built", c->label);
    }
    return pkey;
}

/* The first x5c certificate, when present, must hold the same key (CL-63). */
static int x5c_matches(jwk_ctx_t *c, json_t *jwk, EVP_PKEY *pkey)
{
    json_t *x5c = json_object_get(jwk, "x5c");
    json_t *first;
    const char *b64;
    apr_size_t blen;
    unsigned char *der;
    const unsigned char *q;
    int n, ok = 0;
    X509 *x;

    if (x5c == NULL) {
        return 1;
    }
    first = json_array_get(x5c, 0);
    if (!json_is_array(x5c) || !json_is_string(first)) {
        *c->err = apr_psprintf(c->p, "%s: \"x5c\" is not an array of strings", c->label);
        return 0;
    }
    b64 = json_string_value(first);
    blen = json_string_length(first);
    if (blen == 0 || blen % 4 != 0 || blen > INT_MAX) {
        *c->err = apr_psprintf(c->p, "%s: \"x5c\" certificate is not base64", c->label);
        return 0;
    }
    der = apr_palloc(c->p, blen / 4 * 3 + 1);
    n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)blen);
    if (n > 0) {
        /* EVP_DecodeBlock counts padding bytes as data */
        if (b64[blen - 1] == '=') {
            n--;
        }
        if (b64[blen - 2] == '=') {
            n--;
        }
        q = der;
        x = d2i_X509(NULL, &q, n);
        if (x != NULL) {
            ok = EVP_PKEY_eq(X509_get0_pubkey(x), pkey) == 1;
            X509_free(x);
        }
    }
    if (!ok) {
        *c->err = apr_psprintf(c->p, "%s: \"x5c\" certificate does not hold this key", c->label);
    }
    return ok;
}

/* use / key_ops must allow verification; 1 ok, 0 refuse (malformed), -1 not for signatures
 * (*why says why: skippable). *c->err is set for 0 and -1. */
static int jwk_usage(jwk_ctx_t *c, json_t *jwk, const skip_why_t **why)
{
    const char *use;
    json_t *ops = json_object_get(jwk, "key_ops");
    int r = opt_string(jwk, "use", &use, NULL);
    if (r < 0) {
        *c->err = apr_psprintf(c->p, "%s: \"use\" is not a string", c->label);
        return 0;
    }
    if (r == 1 && strcmp(use, "sig") != 0) {
        *c->err = apr_psprintf(c->p, "%s: \"use\" is \"%s\", not \"sig\"", c->label,
                               claims_log_escape(c->p, use, strlen(use), 16));
        *why = strcmp(use, "enc") == 0 ? &SKIP_USE_ENC : &SKIP_USE_OTHER;
        return -1;
    }
    if (ops != NULL) {
        size_t i;
        json_t *op;
        int verify = 0;
        if (!json_is_array(ops)) {
            *c->err = apr_psprintf(c->p, "%s: \"key_ops\" is not an array", c->label);
            return 0;
        }
        json_array_foreach(ops, i, op) {
            if (!json_is_string(op)) {
                *c->err = apr_psprintf(c->p, "%s: \"key_ops\" holds a non-string", c->label);
                return 0;
            }
            if (strcmp(json_string_value(op), "verify") == 0) {
                verify = 1;
            }
        }
        if (!verify) {
            *c->err = apr_psprintf(c->p, "%s: \"key_ops\" does not allow \"verify\"", c->label);
            *why = &SKIP_KEY_OPS;
            return -1;
        }
    }
    return 1;
}

/* Whether an EC/OKP JWK names a curve we verify with (other key types: yes). */
static int supported_curve(const char *kty, json_t *jwk)
{
    static const char *const curves[] = {"P-256", "P-384", "P-521", "Ed25519", "Ed448", NULL};
    const char *crv = NULL;
    if (strcmp(kty, "EC") != 0 && strcmp(kty, "OKP") != 0) {
        return 1;
    }
    if (opt_string(jwk, "crv", &crv, NULL) != 1) {
        return 1;  /* malformed: let the loader say why */
    }
    for (int i = 0; curves[i] != NULL; i++) {
        if (strcmp(crv, curves[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int jwk_has_private(json_t *jwk)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", NULL};
    for (int i = 0; priv[i] != NULL; i++) {
        if (json_object_get(jwk, priv[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* Notes a key of the document that is not loaded: *skip = the reason, a log line, and a
 * claims_key_skipped_t for the caller when it asked (opts->skipped). label is printable. */
static claims_status_t skip_key(apr_pool_t *p, const claims_key_opts_t *opts, const char *label,
                                const char *kid, const char *kty, const skip_why_t *why, const char **skip)
{
    *skip = why->text;
    if (opts->log != NULL) {
        claims_log(opts->log, why->level, apr_pstrcat(p, label, ": key skipped: ", why->text, NULL));
    }
    if (opts->skipped != NULL) {
        claims_key_skipped_t *sk = apr_pcalloc(p, sizeof(*sk));
        sk->kid = kid != NULL ? apr_pstrdup(p, kid) : NULL;
        sk->kty = claims_log_escape(p, kty, strlen(kty), 16);
        sk->reason = why->text;
        APR_ARRAY_PUSH(opts->skipped, const claims_key_skipped_t *) = sk;
    }
    return CLAIMS_OK;
}

/* skip: set to the reason (and CLAIMS_OK returned, nothing appended) when the key is not one to
 * verify with and opts->skip_unusable is set (not for signatures, no algorithm to bind, an
 * algorithm we do not verify or the allow-list leaves out, a curve we do not verify with), or its
 * kty is unknown inside a set; NULL when the key was loaded. A key whose algorithm is the only
 * trouble is decoded and checked first: a malformed or weak one, or an alg contradicting the
 * key, still refuses the document. */
static claims_status_t parse_jwk(apr_pool_t *p, json_t *jwk, const char *label, int in_set,
                                 const claims_key_opts_t *opts, apr_array_header_t *keys,
                                 const char **skip, char **err)
{
    jwk_ctx_t c = {p, label, err};
    char *uerr = NULL;
    jwk_ctx_t uc = {p, label, &uerr};  /* use/key_ops: a skipped key leaves *err alone */
    const char *kty, *kid = NULL, *alg_name = NULL;
    apr_size_t kid_len = 0, alg_len = 0;
    claims_alg_t alg = CLAIMS_ALG_UNKNOWN;
    EVP_PKEY *pkey = NULL;
    const skip_why_t *why = NULL;
    claims_status_t st;
    int usage;

    *skip = NULL;
    if (!json_is_object(jwk)) {
        return fail(p, err, label, "JWK is not a JSON object");
    }
    if (opt_string(jwk, "kty", &kty, NULL) != 1) {
        return fail(p, err, label, "JWK \"kty\" missing or not a string");
    }
    if (opt_string(jwk, "kid", &kid, &kid_len) < 0) {
        return fail(p, err, label, "JWK \"kid\" is not a string");
    }
    if (kid != NULL) {
        if (strlen(kid) != kid_len || kid_len > 1024) {
            return fail(p, err, label, "JWK \"kid\" is too long or holds NUL");
        }
        label = apr_psprintf(p, "%s (kid \"%s\")", label, claims_log_escape(p, kid, kid_len, 64));
        c.label = label;
        uc.label = label;
    }
    if (opt_string(jwk, "alg", &alg_name, &alg_len) < 0) {
        return fail(p, err, label, "JWK \"alg\" is not a string");
    }
    if (alg_name != NULL) {
        alg = claims_alg_from_name(alg_name, alg_len);
        if (alg == CLAIMS_ALG_UNKNOWN) {
            /* an encryption key, or a signature algorithm we do not verify (ES256K) */
            if (opts->skip_unusable) {
                const skip_why_t *why_alg = jwe_alg_name(alg_name) ? &SKIP_JWE_ALG : &SKIP_UNKNOWN_ALG;
                return skip_key(p, opts, label, kid, kty, why_alg, skip);
            }
            return fail(p, err, label, apr_psprintf(p, "JWK \"alg\" \"%s\" is not a JWS signature algorithm",
                                                   claims_log_escape(p, alg_name, alg_len, 32)));
        }
    }
    usage = jwk_usage(&uc, jwk, &why);
    if (usage <= 0) {
        if (usage < 0 && opts->skip_unusable) {
            return skip_key(p, opts, label, kid, kty, why, skip);
        }
        if (err != NULL) {
            *err = uerr;
        }
        ERR_clear_error();
        return CLAIMS_ERR_KEY;
    }
    if (strcmp(kty, "oct") == 0) {
        unsigned char *k;
        apr_size_t klen;
        claims_key_t *key;
        const char *s;
        apr_size_t slen;
        if (!opts->allow_symmetric) {
            return fail(p, err, label, "symmetric (oct) keys are only accepted from ClaimsSecretFile");
        }
        if (opt_string(jwk, "k", &s, &slen) != 1 || slen == 0) {
            return fail(p, err, label, "oct JWK \"k\" missing, empty or not a string");
        }
        if (claims_b64url_decode(p, s, slen, &k, &klen) != 0) {
            return fail(p, err, label, "oct JWK \"k\" is not base64url");
        }
        if (opts->alg != CLAIMS_ALG_UNKNOWN) {
            alg = opts->alg;
        }
        if (alg == CLAIMS_ALG_UNKNOWN) {
            return fail(p, err, label, "oct JWK without \"alg\": bind HS256/HS384/HS512 explicitly");
        }
        if (opts->allowed != 0 && !claims_alg_set_allows(opts->allowed, alg, alg)) {
            return fail(p, err, label, apr_psprintf(p, "key algorithm %s is not in ClaimsAlgorithms",
                                                   claims_alg_name(alg)));
        }
        st = claims_key_secret(p, k, klen, alg, opts->kid != NULL ? opts->kid : kid, label, &key, err);
        if (st == CLAIMS_OK) {
            *(claims_key_t **)apr_array_push(keys) = key;
        }
        return st;
    }
    if (jwk_has_private(jwk)) {
        return fail(p, err, label, "JWK holds private key members: configure the public key only");
    }
    if (in_set && opts->skip_unusable && !supported_curve(kty, jwk)) {
        /* e.g. secp256k1 or X25519 beside the signing keys of a remote set */
        return skip_key(p, opts, label, kid, kty, &SKIP_CURVE, skip);
    }
    if (strcmp(kty, "RSA") == 0) {
        pkey = jwk_rsa(&c, jwk);
    }
    else if (strcmp(kty, "EC") == 0) {
        pkey = jwk_ec(&c, jwk);
    }
    else if (strcmp(kty, "OKP") == 0) {
        pkey = jwk_okp(&c, jwk);
    }
    else if (in_set) {
        /* RFC 7517 section 5: ignore keys of unknown type (CL-66) */
        return skip_key(p, opts, label, kid, kty, &SKIP_KTY, skip);
    }
    else {
        return fail(p, err, label, apr_psprintf(p, "JWK \"kty\" \"%s\" is not supported",
                                               claims_log_escape(p, kty, strlen(kty), 16)));
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return CLAIMS_ERR_KEY;
    }
    if (!x5c_matches(&c, jwk, pkey)) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return CLAIMS_ERR_KEY;
    }
    st = add_pkey(p, pkey, kid, alg, opts, label, keys, opts->skip_unusable ? &why : NULL, err);
    if (st == CLAIMS_OK && why != NULL) {
        return skip_key(p, opts, label, kid, kty, why, skip);
    }
    return st;
}

/* The refusal of a document whose keys were all skipped (or a set without keys). */
static claims_status_t fail_no_key(apr_pool_t *p, char **err, const char *label, int in_set, int skipped,
                                   apr_size_t first_at, const char *first)
{
    if (first == NULL) {
        return fail(p, err, label, "JWK Set holds no usable signature key");
    }
    if (!in_set) {
        return fail(p, err, label, apr_pstrcat(p, "JWK holds no usable signature key: ", first, NULL));
    }
    return fail(p, err, label, apr_psprintf(p, "JWK Set holds no usable signature key (%d skipped; key #%"
                                           APR_SIZE_T_FMT ": %s)", skipped, first_at, first));
}

static claims_status_t parse_json(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                  const claims_key_opts_t *opts, apr_array_header_t *keys, char **err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *set;
    int before = keys->nelts, skipped = 0;
    const char *skip = NULL, *first = NULL;
    apr_size_t first_at = 0;
    claims_status_t st;

    if (doc == NULL) {
        return fail(p, err, label, apr_psprintf(p, "invalid JSON at line %d: %s", jerr.line,
                                               claims_log_escape(p, jerr.text, strlen(jerr.text), 80)));
    }
    claims_json_pool(p, doc);
    if (!json_is_object(doc)) {
        return fail(p, err, label, "JSON key file is not an object");
    }
    set = json_object_get(doc, "keys");
    if (set == NULL) {
        st = parse_jwk(p, doc, label, 0, opts, keys, &first, err);
        if (st != CLAIMS_OK) {
            return st;
        }
    }
    else if (!json_is_array(set)) {
        return fail(p, err, label, "JWK Set \"keys\" is not an array");
    }
    else if (json_array_size(set) > CLAIMS_MAX_KEYS) {
        return fail(p, err, label, apr_psprintf(p, "JWK Set holds more than %d keys", CLAIMS_MAX_KEYS));
    }
    for (size_t i = 0; set != NULL && i < json_array_size(set); i++) {
        const char *klabel = apr_psprintf(p, "%s key #%" APR_SIZE_T_FMT, label, (apr_size_t)i);
        st = parse_jwk(p, json_array_get(set, i), klabel, 1, opts, keys, &skip, err);
        if (st != CLAIMS_OK) {
            return st;
        }
        if (skip != NULL && skipped++ == 0) {
            first = skip;
            first_at = (apr_size_t)i;
        }
    }
    /* a set of skipped keys, or a single skipped JWK: nothing to verify with; a refresh must not
     * publish an empty key set */
    if (keys->nelts == before) {
        return fail_no_key(p, err, label, set != NULL, skipped, first_at, first);
    }
    return CLAIMS_OK;
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
        st = parse_json(p, data + i, len - i, label, opts, keys, err);
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
