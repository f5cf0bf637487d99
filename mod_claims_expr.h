/*
 * mod_claims_expr.h - the ap_expr functions claim() and claims().
 */
#ifndef MOD_CLAIMS_EXPR_H
#define MOD_CLAIMS_EXPR_H

#include "mod_claims_records.h"

void mc_register_expr_hooks(apr_pool_t *p);

#endif
