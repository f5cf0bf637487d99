/*
 * claims_fetch.h - fetching an identity provider's documents (JWK Set, OpenID Connect /
 * RFC 8414 metadata) with libcurl, and reading the metadata.
 *
 * Promises: https only (plain http only when allowed and the host is a loopback address);
 * certificate and host name verification always on; no redirects; the body is capped and the
 * transfer aborted past the cap; the whole transfer bounded by a timeout; only 200 answers with
 * a JSON media type count. URLs come from configuration or verified metadata, never a token.
 * curl_global_init() must have run (the glue does it before any thread exists).
 */
#ifndef CLAIMS_FETCH_H
#define CLAIMS_FETCH_H

#include "claims.h"

#define CLAIMS_MAX_URL 1000

typedef struct claims_fetch_opts_t {
    apr_interval_time_t timeout;       /* whole transfer; default 5 s */
    apr_size_t max_size;               /* body cap; default 256 KiB */
    const char *ca_file;               /* NULL: system store */
    const char *ca_path;
    const char *proxy;                 /* NULL: none (the environment is ignored) */
    int allow_http_loopback;           /* tests only: http:// to 127.0.0.0/8, ::1, localhost */
} claims_fetch_opts_t;

typedef struct claims_fetch_result_t {
    char *body;                        /* NUL-terminated */
    apr_size_t len;
    long status;
    apr_int64_t max_age;               /* Cache-Control max-age in seconds, -1 when absent */
    const char *error;                 /* why it failed: safe to log */
} claims_fetch_result_t;

/* Checks a URL against the policy above without fetching; NULL or the reason. */
const char *claims_fetch_check_url(apr_pool_t *p, const char *url, int allow_http_loopback);

claims_status_t claims_fetch(apr_pool_t *p, const char *url, const claims_fetch_opts_t *opts,
                             claims_fetch_result_t *res);

/* The jwks_uri of a metadata document whose "issuer" equals issuer exactly. */
claims_status_t claims_discovery_jwks_uri(apr_pool_t *p, const char *body, apr_size_t len,
                                          const char *issuer, int allow_http_loopback,
                                          const char **jwks_uri, const char **err);

/* max-age of a Cache-Control value, or -1 (no-store/no-cache count as 0). */
apr_int64_t claims_cache_control_max_age(const char *value);

#endif
