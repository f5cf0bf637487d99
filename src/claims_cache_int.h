/*
 * claims_cache_int.h - what the two files of the cache unit share: the per-process store
 * (claims_cache.c) and verification through the levels (claims_cache_verify.c). Not a
 * promise to anyone else: see claims_cache.h.
 */
#ifndef CLAIMS_CACHE_INT_H
#define CLAIMS_CACHE_INT_H

#include "claims_cache.h"

/* The cache's keyed hash of a token (its length and last 16 bytes): picks the bucket. With a
 * shared level attached it is claims_shcache_hash (the same function, the level's key). */
apr_uint64_t claims_cache_hash(const claims_cache_t *c, const char *token, apr_size_t len);

/* claims_cache_get and claims_cache_put with the token's hash already computed. */
const claims_cached_t *claims_cache_lookup(claims_cache_t *c, apr_pool_t *p, apr_uint64_t hash,
                                           const char *token, apr_size_t len, double now,
                                           const claims_issuer_t *const *trusted, int ntrusted,
                                           json_t **claims, int *untrusted);
const claims_cached_t *claims_cache_insert(claims_cache_t *c, apr_pool_t *p, apr_uint64_t hash,
                                           const char *token, apr_size_t len, const claims_verified_t *v,
                                           double expires);

/* The entry's claims tree: read from its CLAIMS_JSON on its first hit, then kept. */
json_t *claims_cache_entry_claims(claims_cache_t *c, const claims_cached_t *pub, apr_pool_t *p);

/* Whether the cache keeps nothing (claims_cache_create_off); its shared level, or NULL. */
int claims_cache_is_off(const claims_cache_t *c);
claims_shcache_t *claims_cache_shared_level(const claims_cache_t *c);

/* Whether this process saw the token (its hash) before, and no later token took its slot since;
 * notes it as seen. 1 without a shared level. A token goes into this process's
 * level from its second sighting here, so that tokens seen once (a stream of new ones, or each
 * child of many seeing each token once) cost a child's level nothing and evict nothing. */
int claims_cache_seen_before(claims_cache_t *c, apr_uint64_t hash);

/* Counts one signature computed. */
void claims_cache_count_verification(claims_cache_t *c);

/* The identity of key in the shared level (claims_shcache_key_id), kept per key object
 * (by serial, unique in a process): 1 with id, 0 when it could not be computed. */
int claims_cache_key_id(claims_cache_t *c, const claims_key_t *key, unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN]);

#endif
