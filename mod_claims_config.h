/*
 * mod_claims_config.h - the configuration unit (mod_claims_config.c): create and merge of the
 * records (mod_claims_records.h), the command table, the configuration hooks, and what the
 * other glue files ask of the configuration.
 */
#ifndef MOD_CLAIMS_CONFIG_H
#define MOD_CLAIMS_CONFIG_H

#include "mod_claims_records.h"

void *mc_create_dir_conf(apr_pool_t *p, char *dir);
void *mc_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *mc_create_srv_conf(apr_pool_t *p, server_rec *s);
void *mc_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
extern const command_rec mc_cmds[];
void mc_register_config_hooks(apr_pool_t *p);

#endif
