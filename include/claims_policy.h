/*
 * claims_policy.h - what one location asks of a token, assembled from configuration: the
 * issuers it trusts (ClaimsTrust) and, for the issuer a token names, the registered-claim
 * policy of that issuer with the location's audiences in its place where the location sets
 * them (ClaimsAudience in a directory section).
 *
 * Promises: trust is by exact issuer identifier; an issuer is trusted at most once, in the
 * order of declaration; a location that names no audience and does not opt out, for an issuer
 * that names none either, gets no policy (CLAIMS_ERR_CONFIG: the glue answers 500 and says why;
 * start-up checks make this rare, CL-72).
 */
#ifndef CLAIMS_POLICY_H
#define CLAIMS_POLICY_H

#include "claims.h"
#include "claims_validate.h"
#include "claims_verify.h"

#define CLAIMS_MAX_TRUSTED 64                   /* issuers one location can trust */

/* The issuers of all[0..n) whose identifier trust names (trust: const char *; NULL: all of
 * them), at most max, into out; returns how many. */
int claims_policy_trusted(const claims_issuer_t *const *all, int n, const apr_array_header_t *trust,
                          const claims_issuer_t **out, int max);

/* A location's own audience setting. */
typedef struct claims_audience_t {
    const apr_array_header_t *audiences;    /* const char * */
    int any;                                /* ClaimsAudience any */
    int set;                                /* the location sets ClaimsAudience at all */
} claims_audience_t;

/* *out = issuer's policy, with the location's audiences when it sets them; CLAIMS_ERR_CONFIG
 * when the result names no audience and does not opt out. */
claims_status_t claims_policy_for_location(claims_policy_t *out, const claims_policy_t *issuer,
                                           const claims_audience_t *location);

#endif
