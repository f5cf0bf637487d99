/*
 * mod_claims_records.h - the module's configuration records, their defaults, and the accessors
 * that resolve them. Every glue file reads them; mod_claims_config*.c fill them.
 *
 * One merge convention: a value a section did not set is MC_UNSET (ints) or NULL (pointers),
 * and a nested section inherits it; defaults are resolved in one place, by the accessors below
 * (as mod_md's md_config_geti does), never where values are used.
 */
#ifndef MOD_CLAIMS_RECORDS_H
#define MOD_CLAIMS_RECORDS_H

#include "mod_claims_private.h"

#include <apr_strings.h>
#include <string.h>

#include "claims_alg.h"
#include "claims_cache.h"
#include "claims_export.h"
#include "claims_fetch.h"
#include "claims_introspect.h"
#include "claims_keys.h"
#include "claims_path.h"
#include "claims_policy.h"
#include "claims_store.h"
#include "claims_verify.h"

#define MC_UNSET (-1)

/* token sources (ClaimsTokenFrom) */
#define MC_FROM_HEADER 0x1
#define MC_FROM_COOKIE 0x2
#define MC_FROM_FORM 0x4
#define MC_FROM_QUERY 0x8

/* ClaimsForwardToken */
#define MC_FORWARD_OFF 0
#define MC_FORWARD_ON 1                /* the Authorization header (and token cookie) as sent */
#define MC_FORWARD_JWT 2               /* Authorization: Bearer <the signed JWT>: the phantom token */

/* ClaimsDPoP */
#define MC_DPOP_OFF 0
#define MC_DPOP_ON 1                   /* DPoP and Bearer; a DPoP-bound token only with its proof */
#define MC_DPOP_REQUIRED 2             /* only DPoP-bound tokens with their proof */
#define MC_DEFAULT_DPOP_WINDOW apr_time_from_sec(60)

/* ClaimsExport */
#define MC_EXPORT_ALL 1                /* every top-level claim (the default) */
#define MC_EXPORT_LIST 2               /* the paths listed (none: an empty list) */

/* ClaimsErrorFormat */
#define MC_ERRORS_HTML 0               /* httpd's page */
#define MC_ERRORS_PROBLEM 1            /* RFC 9457 application/problem+json */
#define MC_ERRORS_AUTO 2               /* problem+json when Accept asks for JSON (the default) */

/* defaults */
#define MC_DEFAULT_REFRESH apr_time_from_sec(3600)
#define MC_DEFAULT_FETCH_TIMEOUT apr_time_from_sec(5)
#define MC_DEFAULT_KID_INTERVAL apr_time_from_sec(60)
#define MC_DEFAULT_MAX_STALE apr_time_from_sec(86400)
#define MC_DEFAULT_REFRESH_WAITERS 2
#define MC_DEFAULT_KEY_CACHE "shmcb"
#define MC_DEFAULT_INTROSPECTION_TTL apr_time_from_sec(60)
#define MC_DEFAULT_NEGATIVE_TTL apr_time_from_sec(5)
#define MC_MAX_DOC (256 * 1024)        /* bytes of a remote document */

typedef struct mc_key_spec_t {
    const char *path;
    const char *kid;
    claims_alg_t alg;
    int secret;                        /* ClaimsSecretFile */
    const char *where;
} mc_key_spec_t;

/* One <ClaimsIssuer> declaration. Its values are set inside the section (defaults at its
 * start); a virtual host that declares the same issuer again has a record of its own. */
