/*
 * mod_claims_private.h - what every file of the httpd glue (mod_claims*.c) shares: the module,
 * its per-module logging, the log-tag macro, and the bridge that lets the core log through
 * httpd. Glue-only: no core file includes this, and nothing here is exported from the module.
 *
 * The glue files call down into the core (src/, include/) and sideways only through their own
 * headers, in one direction (no file calls back into one that calls it); every file reads the
 * configuration records (mod_claims_records.h):
 *
 *   mod_claims.c  -> config -> config_check, config_issuer -> config_values
 *                 -> status -> status_html, status_json, status_prom -> status_view
 *                 -> status_view -> counters -> config_issuer
 *                                -> remote   -> socache
 *                 -> authz, identity, expr, problem -> authn -> counters, remote, introspect,
 *                                                             metadata
 *                 -> authz -> metadata -> config
 *                 -> introspect -> remote, socache, config_issuer
 *
 * `make glue-deps` (tests/check-glue-deps.py) draws the real graph from #include lines and
 * symbol references and fails on a circle.
 */
#ifndef MOD_CLAIMS_PRIVATE_H
#define MOD_CLAIMS_PRIVATE_H

#include "claims.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

extern module AP_MODULE_DECLARE_DATA claims_module;

/* every log line of the glue belongs to mod_claims (LogLevel claims:...); mod_claims.c, which
 * declares the module with AP_DECLARE_MODULE, gets this from that macro */
#ifndef MC_DECLARES_MODULE
APLOG_USE_MODULE(claims);
#endif

/* The module's own message tags ("CLM020: "), as httpd's modules use APLOGNO(nnnnn). */
#define MC_LOGNO(n) "CLM" #n ": "

#define MC_AUTH_TYPE "claims"

/* The core's messages through httpd's logging: baton is the request_rec... */
static inline void mc_core_log(void *baton, claims_log_level_t level, const char *msg)
{
    ap_log_rerror(APLOG_MARK, (int)level, 0, (request_rec *)baton, MC_LOGNO(010) "%s", msg);
}

/* ...or, for messages of no request, the server_rec. */
static inline void mc_core_log_server(void *baton, claims_log_level_t level, const char *msg)
{
    ap_log_error(APLOG_MARK, (int)level, 0, (server_rec *)baton, MC_LOGNO(011) "%s", msg);
}

#endif
