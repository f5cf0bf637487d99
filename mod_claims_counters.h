/*
 * mod_claims_counters.h - the verified-token cache of each child, and the figures every child
 * adds to and the status page reads: tokens accepted and refused by issuer record and reason,
 * and the caches' entries, bytes, hits, misses and evictions, summed over all children.
 *
 * The figures live in one anonymous shared memory segment made at start-up (before the
 * children are forked) and change by atomic adds; a restart starts them from zero, and the
 * segment remembers when that was (the status page's uptime).
 */
#ifndef MOD_CLAIMS_COUNTERS_H
#define MOD_CLAIMS_COUNTERS_H

#include "mod_claims_records.h"

#include "claims_cache.h"

typedef struct mc_counts_t {
    apr_uint64_t accepted;
    apr_uint64_t refused[CLAIMS_STATUS_COUNT];
} mc_counts_t;

/* This child's verified-token cache (NULL when ClaimsCache Off). */
claims_cache_t *mc_token_cache(void);

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
