/*
 * mod_claims_remote.h - remote key sets (ClaimsJWKS, ClaimsDiscovery) at run time: fetched by
 * one process at a time (a mod_watchdog singleton), published in the shared store
 * (mod_claims_socache.c), parsed once per version by every child, refreshed early on an
 * unknown kid within bounds. The decisions (when, how long, which keys) are the core's
 * (claims_keyset.h).
 */
#ifndef MOD_CLAIMS_REMOTE_H
#define MOD_CLAIMS_REMOTE_H

#include "mod_claims_records.h"

/* The issuer's keys for one verification (a claims_keys_fn; baton is the request_rec). */
const apr_array_header_t *mc_issuer_keys(void *baton, apr_pool_t *p, const claims_issuer_t *issuer, int refresh);

/* What the status page shows of an issuer's keys. */
typedef struct mc_keys_info_t {
    const char *source;                /* "local" or the JWKS / discovery URL, without userinfo */
    const apr_array_header_t *keys;    /* claims_key_t *, as this child sees them */
    const apr_array_header_t *skipped; /* claims_key_skipped_t *: keys of the remote set left out */
    int remote;
    apr_uint64_t version;              /* published key set version, 0 = none yet */
    apr_time_t fetched_at, next_at, attempt_at;
    apr_time_t due_at;                 /* when the published set is due for a refresh */
    int last_ok;
    const char *last_error;
    apr_uint64_t fetches;
} mc_keys_info_t;

void mc_describe_keys(request_rec *r, const mc_issuer_t *ic, mc_keys_info_t *out);

/* The introspection endpoint the issuer's discovery document names (NULL: none, or not fetched
 * yet). */
const char *mc_remote_introspection_endpoint(request_rec *r, const mc_issuer_t *ic);

void mc_register_remote_hooks(apr_pool_t *p);

#endif
