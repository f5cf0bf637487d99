/*
 * claims_cache.h - the verified-token cache of one process (ARCHITECTURE.md section 7), and
 * verification through it and through the level shared by a server's children.
 *
 * Promises:
 *  - an entry is found by the exact token bytes: a keyed hash (SipHash-1-3, a random key per
 *    cache, or the shared level's key when one is attached) of the token's length and its last
 *    16 bytes (a part of the signature) picks the bucket, then the stored token is compared with memcmp, so no look-up relies on a digest
 *    being collision-free, and a hit costs neither a syntax scan nor a digest of the whole
 *    token; an entry is also keyed by the issuer record it was verified under: a token verified
 *    at two virtual hosts that each declare its issuer has an entry for each record, and a
 *    look-up only finds an entry whose record is trusted where it looks (CL-67); the entry
 *    holds the token and what the per-location checks need: issuer, key (with its serial),
 *    alg, kid, typ, the claims, and what exporting them costs once (CLAIMS_JSON, the CLAIM_*
 *    pairs of every top-level claim and what computing them reported), all in one malloc'd
 *    block; the claims are read again from CLAIMS_JSON on the entry's first hit and kept as a
 *    tree from then on (a token seen only once never costs the cache a tree: see
 *    claims_cache.c, entry_claims);
 *  - an entry never outlives the token's exp (nor a configured maximum age), and the cache is
 *    bounded in entries and in bytes, evicting the least recently used;
 *  - it only short-cuts parsing and the signature: issuer trust, the key still being in the
 *    issuer's current set, audience, times, type and required claims are checked again on
 *    every hit by the caller (claims_verify_token);
 *  - safe for concurrent threads; an entry handed out stays valid until the pool it was handed
 *    out with is cleared, even if it is evicted meanwhile; no lock is held across a signature
 *    or a JSON parse.
 * With a shared level attached (claims_cache_attach_shared, claims_shcache.h), a miss consults
 * it at the signature step, and a token verified afresh goes there rather than here: a child
 * keeps a token of its own from the second time the server sees it, so a stream of tokens
 * seen once costs each child nothing. Every signature computed is counted.
 * Entries live in malloc'd memory: their lifetimes are individual, which pools cannot express;
 * everything left is freed by a cleanup of the pool the cache was created in.
 */
#ifndef CLAIMS_CACHE_H
#define CLAIMS_CACHE_H

#include "claims.h"
#include "claims_export.h"
#include "claims_shcache.h"
#include "claims_verify.h"

#include <jansson.h>

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
    const char *attachment;            /* an answer's (claims_cache_put_answer): what came with it
                                        * (the signed introspection answer, RFC 9701), or NULL */
} claims_cached_t;

typedef struct claims_cache_t claims_cache_t;

typedef struct claims_cache_stats_t {
    apr_size_t entries, bytes, max_entries, max_bytes;
    apr_uint64_t hits, misses, evictions;
    apr_uint64_t verifications;        /* signatures computed through this cache */
} claims_cache_stats_t;

/* A cache of at most max_entries entries and max_bytes bytes (0: the defaults). */
claims_cache_t *claims_cache_create(apr_pool_t *p, apr_size_t max_entries, apr_size_t max_bytes);

/* A cache that keeps nothing (ClaimsCache Off): claims_verify_token through it verifies every
 * time, as without a cache, and only counts the signatures. */
claims_cache_t *claims_cache_create_off(apr_pool_t *p);

/* Figures shared by the caches of several processes (e.g. in shared memory); every cache
 * adds its own changes atomically, and takes its entries back out when it is destroyed. */
typedef struct claims_cache_counters_t {
    volatile apr_uint64_t entries, bytes, hits, misses, evictions;
    volatile apr_uint64_t verifications;   /* signatures computed (claims_signature_verifications_total) */
} claims_cache_counters_t;

void claims_cache_share_counters(claims_cache_t *c, claims_cache_counters_t *shared);

