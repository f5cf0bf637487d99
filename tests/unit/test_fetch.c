/*
 * test_fetch.c - what the fetcher of identity provider documents decides without a network:
 * which URLs it would fetch (https only; plain http only when allowed and only to a literal
 * loopback host), the Cache-Control lifetime of a document, the jwks_uri of a metadata
 * document, and URLs redacted for logs (SECURITY.md CL-28); and, against a small HTTP server
 * on 127.0.0.1 run by the test itself (a thread; plain http as ClaimsAllowHTTP allows it), what
 * a POST sends and which answers count (CL-92), and that a session keeps its connection alive
 * for the next transfer and nothing else of the previous one.
 */
#include "test_util.h"

#include "claims_fetch.h"
#include "claims_introspect.h"

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ URL policy */

static const char *const https_urls[] = {
    "https://idp.example/jwks",
    "https://idp.example:8443/.well-known/jwks.json?v=2",
    "HTTPS://IDP.EXAMPLE/",
    "https://127.0.0.1/jwks",
    "https://[2001:db8::1]/jwks",
};

START_TEST(test_https_url_is_accepted_whether_or_not_http_is_allowed)
{
    ck_assert_ptr_null(claims_fetch_check_url(tu_p, https_urls[_i], 0));
    ck_assert_ptr_null(claims_fetch_check_url(tu_p, https_urls[_i], 1));
}
END_TEST

START_TEST(test_plain_http_is_refused_unless_allowed)
{
    static const char *const urls[] = {"http://127.0.0.1/jwks", "http://localhost/jwks", "http://[::1]/",
                                       "http://idp.example/jwks"};
    for (int i = 0; i < TU_COUNT(urls); i++) {
        const char *why = claims_fetch_check_url(tu_p, urls[i], 0);
        ck_assert_msg(why != NULL, "%s accepted", urls[i]);
        ck_assert_str_eq(why, "only https URLs are allowed");
    }
}
END_TEST

/* ClaimsAllowHTTP (tests only): plain http goes to a loopback host, and "loopback" is the host
 * curl connects to, read strictly: an IPv4 literal in 127.0.0.0/8, the IPv6 literal ::1 however
 * spelled, or exactly localhost. A host name that merely starts like one is anybody's. */
static const struct {
    const char *url;
    int ok;
} loopback[] = {
    {"http://127.0.0.1/jwks", 1},
    {"http://127.0.0.1:8080/jwks", 1},
    {"http://127.255.255.254/", 1},
    {"http://127.10.20.30:1/x?y#z", 1},
    {"http://[::1]/", 1},
    {"http://[::1]:8443/jwks", 1},
    {"http://[0:0:0:0:0:0:0:1]/", 1},
    {"http://[0000::0001]:80/", 1},
    {"http://localhost/jwks", 1},
    {"http://LocalHost:8080/", 1},
    {"http://127.attacker.example/", 0},
    {"http://127.0.0.1.nip.io/", 0},
    {"http://127.0.0.1.evil.example:8080/", 0},
    {"http://localhost.evil.example/", 0},
    {"http://localhost./", 0},
    {"http://localhostx/", 0},
    {"http://[::ffff:127.0.0.1]/", 0},          /* IPv4-mapped: not ::1 (claims_fetch.h) */
    {"http://[::127.0.0.1]/", 0},
    {"http://[::2]/", 0},
    {"http://[::]/", 0},
    {"http://0.0.0.0/", 0},
    {"http://128.0.0.1/", 0},
    {"http://10.0.0.1/", 0},
    {"http://idp.example/", 0},
    {"http://127.0.0.1@evil.example/", 0},      /* userinfo, then the real host */
    {"http://127.0.0.1:80@evil.example/", 0},
    {"http://localhost@evil.example/", 0},
    {"http://[::1]@evil.example/", 0},
    {"http://evil.example#@127.0.0.1/", 0},
    {"http://evil.example/127.0.0.1/", 0},
    {"http://evil.example?127.0.0.1", 0},
};

START_TEST(test_plain_http_is_allowed_only_to_a_literal_loopback_host)
{
    const char *why = claims_fetch_check_url(tu_p, loopback[_i].url, 1);
    if (loopback[_i].ok) {
        ck_assert_msg(why == NULL, "%s refused: %s", loopback[_i].url, why);
    }
    else {
        ck_assert_msg(why != NULL, "%s accepted", loopback[_i].url);
        ck_assert_str_eq(why, "plain http is only allowed to a loopback address");
    }
}
END_TEST

START_TEST(test_url_longer_than_the_limit_is_refused)
{
    const char *head = "https://idp.example/";
    apr_size_t n = strlen(head);
    char *url = apr_palloc(tu_p, CLAIMS_MAX_URL + 2);
    memcpy(url, head, n);
    memset(url + n, 'a', CLAIMS_MAX_URL - n);
    url[CLAIMS_MAX_URL] = '\0';
    ck_assert_ptr_null(claims_fetch_check_url(tu_p, url, 0));
    url[CLAIMS_MAX_URL] = 'a';
    url[CLAIMS_MAX_URL + 1] = '\0';
    ck_assert_ptr_nonnull(claims_fetch_check_url(tu_p, url, 0));
}
END_TEST

static const char *const not_fetchable[] = {
    "",
    "idp.example/jwks",
    "/jwks",
    "//idp.example/jwks",
    "https://",
    "https:idp.example",
    "https://a@b@idp.example/",
    "https://idp.example:99999/",
    "https://idp example/",
    "ftp://idp.example/jwks",
    "file:///etc/passwd",
    "ldap://idp.example/",
    "gopher://127.0.0.1/",
};

START_TEST(test_url_that_is_not_an_absolute_https_url_is_refused)
{
    ck_assert_msg(claims_fetch_check_url(tu_p, not_fetchable[_i], 1) != NULL, "[%s] accepted", not_fetchable[_i]);
}
END_TEST

START_TEST(test_null_url_is_refused)
{
    ck_assert_ptr_nonnull(claims_fetch_check_url(tu_p, NULL, 1));
}
END_TEST

