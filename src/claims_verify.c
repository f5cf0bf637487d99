/*
 * claims_verify.c - token to verified claims; see claims_verify.h.
 */
#include "claims_verify.h"

#include <string.h>

const claims_issuer_t *claims_issuer_find(const claims_issuer_t *const *trusted, int ntrusted,
                                          const char *iss, apr_size_t len)
{
    for (int i = 0; i < ntrusted; i++) {
        if (strlen(trusted[i]->iss) == len && memcmp(trusted[i]->iss, iss, len) == 0) {
            return trusted[i];
        }
    }
    return NULL;
}

claims_status_t claims_verify(apr_pool_t *p, const char *token, apr_size_t len, apr_size_t max_len,
                              const claims_issuer_t *const *trusted, int ntrusted,
                              claims_verified_t *out)
{
    claims_verifier_t v = {trusted, ntrusted, max_len, NULL, NULL, NULL};
    return claims_verify_uncached(&v, p, token, len, out);
}

const apr_array_header_t *claims_verifier_keys(const claims_verifier_t *v, apr_pool_t *p,
                                               const claims_issuer_t *issuer, int refresh)
{
    return v->get_keys != NULL ? v->get_keys(v->baton, p, issuer, refresh) : issuer->keys;
}

static int select_keys(const claims_verifier_t *v, apr_pool_t *p, const claims_issuer_t *issuer,
                       const claims_jws_t *jws, int refresh, const claims_key_t **cand)
{
    const apr_array_header_t *keys = claims_verifier_keys(v, p, issuer, refresh);
    if (keys == NULL) {
        return 0;
    }
    return claims_keys_select(keys, jws->kid, jws->kid_len, jws->alg, cand, CLAIMS_MAX_KID_CANDIDATES);
}

claims_status_t claims_verify_uncached(const claims_verifier_t *v, apr_pool_t *p, const char *token,
                                       apr_size_t len, claims_verified_t *out)
{
    return claims_verify_uncached_with(v, p, token, len, NULL, NULL, out);
}

claims_status_t claims_verify_uncached_with(const claims_verifier_t *v, apr_pool_t *p, const char *token,
                                            apr_size_t len, claims_sig_check_fn check, void *baton,
                                            claims_verified_t *out)
{
    claims_jws_t *jws;
    json_t *claims, *iss;
    const claims_issuer_t *issuer;
    const claims_key_t *cand[CLAIMS_MAX_KID_CANDIDATES];
    claims_status_t st;
    int n;

    memset(out, 0, sizeof(*out));
    if ((st = claims_jws_parse(p, token, len, v->max_len, &jws)) != CLAIMS_OK) {
        return st;
    }
    if ((st = claims_jws_claims(p, jws, &claims)) != CLAIMS_OK) {
        return st;
    }
    out->jws = jws;
    iss = json_object_get(claims, "iss");
    if (!json_is_string(iss)) {
        return CLAIMS_ERR_ISSUER;
    }
    issuer = claims_issuer_find(v->trusted, v->ntrusted, json_string_value(iss), json_string_length(iss));
    if (issuer == NULL) {
        return CLAIMS_ERR_ISSUER;
    }
    out->issuer = issuer;
    n = select_keys(v, p, issuer, jws, 0, cand);
    if (n == 0 && v->get_keys != NULL) {
        n = select_keys(v, p, issuer, jws, 1, cand);  /* maybe a rotated key set */
    }
    if (n == 0) {
        return CLAIMS_ERR_NO_KEY;
    }
    st = CLAIMS_ERR_SIGNATURE;
    for (int i = 0; i < n; i++) {
        if (!claims_alg_set_allows(issuer->algs, cand[i]->alg, jws->alg)) {
            st = CLAIMS_ERR_ALG_NOT_ALLOWED;
            continue;
        }
        st = check != NULL ? check(baton, jws, cand[i]) : claims_jws_verify(jws, cand[i]);
        if (st == CLAIMS_OK) {
            out->claims = claims;
            out->key = cand[i];
            return CLAIMS_OK;
        }
    }
    return st;
}