typedef struct mc_issuer_t {
    claims_issuer_t core;              /* first member: the core's view (iss, keys, algs) */
    claims_policy_t policy;            /* issuer, audiences (NULL: none), leeway, typ, required */
    apr_array_header_t *key_specs;     /* mc_key_spec_t */
    const char *where;                 /* file:line of <ClaimsIssuer> */
    const char *jwks_url;              /* ClaimsJWKS */
    const char *discovery_url;         /* ClaimsDiscovery */
    apr_interval_time_t refresh;       /* ClaimsRefreshInterval */
    apr_interval_time_t fetch_timeout; /* ClaimsFetchTimeout */
    apr_interval_time_t kid_interval;  /* ClaimsUnknownKidInterval */
    apr_interval_time_t max_stale;     /* ClaimsMaxStale */
    int refresh_waiters;               /* ClaimsRefreshWaiters, per child process */
    /* opaque tokens (RFC 7662 / RFC 9701) */
    int introspection;                 /* ClaimsIntrospection given */
    const char *introspection_url;     /* its URL; NULL: introspection_endpoint of the discovery */
    claims_introspect_client_t client; /* ClaimsIntrospectionClient */
    const char *client_where;          /* file:line of it, NULL: none */
    int introspection_jwt;             /* ClaimsIntrospectionFormat jwt (RFC 9701) */
    apr_interval_time_t introspection_ttl;  /* ClaimsIntrospectionCacheTTL */
    apr_interval_time_t negative_ttl;  /* ClaimsIntrospectionNegativeTTL */
    claims_fetch_opts_t fetch;         /* TLS, proxy, size cap, timeout */
    struct mc_remote_t *remote;        /* run-time state (mod_claims_remote.c); NULL: local keys */
    int index;                         /* slot in the shared counters, one per record */
} mc_issuer_t;

typedef struct mc_srv_conf_t {
    apr_array_header_t *issuers;       /* mc_issuer_t *: declared here, then the main server's */
    apr_array_header_t *core_issuers;  /* the same as const claims_issuer_t * (set at start) */
    mc_issuer_t *current;              /* while a <ClaimsIssuer> section is read */
    /* process-wide (main server only; virtual hosts carry the main server's) */
    const char *key_cache;             /* ClaimsKeyCache provider[:args]; NULL: shmcb */
    const char *introspection_cache;   /* ClaimsIntrospectionCache provider[:args]; NULL: shmcb */
    const char *replay_cache;          /* ClaimsReplayCache provider[:args]; NULL: shmcb */
    claims_store_secret_t *nonce_secret;  /* ClaimsDPoPNonceSecret; NULL: random per start */
    claims_store_secret_t *cache_secret; /* ClaimsCacheSecret; NULL: none */
    int cache;                         /* ClaimsCache: MC_UNSET (on), 0, 1 */
    apr_size_t cache_entries;          /* ClaimsCacheEntries; 0: the core's default */
    apr_size_t cache_bytes;            /* ClaimsCacheSize; 0: the core's default */
    /* normalised ClaimsHeader names and ClaimsHeaderPrefix values of every section of this
     * server (a virtual host's include the main server's): scrubbed from every request */
    apr_array_header_t *scrub_names;   /* const char *; NULL: none */
    apr_array_header_t *scrub_prefixes;
    apr_array_header_t *cert_headers;  /* mc_cert_header_t: every ClaimsClientCertHeader of the
                                        * server, removed from requests of other peers */
    struct mc_metadata_docs_t *metadata; /* the RFC 9728 documents this server serves (issue 16) */
} mc_srv_conf_t;

/* ClaimsClientCertHeader: an RFC 9440 Client-Cert header and the proxies it is believed from */
typedef struct mc_cert_header_t {
    const char *name;
    const char *norm;                  /* claims_header_name_norm(name) */
    apr_array_header_t *from;          /* apr_ipsubnet_t * */
} mc_cert_header_t;

typedef struct mc_header_t {
    const char *name;                  /* as configured */
    const char *norm;                  /* normalised: upper-case, non-alphanumerics '_' */
    claims_path_t *path;
} mc_header_t;

