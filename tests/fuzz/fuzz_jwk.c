/*
 * fuzz_jwk.c - the key loader: JWK, JWK Set, PEM (SPKI, PKCS#1, certificate) and DER
 * (CL-21..CL-28, CL-60..CL-66, CL-75).
 *
 * Input: the bytes of a key file or of a JWK Set document fetched from an identity provider.
 * Per input, claims_keys_parse runs with several option sets, the ones the glue uses
 * (ClaimsKeyFile with and without alg=/kid=, a remote set appended to static keys with
 * skip_unusable) and a few more (allow_symmetric, allow-lists). Each loaded key then goes through
 * claims_keys_check_set, claims_keys_select and claims_sig_verify.
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when: a refused file leaves keys
 * behind or no message; an HMAC key appears without allow_symmetric (CL-21, CL-64); a key is
 * bound to an algorithm other than the configured one or outside the allow-list (CL-20, CL-22);
 * an RSA key is outside 2048..max bits (CL-23, CL-65); a set has more than CLAIMS_MAX_KEYS keys
 * (CL-66); or a trivial signature (all zero, all 0xff, the Ed25519/Ed448 neutral point with S = 0)
 * verifies under a loaded key, which would make it a key anyone can sign for.
 */
#include "claims.h"
#include "claims_alg.h"
#include "claims_jws.h"
#include "claims_keys.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

#define HS_ALL (CLAIMS_ALG_BIT(CLAIMS_ALG_HS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_HS384) | CLAIMS_ALG_BIT(CLAIMS_ALG_HS512))

typedef struct combo_t {
    const char *name;
    claims_key_opts_t opts;
    int prefilled;            /* append to an array that already holds a static key (remote sets) */
} combo_t;

static const combo_t combos[] = {
    {"ClaimsKeyFile", {0}, 0},
    {"ClaimsKeyFile alg=RS256 kid=bound", {.kid = "bound", .alg = CLAIMS_ALG_RS256}, 0},
    {"ClaimsKeyFile alg=ES256, allow-list ES256 ES384",
     {.alg = CLAIMS_ALG_ES256, .allowed = CLAIMS_ALG_BIT(CLAIMS_ALG_ES256) | CLAIMS_ALG_BIT(CLAIMS_ALG_ES384)}, 0},
    {"ClaimsKeyFile alg=EdDSA max 3072 bits", {.alg = CLAIMS_ALG_EDDSA, .max_rsa_bits = 3072}, 0},
    {"allow-list PS256 only", {.allowed = CLAIMS_ALG_BIT(CLAIMS_ALG_PS256)}, 0},
    {"remote set", {.skip_unusable = 1}, 1},
    {"remote set, allow-list RS256 EdDSA",
     {.skip_unusable = 1, .allowed = CLAIMS_ALG_BIT(CLAIMS_ALG_RS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA)}, 1},
    {"symmetric", {.allow_symmetric = 1}, 0},
    {"symmetric alg=HS256", {.allow_symmetric = 1, .alg = CLAIMS_ALG_HS256}, 0},
    {"symmetric, skip unusable, allow-list HS*", {.allow_symmetric = 1, .skip_unusable = 1, .allowed = HS_ALL}, 0},
};

static const claims_key_t *static_key;   /* what a remote set is appended to */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *gp = fz_global_pool();
    const fz_keys_t *k = fz_keys();
    apr_array_header_t *keys = apr_array_make(gp, 1, sizeof(claims_key_t *));
    claims_key_opts_t opts = {0};
    char *err = NULL;
    const char *jwk = fz_jwk(gp, k->p256, "static", NULL, NULL);

    if (!fz_poolguard_active(gp)) {
        fprintf(stderr, "fuzz_jwk: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    if (claims_keys_parse(gp, jwk, strlen(jwk), "static", &opts, keys, &err) != CLAIMS_OK) {
        fz_die("static key");
    }
    static_key = APR_ARRAY_IDX(keys, 0, const claims_key_t *);
    return 0;
}

static size_t sig_size(const claims_key_t *key)
{
    const claims_alg_info_t *ai = claims_alg_info(key->alg);
    switch (ai->family) {
    case CLAIMS_FAMILY_RSA:
    case CLAIMS_FAMILY_PSS:
        return (size_t)EVP_PKEY_get_size(key->pkey);
    case CLAIMS_FAMILY_EC:
        return 2 * ai->coord_len;
    case CLAIMS_FAMILY_OKP:
        return key->alg == CLAIMS_ALG_ED448 ? 114 : 64;
    default:
        return ai->hash_len;
    }
}

