/*
 * mod_claims.c - JWT bearer-token authentication and claims authorization for Apache httpd 2.4.
 *
 * The module record, hook registration and the start-up banner. The rest of the glue, one
 * httpd concern per file (mod_claims_private.h draws who calls whom):
 *   mod_claims_config*.c   configuration: records, directives, start-up checks
 *   mod_claims_authn.c     finding and verifying the token, RFC 6750 answers
 *   mod_claims_authz.c     the Require providers (claim, scope)
 *   mod_claims_identity.c  identity to CGI/handlers (environment) and backends (headers)
 *   mod_claims_expr.c      the ap_expr functions claim() and claims()
 *   mod_claims_counters.c  the verified-token cache and the figures shared by the children
 *   mod_claims_introspect.c  opaque tokens: RFC 7662 / 9701 introspection, cached
 *   mod_claims_remote.c    remote key sets (JWKS, discovery), shared between children...
 *   mod_claims_socache.c   ...through a socache, with authenticated records
 *   mod_claims_status.c    the claims-status handler
 *   mod_claims_metadata.c  RFC 9728 protected resource metadata, and its challenge parameter
 *   mod_claims_problem.c   RFC 9457 problem+json bodies for the module's refusals
 * The verification itself is the core's (src/, include/), which never sees httpd.
 */
#define MC_DECLARES_MODULE
#include "mod_claims_private.h"
#include "mod_claims_authn.h"
#include "mod_claims_authz.h"
#include "mod_claims_binding.h"
#include "mod_claims_config.h"
#include "mod_claims_counters.h"
#include "mod_claims_expr.h"
#include "mod_claims_identity.h"
#include "mod_claims_introspect.h"
#include "mod_claims_metadata.h"
#include "mod_claims_problem.h"
#include "mod_claims_remote.h"
#include "mod_claims_replay.h"
#include "mod_claims_status.h"

#include "http_core.h"

#include <openssl/crypto.h>

static int banner(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, MC_LOGNO(000) "mod_claims/%s loaded (%d issuer(s))",
                     CLAIMS_VERSION, mc_srv(s)->issuers->nelts);
    }
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    /* httpd frees its pools (and with them our keys) from its own atexit handler, which runs
     * after any atexit handler registered later: OpenSSL's, which would tear the library down
     * first and leave EVP_PKEY_free() to a library that is gone (a child crashing as it exits).
     * As mod_ssl does, initialise OpenSSL here, first, without its atexit cleanup. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);

    mc_register_config_hooks(p);
    mc_register_counters_hooks(p);
    mc_register_remote_hooks(p);
    mc_register_introspect_hooks(p);
    mc_register_replay_hooks(p);
    mc_register_binding_hooks(p);
    mc_register_providers(p);
    mc_register_authn_hooks(p);
    mc_register_identity_hooks(p);
    mc_register_expr_hooks(p);
    mc_register_status_hooks(p);
    mc_register_metadata_hooks(p);
    mc_register_problem_hooks(p);
    ap_hook_post_config(banner, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(claims) = {
    STANDARD20_MODULE_STUFF,
    mc_create_dir_conf,
    mc_merge_dir_conf,
    mc_create_srv_conf,
    mc_merge_srv_conf,
    mc_cmds,
    register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE
#endif
};
