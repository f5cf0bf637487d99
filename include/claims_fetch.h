/*
 * claims_fetch.h - fetching an identity provider's documents (JWK Set, OpenID Connect /
 * RFC 8414 metadata) with libcurl, and reading the metadata; posting a form to one of its
 * endpoints (RFC 7662 introspection).
 *
 * Promises: https only (plain http only as below); certificate and host name verification
 * always on; no redirects; the body is capped and the transfer aborted past the cap; the whole
 * transfer bounded by a timeout; only 200 answers count, and for a GET only those with a JSON
 * media type. URLs come from configuration or verified metadata, never a token. GET and POST
 * share one code path: the same policy, the same checks of the answer.
 *
 * Plain http (ClaimsAllowHTTP, for tests) only when the host, as curl parses it from the URL
 * and so connects to it, is a loopback literal: an IPv4 dotted quad in 127.0.0.0/8, the IPv6
 * address ::1 in any spelling ([::1], [0:0:0:0:0:0:0:1]), or exactly "localhost" in any case
 * (recent curl answers it with loopback without asking DNS, older curl asks the system's hosts
 * file). Host names that only look like one (127.attacker.example, 127.0.0.1.nip.io,
 * localhost.evil.example, "localhost.") are refused, and userinfo is no host
 * (http://127.0.0.1@evil.example/ goes to evil.example). IPv4 shorthand (127.1, 2130706433,
 * 0x7f.1) counts only as curl's URL parser rewrites it: libcurl 7.88 turns it into the dotted
 * quad it connects to, which is then checked; were the text kept, inet_pton would refuse it.
 * [::ffff:127.0.0.1] (IPv4-mapped) is refused: whether it reaches 127.0.0.1 depends on the
 * host's IPv6 settings, and a test can write 127.0.0.1. The same check applies to a discovery
 * document's jwks_uri.
 *
 * curl_global_init() must have run (the glue does it before any thread exists).
 */
#ifndef CLAIMS_FETCH_H
#define CLAIMS_FETCH_H

#include "claims.h"

#define CLAIMS_MAX_URL 1000

/* A reusable curl handle, so that transfers made through it keep their connections alive: the
 * next transfer to the same scheme, host and port reuses an idle connection (no new TCP and TLS
 * handshake, no new load of the CA file) instead of opening one. curl decides, by its own
 * rules: it reuses a connection only when the TLS settings match (another ca_file or ca_path,
 * or another proxy, opens a new one), and for at most curl's idle age (118 s by default); it
 * checks an idle connection before reusing it, and retries on a new one a request that a
 * reused connection dropped before any answer. The policy above applies to every transfer in
 * full: each starts from a clean handle (curl_easy_reset after the previous one), so nothing of
 * one transfer (method, body, headers, Authorization, limits) carries over to the next; only
 * curl's caches do (connections, DNS, TLS sessions, the parsed CA store, which curl keeps by
 * file name for up to 24 hours: a CA file replaced in place counts for new sessions, e.g.
 * after a graceful restart).
 *
 * A session is used by one thread at a time (it is not locked): the glue keeps one per worker
 * thread. The handle is made on first use and cleaned up with the pool the session was created
 * in. */
typedef struct claims_fetch_session_t claims_fetch_session_t;

claims_fetch_session_t *claims_fetch_session_create(apr_pool_t *p);

typedef struct claims_fetch_opts_t {
    apr_interval_time_t timeout;       /* whole transfer; default 5 s */
    apr_size_t max_size;               /* body cap; default 256 KiB */
    const char *ca_file;               /* NULL: system store */
    const char *ca_path;
    const char *proxy;                 /* NULL: none (the environment is ignored) */
    int allow_http_loopback;           /* tests only: http:// to 127.0.0.0/8, ::1, localhost
                                        * (literal hosts only, see above) */
    claims_fetch_session_t *session;   /* NULL: a fresh handle (and connection) per transfer.
                                        * Callers holding const options copy them and set it. */
} claims_fetch_opts_t;

typedef struct claims_fetch_result_t {
    char *body;                        /* NUL-terminated */
    apr_size_t len;
    long status;
    apr_int64_t max_age;               /* Cache-Control max-age in seconds, -1 when absent */
    const char *error;                 /* why it failed: safe to log */
    const char *media_type;            /* the answer's Content-Type without parameters, lower-
                                        * cased ("application/json" for "Application/JSON;
                                        * charset=utf-8"), NULL when it has none; set whenever an
                                        * answer came, whatever its status. The server's bytes:
                                        * escape before logging (claims_log_escape). */
} claims_fetch_result_t;

/* Checks a URL against the policy above without fetching; NULL or the reason. */
const char *claims_fetch_check_url(apr_pool_t *p, const char *url, int allow_http_loopback);

/* url for a log line or the status page: without its userinfo ("user:password@"), the rest as
 * written (https://user:pw@idp.example/x gives https://idp.example/x); "(unparsable URL)" for
 * a string curl does not parse as an absolute URL, never the string itself; NULL for NULL. */
const char *claims_fetch_redact_url(apr_pool_t *p, const char *url);

/* GET url. CLAIMS_OK only for a 200 answer with a JSON media type (application/json or
 * application/...+json); CLAIMS_ERR_CONFIG for a URL the policy refuses (nothing is sent),
 * CLAIMS_ERR_TOO_LARGE past the cap, CLAIMS_ERR_IO for everything else (res->error says what). */
claims_status_t claims_fetch(apr_pool_t *p, const char *url, const claims_fetch_opts_t *opts,
                             claims_fetch_result_t *res);

/* POST body (len bytes, sent as they are) to url as Content-Type
 * application/x-www-form-urlencoded, with "Authorization: <authorization>" and
 * "Accept: <accept>" when not NULL, under the same policy as claims_fetch. CLAIMS_OK for any 200
 * answer, whatever its media type: the caller checks res->media_type against what it asked
 * for. Other results as claims_fetch; CLAIMS_ERR_CONFIG, with nothing sent, also when a header
 * value holds a control character other than tab (a CR or LF would start another header) or
 * body is NULL with len > 0. The body and the Authorization value are never put into
 * res->error. */
claims_status_t claims_fetch_post(apr_pool_t *p, const char *url, const claims_fetch_opts_t *opts,
                                  const char *body, apr_size_t len, const char *authorization,
                                  const char *accept, claims_fetch_result_t *res);

/* The jwks_uri of a metadata document whose "issuer" equals issuer exactly. */
claims_status_t claims_discovery_jwks_uri(apr_pool_t *p, const char *body, apr_size_t len,
                                          const char *issuer, int allow_http_loopback,
                                          const char **jwks_uri, const char **err);

/* max-age of a Cache-Control value in seconds, or -1 when absent (or value NULL). no-store and
 * no-cache anywhere in the value count as 0. Only the first max-age counts, and only when it is
 * delta-seconds (digits, optionally quoted, nothing after it but blanks before the next ','); a
 * huge one saturates at 10^9 (about 31 years; RFC 9111 sections 1.2.2, 4.2.1, 5.2). A quoted
 * value of another directive is never read as directives. */
apr_int64_t claims_cache_control_max_age(const char *value);

#endif