typedef struct mc_dir_conf_t {
    apr_array_header_t *trust;         /* issuer identifiers; NULL: every declared one */
    claims_audience_t audience;        /* .set 0: the issuer's */
    claims_path_t *remote_user;        /* NULL: sub */
    int remote_user_qualified;         /* MC_UNSET (no), 0, 1; goes with remote_user */
    int export_mode;                   /* MC_UNSET (all), MC_EXPORT_ALL, MC_EXPORT_LIST */
    apr_array_header_t *export_paths;  /* claims_path_t *, with MC_EXPORT_LIST */
    apr_size_t max_token;              /* 0: unset (the core's default) */
    int token_from;                    /* MC_FROM_* bits; MC_UNSET: header */
    const char *cookie_name;           /* go with token_from */
    const char *query_name;
    apr_array_header_t *headers;       /* mc_header_t; NULL: none (nested sections add) */
    const char *header_prefix;         /* NULL: unset; "": none */
    const char *header_prefix_norm;
    int header_encoding;               /* claims_header_encoding_t; MC_UNSET: percent */
    int forward_token;                 /* MC_FORWARD_*; MC_UNSET: off */
    int optional;                      /* MC_UNSET (off), 0, 1 */
    int preflight_pass;                /* MC_UNSET (authenticate), 0, 1 */
    /* sender-constrained tokens (RFC 9449, RFC 8705) */
    int dpop;                          /* MC_DPOP_*; MC_UNSET: on */
    claims_alg_set_t dpop_algs;        /* ClaimsDPoPAlgorithms; 0: every asymmetric one */
    apr_interval_time_t dpop_window;   /* ClaimsDPoPWindow; 0: unset (60 s) */
    int dpop_nonce;                    /* ClaimsDPoPNonce: MC_UNSET (off), 0, 1 */
    const mc_cert_header_t *cert_header;  /* ClaimsClientCertHeader; NULL: none */
    /* protected resource metadata (RFC 9728) and error bodies (RFC 9457): issue 16 */
    const char *resource;              /* ClaimsResource; NULL: none */
    const char *resource_metadata_url; /* its RFC 9728 metadata URL; goes with resource */
    claims_audience_t resource_audience; /* the resource as this location's default audience */
    int resource_metadata;             /* ClaimsResourceMetadata: MC_UNSET (On), 0, 1 */
    const char *resource_docs;         /* ClaimsResourceDocs; NULL: none */
    int error_format;                  /* ClaimsErrorFormat MC_ERRORS_*; MC_UNSET: auto */
    apr_array_header_t *required_scopes; /* const char *: the fixed scopes of this section's
                                        * Require scope lines (NULL: none; then inherited) */
} mc_dir_conf_t;

/* ---- the request record */

/* What authentication found, kept in the request config for providers, fixups, ap_expr. */
typedef struct mc_state_t {
    claims_verified_t v;
    const claims_cached_t *cached;     /* the cache entry behind v, when the cache is on */
    const mc_issuer_t *issuer;
    const char *user;
    int anonymous;                     /* ClaimsOptional and no token: no identity */
    int introspected;                  /* an opaque token, its claims from the issuer's endpoint */
    const char *token;                 /* the token as sent */
    const char *signed_jwt;            /* a signed JWT standing for the token: the token itself
                                        * or an RFC 9701 answer; NULL for a JSON answer */
    /* sender constraint (mod_claims_binding.c) */
    int dpop;                          /* the token came as Authorization: DPoP */
    const char *jkt;                   /* the thumbprint of its verified proof's key */
    const char *jti;                   /* the proof's jti, remembered once the request is good */
    apr_interval_time_t jti_ttl;       /* how long it must be remembered */
    int cnf;                           /* CLAIMS_CNF_* bits of the token's binding */
    const char *why;                   /* the fixed reason of a DPoP refusal (error_description) */
    int use_nonce;                     /* refused for its nonce: error="use_dpop_nonce" */
    int nonce_renew;                   /* accepted with the previous step's nonce: send a fresh one */
} mc_state_t;

/* ---- accessors: the defaults, in one place */
static inline mc_srv_conf_t *mc_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &claims_module);
}

static inline mc_dir_conf_t *mc_dir(const request_rec *r)
{
    return r->per_dir_config != NULL ? ap_get_module_config(r->per_dir_config, &claims_module) : NULL;
}

static inline int mc_on(int v)
{
    return v == 1;
}

static inline int mc_token_from(const mc_dir_conf_t *dc)
{
    return dc->token_from == MC_UNSET ? MC_FROM_HEADER : dc->token_from;
}

