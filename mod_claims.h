/*
 * mod_claims.h - what the files of the httpd glue (mod_claims*.c) share: configuration
 * records, the per-request state and the functions one glue file offers another.
 * Glue-only: no core file includes this, and nothing here is exported from the module.
 */
#ifndef MOD_CLAIMS_H
#define MOD_CLAIMS_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_b64url.h"
#include "claims_cache.h"
#include "claims_export.h"
#include "claims_fetch.h"
#include "claims_keys.h"
#include "claims_match.h"
#include "claims_path.h"
#include "claims_token.h"
#include "claims_validate.h"
#include "claims_verify.h"

#include "ap_expr.h"
#include "http_config.h"
#include "httpd.h"

extern module AP_MODULE_DECLARE_DATA claims_module;

#define CLAIMS_AUTH_TYPE "claims"
#define CLAIMS_UNSET (-1)

/* request notes shared between the hooks */
#define MC_NOTE_SCOPES "claims-missing-scopes"  /* the scopes of a failed Require scope */
#define MC_NOTE_IN_AUTHZ "claims-in-authz"
#define MC_NOTE_EVALUATED "claims-evaluated"     /* a claim/scope provider decided on claims */

/* token sources (ClaimsTokenFrom) */
#define MC_FROM_HEADER 0x1
#define MC_FROM_COOKIE 0x2
#define MC_FROM_FORM 0x4
#define MC_FROM_QUERY 0x8

/* header value encodings (ClaimsHeaderEncoding) */
typedef enum mc_encoding_t {
    MC_ENC_PERCENT = 0,     /* printable ASCII as is; '%', controls and non-ASCII as %XX */
    MC_ENC_RAW,             /* UTF-8 bytes as they are; a value with a control char is not sent */
    MC_ENC_BASE64URL        /* unpadded base64url of the value's bytes */
} mc_encoding_t;

typedef struct mc_key_spec_t {
    const char *path;
    const char *kid;
    claims_alg_t alg;
    int secret;                        /* ClaimsSecretFile */
    const char *where;
} mc_key_spec_t;

typedef struct mc_issuer_t {
    claims_issuer_t core;              /* first member: the core's view (iss, keys, algs) */
    apr_array_header_t *key_specs;     /* mc_key_spec_t */
    apr_array_header_t *audiences;     /* const char *; NULL when unset */
    int audience_any;
    const char *typ;
    apr_array_header_t *required;      /* const char * */
    apr_int64_t leeway;
    const char *where;                 /* file:line of <ClaimsIssuer> */
    /* remote key set (mod_claims_remote.c) */
    const char *jwks_url;              /* ClaimsJWKS */
    const char *discovery_url;         /* ClaimsDiscovery */
    apr_interval_time_t refresh;       /* ClaimsRefreshInterval */
    apr_interval_time_t fetch_timeout; /* ClaimsFetchTimeout */
    apr_interval_time_t kid_interval;  /* ClaimsUnknownKidInterval */
    apr_interval_time_t max_stale;     /* ClaimsMaxStale */
    int refresh_waiters;               /* ClaimsRefreshWaiters: per child process */
    claims_fetch_opts_t fetch;         /* TLS, proxy, size cap, timeout */
    struct mc_remote_t *remote;        /* run-time state, NULL for local-only issuers */
    int index;                         /* slot in the shared counters (mod_claims_status.c) */
} mc_issuer_t;

typedef struct mc_srv_conf_t {
    apr_array_header_t *issuers;       /* mc_issuer_t * */
    mc_issuer_t *current;              /* while a <ClaimsIssuer> section is read */
    const char *key_cache;             /* ClaimsKeyCache provider[:args]; NULL: shmcb */
    struct claims_store_secret_t *cache_secret; /* ClaimsCacheSecret; NULL: none */
    /* normalised ClaimsHeader names and ClaimsHeaderPrefix values of every section of this
     * server (a virtual host's include the main server's): scrubbed from every request */
    apr_array_header_t *scrub_names;   /* const char *; NULL: none */
    apr_array_header_t *scrub_prefixes;
    int cache;                         /* ClaimsCache On|Off; CLAIMS_UNSET: on */
    apr_size_t cache_entries;          /* ClaimsCacheEntries; 0: default */
    apr_size_t cache_bytes;            /* ClaimsCacheSize; 0: default */
} mc_srv_conf_t;

typedef struct mc_header_t {
    const char *name;                  /* as configured */
    const char *norm;                  /* normalised: upper-case, non-alphanumerics '_' */
    claims_path_t *path;
} mc_header_t;

