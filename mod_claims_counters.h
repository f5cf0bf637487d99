/*
 * mod_claims_counters.h - the verified-token caches (each child's own level, and the level
 * shared by all children of the server), and the figures every child adds to and the status
 * page reads: tokens accepted and refused by issuer record and reason, signatures computed,
 * and the caches' entries, bytes, hits, misses and evictions.
 *
 * One budget per server: ClaimsCacheSize (default 32 MiB) bounds all the verified-token
 * caches of one server together. With one child (the MPM runs at most one), the child's level
 * gets it all and there is no shared level. With N > 1 (AP_MPMQ_MAX_DAEMONS: MaxRequestWorkers
 * for prefork, MaxRequestWorkers / ThreadsPerChild for event and worker), three quarters are
 * the shared level (one anonymous segment made in post_config, before the children are forked)
 * and each child's own level gets a quarter divided by N. Whatever the MPM and N, the caches
 * of a server generation take at most ClaimsCacheSize (plus each child's small fixed table);
 * where an issuer introspects opaque tokens, a quarter of each child's own share is its level
 * of introspection answers (mod_claims_introspect.c), and with ClaimsCache Off it has none;
 * during a graceful restart the children of the old generation keep theirs until they exit.
 *
 * The figures live in another anonymous shared memory segment made at start-up and change by
 * atomic adds; a restart starts them from zero, and the segment remembers when that was (the
 * status page's uptime).
 */
#ifndef MOD_CLAIMS_COUNTERS_H
#define MOD_CLAIMS_COUNTERS_H

#include "mod_claims_records.h"

#include "claims_cache.h"

typedef struct mc_counts_t {
    apr_uint64_t accepted;
    apr_uint64_t refused[CLAIMS_STATUS_COUNT];
} mc_counts_t;

/* This child's verified-token cache, with the shared level attached; with ClaimsCache Off one
 * that keeps nothing and counts the signatures (NULL only when none could be made). */
claims_cache_t *mc_token_cache(void);

/* Whether tokens are cached (ClaimsCache On and a cache could be made). */
int mc_token_cache_on(void);

/* This child's level of introspection answers (claims_cache_put_answer), or NULL. */
claims_cache_t *mc_answer_cache(void);

/* The figures of the level shared by the children; 0 when there is none. */
int mc_read_shared_level(claims_shcache_stats_t *out);

/* Counts a token decision (issuer: the mc_issuer_t behind it, or NULL before one was known). */
void mc_count(const claims_issuer_t *issuer, claims_status_t st);

/* The figures of an issuer record (NULL: refusals before an issuer was known); 0 when there
 * are none (no shared memory). */
int mc_read_counts(const mc_issuer_t *ic, mc_counts_t *out);

/* The caches' figures summed over all children; 0 when there are none. */
int mc_read_cache_counts(claims_cache_counters_t *out);

/* When the figures started from zero: the last start or restart (graceful or not) of the
 * server; 0 when there are none. */
apr_time_t mc_counters_started_at(void);

void mc_register_counters_hooks(apr_pool_t *p);

#endif