/* ------------------------------------------------------------------ redaction */

/* A URL in a log line or on the status page keeps no password: userinfo goes, the rest stays as
 * written; what curl cannot parse is not shown at all (it might be a secret pasted wrongly). */
static const struct {
    const char *url;
    const char *shown;
} redacted[] = {
    {"https://user:pw@idp.example/x", "https://idp.example/x"},
    {"https://user@idp.example/x", "https://idp.example/x"},
    {"https://:pw@idp.example/x", "https://idp.example/x"},
    {"https://@idp.example/x", "https://idp.example/x"},
    {"https://u%40x:p%3Aw@idp.example:8443/a/../b?q=1#f", "https://idp.example:8443/a/../b?q=1#f"},
    {"HTTPS://user:pw@IdP.Example", "HTTPS://IdP.Example"},
    {"http://127.0.0.1:80@evil.example/", "http://evil.example/"},
    {"https://u:pw@[::1]:8443/jwks", "https://[::1]:8443/jwks"},
    {"https:/user:pw@idp.example/x", "https:/idp.example/x"},
    {"ftp://user:pw@files.example/k.pem", "ftp://files.example/k.pem"},
    {"https://idp.example/x", "https://idp.example/x"},
    {"https://idp.example", "https://idp.example"},
    {"HTTPS://IdP.Example:443/a/./b/../c?x=%41#y", "HTTPS://IdP.Example:443/a/./b/../c?x=%41#y"},
    {"https://idp.example/a@b", "https://idp.example/a@b"},
    {"https://idp.example#u:pw@x", "https://idp.example#u:pw@x"},
    {"", "(unparsable URL)"},
    {"not a url", "(unparsable URL)"},
    {"idp.example/x", "(unparsable URL)"},
    {"user:pw@idp.example/x", "(unparsable URL)"},
    {"https://user:p@ss@idp.example/x", "(unparsable URL)"},
    {"https://user:pw@/x", "(unparsable URL)"},
    {"https://user:pw@idp example/x", "(unparsable URL)"},
    {"https://user:pw@idp.example/x\ny", "(unparsable URL)"},
    {"https://user:pw@idp.example:99999/x", "(unparsable URL)"},
};

START_TEST(test_redacted_url_has_no_userinfo_and_the_rest_as_written)
{
    const char *shown = claims_fetch_redact_url(tu_p, redacted[_i].url);
    ck_assert_msg(shown != NULL && strcmp(shown, redacted[_i].shown) == 0, "[%s] shown as [%s]", redacted[_i].url,
                  shown);
}
END_TEST

START_TEST(test_redacting_null_gives_null)
{
    ck_assert_ptr_null(claims_fetch_redact_url(tu_p, NULL));
}
END_TEST

/* ------------------------------------------------------------------ Cache-Control */

static const struct {
    const char *value;
    apr_int64_t max_age;
} cache_control[] = {
    {"max-age=300", 300},
    {"public, max-age=60", 60},
    {"max-age=60, public", 60},
    {"MAX-AGE=7", 7},
    {"  max-age=0", 0},
    {"max-age=\"120\"", 120},
    {"no-cache", 0},
    {"No-Store", 0},
    {"private, no-cache", 0},
    {"", -1},
    {"public", -1},
    {"s-maxage=600", -1},
    {"x-max-age=600", -1},
    {"max-age", -1},
    {"max-age=", -1},
    {"max-age=abc", -1},
    {"max-age=-5", -1},
    {"max-age=\"\"", -1},
};

/* no-store and no-cache win wherever they stand; a max-age that is not exactly delta-seconds,
 * or that only appears inside another directive's quoted value, is no max-age */
static const struct {
    const char *value;
    apr_int64_t max_age;
} cache_control_order[] = {
    {"max-age=300, no-store", 0},
    {"max-age=300,no-cache", 0},
    {"public, max-age=300, private, no-cache=\"set-cookie\"", 0},
    {"max-age=60abc", -1},
    {"max-age=6 0", -1},
    {"max-age=\"60", -1},
    {"max-age=\"60\"x", -1},
    {"max-age=60\"", -1},
    {"community=\"x, max-age=99\"", -1},
    {"community=\"x, no-store\", max-age=99", 99},
    {"max-age=60 , public", 60},
    {"max-age=1, max-age=2", 1},
};

START_TEST(test_cache_control_gives_max_age_or_zero_for_no_cache)
{
    ck_assert_msg(claims_cache_control_max_age(cache_control[_i].value) == cache_control[_i].max_age,
                  "[%s]: %" APR_INT64_T_FMT, cache_control[_i].value,
                  claims_cache_control_max_age(cache_control[_i].value));
}
END_TEST

START_TEST(test_cache_control_no_store_wins_and_max_age_is_read_strictly)
{
    ck_assert_msg(claims_cache_control_max_age(cache_control_order[_i].value) == cache_control_order[_i].max_age,
                  "[%s]: %" APR_INT64_T_FMT, cache_control_order[_i].value,
                  claims_cache_control_max_age(cache_control_order[_i].value));
}
END_TEST

START_TEST(test_cache_control_absent_is_minus_one)
{
    ck_assert_int_eq(claims_cache_control_max_age(NULL), -1);
}
END_TEST

/* a lifetime beyond any integer saturates at 10^9 s instead of wrapping (RFC 9111 section
 * 1.2.2); up to there it is exact */
START_TEST(test_cache_control_huge_max_age_saturates)
{
    static const struct {
        const char *value;
        apr_int64_t max_age;
    } huge[] = {
        {"max-age=999999999", 999999999},
        {"max-age=1000000000", 1000000000},
        {"max-age=1000000001", 1000000000},
        {"max-age=2147483648", 1000000000},
        {"max-age=99999999999999999999999999999999999999", 1000000000},
        {"max-age=\"18446744073709551617\"", 1000000000},
        {"max-age=99999999999999999999x", -1},
    };
    for (int i = 0; i < TU_COUNT(huge); i++) {
        apr_int64_t v = claims_cache_control_max_age(huge[i].value);
        ck_assert_msg(v == huge[i].max_age, "[%s]: %" APR_INT64_T_FMT, huge[i].value, v);
    }
}
END_TEST

