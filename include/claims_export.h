/*
 * claims_export.h - verified claims as (name, value) pairs for the environment of CGI,
 * SSI and handlers, and the REMOTE_USER value.
 *
 * Names: prefix + the claim name upper-cased, every byte outside [A-Z0-9_] becoming '_'
 * (so never an HTTP_ name with the default prefix CLAIM_). Values: strings as their exact
 * bytes, numbers/booleans/null as JSON text, objects as compact JSON, arrays as the element
 * texts joined with ',' (a ',' or '\' inside an element escaped with '\') plus NAME_0 ..
 * NAME_<n-1> and NAME_N (the count), so no value is ambiguous.
 *
 * Collisions (CL-77): a variable name that two or more different claims map to - through the
 * claim's own name, an array element's NAME_i or an array's NAME_N: "sub" and "SUB",
 * "given-name" and "given_name", "Groups_0" and element 0 of "groups" - is exported by none
 * of them, whatever their order, so that no claim ever speaks under another's name
 * (CLAIM_GROUPS_0=admin is never read as the first of the groups). Each such variable is
 * reported once through the logger, at INFO: the variable and the claims that map to it
 * (escaped, at most 8 named), never a value. The claims' other variables are exported as
 * usual. A configured list follows the same rule, its entries named as configured; one claim
 * listed twice (same name, same value: "sub" and "/sub") is one claim, not a collision.
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

/* The top-level claim names in bytewise order (the order they are exported in). */
const char **claims_sorted_names(apr_pool_t *p, const json_t *claims, apr_size_t *n);

/* prefix + normalised name. */
char *claims_env_name(apr_pool_t *p, const char *prefix, const char *name);

typedef struct claims_pair_t {
    const char *name;
    const char *value;
} claims_pair_t;

/* The variables as *n (name, value) pairs in export order, names unique: a name several claims
 * map to is left out and reported through log (may be NULL), see above. paths: claims_path_t*
 * to export, or NULL for every top-level claim. */
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

/* ------------------------------------------------------------------ request headers, ap_expr */

/* Header names are compared normalised: ASCII letters upper-cased, digits kept, every other
 * byte '_' (so "X-User", "x_user" and "X.USER" are one name, as backends that fold '-' and '_'
 * see them). The normalised copy of name. */
char *claims_header_name_norm(apr_pool_t *p, const char *name);

/* Whether name, normalised, equals norm (a claims_header_name_norm result), or, with prefix,
 * starts with it. Allocates nothing. */
int claims_header_norm_match(const char *name, const char *norm, int prefix);

/* prefix + claim, every byte of claim outside [A-Za-z0-9-] becoming '-' (the prefix is
 * configuration and kept as it is). */
char *claims_header_prefixed_name(apr_pool_t *p, const char *prefix, const char *claim);

/* How a claim's text travels in a request header (ClaimsHeaderEncoding). */
typedef enum claims_header_encoding_t {
    CLAIMS_HDR_PERCENT = 0,   /* printable ASCII but space and '%' as is; every other byte %XX */
    CLAIMS_HDR_RAW,           /* the bytes as they are; a text with a C0 control or DEL is not sent */
    CLAIMS_HDR_BASE64URL      /* unpadded base64url of the bytes */
} claims_header_encoding_t;

/* text encoded as a header value, or NULL when it cannot be sent (raw with a control
 * character). Never holds CR, LF or any other control character. Percent: bytes 0x21..0x7e but
 * '%' as they are, the others as %XX (upper-case hex); raw: text itself; base64url: a new
 * string. */
const char *claims_header_value(apr_pool_t *p, claims_header_encoding_t enc, const char *text);

/* A claim's text for an ap_expr value (which may be put into a header): C0 controls, DEL and
 * '%' as %XX (upper-case hex), every other byte as it is; text itself when none occurs. */
const char *claims_expr_text(apr_pool_t *p, const char *text);

#endif
