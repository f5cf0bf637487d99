/*
 * claims_verify.h - a token string and the trusted issuers in, verified claims or a precise
 * refusal out.
 *
 * Order of work: size cap, JWS parse, claims parse, issuer chosen by exact "iss" among the
 * trusted ones (never another issuer's keys, CL-26), header alg checked against the issuer's
 * allow-list, key chosen by kid (or by alg, at most CLAIMS_MAX_KID_CANDIDATES keys), signature
 * verified with the algorithm bound to the key. Registered claims are checked afterwards, per
 * location, with claims_validate().
 */
#ifndef CLAIMS_VERIFY_H
#define CLAIMS_VERIFY_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_jws.h"
#include "claims_keys.h"

#include <jansson.h>

typedef struct claims_issuer_t {
    const char *iss;                  /* exact issuer identifier */
    apr_array_header_t *keys;         /* claims_key_t *, immutable after configuration */
    claims_alg_set_t algs;            /* allow-list; 0 = whatever the keys are bound to */
} claims_issuer_t;

typedef struct claims_verified_t {
    const claims_issuer_t *issuer;
    const claims_jws_t *jws;
    json_t *claims;                   /* the verified payload, released with the pool */
    const claims_key_t *key;
} claims_verified_t;

/* Supplies an issuer's keys (claims_key_t *) for one verification, for issuers whose keys
 * change (remote JWK Sets). refresh is 0 on the first look, 1 when no key matched the token's
 * kid/alg: the supplier may then bring a newer set, within its own rate limit and time bound.
 * The keys must stay valid until p is cleared. NULL means no keys. */
typedef const apr_array_header_t *(*claims_keys_fn)(void *baton, apr_pool_t *p,
                                                     const claims_issuer_t *issuer, int refresh);

struct claims_cache_t;

/* Where and how tokens are verified: the issuers trusted there and the rules that do not
 * change from one token to the next. Set up by the caller (per location, or per request on
 * the stack) and only read by the core. */
typedef struct claims_verifier_t {
    const claims_issuer_t *const *trusted;   /* the issuers accepted here, ntrusted of them */
    int ntrusted;
    apr_size_t max_len;                      /* token size cap; 0: CLAIMS_DEFAULT_MAX_TOKEN */
    claims_keys_fn get_keys;                 /* NULL: each issuer's own keys (issuer->keys) */
    void *baton;                             /* for get_keys */
    struct claims_cache_t *cache;            /* verified-token cache, NULL: none; used by
                                              * claims_verify_token (claims_cache.h) */
} claims_verifier_t;

/* Verifies token against v, without v's cache. */
claims_status_t claims_verify_uncached(const claims_verifier_t *v, apr_pool_t *p, const char *token,
                                       apr_size_t len, claims_verified_t *out);

/* The signature step of verification: CLAIMS_OK when key verifies jws, else the refusal
 * claims_jws_verify would give. claims_jws_verify itself is one; the verified-token cache
 * passes one that also counts the verifications and knows the tokens its shared level has
 * seen verified under the same key material (claims_cache.h). */
typedef claims_status_t (*claims_sig_check_fn)(void *baton, const claims_jws_t *jws, const claims_key_t *key);

/* claims_verify_uncached with check (NULL: claims_jws_verify) as its signature step: the same
 * work in the same order, the same answers where check answers as claims_jws_verify does. */
claims_status_t claims_verify_uncached_with(const claims_verifier_t *v, apr_pool_t *p, const char *token,
                                            apr_size_t len, claims_sig_check_fn check, void *baton,
                                            claims_verified_t *out);

/* The simple form: claims_verify_uncached with trusted, ntrusted and max_len, and each issuer's
 * own keys. */
claims_status_t claims_verify(apr_pool_t *p, const char *token, apr_size_t len, apr_size_t max_len,
                              const claims_issuer_t *const *trusted, int ntrusted,
                              claims_verified_t *out);

/* The keys of issuer for one verification by v: v->get_keys' answer (refresh as there), or
 * issuer->keys without get_keys. */
const apr_array_header_t *claims_verifier_keys(const claims_verifier_t *v, apr_pool_t *p,
                                               const claims_issuer_t *issuer, int refresh);

/* The trusted issuer whose identifier equals iss exactly, or NULL. */
const claims_issuer_t *claims_issuer_find(const claims_issuer_t *const *trusted, int ntrusted,
                                          const char *iss, apr_size_t len);

#endif