/* ------------------------------------------------------------------ discovery metadata */

#define ISSUER "https://idp.example/realms/a"

static claims_status_t jwks_uri_of(const char *doc, int allow_http, const char **uri)
{
    const char *err = NULL;
    claims_status_t st;
    *uri = NULL;
    st = claims_discovery_jwks_uri(tu_p, doc, strlen(doc), ISSUER, allow_http, uri, &err);
    ck_assert_msg((st == CLAIMS_OK) == (err == NULL), "%s: status %d, err %s", doc, st, err);
    return st;
}

START_TEST(test_discovery_gives_the_jwks_uri_of_the_exact_issuer)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of("{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/certs\"}", 0, &uri),
                     CLAIMS_OK);
    ck_assert_str_eq(uri, "https://idp.example/certs");
    ck_assert_int_eq(jwks_uri_of("{\"jwks_uri\":\"http://127.0.0.1:8080/certs\",\"issuer\":\"" ISSUER "\"}", 1, &uri),
                     CLAIMS_OK);
    ck_assert_str_eq(uri, "http://127.0.0.1:8080/certs");
}
END_TEST

static const char *const other_issuer[] = {
    "{\"issuer\":\"" ISSUER "/\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"https://IDP.example/realms/a\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"https://idp.example/realms\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"https://idp.example/realms/ab\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":null,\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":42,\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":[\"" ISSUER "\"],\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":{\"id\":\"" ISSUER "\"},\"jwks_uri\":\"https://idp.example/certs\"}",
};

START_TEST(test_discovery_refuses_metadata_of_another_issuer)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of(other_issuer[_i], 1, &uri), CLAIMS_ERR_ISSUER);
    ck_assert_ptr_null(uri);
}
END_TEST

/* the jwks_uri goes through the same URL policy as a configured one */
static const struct {
    const char *jwks_uri;
    int allow_http;
} bad_jwks_uri[] = {
    {"\"http://idp.example/certs\"", 0},
    {"\"http://idp.example/certs\"", 1},
    {"\"http://127.0.0.1/certs\"", 0},
    {"\"http://127.attacker.example/certs\"", 1},
    {"\"http://127.0.0.1@evil.example/certs\"", 1},
    {"\"file:///etc/passwd\"", 1},
    {"\"/certs\"", 1},
    {"\"\"", 1},
    {"null", 1},
    {"42", 1},
    {"[\"https://idp.example/certs\"]", 1},
    {"{\"uri\":\"https://idp.example/certs\"}", 1},
};

START_TEST(test_discovery_refuses_a_jwks_uri_the_url_policy_refuses)
{
    const char *uri;
    const char *doc = apr_psprintf(tu_p, "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":%s}", bad_jwks_uri[_i].jwks_uri);
    ck_assert_int_eq(jwks_uri_of(doc, bad_jwks_uri[_i].allow_http, &uri), CLAIMS_ERR_CONFIG);
    ck_assert_ptr_null(uri);
}
END_TEST

START_TEST(test_discovery_refuses_metadata_without_a_jwks_uri)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of("{\"issuer\":\"" ISSUER "\"}", 0, &uri), CLAIMS_ERR_CONFIG);
}
END_TEST

static const char *const not_metadata[] = {
    "",
    "null",
    "[]",
    "\"" ISSUER "\"",
    "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/certs\"",
    "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/a\",\"jwks_uri\":\"https://idp.example/b\"}",
    "{\"issuer\":\"https://evil.example\",\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/certs\"}",
};

START_TEST(test_discovery_refuses_a_document_that_is_not_one_json_object)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of(not_metadata[_i], 1, &uri), CLAIMS_ERR_CONFIG);
    ck_assert_ptr_null(uri);
}
END_TEST

/* ------------------------------------------------------------------ a small HTTP server */

/* Serves up to SERVER_MAX requests on 127.0.0.1, one connection at a time: reads a request
 * (headers, then Content-Length bytes), keeps it, waits delay_ms (or until the client gives
 * up), sends the next canned answer, and keeps the connection open for the next request
 * unless that was the last answer or it says "Connection: close". It counts the connections
 * it accepts: a client that keeps its connection alive makes one for several requests. */
#define SERVER_MAX 8

typedef struct answer_t {
    const char *head;                  /* status line, headers, blank line: the whole head */
    const char *body;                  /* sent after the head */
    apr_size_t body_len;
} answer_t;

typedef struct request_t {
    char text[65536];
    apr_size_t len;
} request_t;

typedef struct server_t {
    int fd, port;
    answer_t answer[SERVER_MAX];       /* the i-th request gets answer[i] */
    int answers;
    int delay_ms;
    int accept_ms;                     /* how long to wait for a connection or a request */
    int accepted;                      /* connections */
    request_t req[SERVER_MAX];
    int requests;
    apr_thread_t *thread;
} server_t;

static apr_size_t content_length(const char *head)
{
    const char *h = strcasestr(head, "\r\nContent-Length:");
    return h != NULL ? (apr_size_t)strtoul(h + 17, NULL, 10) : 0;
}

/* Reads the next request into its slot; 0 when the client closed the connection first. */
static int read_request(server_t *s, int c)
{
    request_t *q = &s->req[s->requests];
    const char *end = NULL;
    while (q->len < sizeof(q->text) - 1) {
        ssize_t n = recv(c, q->text + q->len, sizeof(q->text) - 1 - q->len, 0);
        if (n <= 0) {
            break;
        }
        q->len += (apr_size_t)n;
        q->text[q->len] = '\0';
        if (end == NULL) {
            end = strstr(q->text, "\r\n\r\n");
        }
        if (end != NULL && q->len >= (apr_size_t)(end + 4 - q->text) + content_length(q->text)) {
            break;
        }
    }
    return q->len > 0;
}

