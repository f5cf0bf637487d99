/*
 * mod_claims_config_check.h - what needs the whole configuration, checked once it is read, so
 * that `apachectl configtest` reports it (SECURITY.md CL-72): every protected section has an
 * audience for every issuer it may see (virtual hosts with their own issuers included),
 * ClaimsTrust names declared issuers only, and a shared key store is authenticated.
 */
#ifndef MOD_CLAIMS_CONFIG_CHECK_H
#define MOD_CLAIMS_CONFIG_CHECK_H

#include "mod_claims_records.h"

/* NULL, or the first problem (with file:line where it has one). */
const char *mc_check_config(apr_pool_t *p, server_rec *s);

/* Warnings said at every start (ClaimsAudience any, CL-72). */
void mc_warn_config(apr_pool_t *p, server_rec *s);

#endif
