/*
 * claims_match.h - Require semantics on verified claims.
 *
 * Expected values are typed once, at configuration time:
 *   true, false, null, or a JSON number  -> match only a claim of that JSON type and value
 *                                          (numbers compare by value: 1 equals 1.0);
 *   "text" in double quotes (JSON string) -> match only the string text (after unescaping);
 *   anything else                         -> match only the string with exactly these bytes.
 * So the string "true" never satisfies `true`, and the number 1 never satisfies `"1"` (CL-52).
 * Arrays match when one element matches. No case folding or Unicode normalisation (CL-48).
 * Scopes come from the space-delimited "scope" string, or "scp" (array or space-delimited
 * string); a scope matches a whole token, never a substring.
 */
#ifndef CLAIMS_MATCH_H
#define CLAIMS_MATCH_H

#include "claims.h"

#include <jansson.h>

typedef struct claims_expected_t {
    json_t *literal;        /* typed literal (non-string), or NULL */
    const char *str;        /* string value when literal is NULL */
    apr_size_t len;
} claims_expected_t;

/* Types a configured value (see above). The literal is released by a cleanup of p. */
claims_expected_t *claims_expected_parse(apr_pool_t *p, const char *text);

/* 1 when v (scalar or array of scalars) matches e. */
int claims_match(const json_t *v, const claims_expected_t *e);

/* 1 when the claims grant scope (len bytes). */
int claims_has_scope(const json_t *claims, const char *scope, apr_size_t len);

#endif