static inline int mc_export_all(const mc_dir_conf_t *dc)
{
    return dc->export_mode != MC_EXPORT_LIST;
}

static inline claims_header_encoding_t mc_header_encoding(const mc_dir_conf_t *dc)
{
    return dc->header_encoding == MC_UNSET ? CLAIMS_HDR_PERCENT : (claims_header_encoding_t)dc->header_encoding;
}

static inline int mc_has_headers(const mc_dir_conf_t *dc)
{
    return dc != NULL && (dc->headers != NULL || (dc->header_prefix_norm != NULL && *dc->header_prefix_norm != '\0'));
}

static inline int mc_forward(const mc_dir_conf_t *dc)
{
    return dc->forward_token == MC_UNSET ? MC_FORWARD_OFF : dc->forward_token;
}

static inline int mc_dpop(const mc_dir_conf_t *dc)
{
    return dc->dpop == MC_UNSET ? MC_DPOP_ON : dc->dpop;
}

static inline apr_interval_time_t mc_dpop_window(const mc_dir_conf_t *dc)
{
    return dc->dpop_window > 0 ? dc->dpop_window : MC_DEFAULT_DPOP_WINDOW;
}

/* The audiences a token needs here: ClaimsAudience, else ClaimsResource (RFC 8707), else
 * unset (the issuer's). The merge keeps the nearer of the two. */
static inline const claims_audience_t *mc_audience(const mc_dir_conf_t *dc)
{
    return dc->audience.set || dc->resource == NULL ? &dc->audience : &dc->resource_audience;
}

/* The RFC 9728 metadata URL that challenges here point to, or NULL. */
static inline const char *mc_resource_metadata_url(const mc_dir_conf_t *dc)
{
    return dc != NULL && dc->resource != NULL && dc->resource_metadata != 0 ? dc->resource_metadata_url : NULL;
}

static inline int mc_error_format(const mc_dir_conf_t *dc)
{
    return dc->error_format == MC_UNSET ? MC_ERRORS_AUTO : dc->error_format;
}

static inline int mc_cache_on(const mc_srv_conf_t *sc)
{
    return sc->cache != 0;
}

static inline const char *mc_key_cache_spec(const mc_srv_conf_t *sc)
{
    return sc->key_cache != NULL ? sc->key_cache : MC_DEFAULT_KEY_CACHE;
}

static inline const char *mc_introspection_cache_spec(const mc_srv_conf_t *sc)
{
    return sc->introspection_cache != NULL ? sc->introspection_cache : MC_DEFAULT_KEY_CACHE;
}

static inline const char *mc_replay_cache_spec(const mc_srv_conf_t *sc)
{
    return sc->replay_cache != NULL ? sc->replay_cache : MC_DEFAULT_KEY_CACHE;
}

static inline const char *mc_replay_cache_provider(apr_pool_t *p, const mc_srv_conf_t *sc)
{
    const char *spec = mc_replay_cache_spec(sc), *sep = strchr(spec, ':');
    return sep != NULL ? apr_pstrndup(p, spec, (apr_size_t)(sep - spec)) : spec;
}

/* Where an issuer's keys come from, for the status page and logs: "local" or the URL without
 * any userinfo. */
static inline const char *mc_key_source(apr_pool_t *p, const mc_issuer_t *ic)
{
    if (ic->jwks_url == NULL && ic->discovery_url == NULL) {
        return "local";
    }
    return claims_fetch_redact_url(p, ic->jwks_url != NULL ? ic->jwks_url : ic->discovery_url);
}

/* The socache provider name of a ClaimsKeyCache value ("memcache" of "memcache:host:port"). */
static inline const char *mc_key_cache_provider(apr_pool_t *p, const mc_srv_conf_t *sc)
{
    const char *spec = mc_key_cache_spec(sc), *sep = strchr(spec, ':');
    return sep != NULL ? apr_pstrndup(p, spec, (apr_size_t)(sep - spec)) : spec;
}

#endif
