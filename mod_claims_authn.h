/*
 * mod_claims_authn.h - authentication: where the token comes from (ClaimsTokenFrom), verifying
 * it for this location, the RFC 6750 answers, and the verified identity the other hooks read.
 */
#ifndef MOD_CLAIMS_AUTHN_H
#define MOD_CLAIMS_AUTHN_H

#include "mod_claims_records.h"

#include "claims_cache.h"
#include "claims_verify.h"

/* request notes shared between the hooks */
#define MC_NOTE_SCOPES "claims-missing-scopes"  /* the scopes of a failed Require scope */
#define MC_NOTE_IN_AUTHZ "claims-in-authz"
#define MC_NOTE_EVALUATED "claims-evaluated"     /* a claim/scope line failed on the claims */


/* Whether the location's AuthType is ours. */
int mc_is_ours(request_rec *r);

/* The verified identity of r or of the request it belongs to (sub-request, internal
 * redirect), or NULL. */
mc_state_t *mc_get_state(request_rec *r);

/* The same, verifying the token now when authentication has not run yet (for <If> and other
 * expressions evaluated before it); NULL for no or an anonymous identity. */
mc_state_t *mc_lazy_state(request_rec *r);

/* Whether r is a CORS preflight that passes without a token here (ClaimsPreflight pass). */
int mc_is_preflight(request_rec *r, const mc_dir_conf_t *dc);

void mc_register_authn_hooks(apr_pool_t *p);

#endif
