/*
 * mod_claims_replay.h - the DPoP replay store (ClaimsReplayCache, SECURITY.md CL-97): each
 * proof's jti is remembered for its acceptance window with an ATOMIC insert, so that a proof is
 * accepted once, on one server or across a fleet:
 *   shmcb (default)        this machine's shared memory, inserted under its global mutex
 *   memcache:HOST:PORT     memcached's add, through APR-util's own client (apr_memcache)
 *   redis:HOST:PORT        SET key 1 NX EX seconds, through hiredis
 * never a get-then-set across processes that do not share a lock. Keys are keyed digests of
 * the proof key's thumbprint and the jti (ClaimsCacheSecret; a random secret for shmcb). The
 * store fails closed: when it cannot answer, the proof is refused (503), never accepted
 * unchecked. shmcb has a fixed size and would make room by dropping live records, whose proofs
 * could then be replayed: the jti still live there are counted (claims_ledger.h), and beyond
 * its capacity (its size / MC_REPLAY_RECORD_BYTES) a new proof is refused (503) instead.
 */
#ifndef MOD_CLAIMS_REPLAY_H
#define MOD_CLAIMS_REPLAY_H

#include "mod_claims_records.h"

typedef enum mc_replay_t {
    MC_REPLAY_FIRST = 0,               /* never seen: now remembered */
    MC_REPLAY_SEEN,                    /* seen within its window: a replay */
    MC_REPLAY_DOWN,                    /* the store did not answer: fail closed */
    MC_REPLAY_FULL                     /* shmcb holds its capacity of live jti: fail closed */
} mc_replay_t;

/* Remembers (jkt, jti) for ttl, atomically; says whether it was there already. */
mc_replay_t mc_replay_insert(request_rec *r, const char *jkt, const char *jti, apr_interval_time_t ttl);

/* The smallest shmcb store the module takes. shmcb picks a record's subcache by its id's first
 * byte: below 1 MiB a subcache holds so few records that one can overflow, dropping a live jti
 * whose proof could then be replayed, before the count of live jti refuses new proofs. */
#define MC_REPLAY_MIN_SIZE 1048576

/* Reading ClaimsReplayCache: NULL, or why the spec cannot be the replay store, naming the
 * directive: a shmcb store smaller than MC_REPLAY_MIN_SIZE, or whose size mod_socache_shmcb
 * would not read or take (configtest says so; shmcb itself only at start). Other providers:
 * NULL (their checks are elsewhere). */
const char *mc_replay_check_spec(apr_pool_t *p, const char *spec);

/* What the replay store answered, all children, since the last start (the status page). */
typedef struct mc_replay_counts_t {
    const char *store;                 /* "shmcb", "memcache", "redis", another socache's name */
    apr_uint64_t accepted;             /* proofs seen for the first time: remembered */
    apr_uint64_t replayed;             /* proofs seen before within their window: refused */
    apr_uint64_t unavailable;          /* the store did not answer: refused (503) */
    apr_uint64_t full;                 /* shmcb held its capacity of live jti: refused (503) */
    apr_uint64_t capacity;             /* shmcb: the live jti it keeps at most; 0 otherwise */
} mc_replay_counts_t;

/* 0 when there are no figures (no shared memory). A store whose socache module is not loaded
 * answers nothing: its proofs count as unavailable. */
int mc_read_replay_counts(mc_replay_counts_t *out);

void mc_register_replay_hooks(apr_pool_t *p);

#endif
