/*
 * mod_claims_config_dpop.c - the directives of sender-constrained tokens (issue 15): ClaimsDPoP,
 * ClaimsDPoPAlgorithms, ClaimsClientCertHeader and ClaimsDPoPNonceSecret. ClaimsDPoPWindow,
 * ClaimsDPoPNonce and ClaimsReplayCache are plain number, flag and store settings, read by the
 * helpers of mod_claims_config.c. Run time: mod_claims_binding.c.
 */
#include "mod_claims_config_dpop.h"
#include "mod_claims_config_values.h"

#include "claims_alg.h"
#include "claims_export.h"

#include "http_config.h"
#include "http_core.h"
#include "http_main.h"

#include <apr_strings.h>
#include <string.h>

/* ClaimsDPoP On|Off|Required */
const char *mc_set_dpop(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(arg, "on") == 0) {
        dc->dpop = MC_DPOP_ON;
    }
    else if (strcasecmp(arg, "off") == 0) {
        dc->dpop = MC_DPOP_OFF;
    }
    else if (strcasecmp(arg, "required") == 0) {
        dc->dpop = MC_DPOP_REQUIRED;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsDPoP: \"%s\" is not On, Off or Required", arg);
    }
    return NULL;
}

/* ClaimsDPoPAlgorithms ALG...: asymmetric ones only (RFC 9449 4.3: no MAC, no none) */
const char *mc_set_dpop_algorithms(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    claims_alg_t a = claims_alg_from_name(arg, strlen(arg));
    if (a == CLAIMS_ALG_UNKNOWN || claims_alg_info(a)->family == CLAIMS_FAMILY_HMAC) {
        return apr_psprintf(cmd->pool, "ClaimsDPoPAlgorithms: \"%s\" is not an asymmetric JWS algorithm (ES256, "
                            "ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, Ed25519, Ed448)", arg);
    }
    dc->dpop_algs |= CLAIMS_ALG_BIT(a);
    return NULL;
}

/* ClaimsClientCertHeader NAME from=ADDRESS[/BITS]...: the RFC 9440 Client-Cert header of a
 * TLS-terminating proxy, believed only from those addresses (the TCP peer, not a forwarded one) */
const char *mc_set_cert_header(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    mc_dir_conf_t *dc = mconfig;
    mc_srv_conf_t *sc = mc_srv(cmd->server);
    mc_cert_header_t *h;
    if (argc < 2 || !mc_valid_header_name(argv[0])) {
        return "ClaimsClientCertHeader needs a header NAME and at least one from=ADDRESS[/BITS]";
    }
    if (strcasecmp(argv[0], "Authorization") == 0 || strcasecmp(argv[0], "DPoP") == 0
        || strcasecmp(argv[0], "Host") == 0 || strcasecmp(argv[0], "Cookie") == 0) {
        return apr_psprintf(cmd->pool, "ClaimsClientCertHeader: \"%s\" cannot carry a certificate", argv[0]);
    }
    h = apr_pcalloc(cmd->pool, sizeof(*h));
    h->name = argv[0];
    h->norm = claims_header_name_norm(cmd->pool, argv[0]);
    h->from = apr_array_make(cmd->pool, argc - 1, sizeof(apr_ipsubnet_t *));
    for (int i = 1; i < argc; i++) {
        apr_ipsubnet_t *net = NULL;
        char *addr, *bits;
        if (strncasecmp(argv[i], "from=", 5) != 0 || argv[i][5] == '\0') {
            return apr_psprintf(cmd->pool, "ClaimsClientCertHeader: \"%s\" is not from=ADDRESS[/BITS]", argv[i]);
        }
        addr = apr_pstrdup(cmd->temp_pool, argv[i] + 5);
        if ((bits = strchr(addr, '/')) != NULL) {
            *bits++ = '\0';
        }
        if (apr_ipsubnet_create(&net, addr, bits, cmd->pool) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "ClaimsClientCertHeader: \"%s\" is not an IP address or network",
                                argv[i] + 5);
        }
        APR_ARRAY_PUSH(h->from, apr_ipsubnet_t *) = net;
    }
    dc->cert_header = h;
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM) {
        /* removed from the requests of every other peer before any module sees them; a name
         * from an .htaccess file is removed where it applies (mod_claims_binding.c) */
        if (sc->cert_headers == NULL) {
            sc->cert_headers = apr_array_make(cmd->pool, 2, sizeof(const mc_cert_header_t *));
        }
        APR_ARRAY_PUSH(sc->cert_headers, const mc_cert_header_t *) = h;
    }
    return NULL;
}

const char *mc_set_nonce_secret(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *path;
    char *why = NULL;
    if (err != NULL) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || *arg == '\0'
        || claims_store_secret_load(cmd->pool, path, &mc_srv(cmd->server)->nonce_secret, &why) != CLAIMS_OK) {
        return apr_psprintf(cmd->pool, "ClaimsDPoPNonceSecret: %s", why != NULL ? why : "invalid file path");
    }
    return NULL;
}
