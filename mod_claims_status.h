/*
 * mod_claims_status.h - the claims-status handler (HTML, JSON, Prometheus text).
 */
#ifndef MOD_CLAIMS_STATUS_H
#define MOD_CLAIMS_STATUS_H

#include "mod_claims_records.h"

void mc_register_status_hooks(apr_pool_t *p);

#endif
