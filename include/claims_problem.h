/*
 * claims_problem.h - RFC 9457 problem details for the module's RFC 6750 refusals.
 *
 * Promises: a body holds only fixed texts and configuration, never a byte a client sent
 * (SECURITY.md CL-100): `type` is about:blank, `title` the status phrase, `status` the number,
 * `detail` one of the module's fixed error descriptions (anything else in a challenge is
 * replaced by the fixed text of the status), `error` one of the RFC 6750 / RFC 9449 codes
 * (anything else is left out), `scope` only scope-token characters. The body says what the
 * WWW-Authenticate challenge says, which is always sent as well.
 */
#ifndef CLAIMS_PROBLEM_H
#define CLAIMS_PROBLEM_H

#include "claims.h"

#define CLAIMS_PROBLEM_TYPE "application/problem+json"

typedef struct claims_problem_t {
    int status;                        /* 400, 401, 403 (others: no title, no default detail) */
    const char *error;                 /* RFC 6750 error code, or NULL */
    const char *detail;                /* a fixed text */
    const char *scope;                 /* scope="..." of an insufficient_scope answer, or NULL */
} claims_problem_t;

/* Whether an Accept header value asks for JSON: application/json or application/problem+json
 * with a q above 0 and at least text/html's (wildcards ask for nothing). NULL: no. */
int claims_problem_wanted(const char *accept);

/* The problem of a refusal with this status and the challenge (a WWW-Authenticate value) the
 * module sent with it, or NULL for none. Only known codes and fixed texts are kept. */
void claims_problem_from_challenge(apr_pool_t *p, int status, const char *challenge, claims_problem_t *out);

/* The RFC 9457 JSON body (compact, UTF-8), or NULL only if jansson fails. */
char *claims_problem_body(apr_pool_t *p, const claims_problem_t *pb);

#endif