typedef struct mc_dir_conf_t {
    apr_array_header_t *trust;         /* issuer identifiers; NULL: all declared */
    apr_array_header_t *audiences;     /* NULL: the issuer's */
    int audience_any;
    int audience_set;
    claims_path_t *remote_user;        /* NULL: sub */
    int remote_user_qualified;
    apr_array_header_t *export_paths;  /* claims_path_t *; NULL: every top-level claim */
    int export_set;
    apr_size_t max_token;              /* 0: unset */
    int token_from;                    /* MC_FROM_* bits; CLAIMS_UNSET */
    const char *cookie_name;
    const char *query_name;
    apr_array_header_t *headers;       /* mc_header_t; NULL: unset */
    const char *header_prefix;         /* NULL: unset; "" : none */
    const char *header_prefix_norm;
    int header_encoding;               /* mc_encoding_t; CLAIMS_UNSET */
    int forward_token;                 /* CLAIMS_UNSET, 0, 1 */
    int optional;                      /* CLAIMS_UNSET, 0, 1 */
    int preflight_pass;                /* CLAIMS_UNSET, 0, 1 */
} mc_dir_conf_t;

/* What authentication found, kept in the request config for providers, fixups, ap_expr. */
typedef struct mc_state_t {
    claims_verified_t v;
    const claims_cached_t *cached;     /* the cache entry behind v, when the cache is on */
    const mc_issuer_t *issuer;
    const char *user;
    int anonymous;                     /* ClaimsOptional and no token: no identity */
} mc_state_t;

/* ---- mod_claims_authn.c */
int mc_is_ours(request_rec *r);
mc_state_t *mc_get_state(request_rec *r);
/* The verified identity of r (NULL when none), verifying the token now when authentication
 * has not run yet (for <If> and other expressions evaluated before it). */
mc_state_t *mc_lazy_state(request_rec *r);
int mc_is_preflight(request_rec *r, const mc_dir_conf_t *dc);
void mc_register_authn_hooks(apr_pool_t *p);
/* This process's verified-token cache (NULL when off). */
claims_cache_t *mc_token_cache(void);

/* ---- mod_claims_authz.c */
void mc_register_providers(apr_pool_t *p);

/* ---- mod_claims_identity.c */
char *mc_normalise_header(apr_pool_t *p, const char *name);
void mc_register_identity_hooks(apr_pool_t *p);

/* ---- mod_claims_remote.c */
#define MC_DEFAULT_REFRESH apr_time_from_sec(3600)
#define MC_DEFAULT_FETCH_TIMEOUT apr_time_from_sec(5)
#define MC_DEFAULT_KID_INTERVAL apr_time_from_sec(60)
#define MC_DEFAULT_MAX_STALE apr_time_from_sec(86400)
#define MC_DEFAULT_REFRESH_WAITERS 2
/* The issuer's keys for one verification (a claims_keys_fn; baton is the request_rec). */
const apr_array_header_t *mc_issuer_keys(void *baton, apr_pool_t *p, const claims_issuer_t *issuer,
                                         int refresh);
/* Directive setters used in mod_claims.c's command table. */
const char *mc_set_remote(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_key_cache(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_cache_secret(cmd_parms *cmd, void *mconfig, const char *arg);
/* configtest: ClaimsKeyCache other than shmcb needs ClaimsCacheSecret (NULL or the error) */
const char *mc_check_key_cache(apr_pool_t *p, const mc_srv_conf_t *sc);
/* Where an issuer's keys come from, for the status page and logs: "local" or the URL without
 * any userinfo. */
const char *mc_key_source(apr_pool_t *p, const mc_issuer_t *ic);
/* Start-up: checks the remote issuers' configuration (configtest) */
const char *mc_check_remote(apr_pool_t *p, mc_issuer_t *ic);
void mc_register_remote_hooks(apr_pool_t *p);

/* What the status page shows of an issuer's keys. */
typedef struct mc_keys_info_t {
    const char *source;                /* "local" or the JWKS / discovery URL */
    const apr_array_header_t *keys;    /* claims_key_t *, as this child sees them */
    const apr_array_header_t *skipped; /* claims_key_skipped_t *: keys of the remote set left out */
    int remote;
    apr_uint64_t version;              /* published key set version, 0 = none yet */
    apr_time_t fetched_at, next_at, attempt_at;
    int last_ok;
    const char *last_error;
    apr_uint64_t fetches;
} mc_keys_info_t;
void mc_describe_keys(request_rec *r, const mc_issuer_t *ic, mc_keys_info_t *out);

/* ---- mod_claims_status.c */
/* Counts a token decision in the counters shared by all children (issuer may be NULL). */
void mc_count(const claims_issuer_t *issuer, claims_status_t st);
void mc_register_status_hooks(apr_pool_t *p);

/* ---- mod_claims.c */
mc_issuer_t *mc_current_issuer(cmd_parms *cmd);
const char *mc_parse_int(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max, apr_int64_t *out);
const char *mc_parse_seconds(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max,
                             apr_interval_time_t *out);
void mc_core_log(void *baton, claims_log_level_t level, const char *msg);
/* The same for messages of no request: baton is a server_rec. */
void mc_core_log_server(void *baton, claims_log_level_t level, const char *msg);

#endif
