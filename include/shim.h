#ifndef SHIM_H
#define SHIM_H
#include "claims.h"
#include "claims_verify.h"
#include "claims_cache.h"
typedef enum { CLAIMS_HDR_PERCENT, CLAIMS_HDR_RAW, CLAIMS_HDR_BASE64URL } claims_header_encoding_t;
char *claims_header_name_norm(apr_pool_t *p, const char *name);
int claims_header_norm_match(const char *name, const char *norm, int prefix);
const char *claims_header_value(apr_pool_t *p, claims_header_encoding_t enc, const char *text);
const char *claims_expr_text(apr_pool_t *p, const char *text);
char *claims_header_prefixed_name(apr_pool_t *p, const char *prefix, const char *claim);
typedef struct claims_verifier_t { const claims_issuer_t *const *trusted; int ntrusted; apr_size_t max_len; claims_keys_fn get_keys; void *baton; claims_cache_t *cache; } claims_verifier_t;
claims_status_t claims_verify_token(const claims_verifier_t *v, apr_pool_t *p, const char *token, apr_size_t len, double now, claims_verified_t *out, const claims_cached_t **cached);
#endif