/* No signature that anyone can make without the private key verifies. */
static void check_no_trivial_signature(const claims_key_t *key)
{
    static const unsigned char msg[] = "eyJhbGciOiJub25lIn0.e30";
    unsigned char sig[1024];
    size_t n = sig_size(key);
    CHECK(n > 0 && n <= sizeof(sig));
    memset(sig, 0, n);
    CHECK(claims_sig_verify(key, msg, sizeof(msg) - 1, sig, n) != CLAIMS_OK);
    memset(sig, 0xff, n);
    CHECK(claims_sig_verify(key, msg, sizeof(msg) - 1, sig, n) != CLAIMS_OK);
    if (claims_alg_info(key->alg)->family == CLAIMS_FAMILY_OKP) {
        memset(sig, 0, n);
        sig[0] = 1;          /* R = the neutral point (y = 1), S = 0 */
        CHECK(claims_sig_verify(key, msg, sizeof(msg) - 1, sig, n) != CLAIMS_OK);
    }
    CHECK(claims_sig_verify(key, msg, sizeof(msg) - 1, sig, n > 1 ? n - 1 : n + 1) != CLAIMS_OK);
}

static void check_key(const combo_t *c, const claims_key_t *key)
{
    const claims_alg_info_t *ai = claims_alg_info(key->alg);

    CHECK(key->alg != CLAIMS_ALG_UNKNOWN && key->alg != CLAIMS_ALG_EDDSA && key->label != NULL);
    CHECK(key->kid == NULL || (key->kid_len == strlen(key->kid) && key->kid_len <= 1024));
    if (c->opts.kid != NULL) {
        CHECK(key->kid != NULL && strcmp(key->kid, c->opts.kid) == 0);
    }
    if (c->opts.alg == CLAIMS_ALG_EDDSA) {
        CHECK(key->alg == CLAIMS_ALG_ED25519 || key->alg == CLAIMS_ALG_ED448);
    }
    else if (c->opts.alg != CLAIMS_ALG_UNKNOWN) {
        CHECK(key->alg == c->opts.alg);
    }
    if (c->opts.allowed != 0) {
        CHECK(claims_alg_set_allows(c->opts.allowed, key->alg, key->alg));
    }
    if (ai->family == CLAIMS_FAMILY_HMAC) {
        CHECK(c->opts.allow_symmetric);
        CHECK(key->secret != NULL && key->pkey == NULL && key->secret_len >= ai->hash_len);
    }
    else {
        CHECK(key->pkey != NULL && key->secret == NULL);
        if (EVP_PKEY_is_a(key->pkey, "RSA")) {
            int max = c->opts.max_rsa_bits > 0 ? c->opts.max_rsa_bits : CLAIMS_DEFAULT_MAX_RSA_BITS;
            CHECK(ai->family == CLAIMS_FAMILY_RSA || ai->family == CLAIMS_FAMILY_PSS);
            CHECK(key->bits >= CLAIMS_MIN_RSA_BITS && key->bits <= max);
        }
    }
    check_no_trivial_signature(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *doc;

    apr_pool_create(&p, fz_global_pool());
    doc = size > 0 ? apr_pmemdup(p, data, size) : "";
    for (size_t c = 0; c < sizeof(combos) / sizeof(combos[0]); c++) {
        apr_array_header_t *keys = apr_array_make(p, 2, sizeof(claims_key_t *));
        char *err = NULL;
        int before;
        claims_status_t st;

        if (combos[c].prefilled) {
            *(const claims_key_t **)apr_array_push(keys) = static_key;
        }
        before = keys->nelts;
        st = claims_keys_parse(p, doc, size, "fuzz", &combos[c].opts, keys, &err);
        CHECK((int)st >= 0 && st < CLAIMS_STATUS_COUNT);
        if (st != CLAIMS_OK) {
            CHECK(keys->nelts == before);                 /* nothing of a refused file stays */
            CHECK(err != NULL);
            CHECK(claims_status_class(st) == CLAIMS_CLASS_SERVER);
            continue;
        }
        CHECK(keys->nelts > before && keys->nelts - before <= CLAIMS_MAX_KEYS);
        if (claims_keys_check_set(p, keys, &err) != CLAIMS_OK) {
            /* only possible across the static key and the new set; the glue refuses the set */
            CHECK(combos[c].prefilled);
            continue;
        }
        for (int i = before; i < keys->nelts; i++) {
            const claims_key_t *key = APR_ARRAY_IDX(keys, i, const claims_key_t *);
            const claims_key_t *cand[CLAIMS_MAX_KID_CANDIDATES];
            int n;
            check_key(&combos[c], key);
            /* by its kid (or without one): at most the cap, and only keys that take the alg */
            n = claims_keys_select(keys, key->kid, key->kid_len, key->alg, cand, CLAIMS_MAX_KID_CANDIDATES);
            CHECK(n >= 1 && n <= CLAIMS_MAX_KID_CANDIDATES);
            for (int j = 0; j < n; j++) {
                CHECK(claims_alg_accepts(cand[j]->alg, key->alg));
            }
            if (key->kid != NULL) {
                CHECK(n == 1 && cand[0]->kid_len == key->kid_len
                      && memcmp(cand[0]->kid, key->kid, key->kid_len) == 0);
            }
            n = claims_keys_select(keys, NULL, 0, CLAIMS_ALG_EDDSA, cand, 64);
            CHECK(n >= 0 && n <= CLAIMS_MAX_KID_CANDIDATES);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