static void send_all(int c, const char *buf, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = send(c, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return;                    /* the client gave up (cap, timeout): fine */
        }
        buf += n;
        len -= (apr_size_t)n;
    }
}

/* Answers one request on c; 1 to keep c open for another. */
static int serve_request(server_t *s, int c)
{
    const answer_t *a;
    struct pollfd pfd = {c, POLLIN, 0};
    if (!read_request(s, c)) {
        return 0;
    }
    a = &s->answer[s->requests++];
    if (s->delay_ms > 0) {
        (void)poll(&pfd, 1, s->delay_ms);  /* returns early when the client closes */
    }
    send_all(c, a->head, strlen(a->head));
    send_all(c, a->body, a->body_len);
    return s->requests < s->answers && strcasestr(a->head, "\r\nConnection: close\r\n") == NULL;
}

static void *APR_THREAD_FUNC serve(apr_thread_t *t, void *data)
{
    server_t *s = data;
    int c = -1;
    while (s->requests < s->answers) {
        struct pollfd pfd[2] = {{s->fd, POLLIN, 0}, {c, POLLIN, 0}};
        if (poll(pfd, c >= 0 ? 2 : 1, s->accept_ms) <= 0) {
            break;
        }
        if (c >= 0 && pfd[1].revents != 0) {
            if (!serve_request(s, c)) {
                close(c);
                c = -1;
            }
        }
        else if (pfd[0].revents != 0) {
            if (c >= 0) {
                close(c);              /* the client left it idle and opened another */
            }
            if ((c = accept(s->fd, NULL, NULL)) >= 0) {
                s->accepted++;
            }
        }
    }
    if (c >= 0) {
        close(c);
    }
    /* returns instead of apr_thread_exit: pthread_exit's unwinding trips a known false
     * stack-use-after-scope in gcc 12's ASan (sigaltstack at thread teardown) */
    (void)t;
    return NULL;
}

/* Starts a server whose first answer is head + body; the test's pool owns it. */
static server_t *server_start(const char *head, const char *body, apr_size_t body_len)
{
    server_t *s = apr_pcalloc(tu_p, sizeof(*s));
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->fd, 4), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    s->answer[0].head = head;
    s->answer[0].body = body;
    s->answer[0].body_len = body_len;
    s->answers = 1;
    s->accept_ms = 5000;
    return s;
}

/* Adds the answer to the next request (before server_run). */
static void server_then(server_t *s, const char *head, const char *body, apr_size_t body_len)
{
    ck_assert_int_lt(s->answers, SERVER_MAX);
    s->answer[s->answers].head = head;
    s->answer[s->answers].body = body;
    s->answer[s->answers].body_len = body_len;
    s->answers++;
}

static void server_run(server_t *s)
{
    ck_assert_int_eq(apr_thread_create(&s->thread, NULL, serve, s, tu_p), APR_SUCCESS);
}

/* Waits for the server to finish; only then are its requests read. */
static void server_stop(server_t *s)
{
    apr_status_t rv;
    ck_assert_int_eq(apr_thread_join(&rv, s->thread), APR_SUCCESS);
    close(s->fd);
}

static const char *server_url(const server_t *s, const char *path)
{
    return apr_psprintf(tu_p, "http://127.0.0.1:%d%s", s->port, path);
}

/* The value of the request's header name (first one), or NULL; *count: how many there are. */
static const char *request_header(const request_t *q, const char *name, int *count)
{
    const char *end = strstr(q->text, "\r\n\r\n");
    const char *line = strstr(q->text, "\r\n");
    const char *found = NULL;
    apr_size_t n = strlen(name);
    *count = 0;
    while (line != NULL && line < end) {
        const char *next = strstr(line + 2, "\r\n");
        line += 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ') {
                v++;
            }
            if ((*count)++ == 0) {
                found = apr_pstrmemdup(tu_p, v, (apr_size_t)(next - v));
            }
        }
        line = next;
    }
    return found;
}

static const char *request_body(const request_t *q, apr_size_t *len)
{
    const char *end = strstr(q->text, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    *len = q->len - (apr_size_t)(end + 4 - q->text);
    return end + 4;
}

static claims_fetch_opts_t loopback_opts(void)
{
    claims_fetch_opts_t o;
    memset(&o, 0, sizeof(o));
    o.allow_http_loopback = 1;
    o.timeout = apr_time_from_sec(3);
    return o;
}

#define JSON_200(len) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " len "\r\n\r\n"

/* ------------------------------------------------------------------ POST: what is sent */

/* the body goes as its exact bytes (a NUL and every byte value included: its length counts,
 * not a terminator), with our Authorization and Accept once each, as a form */
START_TEST(test_post_sends_body_authorization_and_accept_exactly)
{
    server_t *s = server_start(JSON_200("15"), "{\"active\":true}", 15);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    char body[300];
    apr_size_t blen;
    const char *got;
    int n;

    memcpy(body, "token=a%26b%3Dc&x=", 18);
    for (int i = 0; i < 256; i++) {
        body[18 + i] = (char)i;
    }
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/introspect"), &o, body, 274,
                                       "Basic Y2xpZW50OnMlM0FjcmV0", "application/token-introspection+jwt", &res),
                     CLAIMS_OK);
    server_stop(s);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, "{\"active\":true}");
    ck_assert_int_eq(strncmp(s->req->text, "POST /introspect HTTP/1.1\r\n", 27), 0);
    got = request_body(s->req, &blen);
    ck_assert_uint_eq(blen, 274);
    ck_assert_int_eq(memcmp(got, body, 274), 0);
    ck_assert_str_eq(request_header(s->req, "Authorization", &n), "Basic Y2xpZW50OnMlM0FjcmV0");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(request_header(s->req, "Accept", &n), "application/token-introspection+jwt");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(request_header(s->req, "Content-Type", &n), "application/x-www-form-urlencoded");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(request_header(s->req, "Content-Length", &n), "274");
    ck_assert_ptr_null(request_header(s->req, "Expect", &n));
}
END_TEST

