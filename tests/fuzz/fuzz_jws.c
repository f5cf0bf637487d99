/*
 * fuzz_jws.c - the compact-token parser and verifier (CL-05..CL-50, CL-75).
 *
 * Input: the bytes of a compact JWS, as they would follow "Bearer ". An input starting with '{'
 * (never a token: '{' is not base64url) is read as "header-JSON \n payload-JSON [\n signature]"
 * and base64url-encoded into a token first, so that libFuzzer mutates the JSON itself.
 * Per input: claims_jws_parse, claims_jws_claims, claims_jws_verify against every test key,
 * claims_verify against three trusted issuers, claims_validate with three fixed policies, and the
 * verified-token cache. Because random bytes never carry a valid signature, the harness also
 * re-signs the parsed header.payload with the test key of the header's algorithm when that is
 * cheap (HS*, EdDSA, ES256), so the code after a successful verification is reached with
 * arbitrary headers and claims.
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when a verified result breaks a
 * security promise: a key of another issuer (CL-26), a key whose algorithm differs from the
 * header's (CL-20), an algorithm outside the issuer's allow-list, a kid other than the token's
 * (CL-25), an oversized token not refused first (CL-05), or claims_validate accepting an expired
 * token, a wrong issuer or a wrong audience.
 */
#include "claims.h"
#include "claims_cache.h"
#include "claims_jws.h"
#include "claims_keys.h"
#include "claims_token.h"
#include "claims_validate.h"
#include "claims_verify.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

static claims_issuer_t iss_public, iss_hmac, iss_restricted;
static const claims_issuer_t *trusted[3];
static apr_array_header_t *all_keys;   /* every key of every issuer */
static claims_policy_t pol_default, pol_9068, pol_lax;

static void add_keys(apr_pool_t *gp, claims_issuer_t *iss, const char *text, const char *label,
                     const claims_key_opts_t *opts)
{
    char *err = NULL;
    if (claims_keys_parse(gp, text, strlen(text), label, opts, iss->keys, &err) != CLAIMS_OK) {
        fprintf(stderr, "%s\n", err ? err : "?");
        fz_die("loading a test key");
    }
}

static void add_secret(apr_pool_t *gp, claims_issuer_t *iss, const fz_keys_t *k, claims_alg_t alg,
                       const char *kid)
{
    size_t len;
    const unsigned char *s = fz_secret(k, alg, &len);
    claims_key_t *key;
    char *err = NULL;
    if (claims_key_secret(gp, s, len, alg, kid, "fuzz secret", &key, &err) != CLAIMS_OK) {
        fprintf(stderr, "%s\n", err ? err : "?");
        fz_die("loading a test secret");
    }
    *(claims_key_t **)apr_array_push(iss->keys) = key;
}

static apr_array_header_t *strings(apr_pool_t *p, const char *a, const char *b, const char *c, const char *d)
{
    apr_array_header_t *arr = apr_array_make(p, 4, sizeof(const char *));
    const char *v[] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        if (v[i] != NULL) {
            *(const char **)apr_array_push(arr) = v[i];
        }
    }
    return arr;
}

