/*
 * mod_claims_identity.h - the verified identity for CGI, SSI and handlers (environment) and
 * for proxied backends (request headers), and the removal of client-sent headers that look
 * like ours (SECURITY.md CL-76..CL-84).
 */
#ifndef MOD_CLAIMS_IDENTITY_H
#define MOD_CLAIMS_IDENTITY_H

#include "mod_claims_records.h"

void mc_register_identity_hooks(apr_pool_t *p);

#endif
