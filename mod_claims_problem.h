/*
 * mod_claims_problem.h - RFC 9457 problem details (application/problem+json) as the body of
 * the module's own refusals (400, 401, 403 with its Bearer challenge), where ClaimsErrorFormat
 * says so: problem-json always, auto (the default) when Accept asks for JSON.
 */
#ifndef MOD_CLAIMS_PROBLEM_H
#define MOD_CLAIMS_PROBLEM_H

#include "mod_claims_records.h"

void mc_register_problem_hooks(apr_pool_t *p);

#endif