/* A token of each kind the issuers accept must verify and validate, or the harness is broken. */
static void self_test(apr_pool_t *gp, const fz_keys_t *k)
{
    static const struct {
        claims_alg_t alg;
        const char *kid;
        const char *iss;
    } cases[] = {
        {CLAIMS_ALG_RS256, "rsa-RS256", FZ_ISS_PUBLIC}, {CLAIMS_ALG_PS512, "rsa-PS512", FZ_ISS_PUBLIC},
        {CLAIMS_ALG_ES256, "ec-p256", FZ_ISS_PUBLIC},   {CLAIMS_ALG_ES256, NULL, FZ_ISS_PUBLIC},
        {CLAIMS_ALG_ES384, "ec-p384", FZ_ISS_PUBLIC},   {CLAIMS_ALG_ES512, "ec-p521", FZ_ISS_PUBLIC},
        {CLAIMS_ALG_EDDSA, "ed25519", FZ_ISS_PUBLIC},   {CLAIMS_ALG_ED448, "ed448", FZ_ISS_PUBLIC},
        {CLAIMS_ALG_HS256, "hs256", FZ_ISS_HMAC},       {CLAIMS_ALG_HS512, NULL, FZ_ISS_HMAC},
        {CLAIMS_ALG_PS256, "rsa-PS256", FZ_ISS_RESTRICTED}, {CLAIMS_ALG_EDDSA, NULL, FZ_ISS_RESTRICTED},
    };
    apr_pool_t *p;
    apr_pool_create(&p, gp);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *hdr = apr_psprintf(p, "{\"alg\":\"%s\"%s%s%s}", claims_alg_name(cases[i].alg),
                                       cases[i].kid ? ",\"kid\":\"" : "", cases[i].kid ? cases[i].kid : "",
                                       cases[i].kid ? "\"" : "");
        const char *pl = apr_psprintf(p, "{\"iss\":\"%s\",\"sub\":\"alice\",\"aud\":\"%s\",\"exp\":4102444800,"
                                      "\"iat\":1700000000}", cases[i].iss, FZ_AUDIENCE);
        const char *tok = fz_token(p, k, cases[i].alg, hdr, pl);
        claims_verified_t v;
        claims_status_t st = claims_verify(p, tok, strlen(tok), 0, trusted, 3, &v);
        if (st != CLAIMS_OK) {
            fprintf(stderr, "self test %zu (%s): %s\n", i, claims_alg_name(cases[i].alg), claims_status_name(st));
            fz_die("a valid test token does not verify");
        }
        if (strcmp(cases[i].iss, FZ_ISS_PUBLIC) == 0
            && claims_validate(v.claims, v.jws->typ, &pol_default, FZ_NOW, NULL) != CLAIMS_OK) {
            fz_die("a valid test token does not validate");
        }
    }
    apr_pool_destroy(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *gp = fz_global_pool();
    const fz_keys_t *k = fz_keys();
    claims_key_opts_t none = {0}, restricted = {0};
    static const char *const rsa_algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    const char *set = "{\"keys\":[";

    if (!fz_poolguard_active(gp)) {
        fprintf(stderr, "fuzz_jws: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    iss_public.iss = FZ_ISS_PUBLIC;
    iss_public.keys = apr_array_make(gp, 16, sizeof(claims_key_t *));
    for (int i = 0; i < 6; i++) {
        set = apr_pstrcat(gp, set, fz_jwk(gp, k->rsa, apr_pstrcat(gp, "rsa-", rsa_algs[i], NULL), rsa_algs[i],
                                          "\"use\":\"sig\""), ",", NULL);
    }
    set = apr_pstrcat(gp, set, fz_jwk(gp, k->p256, "ec-p256", NULL, NULL), ",",
                      fz_jwk(gp, k->p384, "ec-p384", "ES384", "\"key_ops\":[\"verify\"]"), ",",
                      fz_jwk(gp, k->p521, "ec-p521", NULL, NULL), ",",
                      fz_jwk(gp, k->ed25519, "ed25519", "EdDSA", NULL), ",",
                      fz_jwk(gp, k->ed448, "ed448", "Ed448", NULL), "]}", NULL);
    add_keys(gp, &iss_public, set, "public set", &none);
    add_keys(gp, &iss_public, fz_pem_spki(gp, k->p256), "P-256 PEM without kid", &none);

    iss_hmac.iss = FZ_ISS_HMAC;
    iss_hmac.keys = apr_array_make(gp, 4, sizeof(claims_key_t *));
    iss_hmac.algs = CLAIMS_ALG_BIT(CLAIMS_ALG_HS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_HS384)
                    | CLAIMS_ALG_BIT(CLAIMS_ALG_HS512);
    add_secret(gp, &iss_hmac, k, CLAIMS_ALG_HS256, "hs256");
    add_secret(gp, &iss_hmac, k, CLAIMS_ALG_HS384, "hs384");
    add_secret(gp, &iss_hmac, k, CLAIMS_ALG_HS512, NULL);

    /* RS256 key present but not allowed: tokens for it must get ALG_NOT_ALLOWED */
    iss_restricted.iss = FZ_ISS_RESTRICTED;
    iss_restricted.keys = apr_array_make(gp, 4, sizeof(claims_key_t *));
    iss_restricted.algs = CLAIMS_ALG_BIT(CLAIMS_ALG_PS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA);
    add_keys(gp, &iss_restricted, fz_jwk(gp, k->rsa, "rsa-RS256", "RS256", NULL), "restricted RS256", &none);
    add_keys(gp, &iss_restricted, fz_jwk(gp, k->rsa, "rsa-PS256", "PS256", NULL), "restricted PS256", &none);
    restricted.alg = CLAIMS_ALG_EDDSA;
    add_keys(gp, &iss_restricted, fz_pem_spki(gp, k->ed25519), "restricted Ed25519 PEM", &restricted);

    trusted[0] = &iss_public;
    trusted[1] = &iss_hmac;
    trusted[2] = &iss_restricted;
    all_keys = apr_array_make(gp, 32, sizeof(claims_key_t *));
    for (int i = 0; i < 3; i++) {
        apr_array_cat(all_keys, trusted[i]->keys);
    }

    pol_default.issuer = FZ_ISS_PUBLIC;
    pol_default.audiences = strings(gp, FZ_AUDIENCE, "https://rs.example", NULL, NULL);
    pol_default.leeway = 60;
    pol_9068.issuer = FZ_ISS_PUBLIC;
    pol_9068.audiences = pol_default.audiences;
    pol_9068.typ = "at+jwt";
    pol_9068.required = strings(gp, "sub", "client_id", "jti", "iat");
    pol_lax.issuer = FZ_ISS_HMAC;
    pol_lax.audience_any = 1;
    pol_lax.exp_optional = 1;
    pol_lax.leeway = 300;
    pol_lax.required = strings(gp, "sub", NULL, NULL, NULL);

    self_test(gp, k);
    return 0;
}

/* What claims_validate promised when it said yes. */
static void check_validated(const json_t *claims, const claims_policy_t *pol, const char *typ)
{
    json_t *iss = json_object_get(claims, "iss");
    double exp = 0, t = 0;
    int r = claims_numeric_date(claims, "exp", &exp);
    CHECK(json_is_string(iss) && strcmp(json_string_value(iss), pol->issuer) == 0
          && json_string_length(iss) == strlen(pol->issuer));
    CHECK(r >= 0 && (r == 1 || pol->exp_optional));
    CHECK(r == 0 || (isfinite(exp) && FZ_NOW < exp + (double)pol->leeway));
    CHECK(claims_numeric_date(claims, "nbf", &t) >= 0);
    CHECK(claims_numeric_date(claims, "iat", &t) >= 0);
    if (pol->typ != NULL) {
        CHECK(typ != NULL);
    }
    if (!pol->audience_any) {
        json_t *aud = json_object_get(claims, "aud");
        CHECK(json_is_string(aud) || (json_is_array(aud) && json_array_size(aud) > 0));
    }
}

static void validate_all(const json_t *claims, const char *typ)
{
    const claims_policy_t *pols[] = {&pol_default, &pol_9068, &pol_lax};
    for (int i = 0; i < 3; i++) {
        const char *what = NULL;
        claims_status_t st = claims_validate(claims, typ, pols[i], FZ_NOW, &what);
        if (st == CLAIMS_OK) {
            check_validated(claims, pols[i], typ);
        }
        else {
            CHECK(what != NULL && claims_status_class(st) == CLAIMS_CLASS_INVALID_TOKEN);
        }
    }
}

static int key_in(const apr_array_header_t *keys, const claims_key_t *key)
{
    for (int i = 0; i < keys->nelts; i++) {
        if (APR_ARRAY_IDX(keys, i, const claims_key_t *) == key) {
            return 1;
        }
    }
    return 0;
}

/* What claims_verify promised when it said yes. */
static void check_verified(const claims_verified_t *v)
{
    json_t *iss;
    CHECK(v->issuer != NULL && v->key != NULL && v->claims != NULL && v->jws != NULL);
    iss = json_object_get(v->claims, "iss");
    CHECK(json_is_string(iss) && json_string_length(iss) == strlen(v->issuer->iss)
          && memcmp(json_string_value(iss), v->issuer->iss, json_string_length(iss)) == 0);
    CHECK(key_in(v->issuer->keys, v->key));                      /* never another issuer's key */
    CHECK(claims_alg_accepts(v->key->alg, v->jws->alg));        /* the key's algorithm, nothing else */
    CHECK(claims_alg_set_allows(v->issuer->algs, v->key->alg, v->jws->alg));
    if (v->jws->kid != NULL && v->key->kid != NULL) {
        CHECK(v->jws->kid_len == v->key->kid_len && memcmp(v->jws->kid, v->key->kid, v->key->kid_len) == 0);
    }
    validate_all(v->claims, v->jws->typ);
}

static void check_status(claims_status_t st)
{
    CHECK((int)st >= 0 && st < CLAIMS_STATUS_COUNT);
    CHECK(claims_status_name(st) != NULL && claims_status_text(st) != NULL);
}

/* A remote key set that is empty until refreshed: claims_verify_uncached must look a second time and
 * come to the same answer as with the static keys. */
static const apr_array_header_t *rotating_keys(void *baton, apr_pool_t *p, const claims_issuer_t *issuer,
                                               int refresh)
{
    int *looks = baton;
    (*looks)++;
    return refresh ? issuer->keys : NULL;
}

/* Verifies tok (and again through a fresh cache: a miss that fills it, then a hit). */
static void verify_token(apr_pool_t *p, const char *tok, size_t len)
{
    claims_verified_t v, v2;
    const claims_cached_t *cached = NULL;
    claims_cache_t *cache;
    claims_status_t st = claims_verify(p, tok, len, 0, trusted, 3, &v), st2;

    check_status(st);
    if (len > 1) {
        CHECK(claims_verify(p, tok, len, len - 1, trusted, 3, &v2) == CLAIMS_ERR_TOO_LARGE);  /* CL-05 */
    }
    if (st == CLAIMS_OK || st == CLAIMS_ERR_NO_KEY || st == CLAIMS_ERR_SIGNATURE || st == CLAIMS_ERR_ALG_NOT_ALLOWED) {
        int looks = 0;
        claims_verifier_t rotating = {trusted, 3, 0, rotating_keys, &looks, NULL};
        CHECK(claims_verify_uncached(&rotating, p, tok, len, &v2) == st);
        CHECK(looks == 2);
    }
    if (st != CLAIMS_OK) {
        return;
    }
    check_verified(&v);
    CHECK(claims_token_is_b64token(tok, len));
    cache = claims_cache_create(p, 4, 0);
    CHECK(cache != NULL);
    for (int round = 0; round < 2; round++) {
        claims_verifier_t cached_here = {trusted, 3, 0, NULL, NULL, cache};
        st2 = claims_verify_token(&cached_here, p, tok, len, FZ_NOW, &v2, &cached);
        CHECK(st2 == CLAIMS_OK);
        CHECK(v2.issuer == v.issuer && v2.key == v.key && json_equal(v2.claims, v.claims));
        if (cached != NULL) {
            CHECK(cached->claims_json != NULL && cached->nenv >= 0);
            for (int i = 0; i < cached->nenv; i++) {
                CHECK(strncmp(cached->env[i].name, "CLAIM_", 6) == 0 && cached->env[i].value != NULL);
            }
        }
    }
}

/* header.payload of jws signed with our key for its algorithm, when that is cheap. */
static char *resign(apr_pool_t *p, const claims_jws_t *jws)
{
    unsigned char sig[1024];
    size_t sig_len = 0;
    claims_alg_t alg = jws->alg;
    switch (alg) {
    case CLAIMS_ALG_HS256:
    case CLAIMS_ALG_HS384:
    case CLAIMS_ALG_HS512:
    case CLAIMS_ALG_EDDSA:
    case CLAIMS_ALG_ED25519:
    case CLAIMS_ALG_ED448:
    case CLAIMS_ALG_ES256:
        break;
    default:
        return NULL;
    }
    if (fz_sign(fz_keys(), alg, jws->signing_input, jws->signing_input_len, sig, &sig_len) != 0) {
        fz_die("re-signing");
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, jws->signing_input, jws->signing_input_len), ".",
                       fz_b64url(p, sig, sig_len), NULL);
}

/* "header \n payload [\n sig]" as a compact token. */
static const char *structured(apr_pool_t *p, const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *end = data + size, *nl1 = memchr(data, '\n', size), *nl2;
    const char *h, *pl, *sig = "c2ln";
    char *tok;
    if (nl1 == NULL) {
        nl1 = end;
    }
    h = fz_b64url(p, data, (size_t)(nl1 - data));
    if (nl1 == end) {
        pl = "";
        nl2 = end;
    }
    else {
        nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1));
        if (nl2 == NULL) {
            nl2 = end;
        }
        pl = fz_b64url(p, nl1 + 1, (size_t)(nl2 - nl1 - 1));
    }
    if (nl2 < end) {
        sig = fz_b64url(p, nl2 + 1, (size_t)(end - nl2 - 1));
    }
    tok = apr_pstrcat(p, h, ".", pl, ".", sig, NULL);
    *len = strlen(tok);
    /* exactly sized, as below */
    return apr_pmemdup(p, tok, *len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *tok;
    claims_jws_t *jws = NULL;
    json_t *claims = NULL;
    claims_status_t st;

    apr_pool_create(&p, fz_global_pool());
    if (size > 0 && data[0] == '{') {
        data = (const uint8_t *)structured(p, data, size, &size);
    }
    /* a private copy of exactly size bytes: a read past the token is caught by ASan */
    tok = size > 0 ? apr_pmemdup(p, data, size) : "";

    st = claims_jws_parse(p, tok, size, 0, &jws);
    check_status(st);
    if (st == CLAIMS_OK) {
        const claims_key_t *const *k = (const claims_key_t *const *)all_keys->elts;
        CHECK(size <= CLAIMS_DEFAULT_MAX_TOKEN);
        CHECK(jws->alg != CLAIMS_ALG_UNKNOWN && jws->header != NULL && jws->sig_len > 0);
        CHECK(jws->signing_input == tok && jws->signing_input_len < size);
        CHECK(jws->payload != NULL && jws->payload[jws->payload_len] == '\0');
        {
            /* strict base64url (CL-36): each accepted segment is the one encoding of its bytes */
            const char *dot1 = memchr(tok, '.', size);
            const char *pl = fz_b64url(p, jws->payload, jws->payload_len);
            const char *sg = fz_b64url(p, jws->sig, jws->sig_len);
            size_t pl_len = strlen(pl), sg_len = strlen(sg);
            CHECK(dot1 != NULL && (size_t)(tok + size - dot1) == 1 + pl_len + 1 + sg_len);
            CHECK(memcmp(dot1 + 1, pl, pl_len) == 0 && dot1[1 + pl_len] == '.'
                  && memcmp(dot1 + 2 + pl_len, sg, sg_len) == 0);
        }
        for (int i = 0; i < all_keys->nelts; i++) {
            claims_status_t vs = claims_jws_verify(jws, k[i]);
            check_status(vs);
            if (vs == CLAIMS_OK) {
                CHECK(claims_alg_accepts(k[i]->alg, jws->alg));
            }
        }
        if (claims_jws_claims(p, jws, &claims) == CLAIMS_OK) {
            CHECK(json_is_object(claims));
            validate_all(claims, jws->typ);
        }
    }
    else {
        CHECK(jws == NULL);
    }
    verify_token(p, tok, size);
    if (st == CLAIMS_OK) {
        char *again = resign(p, jws);
        if (again != NULL) {
            verify_token(p, again, strlen(again));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
