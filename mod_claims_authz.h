/*
 * mod_claims_authz.h - the Require providers on verified claims: `Require claim` and
 * `Require scope` (also as claims-claim and claims-scope).
 */
#ifndef MOD_CLAIMS_AUTHZ_H
#define MOD_CLAIMS_AUTHZ_H

#include "mod_claims_records.h"

void mc_register_providers(apr_pool_t *p);

#endif
