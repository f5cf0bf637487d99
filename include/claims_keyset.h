/*
 * claims_keyset.h - remote key sets (ClaimsJWKS, ClaimsDiscovery): what is published about one
 * declaration's set, when it is due for a refresh, and reading a fetched document under the
 * declaration's rules. The glue moves the bytes (store, watchdog, children); the decisions are
 * here, with the time as a parameter.
 *
 * Promises:
 *  - a refresh is due on the first start, when a request asked for one (unknown kid), when the
 *    last attempt failed and the retry interval has passed, or when the set expired; never more
 *    often than the retry interval when nothing readable is published (store down, or a record
 *    refused);
 *  - the next refresh comes after the refresh interval, shortened by the document's
 *    Cache-Control max-age, but never sooner than the retry interval (no-cache or max-age=0
 *    must not mean "every tick");
 *  - versions of published documents only grow, across restarts and servers: a reader only
 *    ever moves to a newer version, so an older (even authentic) document played back is not
 *    taken;
 *  - a document keeps the declaration's local keys beside its own, skips keys it cannot use
 *    unambiguously (encryption keys, RSA keys without alg, keys outside the allow-list) and
 *    refuses HMAC keys and sets with no usable key (SECURITY.md CL-28, CL-60, CL-66).
 */
#ifndef CLAIMS_KEYSET_H
#define CLAIMS_KEYSET_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_keys.h"

#include <apr_time.h>

#define CLAIMS_KEYSET_STATE_MAGIC 0x434c4d33u   /* "CLM3" */

/* The published state of one declaration's key set: a fixed-size record (the glue stores it). */
typedef struct claims_keyset_state_t {
    apr_uint32_t magic;
    apr_int32_t last_status;           /* claims_status_t of the last attempt */
    apr_uint64_t version;              /* of the published document; 0: none yet */
    apr_time_t fetched_at;             /* last successful fetch */
    apr_time_t expires_at;             /* when the next refresh is due */
    apr_time_t attempt_at;             /* last attempt, successful or not */
    apr_time_t wanted_at;              /* a request asked for a refresh (unknown kid) */
    apr_uint64_t fetches;              /* network fetches so far */
    char last_error[256];
    char jwks_uri[1024];               /* from discovery, when it was used */
    char introspection_endpoint[1024]; /* from discovery, when it names one */
} claims_keyset_state_t;

/* The intervals of a declaration (ClaimsRefreshInterval, ClaimsUnknownKidInterval). */
typedef struct claims_keyset_schedule_t {
    apr_interval_time_t refresh;
    apr_interval_time_t retry;
} claims_keyset_schedule_t;

/* Reads a state record: 1 and *out when it is one (NUL-terminated texts), else 0 and *out zeroed. */
int claims_keyset_state_decode(const void *data, apr_size_t len, claims_keyset_state_t *out);

/* Whether a refresh is due at now. have: a state was readable; local_attempt: this process's
 * last attempt made while none was readable (0: none yet). */
int claims_keyset_refresh_due(const claims_keyset_state_t *st, int have, apr_time_t local_attempt,
                              const claims_keyset_schedule_t *sch, apr_time_t now);

/* Whether a request that met an unknown kid may ask for a refresh at now (rate limit). */
int claims_keyset_may_ask(const claims_keyset_state_t *st, const claims_keyset_schedule_t *sch, apr_time_t now);

/* How long a set fetched with Cache-Control max-age (seconds; -1: none) is good for. */
apr_interval_time_t claims_keyset_lifetime(const claims_keyset_schedule_t *sch, apr_int64_t max_age);

/* The version of a publication after previous (0: none) at now: greater than previous. */
apr_uint64_t claims_keyset_next_version(apr_uint64_t previous, apr_time_t now);

/* When the next attempt is expected (for the status page). */
apr_time_t claims_keyset_next_at(const claims_keyset_state_t *st, const claims_keyset_schedule_t *sch);

/* Whether a set that was due for a refresh at due_at is past max_stale at now: stale counts
 * from when a refresh was due, not from the fetch, so that a healthy provider whose refresh
 * interval is longer than max_stale does not lose its keys. */
int claims_keyset_is_stale(apr_time_t due_at, apr_interval_time_t max_stale, apr_time_t now);

/* The URL a discovery document (OpenID Connect / RFC 8414 metadata) gives for member (e.g.
 * "introspection_endpoint"), when its "issuer" equals issuer and the URL passes the fetch policy
 * (claims_fetch_check_url). CLAIMS_OK, or an error with *err (a fixed text). */
claims_status_t claims_keyset_discovery_url(apr_pool_t *p, const char *doc, apr_size_t len, const char *issuer,
                                            const char *member, int allow_http_loopback, const char **url,
                                            const char **err);

/* What a declaration reads a document under. */
typedef struct claims_keyset_rules_t {
    claims_alg_set_t algs;             /* ClaimsAlgorithms; 0: whatever the keys are bound to */
    const apr_array_header_t *local;   /* claims_key_t *: local keys of the same issuer, or NULL */
} claims_keyset_rules_t;

/* The keys of a fetched JWK Set document: the local keys, then the usable keys of the document.
 * skipped (or NULL) receives claims_key_skipped_t * of the keys left out, log (or NULL) hears of
 * each; label names the document in messages. */
claims_status_t claims_keyset_parse(apr_pool_t *p, const claims_keyset_rules_t *rules, const char *doc,
                                    apr_size_t len, const char *label, apr_array_header_t *skipped,
                                    const claims_logger_t *log, apr_array_header_t **keys, char **err);

#endif
