/*
 * claims_validate.h - registered-claim checks of a verified JWT (RFC 7519, RFC 8725, RFC 9068).
 *
 * Promises: the time is a parameter (never read here); NumericDates are finite JSON numbers in
 * [0, 253402300799] and anything else present in exp/nbf/iat refuses the token; exp is required
 * unless the policy says otherwise; leeway applies to exp, nbf and iat alike; iss must equal the
 * expected issuer byte for byte; aud is a string or a non-empty array of non-empty strings with
 * one element equal to a configured audience; typ, when required, compares case-insensitively
 * with an optional "application/" prefix; required claims must be present and not null.
 */
#ifndef CLAIMS_VALIDATE_H
#define CLAIMS_VALIDATE_H

#include "claims.h"

#include <jansson.h>

typedef struct claims_policy_t {
    const char *issuer;                     /* expected iss, exact */
    const apr_array_header_t *audiences;    /* const char *; ignored when audience_any */
    int audience_any;                       /* operator opted out of the audience check */
    int exp_optional;                       /* exp may be absent (never the default) */
    apr_int64_t leeway;                     /* seconds, >= 0 */
    const char *typ;                        /* required header typ, or NULL */
    const apr_array_header_t *required;     /* const char * claim names, or NULL */
} claims_policy_t;

/* now: seconds since the epoch. header_typ: the JWS header typ or NULL. On failure *what
 * (optional) names the offending claim (a constant, safe to log). */
claims_status_t claims_validate(const json_t *claims, const char *header_typ,
                                const claims_policy_t *pol, double now, const char **what);

/* Reads a NumericDate: 1 present and valid (*out set), 0 absent, -1 present but invalid. */
int claims_numeric_date(const json_t *claims, const char *name, double *out);

#endif
