/*
 * mod_claims_introspect.h - opaque tokens (RFC 7662, RFC 9701): a token that is not a compact
 * JWS, at a location that trusts an issuer with ClaimsIntrospection, is sent to that issuer's
 * introspection endpoint, and its answer, cached, stands for the token's claims.
 *
 * Answers are kept at two levels: each process's own (mod_claims_counters.c, mc_answer_cache:
 * found by the token's exact bytes, holding the claims tree and what exporting them costs, as
 * for a verified JWT), and the store the children (or, with memcache/redis, a fleet) share
 * (ClaimsIntrospectionCache). An entry of the first never outlives the record of the second
 * it came from or went to.
 *
 * Which issuer: the first of the location's trusted issuers (ClaimsTrust order, or declaration
 * order without ClaimsTrust) that introspects. Only that one ever sees the token: an opaque
 * token does not say who issued it, and a token must not be handed to every endpoint in turn.
 */
#ifndef MOD_CLAIMS_INTROSPECT_H
#define MOD_CLAIMS_INTROSPECT_H

#include "mod_claims_records.h"

#include "claims_cache.h"

#include <jansson.h>

/* Whether token is shaped as a compact JWS (three dot-separated parts); anything else is
 * opaque. */
int mc_is_jws_shaped(const char *token, apr_size_t len);

/* The issuer among trusted[0..n) that introspects opaque tokens here, or NULL. */
const mc_issuer_t *mc_introspecting_issuer(const claims_issuer_t *const *trusted, int n);

/* What an introspection gave. */
typedef struct mc_introspected_t {
    json_t *claims;                    /* the token's claims (valid until r->pool is cleared) */
    const char *jwt;                   /* the signed answer (RFC 9701), or NULL */
    const claims_cached_t *cached;     /* the entry of this process's level of answers that
                                        * holds them (CLAIMS_JSON, CLAIM_* pairs), or NULL */
} mc_introspected_t;

/* Introspects token at ic for r: CLAIMS_OK with *out, CLAIMS_ERR_INACTIVE (401), or
 * CLAIMS_ERR_UNAVAILABLE (503: the endpoint is down, slow or answers garbage; logged once per
 * streak), or another refusal of the answer (e.g. CLAIMS_ERR_ISSUER). */
claims_status_t mc_introspect(request_rec *r, const mc_issuer_t *ic, const char *token, apr_size_t len,
                              mc_introspected_t *out);

/* The figures of introspection, summed over all children. */
typedef struct mc_introspect_counts_t {
    apr_uint64_t calls, errors, active, inactive, hits, misses;
} mc_introspect_counts_t;

/* 0 when there are none (no issuer introspects). */
int mc_read_introspect_counts(mc_introspect_counts_t *out);

void mc_register_introspect_hooks(apr_pool_t *p);

#endif
