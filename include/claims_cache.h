/*
 * claims_cache.h - the verified-token cache of one process (ARCHITECTURE.md section 7).
 *
 * Promises:
 *  - an entry is keyed by a 128-bit keyed digest (SipHash-2-4, a random key per cache) of the
 *    exact token bytes (the token itself is not kept) and by the issuer record it was verified
 *    under: nobody without the key can make two tokens share an entry, and it costs a tenth of
 *    SHA-256; a token verified at two virtual hosts that each declare its issuer has an entry
 *    for each record, and a look-up only finds an entry whose record is trusted where it looks
 *    (CL-67); the entry holds what the per-location checks need: issuer, key (with its
 *    serial), alg, kid, typ, the claims, and what exporting them costs once (CLAIMS_JSON, the
 *    CLAIM_* pairs of every top-level claim and what computing them reported), all in one
 *    malloc'd block; the claims are read again
 *    from CLAIMS_JSON on the entry's first hit and kept as a tree from then on (a token seen
 *    only once never costs the cache a tree: see claims_cache.c, entry_claims);
 *  - an entry never outlives the token's exp (nor a configured maximum age), and the cache is
 *    bounded in entries and in bytes, evicting the least recently used;
 *  - it only short-cuts parsing and the signature: issuer trust, the key still being in the
 *    issuer's current set, audience, times, type and required claims are checked again on
 *    every hit by the caller (claims_verify_token);
 *  - safe for concurrent threads; an entry handed out stays valid until the pool it was handed
 *    out with is cleared, even if it is evicted meanwhile.
 * Entries live in malloc'd memory: their lifetimes are individual, which pools cannot express;
 * everything left is freed by a cleanup of the pool the cache was created in.
 */
#ifndef CLAIMS_CACHE_H
#define CLAIMS_CACHE_H

#include "claims.h"
#include "claims_export.h"
#include "claims_verify.h"

#include <jansson.h>

#define CLAIMS_DIGEST_LEN 16
#define CLAIMS_CACHE_DEFAULT_ENTRIES 10000
#define CLAIMS_CACHE_DEFAULT_BYTES (32 * 1024 * 1024)
#define CLAIMS_CACHE_MAX_AGE 3600.0        /* seconds, for tokens without exp */

typedef struct claims_cached_t {
    const claims_issuer_t *issuer;
    const claims_key_t *key;
    apr_uint32_t key_serial;
    claims_jws_t jws;                  /* alg, kid, typ only */
    json_t *claims;                    /* NULL until the entry's first hit; callers use the
                                        * claims of claims_verify_token's out */
    const char *claims_json;           /* the payload as compact JSON */
    const claims_pair_t *env;          /* CLAIM_* of every top-level claim */
    int nenv;
    const char *export_note;           /* NULL, or what computing env reported (variables that
                                        * several claims map to, left out): one line, the
                                        * reports joined by "; ", claim names escaped; for the
                                        * glue to log (INFO) on every request that uses env */
} claims_cached_t;

typedef struct claims_cache_t claims_cache_t;

typedef struct claims_cache_stats_t {
    apr_size_t entries, bytes, max_entries, max_bytes;
    apr_uint64_t hits, misses, evictions;
} claims_cache_stats_t;

claims_cache_t *claims_cache_create(apr_pool_t *p, apr_size_t max_entries, apr_size_t max_bytes);

/* Figures shared by the caches of several processes (e.g. in shared memory); every cache
 * adds its own changes atomically, and takes its entries back out when it is destroyed. */
typedef struct claims_cache_counters_t {
    volatile apr_uint64_t entries, bytes, hits, misses, evictions;
} claims_cache_counters_t;

void claims_cache_share_counters(claims_cache_t *c, claims_cache_counters_t *shared);

/* The cache's keyed digest of the token bytes. */
void claims_cache_digest(const claims_cache_t *c, const char *token, apr_size_t len,
                         unsigned char digest[CLAIMS_DIGEST_LEN]);

/* The live entry for digest, referenced until p is cleared, or NULL. A token has an entry per
 * issuer record it was verified under; this is the one under the record of trusted that
 * verification here would choose (the first with the token's iss; records compared by
 * pointer). When the token's iss is not trusted here at all, it is any entry of the token,
 * with *untrusted set to 1: the caller refuses it (CLAIMS_ERR_ISSUER). NULL (a miss) also when
 * the iss is trusted here but the token was only verified under another record of it (another
 * virtual host's declaration). *claims: the entry's claims tree as the same look-up found it,
 * NULL until a first hit has read it. */
const claims_cached_t *claims_cache_get(claims_cache_t *c, apr_pool_t *p,
                                        const unsigned char digest[CLAIMS_DIGEST_LEN], double now,
                                        const claims_issuer_t *const *trusted, int ntrusted, json_t **claims,
                                        int *untrusted);

/* Adds what v verified, valid until expires (seconds); returns the new entry referenced until
 * p is cleared, or NULL when it cannot be cached (then the caller keeps using v). An entry of
 * the same digest and issuer record with the same key (another thread's) is kept and returned
 * instead; one with another key (its key left the set) is replaced. */
const claims_cached_t *claims_cache_put(claims_cache_t *c, apr_pool_t *p,
                                        const unsigned char digest[CLAIMS_DIGEST_LEN],
                                        const claims_verified_t *v, double expires);

void claims_cache_get_stats(claims_cache_t *c, claims_cache_stats_t *st);

/* Verifies token against v through v->cache (without one: claims_verify_uncached). A hit is
 * an entry verified under the record of v->trusted that verification would choose (see
 * claims_cache_get) whose key is still in that issuer's current set (claims_verifier_keys):
 * out is filled from it. A cached token whose iss is not trusted here at all is refused with
 * CLAIMS_ERR_ISSUER (out->jws set), as verification would refuse it. Anything else is verified
 * afresh with v: a token whose iss another virtual host declares too is verified with this
 * location's record and keys, and cached for that record as well. *cached is set to the entry
 * used or added (or NULL). */
claims_status_t claims_verify_token(const claims_verifier_t *v, apr_pool_t *p, const char *token, apr_size_t len,
                                    double now, claims_verified_t *out, const claims_cached_t **cached);

#endif
