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
#define MC_NOTE_EVALUATED "claims-evaluated"     /* a claim/scope provider decided on claims */

/* What authentication found, kept in the request config for providers, fixups, ap_expr. */
typedef struct mc_state_t {
    claims_verified_t v;
    const claims_cached_t *cached;     /* the cache entry behind v, when the cache is on */
    const mc_issuer_t *issuer;
    const char *user;
    int anonymous;                     /* ClaimsOptional and no token: no identity */
    int introspected;                  /* an opaque token, its claims from the issuer's endpoint */
    const char *token;                 /* the token as sent */
    const char *signed_jwt;            /* a signed JWT standing for the token: the token itself
                                        * or an RFC 9701 answer; NULL for a JSON answer */
    /* sender constraint (mod_claims_binding.c) */
    int dpop;                          /* the token came as Authorization: DPoP */
    const char *jkt;                   /* the thumbprint of its verified proof's key */
    const char *jti;                   /* the proof's jti, remembered once the request is good */
    apr_interval_time_t jti_ttl;       /* how long it must be remembered */
    int cnf;                           /* CLAIMS_CNF_* bits of the token's binding */
    const char *why;                   /* the fixed reason of a DPoP refusal (error_description) */
    int use_nonce;                     /* refused for its nonce: error="use_dpop_nonce" */
    int nonce_renew;                   /* accepted with the previous step's nonce: send a fresh one */
} mc_state_t;

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