START_TEST(test_post_without_authorization_or_accept_sends_neither)
{
    server_t *s = server_start(JSON_200("2"), "{}", 2);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    int n;

    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/i"), &o, "token=x", 7, NULL, NULL, &res), CLAIMS_OK);
    server_stop(s);
    ck_assert_ptr_null(request_header(s->req, "Authorization", &n));
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(request_header(s->req, "Accept", &n), "*/*");   /* curl's own default, not ours */
}
END_TEST

/* the caller compares media types: parameters and case do not get in the way */
START_TEST(test_post_reports_the_media_type_without_parameters)
{
    static const struct {
        const char *content_type;
        const char *media_type;
    } cases[] = {
        {"application/json", "application/json"},
        {"Application/JSON; charset=utf-8", "application/json"},
        {"application/token-introspection+jwt;charset=UTF-8", "application/token-introspection+jwt"},
        {"APPLICATION/TOKEN-INTROSPECTION+JWT  ", "application/token-introspection+jwt"},
        {"text/html ; q=1", "text/html"},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        const char *head = apr_psprintf(tu_p, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 2\r\n\r\n",
                                        cases[i].content_type);
        server_t *s = server_start(head, "{}", 2);
        claims_fetch_opts_t o = loopback_opts();
        claims_fetch_result_t res;
        server_run(s);
        ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "a", 1, NULL, "application/json", &res),
                         CLAIMS_OK);
        server_stop(s);
        ck_assert_msg(res.media_type != NULL && strcmp(res.media_type, cases[i].media_type) == 0, "[%s] gave [%s]",
                      cases[i].content_type, res.media_type);
    }
}
END_TEST

START_TEST(test_post_answer_without_content_type_has_no_media_type)
{
    server_t *s = server_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "{}", 2);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "a", 1, NULL, NULL, &res), CLAIMS_OK);
    server_stop(s);
    ck_assert_ptr_null(res.media_type);
}
END_TEST

/* ------------------------------------------------------------------ POST: which answers count */

/* only 200 counts: an error page, a redirect (never followed), "201 Created" all fail */
static const struct {
    const char *head;
    long status;
} not_200[] = {
    {"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n", 500},
    {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 15\r\n\r\n", 503},
    {"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 15\r\n\r\n", 302},
    {"HTTP/1.1 307 Temporary Redirect\r\nLocation: /again\r\nContent-Length: 15\r\n\r\n", 307},
    {"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n", 401},
    {"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n", 201},
};

START_TEST(test_post_answer_other_than_200_fails_with_its_status)
{
    server_t *s = server_start(not_200[_i].head, "{\"active\":true}", 15);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res), CLAIMS_ERR_IO);
    server_stop(s);
    ck_assert_int_eq(res.status, not_200[_i].status);
    ck_assert_str_eq(res.error, apr_psprintf(tu_p, "HTTP status %ld", not_200[_i].status));
    ck_assert_ptr_null(res.body);
}
END_TEST

/* past the cap the transfer stops, announced (Content-Length) or not (read until close) */
START_TEST(test_post_answer_larger_than_the_cap_fails_cleanly)
{
    static const char *const heads[] = {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
    };
    char *big = apr_palloc(tu_p, 65536);
    memset(big, ' ', 65536);
    big[0] = '{';
    big[65535] = '}';
    for (int i = 0; i < TU_COUNT(heads); i++) {
        server_t *s = server_start(heads[i], big, 65536);
        claims_fetch_opts_t o = loopback_opts();
        claims_fetch_result_t res;
        o.max_size = 4096;
        server_run(s);
        ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res),
                         CLAIMS_ERR_TOO_LARGE);
        server_stop(s);
        ck_assert_str_eq(res.error, "document larger than 4096 bytes");
        ck_assert_ptr_null(res.body);
    }
}
END_TEST

START_TEST(test_post_slow_answer_times_out)
{
    server_t *s = server_start(JSON_200("2"), "{}", 2);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    apr_time_t t0;
    s->delay_ms = 3000;
    o.timeout = apr_time_from_msec(300);
    server_run(s);
    t0 = apr_time_now();
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res), CLAIMS_ERR_IO);
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(2000));
    server_stop(s);
    ck_assert_ptr_nonnull(strstr(res.error, "Timeout"));
    ck_assert_ptr_null(res.body);
}
END_TEST

/* ------------------------------------------------------------------ POST: what is never sent */

START_TEST(test_post_refuses_plain_http_unless_allowed)
{
    server_t *s = server_start(JSON_200("2"), "{}", 2);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    o.allow_http_loopback = 0;
    s->accept_ms = 300;
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res), CLAIMS_ERR_CONFIG);
    server_stop(s);
    ck_assert_str_eq(res.error, "only https URLs are allowed");
    ck_assert_int_eq(s->accepted, 0);
}
END_TEST

START_TEST(test_post_refuses_a_url_the_policy_refuses)
{
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    ck_assert_int_eq(claims_fetch_post(tu_p, not_fetchable[_i], &o, "token=x", 7, NULL, NULL, &res), CLAIMS_ERR_CONFIG);
    ck_assert_ptr_nonnull(res.error);
    ck_assert_ptr_null(res.body);
}
END_TEST

/* a CR or LF in a header value would let it add headers of its own; nothing is sent */
START_TEST(test_post_refuses_a_header_value_with_a_control_character)
{
    static const struct {
        const char *authorization, *accept;
    } bad[] = {
        {"Basic eA==\r\nX-Injected: 1", NULL},
        {"Basic eA==\n", NULL},
        {"Basic\reA==", NULL},
        {NULL, "application/json\r\nX-Injected: 1"},
        {NULL, "application/json\x01"},
        {"Bearer \x7f", "application/json"},
    };
    for (int i = 0; i < TU_COUNT(bad); i++) {
        server_t *s = server_start(JSON_200("2"), "{}", 2);
        claims_fetch_opts_t o = loopback_opts();
        claims_fetch_result_t res;
        s->accept_ms = 200;
        server_run(s);
        ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, bad[i].authorization,
                                           bad[i].accept, &res), CLAIMS_ERR_CONFIG);
        server_stop(s);
        ck_assert_int_eq(s->accepted, 0);
        ck_assert_str_eq(res.error, "a header value holds a control character");
    }
}
END_TEST