/* Gives the cache the level shared by the server's children (NULL: none). Before the cache's
 * first use; the level outlives the cache. */
void claims_cache_attach_shared(claims_cache_t *c, claims_shcache_t *sh);

/* The live entry of exactly token[0..len), referenced until p is cleared, or NULL. A token has
 * an entry per issuer record it was verified under; this is the one under the record of
 * trusted that verification here would choose (the first with the token's iss; records
 * compared by pointer). When the token's iss is not trusted here at all, it is any entry of the
 * token, with *untrusted set to 1: the caller refuses it (CLAIMS_ERR_ISSUER). NULL (a miss)
 * also when the iss is trusted here but the token was only verified under another record of it
 * (another virtual host's declaration). *claims: the entry's claims tree as the same look-up
 * found it, NULL until a first hit has read it. */
const claims_cached_t *claims_cache_get(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                        double now, const claims_issuer_t *const *trusted, int ntrusted,
                                        json_t **claims, int *untrusted);

/* Adds what v verified from token[0..len), valid until expires (seconds); returns the new
 * entry referenced until p is cleared, or NULL when it cannot be cached (then the caller keeps
 * using v). An entry of the same token and issuer record with the same key (another thread's)
 * is kept and returned instead; one with another key (its key left the set) is replaced. */
const claims_cached_t *claims_cache_put(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                        const claims_verified_t *v, double expires);

/* Answers: claims an issuer vouched for without a signature over the token (introspection,
 * RFC 7662), kept in a cache of their own (never one that claims_verify_token uses: an answer
 * entry has no key and no JWS header). Put: what issuer answered for token[0..len), its claims
 * (read, not kept: the entry keeps their compact text, CLAIMS_JSON, and their CLAIM_* pairs) and
 * attachment (copied; NULL: none), valid until expires; the entry referenced until p is
 * cleared, or NULL when it cannot be cached. An entry of the same token and issuer is kept and
 * returned instead. Get: the live entry of exactly token[0..len) put under issuer (records
 * compared by pointer), referenced until p is cleared, with *claims its claims tree (read from
 * CLAIMS_JSON on the entry's first hit, then kept), or NULL. The caller checks the claims
 * (times, audience) on every hit, as for a verified token. */
const claims_cached_t *claims_cache_put_answer(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                               const claims_issuer_t *issuer, const json_t *claims,
                                               const char *attachment, double expires);
const claims_cached_t *claims_cache_get_answer(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                               double now, const claims_issuer_t *issuer, json_t **claims);

void claims_cache_get_stats(claims_cache_t *c, claims_cache_stats_t *st);

/* Verifies token against v through v->cache (without one: claims_verify_uncached). A hit is
 * an entry verified under the record of v->trusted that verification would choose (see
 * claims_cache_get) whose key is still in that issuer's current set (claims_verifier_keys):
 * out is filled from it. A cached token whose iss is not trusted here at all is refused with
 * CLAIMS_ERR_ISSUER (out->jws set), as verification would refuse it. Anything else is verified
 * afresh with v (claims_verify_uncached_with), where the shared level, when attached, may stand
 * in for the signature of a key of the record's identity: a token whose iss another virtual
 * host declares too is verified with this location's record and keys, and cached for that
 * record as well. *cached is set to the entry used or added (or NULL).
 * The token's characters are checked only when it is refused, and only to choose the answer: a
 * token that is not an RFC 6750 b64token is CLAIMS_ERR_REQUEST, whatever else is wrong with it
 * (claims_token_from_authorization leaves that check to this function, so that a hit costs no
 * scan: a token served from either level is byte for byte one that verified, and a verified
 * compact JWS is strict base64url and dots, all b64token characters). */
claims_status_t claims_verify_token(const claims_verifier_t *v, apr_pool_t *p, const char *token, apr_size_t len,
                                    double now, claims_verified_t *out, const claims_cached_t **cached);

#endif
