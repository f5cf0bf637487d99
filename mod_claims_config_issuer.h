/*
 * mod_claims_config_issuer.h - <ClaimsIssuer> sections: the directives read inside one, the
 * keys it loads at start-up (once: never per request), and the checks of its remote key
 * source. Each section makes one mc_issuer_t with its own slot in the shared counters.
 */
#ifndef MOD_CLAIMS_CONFIG_ISSUER_H
#define MOD_CLAIMS_CONFIG_ISSUER_H

#include "mod_claims_records.h"

/* The issuer whose section is being read, or NULL. */
mc_issuer_t *mc_current_issuer(cmd_parms *cmd);

/* Counting issuer records from zero again (a new configuration is read). */
void mc_reset_issuer_records(void);

/* How many issuer records were declared (slots of the shared counters, mod_claims_counters.c). */
int mc_issuer_records(void);

/* Whether any of them introspects opaque tokens (ClaimsIntrospection). */
int mc_issuers_introspect(void);

const char *mc_issuer_section(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_key_file(cmd_parms *cmd, void *mconfig, const char *path, const char *a2, const char *a3);
const char *mc_set_algorithms(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_issuer_audience(cmd_parms *cmd, const char *arg);
const char *mc_set_token_type(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_required_claims(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_issuer_number(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_jwks(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_discovery(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_ca(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_proxy(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_allow_http(cmd_parms *cmd, void *mconfig, int on);
const char *mc_set_introspection(cmd_parms *cmd, void *mconfig, const char *arg);
const char *mc_set_introspection_client(cmd_parms *cmd, void *mconfig, int argc, char *const argv[]);
const char *mc_set_introspection_format(cmd_parms *cmd, void *mconfig, const char *arg);

#endif