START_TEST(test_post_refuses_a_missing_body_with_a_length)
{
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    ck_assert_int_eq(claims_fetch_post(tu_p, "http://127.0.0.1:1/", &o, NULL, 5, NULL, NULL, &res), CLAIMS_ERR_CONFIG);
    ck_assert_str_eq(res.error, "no body");
}
END_TEST

/* ------------------------------------------------------------------ GET through the same code */

START_TEST(test_get_counts_only_a_json_answer)
{
    server_t *s = server_start(JSON_200("11"), "{\"keys\":[]}", 11);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    int n;
    server_run(s);
    ck_assert_int_eq(claims_fetch(tu_p, server_url(s, "/jwks"), &o, &res), CLAIMS_OK);
    server_stop(s);
    ck_assert_int_eq(strncmp(s->req->text, "GET /jwks HTTP/1.1\r\n", 20), 0);
    ck_assert_ptr_null(request_header(s->req, "Authorization", &n));
    ck_assert_str_eq(res.body, "{\"keys\":[]}");
    ck_assert_str_eq(res.media_type, "application/json");

    s = server_start("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 11\r\n\r\n",
                     "{\"keys\":[]}", 11);
    server_run(s);
    ck_assert_int_eq(claims_fetch(tu_p, server_url(s, "/jwks"), &o, &res), CLAIMS_ERR_IO);
    server_stop(s);
    ck_assert_str_eq(res.error, "media type \"text/html\" is not JSON");
    ck_assert_ptr_null(res.body);
}
END_TEST

/* ------------------------------------------------------------------ sessions: keep-alive */

/* two POSTs on one session go over one connection, and the second sends only its own headers
 * and body; without a session each opens its own (so the count below does measure reuse) */
START_TEST(test_session_sends_the_next_post_on_the_same_connection)
{
    server_t *s = server_start(JSON_200("15"), "{\"active\":true}", 15);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    apr_size_t blen;
    int n;

    o.session = _i ? claims_fetch_session_create(tu_p) : NULL;
    server_then(s, JSON_200("16"), "{\"active\":false}", 16);
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/introspect"), &o, "token=first", 11, "Basic Zmlyc3Q=",
                                       "application/json", &res), CLAIMS_OK);
    ck_assert_str_eq(res.body, "{\"active\":true}");
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/introspect"), &o, "token=2", 7, NULL, NULL, &res),
                     CLAIMS_OK);
    ck_assert_str_eq(res.body, "{\"active\":false}");
    server_stop(s);
    ck_assert_int_eq(s->requests, 2);
    ck_assert_int_eq(s->accepted, _i ? 1 : 2);
    ck_assert_str_eq(request_header(&s->req[0], "Authorization", &n), "Basic Zmlyc3Q=");
    ck_assert_ptr_null(request_header(&s->req[1], "Authorization", &n));
    ck_assert_str_eq(request_header(&s->req[1], "Accept", &n), "*/*");
    ck_assert_str_eq(request_header(&s->req[1], "Content-Length", &n), "7");
    ck_assert_str_eq(request_body(&s->req[1], &blen), "token=2");
}
END_TEST

/* a GET after a POST on one session: a GET, on the same connection, with no body and none of
 * the POST's headers (its Authorization least of all) */
START_TEST(test_session_get_after_post_carries_nothing_of_the_post)
{
    server_t *s = server_start(JSON_200("15"), "{\"active\":true}", 15);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    apr_size_t blen;
    int n;

    o.session = claims_fetch_session_create(tu_p);
    server_then(s, JSON_200("11"), "{\"keys\":[]}", 11);
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/introspect"), &o, "token=secret", 12,
                                       "Basic c2VjcmV0", "application/token-introspection+jwt", &res), CLAIMS_OK);
    ck_assert_int_eq(claims_fetch(tu_p, server_url(s, "/jwks"), &o, &res), CLAIMS_OK);
    ck_assert_str_eq(res.body, "{\"keys\":[]}");
    server_stop(s);
    ck_assert_int_eq(s->accepted, 1);
    ck_assert_int_eq(strncmp(s->req[1].text, "GET /jwks HTTP/1.1\r\n", 20), 0);
    ck_assert_ptr_null(request_header(&s->req[1], "Authorization", &n));
    ck_assert_ptr_null(request_header(&s->req[1], "Content-Type", &n));
    ck_assert_ptr_null(request_header(&s->req[1], "Content-Length", &n));
    ck_assert_str_eq(request_header(&s->req[1], "Accept", &n), "*/*");
    request_body(&s->req[1], &blen);
    ck_assert_uint_eq(blen, 0);
    ck_assert_ptr_null(strstr(s->req[1].text, "secret"));
    ck_assert_ptr_null(strstr(s->req[1].text, "c2VjcmV0"));
}
END_TEST

/* a transfer that fails leaves the session usable: after an error status (the connection
 * stays), after a body past the cap (curl drops that connection and opens another), and the
 * next transfer has its own cap, not the failed one's */
static const struct {
    const char *head;
    claims_status_t st;
    int connections;
} failed_first[] = {
    {"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 8192\r\n\r\n", CLAIMS_ERR_IO, 1},
    {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8192\r\n\r\n", CLAIMS_ERR_TOO_LARGE, 2},
    {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n", CLAIMS_ERR_TOO_LARGE, 2},
};

START_TEST(test_session_is_usable_after_a_failed_transfer)
{
    char *big = apr_palloc(tu_p, 8192);
    server_t *s;
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;

    memset(big, ' ', 8192);
    big[0] = '{';
    big[8191] = '}';
    s = server_start(failed_first[_i].head, big, 8192);
    server_then(s, JSON_200("8192"), big, 8192);
    o.session = claims_fetch_session_create(tu_p);
    o.max_size = failed_first[_i].st == CLAIMS_ERR_TOO_LARGE ? 4096 : 0;
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res),
                     failed_first[_i].st);
    ck_assert_ptr_null(res.body);
    o.max_size = 0;
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=y", 7, NULL, NULL, &res), CLAIMS_OK);
    ck_assert_uint_eq(res.len, 8192);
    server_stop(s);
    ck_assert_int_eq(s->requests, 2);
    ck_assert_int_eq(s->accepted, failed_first[_i].connections);
}
END_TEST

