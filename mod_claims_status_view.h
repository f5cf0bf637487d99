/*
 * mod_claims_status_view.h - what the status page shows, gathered once per request from the
 * shared counters (mod_claims_counters.c) and the key sets (mod_claims_remote.c), and made safe
 * to print before any output format sees it: the three renderers (HTML, JSON, Prometheus)
 * show the same figures and the same strings.
 *
 * Every string of the view is printable, valid UTF-8 (mc_status_text): issuer identifiers and
 * kids come from the configuration or from an identity provider's key set and may hold markup,
 * quotes, control characters or bytes that are not UTF-8. URLs are shown without userinfo, in
 * the key source and in refresh errors alike. The view holds no token, claim value, key
 * material or secret: it never reads them.
 */
#ifndef MOD_CLAIMS_STATUS_VIEW_H
#define MOD_CLAIMS_STATUS_VIEW_H

#include "mod_claims_counters.h"
#include "mod_claims_introspect.h"
#include "mod_claims_replay.h"
#include "mod_claims_remote.h"

/* The version of the JSON document's layout (README.md, "Status page": the schema). */
#define MC_STATUS_SCHEMA_VERSION 1

/* Remote key set states (mc_sv_issuer_t.set_state), in the order the page explains them. */
typedef enum mc_set_state_t {
    MC_SET_PENDING = 0,                /* no attempt yet (the server has just started) */
    MC_SET_UNAVAILABLE,                /* attempts made, no set ever fetched: remote kids refused */
    MC_SET_FRESH,                      /* the last refresh succeeded and the set is not due yet */
    MC_SET_FAILING,                    /* the last refresh failed; the set is kept, not due yet */
    MC_SET_OVERDUE,                    /* due for a refresh that has not succeeded: stale */
    MC_SET_EXPIRED,                    /* past ClaimsMaxStale (or unreadable): keys not trusted */
    MC_SET_STATES
} mc_set_state_t;

const char *mc_set_state_name(mc_set_state_t st);

/* One key of an issuer, trusted or skipped. */
typedef struct mc_sv_key_t {
    const char *kid;                   /* display text; NULL: the key has none */
    const char *alg;                   /* trusted keys: the algorithm bound to it; NULL for skipped */
    const char *kty;                   /* skipped keys: the JWK "kty"; NULL for trusted */
    int bits;                          /* trusted keys: size in bits */
    int remote;                        /* from the remote key set (else ClaimsKeyFile/SecretFile) */
    const char *skipped;               /* NULL: trusted; else the fixed reason it was left out */
} mc_sv_key_t;

typedef struct mc_sv_issuer_t {
    const mc_issuer_t *ic;
    const char *name;                  /* display text of the issuer identifier */
    const char *source;                /* "local" or the key set URL, without userinfo */
    mc_counts_t counts;
    apr_uint64_t refused;              /* sum of counts.refused */
    apr_array_header_t *keys;          /* mc_sv_key_t: trusted, then skipped */
    int ntrusted, nskipped;
    mc_keys_info_t set;                /* remote key set figures (set.remote: there is one) */
    mc_set_state_t set_state;
    int in_use;                        /* this process verifies with the remote keys */
    apr_time_t due_at;                 /* when the set was due for a refresh, at the latest */
    const char *last_error;            /* display text, URLs redacted; NULL when none */
} mc_sv_issuer_t;

/* A cache: the verified tokens of each child ("verified_tokens", all children summed), the level
 * the children share ("verified_tokens_shared"), the introspection answers. */
typedef struct mc_sv_cache_t {
    const char *name;                  /* "verified_tokens": the Prometheus label cache= */
    const char *member;                /* "cache": its member of the JSON document */
    int enabled;
    claims_cache_counters_t figures;   /* summed over all children (copied, not shared) */
    double hit_ratio;                  /* hits / (hits + misses); < 0 when nothing was looked up */
} mc_sv_cache_t;

typedef struct mc_status_view_t {
    apr_time_t now;
    apr_time_t started_at;             /* counters since; 0 when there are none */
    int have_counts;
    apr_array_header_t *issuers;       /* mc_sv_issuer_t, in configuration order */
    mc_counts_t before;                /* refusals before an issuer was known */
    apr_array_header_t *caches;        /* mc_sv_cache_t: this process's level and the shared one
                                        * first, then the introspection answers' */
    apr_uint64_t signature_verifications;  /* signatures computed, all children */
    int introspection;                 /* an issuer introspects opaque tokens */
    mc_introspect_counts_t introspect; /* its calls and answers, all children */
    int replay;                        /* there is a DPoP replay store */
    mc_replay_counts_t dpop;           /* what it answered, all children */
    const char *openssl, *curl, *jansson, *httpd;  /* versions of the running libraries */
} mc_status_view_t;

mc_status_view_t *mc_status_collect(request_rec *r);

/* Untrusted bytes as printable, valid UTF-8: printable ASCII and well-formed UTF-8 characters
 * other than controls and invisible formatting characters stay as they are, a backslash
 * becomes "\\", every other byte "\xHH" (so no two inputs look the same). */
const char *mc_status_text(apr_pool_t *p, const char *s, apr_size_t len);

/* A refusal reason's HTTP answer: the status and the RFC 6750 error code (NULL: none). */
int mc_status_answer(claims_status_t st, const char **error);

/* Whole seconds since the epoch (apr_time_t 0 stays 0). */
static inline apr_int64_t mc_status_epoch(apr_time_t t)
{
    return t > 0 ? (apr_int64_t)apr_time_sec(t) : 0;
}

#endif
