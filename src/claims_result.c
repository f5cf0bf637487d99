/*
 * claims_result.c - the fixed names and texts of every core status, and log helpers.
 */
#include "claims.h"

#include <apr_strings.h>
#include <jansson.h>

typedef struct status_info_t {
    const char *name;
    const char *text;
    claims_error_class_t cls;
} status_info_t;

/* Texts are constants: nothing of the token, a claim or a kid ever goes into them (CL-56). */
static const status_info_t status_table[CLAIMS_STATUS_COUNT] = {
    [CLAIMS_OK] = {"ok", "ok", CLAIMS_CLASS_OK},
    [CLAIMS_NO_TOKEN] = {"no_token", "no bearer token", CLAIMS_CLASS_NO_TOKEN},
    [CLAIMS_ERR_REQUEST] = {"malformed_request", "malformed bearer credentials", CLAIMS_CLASS_INVALID_REQUEST},
    [CLAIMS_ERR_TWO_TOKENS] = {"two_tokens", "more than one token in the request", CLAIMS_CLASS_INVALID_REQUEST},
    [CLAIMS_ERR_TOO_LARGE] = {"too_large", "token too large", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_FORMAT] = {"not_compact_jws", "token is not a compact JWS", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_BASE64] = {"bad_base64url", "token is not strict base64url", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_HEADER_JSON] = {"bad_header", "token header is not a valid JSON object", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_ALG] = {"bad_alg", "token algorithm missing or unsupported", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_ALG_NONE] = {"alg_none", "unsigned tokens are not accepted", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_CRIT] = {"crit", "critical header parameters are not supported", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_HEADER_UNSUPPORTED] = {"unsupported_header", "token header parameter not supported", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_PAYLOAD_JSON] = {"bad_payload", "token claims are not a valid JSON object", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_ISSUER] = {"untrusted_issuer", "token issuer is not trusted", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_ALG_NOT_ALLOWED] = {"alg_not_allowed", "token algorithm not allowed for this issuer", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_NO_KEY] = {"no_key", "no trusted key for this token", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_SIGNATURE] = {"bad_signature", "token signature is invalid", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_EXPIRED] = {"expired", "token has expired", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_NOT_YET_VALID] = {"not_yet_valid", "token is not valid yet", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_IAT_FUTURE] = {"issued_in_future", "token was issued in the future", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_TIME_CLAIM] = {"bad_time_claim", "token time claim is malformed", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_EXP_MISSING] = {"exp_missing", "token has no expiry", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_AUDIENCE] = {"wrong_audience", "token audience is not accepted here", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_TYPE] = {"wrong_type", "token type is not accepted", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_MISSING_CLAIM] = {"missing_claim", "token lacks a required claim", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_REMOTE_USER] = {"bad_user_claim", "token user claim is missing or invalid", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_INACTIVE] = {"inactive", "token is not active", CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_BINDING] = {"binding_mismatch", "token is bound to a key or certificate not presented",
                            CLAIMS_CLASS_INVALID_TOKEN},
    [CLAIMS_ERR_DPOP] = {"bad_dpop_proof", "DPoP proof is invalid", CLAIMS_CLASS_INVALID_DPOP},
    [CLAIMS_ERR_UNAVAILABLE] = {"unavailable", "the token cannot be checked now", CLAIMS_CLASS_UNAVAILABLE},
    [CLAIMS_ERR_KEY] = {"bad_key", "key refused", CLAIMS_CLASS_SERVER},
    [CLAIMS_ERR_CONFIG] = {"config", "configuration error", CLAIMS_CLASS_SERVER},
    [CLAIMS_ERR_IO] = {"io", "read error", CLAIMS_CLASS_SERVER},
    [CLAIMS_ERR_INTERNAL] = {"internal", "internal error", CLAIMS_CLASS_SERVER},
};

static const status_info_t *info(claims_status_t st)
{
    if ((int)st < 0 || st >= CLAIMS_STATUS_COUNT || status_table[st].name == NULL) {
        return &status_table[CLAIMS_ERR_INTERNAL];
    }
    return &status_table[st];
}

const char *claims_status_name(claims_status_t st)
{
    return info(st)->name;
}

const char *claims_status_text(claims_status_t st)
{
    return info(st)->text;
}

claims_error_class_t claims_status_class(claims_status_t st)
{
    return info(st)->cls;
}

static apr_status_t json_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

json_t *claims_json_pool(apr_pool_t *p, json_t *j)
{
    if (j != NULL) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

void claims_log(const claims_logger_t *log, claims_log_level_t level, const char *msg)
{
    if (log != NULL && log->fn != NULL) {
        log->fn(log->baton, level, msg);
    }
}

char *claims_log_escape(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t n = len > max ? max : len;
    char *out = apr_palloc(p, n * 4 + 4);
    char *o = out;
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xf];
        }
        else {
            *o++ = (char)c;
        }
    }
    if (len > max) {
        *o++ = '.';
        *o++ = '.';
        *o++ = '.';
    }
    *o = '\0';
    return out;
}