/* POSTs to the same endpoint with the same headers reuse the handle's set-up and send only
 * their own body; another Authorization, Accept, URL or size cap sets the handle up again,
 * and a header value with a CR is refused even right after a POST that was set up */
START_TEST(test_session_posts_with_the_same_set_up_send_only_their_own_body)
{
    server_t *s = server_start(JSON_200("15"), "{\"active\":true}", 15);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    apr_size_t blen;
    int n;
    const char *url;

    o.session = claims_fetch_session_create(tu_p);
    for (int i = 0; i < 5; i++) {
        server_then(s, JSON_200("15"), "{\"active\":true}", 15);
    }
    server_run(s);
    url = server_url(s, "/introspect");
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=one", 9, "Basic b25l", "application/json", &res),
                     CLAIMS_OK);
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=second", 12, "Basic b25l", "application/json", &res),
                     CLAIMS_OK);
    ck_assert_str_eq(res.body, "{\"active\":true}");
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=3", 7, "Basic dGhyZWU=", "application/json", &res),
                     CLAIMS_OK);
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=4", 7, "Basic dGhyZWU=\r\nX-Evil: 1",
                                       "application/json", &res), CLAIMS_ERR_CONFIG);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/other"), &o, "token=5", 7, "Basic dGhyZWU=",
                                       "application/json", &res), CLAIMS_OK);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/other"), &o, "token=6", 7, "Basic dGhyZWU=", NULL,
                                       &res), CLAIMS_OK);
    o.max_size = 10;                   /* smaller than the answer: the new cap holds */
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/other"), &o, "token=7", 7, "Basic dGhyZWU=", NULL,
                                       &res), CLAIMS_ERR_TOO_LARGE);
    server_stop(s);
    ck_assert_int_eq(s->requests, 6);
    ck_assert_str_eq(request_body(&s->req[0], &blen), "token=one");
    ck_assert_str_eq(request_body(&s->req[1], &blen), "token=second");
    ck_assert_str_eq(request_header(&s->req[1], "Content-Length", &n), "12");
    ck_assert_str_eq(request_header(&s->req[1], "Authorization", &n), "Basic b25l");
    ck_assert_str_eq(request_header(&s->req[1], "Accept", &n), "application/json");
    ck_assert_str_eq(request_header(&s->req[2], "Authorization", &n), "Basic dGhyZWU=");
    ck_assert_str_eq(request_body(&s->req[2], &blen), "token=3");
    ck_assert_int_eq(strncmp(s->req[3].text, "POST /other HTTP/1.1\r\n", 22), 0);
    ck_assert_str_eq(request_body(&s->req[3], &blen), "token=5");
    ck_assert_str_eq(request_header(&s->req[4], "Accept", &n), "*/*");
    ck_assert_ptr_null(strstr(s->req[3].text, "X-Evil"));
    ck_assert_int_eq(s->accepted, 1);
}
END_TEST

/* a session parses a URL once, and the policy still holds for every other URL and setting: a
 * URL that passed with plain http allowed is refused on the same session without it, and a
 * refused URL is refused again (nothing is sent) */
START_TEST(test_session_checks_every_new_url_and_setting_against_the_policy)
{
    server_t *s = server_start(JSON_200("15"), "{\"active\":true}", 15);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    const char *url;

    o.session = claims_fetch_session_create(tu_p);
    server_then(s, JSON_200("15"), "{\"active\":true}", 15);
    server_run(s);
    url = server_url(s, "/introspect");
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=a", 7, NULL, NULL, &res), CLAIMS_OK);
    o.allow_http_loopback = 0;
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=b", 7, NULL, NULL, &res), CLAIMS_ERR_CONFIG);
    ck_assert_str_eq(res.error, "only https URLs are allowed");
    o.allow_http_loopback = 1;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(claims_fetch_post(tu_p, "http://127.attacker.example/introspect", &o, "token=c", 7, NULL,
                                           NULL, &res), CLAIMS_ERR_CONFIG);
        ck_assert_str_eq(res.error, "plain http is only allowed to a loopback address");
    }
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, "token=d", 7, NULL, NULL, &res), CLAIMS_OK);
    server_stop(s);
    ck_assert_int_eq(s->requests, 2);
}
END_TEST

/* every transfer takes its options anew: a proxy one transfer went through (here one that
 * refuses) is not the next one's, and a refused URL leaves the session as it was */
START_TEST(test_session_transfer_takes_only_its_own_options)
{
    server_t *s = server_start(JSON_200("2"), "{}", 2);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;

    o.session = claims_fetch_session_create(tu_p);
    o.proxy = "http://127.0.0.1:1";
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res), CLAIMS_ERR_IO);
    o.proxy = NULL;
    ck_assert_int_eq(claims_fetch_post(tu_p, "http://evil.example/", &o, "token=x", 7, NULL, NULL, &res),
                     CLAIMS_ERR_CONFIG);
    ck_assert_int_eq(claims_fetch_post(tu_p, server_url(s, "/"), &o, "token=x", 7, NULL, NULL, &res), CLAIMS_OK);
    server_stop(s);
    ck_assert_int_eq(s->accepted, 1);
    ck_assert_int_eq(strncmp(s->req[0].text, "POST / HTTP/1.1\r\n", 17), 0);
}
END_TEST

/* ------------------------------------------------------------------ an introspection round trip */

/* what claims_introspect_request builds is what the endpoint receives, byte for byte, and the
 * answer comes back with the media type the caller checks before reading it */
