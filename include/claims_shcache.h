/*
 * claims_shcache.h - the verified-token level shared by all the children of one server
 * (ARCHITECTURE.md section 7), in a memory segment the glue maps before the children are
 * forked. The per-child cache (claims_cache.h) consults it on a miss, at the signature step.
 *
 * What a record says: "these exact token bytes carry a signature that verified, since this
 * server started, under the key material whose identity is key_id; usable until expires". No
 * pointer of any process is in it: key_id is a keyed digest of a key's algorithm and material
 * (claims_shcache_key_id), which every process computes for its own key objects. A process uses
 * a record only in place of the signature computation of its own verification: the token is
 * parsed, its issuer chosen among those trusted where it is looked up, its key among that
 * issuer's current keys, as without this level; only the signature is not computed again for a
 * candidate key with the record's identity (claims_verify_uncached_with).
 *
 * Layout of the segment: a header; the index, 32-bit words in buckets of
 * CLAIMS_SHCACHE_WAYS; one 32-bit word per cell; the cells, CLAIMS_SHCACHE_CELL bytes each.
 * A record takes consecutive cells, handed out in turn by an atomic clock (records written
 * at about the same time lie together, so a process touches few pages): a record header, then
 * the token in its parsed form (claims_shcache_form_t: the header segment as sent, the decoded
 * payload and signature; a quarter smaller than the text, and every child reads the records of
 * the tokens it is sent). An index word holds the record's first cell and 8 bits of its hash.
 *
 * Concurrency, for threads and processes alike: no lock. C11 atomics on lock-free (so
 * address-free) 32- and 64-bit words. A writer owns the cells of its record by turning each
 * cell word from stable to "busy, owned by this record" with a compare-and-swap; when one is
 * busy it puts back the words it took and gives up (one more try elsewhere), so it never waits
 * and never writes a cell another writer owns. It writes the record, publishes the cell words
 * as "owned by this record, stable" (release), and last the index word. A reader loads the cell
 * words (acquire), needs all of them stable and owned by the record its header names, compares,
 * and loads them again: any change means a writer came by, and the look-up is a miss (the
 * sequence-lock pattern; what was read meanwhile is discarded). Nothing is held across a
 * signature or a JSON parse: there is nothing to hold. A writer that dies while it owns cells
 * leaves them busy: they are lost until the next start.
 *
 * Authenticity: a record is bound to this server start. The segment is made at each start, and
 * the keys of the hashes, check values and key identities are drawn then and live only in the
 * processes' memory, never in the segment. A record header carries a SipHash check value over
 * its fields (including its position and its owner); the token is compared exactly: every byte
 * of its header segment, its decoded payload and its decoded signature. Since base64url is
 * decoded strictly (claims_b64url.h: one accepted encoding per byte string), two tokens that
 * parse have equal forms exactly when their bytes are equal, so this is the comparison of the
 * token's bytes, in fewer of them. A record is not used at or after expires (the token's exp,
 * at most CLAIMS_CACHE_MAX_AGE).
 */
#ifndef CLAIMS_SHCACHE_H
#define CLAIMS_SHCACHE_H

#include "claims.h"
#include "claims_jws.h"
#include "claims_keys.h"

#define CLAIMS_SHCACHE_KEY_ID_LEN 16
#define CLAIMS_SHCACHE_CELL 64
#define CLAIMS_SHCACHE_WAYS 8
#define CLAIMS_SHCACHE_MAX_TOKEN 16384     /* larger tokens stay in the per-child level */
#define CLAIMS_SHCACHE_MIN_SIZE (64 * 1024)

typedef struct claims_shcache_t claims_shcache_t;

/* A token as the level stores and compares it. */
typedef struct claims_shcache_form_t {
    const char *header;                /* the header segment, as sent */
    apr_size_t header_len;
    const unsigned char *payload;      /* the payload's bytes, decoded */
    apr_size_t payload_len;
    const unsigned char *sig;          /* the signature's bytes, decoded */
    apr_size_t sig_len;
} claims_shcache_form_t;

/* The form of a parsed token (pointing into jws and the token). */
void claims_shcache_form(const claims_jws_t *jws, claims_shcache_form_t *form);

typedef struct claims_shcache_stats_t {
    apr_uint64_t entries;              /* records whose first cell no later record took */
    apr_uint64_t bytes;                /* the cells of those records */
    apr_uint64_t max_bytes;            /* the segment */
    apr_uint64_t hits;                 /* look-ups that saved a signature (claims_shcache_note) */
    apr_uint64_t misses;
    apr_uint64_t stores, evictions;
    apr_uint64_t dropped;              /* records not written: too large, or cells busy */
} claims_shcache_stats_t;

/* Formats base[0..size) (zero-filled, e.g. a fresh anonymous mapping) as an empty level, and
 * draws this start's keys. Called once, in the process that forks the others; the handle (in
 * p, with the keys) is inherited by them. NULL when size < CLAIMS_SHCACHE_MIN_SIZE or no
 * random key could be drawn. */
claims_shcache_t *claims_shcache_create(apr_pool_t *p, void *base, apr_size_t size);

/* The keyed hash of a token that picks its bucket: SipHash-1-3 over its length and its last
 * (at most) 16 bytes, a part of the signature for a JWS. Only a choice of bucket: records are
 * found by comparing the exact bytes. */
apr_uint64_t claims_shcache_hash(const claims_shcache_t *sh, const char *token, apr_size_t len);

/* 1 when the level holds a record of exactly the token of form (hash: claims_shcache_hash of
 * the token) usable at now (seconds): *key_id is its key identity. 0 otherwise. Never waits. */
int claims_shcache_find(claims_shcache_t *sh, apr_uint64_t hash, const claims_shcache_form_t *form, double now,
                        unsigned char key_id[CLAIMS_SHCACHE_KEY_ID_LEN]);

/* Adds a record: the token of form verified under the key with identity key_id, usable until
 * expires (seconds). 1 when written; 0 when its form is larger than CLAIMS_SHCACHE_MAX_TOKEN
 * bytes or an eighth of the level, or when its cells were busy twice. Never waits. */
int claims_shcache_add(claims_shcache_t *sh, apr_uint64_t hash, const claims_shcache_form_t *form,
                       const unsigned char key_id[CLAIMS_SHCACHE_KEY_ID_LEN], double expires);

/* Counts a look-up of the verification path: hit when a record saved a signature. */
void claims_shcache_note(claims_shcache_t *sh, int hit);

/* The identity of key for this start: a keyed SHA-256 digest (key of this start) of its bound
 * algorithm and its material (the DER SubjectPublicKeyInfo, or an HMAC secret), truncated.
 * Two key objects have one identity exactly when they verify the same signatures the same way.
 * Costs a DER encoding and a digest: callers keep it per key object (claims_cache.c); the keys
 * the configuration loaded before the children are forked are learnt then (below), so that a
 * child never runs OpenSSL's encoders for them. */
claims_status_t claims_shcache_key_id(const claims_shcache_t *sh, const claims_key_t *key,
                                      unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN]);

/* Computes and keeps the identity of key (a key object that the processes forked later share,
 * e.g. one of a ClaimsKeyFile), for claims_shcache_key_id to answer from memory. In the process
 * that forks the others, before it forks: not safe for concurrent use. */
void claims_shcache_learn_key(claims_shcache_t *sh, apr_pool_t *p, const claims_key_t *key);

void claims_shcache_get_stats(const claims_shcache_t *sh, claims_shcache_stats_t *st);

#endif
