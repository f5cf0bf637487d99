/*
 * mod_claims_config_dpop.h - the setters of the sender-constrained tokens' directives
 * (mod_claims_config_dpop.c), for the command table of mod_claims_config.c.
 */
#ifndef MOD_CLAIMS_CONFIG_DPOP_H
#define MOD_CLAIMS_CONFIG_DPOP_H

#include "mod_claims_records.h"

const char *mc_set_dpop(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_dpop_algorithms(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_cert_header(cmd_parms *cmd, void *mconfig, int argc, char *const argv[]);
const char *mc_set_nonce_secret(cmd_parms *cmd, void *mconfig, const char *arg);

#endif