START_TEST(test_introspection_request_arrives_as_built_and_its_answer_is_read)
{
    static const char answer[] = "{\"active\":true,\"sub\":\"alice\",\"exp\":4102444800}";
    server_t *s = server_start("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                               "Content-Length: 46\r\n\r\n", answer, sizeof(answer) - 1);
    claims_fetch_opts_t o = loopback_opts();
    claims_fetch_result_t res;
    claims_introspect_client_t c;
    claims_introspect_request_t rq;
    claims_introspection_t out;
    const char *why, *url = server_url(s, "/introspect");
    apr_size_t blen;
    int n;

    memset(&c, 0, sizeof(c));
    c.client_id = "rs:1";
    c.method = CLAIMS_AUTH_CLIENT_SECRET_BASIC;
    c.secret = (const unsigned char *)"p w";
    c.secret_len = 3;
    ck_assert_int_eq(claims_introspect_request(tu_p, &c, url, "t&k=n\n", 6, 0, 1750000000.0, &rq), CLAIMS_OK);
    server_run(s);
    ck_assert_int_eq(claims_fetch_post(tu_p, url, &o, rq.body, rq.len, rq.authorization, rq.accept, &res), CLAIMS_OK);
    server_stop(s);
    ck_assert_str_eq(request_body(s->req, &blen), "token=t%26k%3Dn%0A&token_type_hint=access_token");
    ck_assert_str_eq(request_header(s->req, "Authorization", &n), "Basic cnMlM0ExOnArdw==");   /* rs%3A1:p+w */
    ck_assert_str_eq(request_header(s->req, "Accept", &n), "application/json");
    ck_assert_str_eq(res.media_type, CLAIMS_INTROSPECT_JSON);
    ck_assert_int_eq(claims_introspect_parse_json(tu_p, res.body, res.len, "https://issuer.a", &out, &why), CLAIMS_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "sub")), "alice");
}
END_TEST

Suite *fetch_suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *tc = tu_tcase("url policy", 0);
    tcase_add_loop_test(tc, test_https_url_is_accepted_whether_or_not_http_is_allowed, 0, TU_COUNT(https_urls));
    tcase_add_test(tc, test_plain_http_is_refused_unless_allowed);
    tcase_add_loop_test(tc, test_plain_http_is_allowed_only_to_a_literal_loopback_host, 0, TU_COUNT(loopback));
    tcase_add_test(tc, test_url_longer_than_the_limit_is_refused);
    tcase_add_loop_test(tc, test_url_that_is_not_an_absolute_https_url_is_refused, 0, TU_COUNT(not_fetchable));
    tcase_add_test(tc, test_null_url_is_refused);
    suite_add_tcase(s, tc);

    tc = tu_tcase("redaction", 0);
    tcase_add_loop_test(tc, test_redacted_url_has_no_userinfo_and_the_rest_as_written, 0, TU_COUNT(redacted));
    tcase_add_test(tc, test_redacting_null_gives_null);
    suite_add_tcase(s, tc);

    tc = tu_tcase("cache-control", 0);
    tcase_add_loop_test(tc, test_cache_control_gives_max_age_or_zero_for_no_cache, 0, TU_COUNT(cache_control));
    tcase_add_loop_test(tc, test_cache_control_no_store_wins_and_max_age_is_read_strictly, 0,
                        TU_COUNT(cache_control_order));
    tcase_add_test(tc, test_cache_control_absent_is_minus_one);
    tcase_add_test(tc, test_cache_control_huge_max_age_saturates);
    suite_add_tcase(s, tc);

    tc = tu_tcase("discovery", 0);
    tcase_add_test(tc, test_discovery_gives_the_jwks_uri_of_the_exact_issuer);
    tcase_add_loop_test(tc, test_discovery_refuses_metadata_of_another_issuer, 0, TU_COUNT(other_issuer));
    tcase_add_loop_test(tc, test_discovery_refuses_a_jwks_uri_the_url_policy_refuses, 0, TU_COUNT(bad_jwks_uri));
    tcase_add_test(tc, test_discovery_refuses_metadata_without_a_jwks_uri);
    tcase_add_loop_test(tc, test_discovery_refuses_a_document_that_is_not_one_json_object, 0,
                        TU_COUNT(not_metadata));
    suite_add_tcase(s, tc);

    tc = tu_tcase("post", 20);
    tcase_add_test(tc, test_post_sends_body_authorization_and_accept_exactly);
    tcase_add_test(tc, test_post_without_authorization_or_accept_sends_neither);
    tcase_add_test(tc, test_post_reports_the_media_type_without_parameters);
    tcase_add_test(tc, test_post_answer_without_content_type_has_no_media_type);
    tcase_add_loop_test(tc, test_post_answer_other_than_200_fails_with_its_status, 0, TU_COUNT(not_200));
    tcase_add_test(tc, test_post_answer_larger_than_the_cap_fails_cleanly);
    tcase_add_test(tc, test_post_slow_answer_times_out);
    tcase_add_test(tc, test_post_refuses_plain_http_unless_allowed);
    tcase_add_loop_test(tc, test_post_refuses_a_url_the_policy_refuses, 0, TU_COUNT(not_fetchable));
    tcase_add_test(tc, test_post_refuses_a_header_value_with_a_control_character);
    tcase_add_test(tc, test_post_refuses_a_missing_body_with_a_length);
    tcase_add_test(tc, test_get_counts_only_a_json_answer);
    tcase_add_test(tc, test_introspection_request_arrives_as_built_and_its_answer_is_read);
    suite_add_tcase(s, tc);

    tc = tu_tcase("session", 20);
    tcase_add_loop_test(tc, test_session_sends_the_next_post_on_the_same_connection, 0, 2);
    tcase_add_test(tc, test_session_get_after_post_carries_nothing_of_the_post);
    tcase_add_loop_test(tc, test_session_is_usable_after_a_failed_transfer, 0, TU_COUNT(failed_first));
    tcase_add_test(tc, test_session_transfer_takes_only_its_own_options);
    tcase_add_test(tc, test_session_checks_every_new_url_and_setting_against_the_policy);
    tcase_add_test(tc, test_session_posts_with_the_same_set_up_send_only_their_own_body);
    suite_add_tcase(s, tc);
    return s;
}
