/*
 * claims.h - types shared by every unit of the mod_claims core.
 *
 * The core is pure C11 on APR, OpenSSL 3, jansson and libcurl. It never includes an httpd
 * header and never sees a request. Every refusal is a claims_status_t with a fixed text that
 * is safe to put into a log line and into an RFC 6750 error_description.
 * The status names and texts, the log helpers and claims_json_pool live in claims_result.c.
 */
#ifndef CLAIMS_H
#define CLAIMS_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Defaults and hard limits for what a client sends. */
#define CLAIMS_DEFAULT_MAX_TOKEN   8192      /* bytes of compact token (CL-05) */
#define CLAIMS_DEFAULT_LEEWAY      60        /* seconds (CL-42) */
#define CLAIMS_DEFAULT_MAX_RSA_BITS 8192     /* CL-65 */
#define CLAIMS_MIN_RSA_BITS        2048      /* CL-23 */
#define CLAIMS_MAX_KID_CANDIDATES  4         /* keys tried for a token without kid (CL-27) */
#define CLAIMS_MAX_REMOTE_USER     1024      /* bytes (CL-49) */
#define CLAIMS_MAX_KEYS            128       /* keys in one JWK Set (CL-66) */
#define CLAIMS_MAX_KEY_FILE        (1024 * 1024) /* bytes of a key file or JWKS document */
#define CLAIMS_MAX_NUMERIC_DATE    253402300799.0 /* 9999-12-31T23:59:59Z */

typedef enum claims_status_t {
    CLAIMS_OK = 0,
    /* the request carries no token for us (no header, other scheme) */
    CLAIMS_NO_TOKEN,
    /* malformed request: 400 invalid_request */
    CLAIMS_ERR_REQUEST,
    CLAIMS_ERR_TWO_TOKENS,
    /* invalid token: 401 invalid_token */
    CLAIMS_ERR_TOO_LARGE,
    CLAIMS_ERR_FORMAT,
    CLAIMS_ERR_BASE64,
    CLAIMS_ERR_HEADER_JSON,
    CLAIMS_ERR_ALG,
    CLAIMS_ERR_ALG_NONE,
    CLAIMS_ERR_CRIT,
    CLAIMS_ERR_HEADER_UNSUPPORTED,
    CLAIMS_ERR_PAYLOAD_JSON,
    CLAIMS_ERR_ISSUER,
    CLAIMS_ERR_ALG_NOT_ALLOWED,
    CLAIMS_ERR_NO_KEY,
    CLAIMS_ERR_SIGNATURE,
    CLAIMS_ERR_EXPIRED,
    CLAIMS_ERR_NOT_YET_VALID,
    CLAIMS_ERR_IAT_FUTURE,
    CLAIMS_ERR_TIME_CLAIM,
    CLAIMS_ERR_EXP_MISSING,
    CLAIMS_ERR_AUDIENCE,
    CLAIMS_ERR_TYPE,
    CLAIMS_ERR_MISSING_CLAIM,
    CLAIMS_ERR_REMOTE_USER,
    CLAIMS_ERR_INACTIVE,          /* the issuer says an opaque token is not active */
    CLAIMS_ERR_BINDING,           /* a sender-constrained token without its proof of possession */
    CLAIMS_ERR_DPOP,              /* 401 invalid_dpop_proof (RFC 9449) */
    /* the token cannot be checked now: 503 */
    CLAIMS_ERR_UNAVAILABLE,
    /* configuration and key loading */
    CLAIMS_ERR_KEY,
    CLAIMS_ERR_CONFIG,
    CLAIMS_ERR_IO,
    CLAIMS_ERR_INTERNAL,
    CLAIMS_STATUS_COUNT
} claims_status_t;

/* RFC 6750 class of a status, for the glue to choose the HTTP answer. */
typedef enum claims_error_class_t {
    CLAIMS_CLASS_OK = 0,
    CLAIMS_CLASS_NO_TOKEN,        /* 401, no error attribute */
    CLAIMS_CLASS_INVALID_REQUEST, /* 400 invalid_request */
    CLAIMS_CLASS_INVALID_TOKEN,   /* 401 invalid_token */
    CLAIMS_CLASS_SERVER,          /* 500 */
    CLAIMS_CLASS_UNAVAILABLE,     /* 503 with Retry-After */
    CLAIMS_CLASS_INVALID_DPOP     /* 401 invalid_dpop_proof */
} claims_error_class_t;

/* Short identifier ("expired", "bad_signature"), stable: used in logs and metrics. */
const char *claims_status_name(claims_status_t st);
/* Fixed human text; only characters allowed in an RFC 6750 error_description. */
const char *claims_status_text(claims_status_t st);
claims_error_class_t claims_status_class(claims_status_t st);

/* Hands a jansson value to a pool: it is released (json_decref) when p is cleared.
 * Returns j, NULL-safe. (json_t is declared by <jansson.h>, which callers include.) */
struct json_t;
struct json_t *claims_json_pool(apr_pool_t *p, struct json_t *j);

/* Logging crosses the core/glue boundary through this callback (LogLevel claims:...). */
typedef enum claims_log_level_t {
    CLAIMS_LOG_ERR = 3,
    CLAIMS_LOG_WARNING = 4,
    CLAIMS_LOG_NOTICE = 5,
    CLAIMS_LOG_INFO = 6,
    CLAIMS_LOG_DEBUG = 7
} claims_log_level_t;

typedef void (*claims_log_fn)(void *baton, claims_log_level_t level, const char *msg);

typedef struct claims_logger_t {
    claims_log_fn fn;
    void *baton;
} claims_logger_t;

/* Logs msg (already formatted by the caller) when a logger is set. */
void claims_log(const claims_logger_t *log, claims_log_level_t level, const char *msg);

/* A printable, bounded rendering of untrusted bytes for log lines: control characters,
 * quotes, backslashes and non-ASCII bytes become \xHH; longer input is cut with "...". */
char *claims_log_escape(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max);

#endif
