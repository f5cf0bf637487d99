/*
 * claims_export.h - verified claims as (name, value) pairs for the environment of CGI,
 * SSI and handlers, and the REMOTE_USER value.
 *
 * Names: prefix + the claim name upper-cased, every byte outside [A-Z0-9_] becoming '_'
 * (so never an HTTP_ name with the default prefix CLAIM_). Values: strings as their exact
 * bytes, numbers/booleans/null as JSON text, objects as compact JSON, arrays as the element
 * texts joined with ',' plus NAME_0 .. NAME_<n-1> and NAME_N (the count), so no value is
 * ambiguous. When two claims map to the same name, the first one wins: with all top-level
 * claims that is the one whose name sorts first (bytewise); with a configured list, the one
 * listed first. The loser is not exported and is reported through the logger.
 */
#ifndef CLAIMS_EXPORT_H
#define CLAIMS_EXPORT_H

#include "claims.h"
#include "claims_path.h"

#include <jansson.h>

#define CLAIMS_DEFAULT_ENV_PREFIX "CLAIM_"
#define CLAIMS_MAX_EXPORT_ARRAY 256    /* NAME_i variables for at most this many elements */

/* Text form of one claim value: a string's bytes, else compact JSON text. */
char *claims_value_text(apr_pool_t *p, const json_t *v);

/* CLAIMS_JSON: the verified payload bytes as they are when they hold no control character
 * (JSON allows raw newlines and tabs between tokens), else the claims as compact JSON. */
char *claims_payload_text(apr_pool_t *p, const unsigned char *payload, apr_size_t len, const json_t *claims);

/* The top-level claim names in bytewise order (the order collisions are decided in). */
const char **claims_sorted_names(apr_pool_t *p, const json_t *claims, apr_size_t *n);

/* prefix + normalised name. */
char *claims_env_name(apr_pool_t *p, const char *prefix, const char *name);

typedef struct claims_pair_t {
    const char *name;
    const char *value;
} claims_pair_t;

/* The variables as *n (name, value) pairs in export order, names unique (see above). paths:
 * claims_path_t* to export, or NULL for every top-level claim. */
const claims_pair_t *claims_export_pairs(apr_pool_t *p, const json_t *claims, const apr_array_header_t *paths,
                                         const char *prefix, const claims_logger_t *log, int *n);

/* Sets the variables into env. paths: claims_path_t* to export, or NULL for every top-level
 * claim. Existing entries of env with the same name are replaced. */
void claims_export_env(apr_pool_t *p, const json_t *claims, const apr_array_header_t *paths,
                       const char *prefix, apr_table_t *env, const claims_logger_t *log);

/* The REMOTE_USER value: a non-empty string of at most CLAIMS_MAX_REMOTE_USER bytes without
 * control characters (CL-49); CLAIMS_ERR_REMOTE_USER otherwise. */
claims_status_t claims_remote_user(apr_pool_t *p, const json_t *claims, const claims_path_t *path,
                                   const char **user);

#endif
