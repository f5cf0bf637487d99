/*
 * claims_fetch.c - identity provider documents over HTTPS; see claims_fetch.h.
 */
#include "claims_fetch.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT apr_time_from_sec(5)
#define DEFAULT_MAX_SIZE (256 * 1024)
#define CACHE_CONTROL_MAX_DELTA APR_INT64_C(1000000000)  /* seconds: about 31 years */

/* The POST a session's handle stays set up for between transfers (see transfer): the same
 * endpoint asked again and again with the same client authentication needs only its body and
 * the sinks of the answer set again. */
typedef struct post_setup_t {
    apr_pool_t *pool;                  /* this record and its copies; destroyed for another set-up */
    const char *url, *authorization, *accept, *ca_file, *ca_path, *proxy;
    apr_interval_time_t timeout;
    apr_size_t max_size;
    int allow_http;
} post_setup_t;

struct claims_fetch_session_t {
    CURL *curl;                        /* NULL until the first transfer */
    apr_pool_t *pool;
    char *checked;                     /* the last URL that passed claims_fetch_check_url, */
    int checked_http;                  /*   and with which allow_http_loopback */
    post_setup_t *posting;             /* what the handle is set up for, or NULL: reset */
    struct curl_slist *headers;        /* the set-up's header list (the handle points to it) */
};

static apr_status_t session_cleanup(void *data)
{
    claims_fetch_session_t *s = data;
    curl_easy_cleanup(s->curl);        /* closes its connections; NULL is fine */
    s->curl = NULL;
    curl_slist_free_all(s->headers);   /* s->posting's pool, a subpool, is gone already */
    s->headers = NULL;
    s->posting = NULL;
    return APR_SUCCESS;
}

claims_fetch_session_t *claims_fetch_session_create(apr_pool_t *p)
{
    claims_fetch_session_t *s = apr_pcalloc(p, sizeof(*s));
    s->pool = p;
    apr_pool_cleanup_register(p, s, session_cleanup, apr_pool_cleanup_null);
    return s;
}

/* The URL policy (claims_fetch_check_url) for a transfer: a session remembers the last URL
 * that passed it (an endpoint is asked again and again), so that only a new URL is parsed;
 * the text is compared whole, and with the same allow_http_loopback. NULL or the reason. */
static const char *check_url_for(apr_pool_t *p, claims_fetch_session_t *s, const char *url, int allow_http)
{
    const char *why;
    if (s != NULL && s->checked != NULL && s->checked_http == allow_http && strcmp(s->checked, url) == 0) {
        return NULL;
    }
    why = claims_fetch_check_url(p, url, allow_http);
    if (s != NULL && why == NULL) {
        if (s->checked == NULL) {
            s->checked = apr_palloc(s->pool, CLAIMS_MAX_URL + 1);  /* the longest URL that passes */
        }
        apr_cpystrn(s->checked, url, CLAIMS_MAX_URL + 1);
        s->checked_http = allow_http;
    }
    return why;
}

/* The handle of a transfer: the session's (made on first use; reset to curl's defaults if
 * it was left set up for a POST), or a fresh one without. */
static CURL *take_handle(claims_fetch_session_t *s)
{
    if (s == NULL) {
        return curl_easy_init();
    }
    if (s->curl == NULL) {
        s->curl = curl_easy_init();
    }
    if (s->curl != NULL && s->posting != NULL) {
        curl_easy_reset(s->curl);      /* first: the handle points to the set-up's headers */
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        apr_pool_destroy(s->posting->pool);
        s->posting = NULL;
    }
    return s->curl;
}

/* After a transfer: a session's handle is reset to curl's defaults (every option, and with
 * them our pointers to the caller's stack and pool, goes; its connection, DNS, TLS session
 * and CA caches stay); a fresh one is cleaned up. */
static void give_back_handle(claims_fetch_session_t *s, CURL *c)
{
    if (s != NULL) {
        curl_easy_reset(c);
    }
    else {
        curl_easy_cleanup(c);
    }
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether the session's handle is set up for exactly this POST but its body. */
static int set_up_for(const claims_fetch_session_t *s, const char *url, const claims_fetch_opts_t *opts,
                      const char *authorization, const char *accept)
{
    const post_setup_t *u = s != NULL ? s->posting : NULL;
    return u != NULL && strcmp(u->url, url) == 0 && same_text(u->authorization, authorization)
           && same_text(u->accept, accept) && u->timeout == opts->timeout && u->max_size == opts->max_size
           && u->allow_http == opts->allow_http_loopback && same_text(u->ca_file, opts->ca_file)
           && same_text(u->ca_path, opts->ca_path) && same_text(u->proxy, opts->proxy);
}

/* Remembers that the session's handle is set up for this POST, its header list included. */
static void keep_set_up(claims_fetch_session_t *s, const char *url, const claims_fetch_opts_t *opts,
                        const char *authorization, const char *accept, struct curl_slist *headers)
{
    post_setup_t *u;
    apr_pool_t *sp;
    if (apr_pool_create(&sp, s->pool) != APR_SUCCESS) {
        curl_easy_reset(s->curl);
        curl_slist_free_all(headers);
        return;
    }
    u = apr_pcalloc(sp, sizeof(*u));
    u->pool = sp;
    s->headers = headers;
    u->url = apr_pstrdup(sp, url);
    u->authorization = authorization != NULL ? apr_pstrdup(sp, authorization) : NULL;
    u->accept = accept != NULL ? apr_pstrdup(sp, accept) : NULL;
    u->ca_file = opts->ca_file != NULL ? apr_pstrdup(sp, opts->ca_file) : NULL;
    u->ca_path = opts->ca_path != NULL ? apr_pstrdup(sp, opts->ca_path) : NULL;
    u->proxy = opts->proxy != NULL ? apr_pstrdup(sp, opts->proxy) : NULL;
    u->timeout = opts->timeout;
    u->max_size = opts->max_size;
    u->allow_http = opts->allow_http_loopback;
    s->posting = u;
}

/* The handle no longer points to the caller's stack and pool (the sinks, the error buffer,
 * the body); the rest of its set-up stays. */
static void unhook(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
}

typedef struct sink_t {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap, max;
    int overflow;
    apr_int64_t max_age;
    const char *content_type;
} sink_t;

/* The host as curl parsed it (so as curl will connect to it): an IPv4 dotted quad in
 * 127.0.0.0/8, the IPv6 literal ::1 in any spelling ("[::1]", "[0:0:0:0:0:0:0:1]"), or the
 * name localhost, which curl resolves to loopback without asking DNS. Read with inet_pton,
 * which takes nothing but the full dotted quad and plain IPv6 text: never a prefix match, which
 * "127.attacker.example" would pass. */
static int is_loopback_host(const char *host)
{
    unsigned char addr[16];
    char inner[INET6_ADDRSTRLEN];
    apr_size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0) {
        return 1;
    }
    if (inet_pton(AF_INET, host, addr) == 1) {
        return addr[0] == 127;
    }
    if (n < 3 || n - 2 >= sizeof(inner) || host[0] != '[' || host[n - 1] != ']') {
        return 0;
    }
    memcpy(inner, host + 1, n - 2);
    inner[n - 2] = '\0';
    return inet_pton(AF_INET6, inner, addr) == 1 && memcmp(addr, &in6addr_loopback, sizeof(addr)) == 0;
}

const char *claims_fetch_check_url(apr_pool_t *p, const char *url, int allow_http_loopback)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL;
    const char *why = NULL;

    if (url == NULL || *url == '\0') {
        return "empty URL";
    }
    if (strlen(url) > CLAIMS_MAX_URL) {
        return apr_psprintf(p, "URL longer than %d characters", CLAIMS_MAX_URL);
    }
    u = curl_url();
    if (u == NULL) {
        return "out of memory";
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        why = "not an absolute URL";
    }
    else if (strcasecmp(scheme, "https") == 0) {
        why = NULL;
    }
    else if (strcasecmp(scheme, "http") == 0) {
        if (!allow_http_loopback) {
            why = "only https URLs are allowed";
        }
        else if (!is_loopback_host(host)) {
            why = "plain http is only allowed to a loopback address";
        }
    }
    else {
        why = "only https URLs are allowed";
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return why != NULL ? apr_pstrdup(p, why) : NULL;
}

#define UNPARSABLE_URL "(unparsable URL)"

/* url without the text between its authority's start and its first '@', or NULL without one */
static char *cut_userinfo(apr_pool_t *p, const char *url)
{
    const char *colon = strchr(url, ':'), *a, *end, *at;
    if (colon == NULL) {
        return NULL;
    }
    a = colon + 1;
    while (*a == '/') {
        a++;
    }
    end = a + strcspn(a, "/?#");
    at = memchr(a, '@', (apr_size_t)(end - a));
    return at != NULL ? apr_pstrcat(p, apr_pstrmemdup(p, url, (apr_size_t)(a - url)), at + 1, NULL) : NULL;
}

static CURLU *parse_any_scheme(const char *url)
{
    CURLU *u = curl_url();
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(u);
        u = NULL;
    }
    return u;
}

static int has_part(CURLU *u, CURLUPart part)
{
    char *s = NULL;
    int has = curl_url_get(u, part, &s, 0) == CURLUE_OK;
    curl_free(s);
    return has;
}

static int has_userinfo(CURLU *u)
{
    return has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) || has_part(u, CURLUPART_OPTIONS);
}

/* 1 when curl writes u, without its userinfo, exactly as it writes v */
static int same_without_userinfo(CURLU *u, CURLU *v)
{
    char *a = NULL, *b = NULL;
    int same;
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
    same = curl_url_get(u, CURLUPART_URL, &a, 0) == CURLUE_OK && curl_url_get(v, CURLUPART_URL, &b, 0) == CURLUE_OK
        && strcmp(a, b) == 0;
    curl_free(a);
    curl_free(b);
    return same;
}

/* The text is cut by hand, to keep the rest as written (curl would normalise it), and the cut
 * is only shown when curl reads it as the very URL it read before, minus the userinfo: wherever
 * the two readings could differ, nothing is shown rather than a password. */
const char *claims_fetch_redact_url(apr_pool_t *p, const char *url)
{
    CURLU *u, *v = NULL;
    const char *out = UNPARSABLE_URL;
    char *cut;

    if (url == NULL) {
        return NULL;
    }
    if ((u = parse_any_scheme(url)) == NULL) {
        return UNPARSABLE_URL;
    }
    if (!has_userinfo(u)) {
        out = apr_pstrdup(p, url);
    }
    else if ((cut = cut_userinfo(p, url)) != NULL && (v = parse_any_scheme(cut)) != NULL && !has_userinfo(v)
             && same_without_userinfo(u, v)) {
        out = cut;
    }
    curl_url_cleanup(v);
    curl_url_cleanup(u);
    return out;
}

/* delta-seconds: digits only, saturating at CACHE_CONTROL_MAX_DELTA ("the greatest positive
 * integer it can conveniently represent", RFC 9111 section 1.2.2); -1 when not that */
static apr_int64_t delta_seconds(const char *s, apr_size_t len)
{
    apr_int64_t v = 0;
    if (len == 0) {
        return -1;
    }
    for (apr_size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
        if (v > CACHE_CONTROL_MAX_DELTA) {
            v = CACHE_CONTROL_MAX_DELTA;  /* the rest are still checked to be digits */
        }
    }
    return v;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One Cache-Control directive: its name, its argument (NULL when it has none) and whether it
 * stands alone up to the next ',' (ok). */
typedef struct cc_directive_t {
    const char *name, *arg;
    apr_size_t nlen, alen;
    int ok;
} cc_directive_t;

/* The argument after '=' at s, a quoted-string or a token; returns where it ends. An
 * unterminated quote is not ok and ends the header. */
static const char *cc_argument(const char *s, cc_directive_t *d)
{
    if (*s == '=' && s[1] == '"') {
        s += 2;
        d->arg = s;
        while (*s != '\0' && *s != '"') {
            s += (*s == '\\' && s[1] != '\0') ? 2 : 1;
        }
        d->alen = (apr_size_t)(s - d->arg);
        d->ok = *s == '"';
        if (d->ok) {
            s++;
        }
    }
    else if (*s == '=') {
        d->arg = ++s;
        while (*s != '\0' && *s != ',' && !is_blank(*s)) {
            s++;
        }
        d->alen = (apr_size_t)(s - d->arg);
    }
    return s;
}

/* The directive at s (after any ',' and blanks); returns where the next one may start. */
static const char *cc_directive(const char *s, cc_directive_t *d)
{
    memset(d, 0, sizeof(*d));
    d->ok = 1;
    while (*s == ',' || is_blank(*s)) {
        s++;
    }
    d->name = s;
    while (*s != '\0' && *s != '=' && *s != ',' && !is_blank(*s)) {
        s++;
    }
    d->nlen = (apr_size_t)(s - d->name);
    s = cc_argument(s, d);
    while (is_blank(*s)) {
        s++;
    }
    if (*s != '\0' && *s != ',') {
        d->ok = 0;                     /* something after the directive: not one directive */
        while (*s != '\0' && *s != ',') {
            s++;
        }
    }
    return s;
}

/* Cache-Control = #( token [ "=" ( token / quoted-string ) ] ) (RFC 9111 section 5.2): one
 * directive at a time, so that a quoted value never passes for directives of its own. */
apr_int64_t claims_cache_control_max_age(const char *value)
{
    const char *s = value;
    apr_int64_t max_age = -1;
    int seen = 0;

    while (s != NULL && *s != '\0') {
        cc_directive_t d;
        s = cc_directive(s, &d);
        if (d.nlen == 8 && (strncasecmp(d.name, "no-store", 8) == 0 || strncasecmp(d.name, "no-cache", 8) == 0)) {
            return 0;                  /* wherever it stands, with or without an argument */
        }
        if (d.nlen == 7 && strncasecmp(d.name, "max-age", 7) == 0 && !seen) {
            seen = 1;                  /* the first max-age counts (RFC 9111 section 4.2.1) */
            max_age = d.ok && d.arg != NULL ? delta_seconds(d.arg, d.alen) : -1;
        }
    }
    return max_age;
}

static size_t on_body(char *data, size_t size, size_t n, void *baton)
{
    sink_t *k = baton;
    apr_size_t len = size * n;
    if (k->len + len > k->max) {
        k->overflow = 1;
        return 0;  /* aborts the transfer */
    }
    if (k->len + len + 1 > k->cap) {
        apr_size_t cap = k->cap * 2 > k->len + len + 1 ? k->cap * 2 : k->len + len + 1;
        char *nb = apr_palloc(k->p, cap);
        if (k->len > 0) {
            memcpy(nb, k->buf, k->len);
        }
        k->buf = nb;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, data, len);
    k->len += len;
    k->buf[k->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *baton)
{
    sink_t *k = baton;
    apr_size_t len = size * n;
    char *line = apr_pstrmemdup(k->p, data, len);
    char *colon = strchr(line, ':');
    if (colon != NULL) {
        char *v = colon + 1;
        *colon = '\0';
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        for (char *e = v + strlen(v); e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ');) {
            *--e = '\0';
        }
        if (strcasecmp(line, "Cache-Control") == 0) {
            k->max_age = claims_cache_control_max_age(v);
        }
        else if (strcasecmp(line, "Content-Type") == 0) {
            k->content_type = v;
        }
    }
    return len;
}

/* The media type of a Content-Type value: type/subtype, lower-cased, parameters and blanks cut
 * ("Application/JSON; charset=utf-8" gives "application/json"); NULL for NULL or an empty one. */
static const char *media_type(apr_pool_t *p, const char *ct)
{
    apr_size_t n;
    char *mt;
    if (ct == NULL) {
        return NULL;
    }
    n = strcspn(ct, ";");
    while (n > 0 && is_blank(ct[n - 1])) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    mt = apr_pstrmemdup(p, ct, n);
    for (char *c = mt; *c != '\0'; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
    return mt;
}

static int json_media_type(const char *mt)
{
    apr_size_t n = mt != NULL ? strlen(mt) : 0;
    return (n == 16 && strcmp(mt, "application/json") == 0)
        || (n >= 17 && strcmp(mt + n - 5, "+json") == 0 && strncmp(mt, "application/", 12) == 0);
}

/* What a POST sends beyond a GET. */
typedef struct post_t {
    const char *body;
    apr_size_t len;
    const char *authorization;         /* NULL: no Authorization header */
    const char *accept;                /* NULL: no Accept header */
} post_t;

/* A header value curl can send as one line: no control character but tab (no CR or LF that
 * would start another header). */
static int header_value_ok(const char *v)
{
    for (const unsigned char *c = (const unsigned char *)v; *c != '\0'; c++) {
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The request headers of a POST, or NULL when curl cannot make them. Every header of ours is
 * set explicitly; "Expect:" stops curl from waiting for a 100 Continue on larger bodies. */
static struct curl_slist *post_headers(apr_pool_t *p, const post_t *post)
{
    struct curl_slist *h = NULL, *n;
    const char *lines[4];
    int count = 0;

    lines[count++] = "Content-Type: application/x-www-form-urlencoded";
    lines[count++] = "Expect:";
    if (post->accept != NULL) {
        lines[count++] = apr_pstrcat(p, "Accept: ", post->accept, NULL);
    }
    if (post->authorization != NULL) {
        lines[count++] = apr_pstrcat(p, "Authorization: ", post->authorization, NULL);
    }
    for (int i = 0; i < count; i++) {
        if ((n = curl_slist_append(h, lines[i])) == NULL) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = n;
    }
    return h;
}

/* The policy of claims_fetch.h on a new or reset handle: protocols, TLS verification, no redirects,
 * timeouts, the size cap, the proxy (never the environment's), and where the answer goes. */
static void set_policy(CURL *c, const char *url, const claims_fetch_opts_t *opts, sink_t *k, char *errbuf)
{
    apr_interval_time_t timeout = opts->timeout > 0 ? opts->timeout : DEFAULT_TIMEOUT;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, opts->allow_http_loopback ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(timeout));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)apr_time_as_msec(timeout));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k->max);
    curl_easy_setopt(c, CURLOPT_PROXY, opts->proxy != NULL ? opts->proxy : "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mod_claims/" CLAIMS_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (opts->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file);
    }
    if (opts->ca_path != NULL) {
        curl_easy_setopt(c, CURLOPT_CAPATH, opts->ca_path);
    }
}

/* The verdict on a finished transfer: the cap, curl's own errors, then the status (only 200). */
static claims_status_t verdict(apr_pool_t *p, const sink_t *k, CURLcode cc, const char *errbuf,
                               claims_fetch_result_t *res)
{
    res->max_age = k->max_age;
    res->media_type = media_type(p, k->content_type);
    if (k->overflow || cc == CURLE_FILESIZE_EXCEEDED) {
        res->error = apr_psprintf(p, "document larger than %" APR_SIZE_T_FMT " bytes", k->max);
        return CLAIMS_ERR_TOO_LARGE;
    }
    if (cc != CURLE_OK) {
        res->error = apr_psprintf(p, "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
        return CLAIMS_ERR_IO;
    }
    if (res->status != 200) {
        res->error = apr_psprintf(p, "HTTP status %ld", res->status);
        return CLAIMS_ERR_IO;
    }
    res->body = k->buf != NULL ? k->buf : apr_pstrdup(p, "");
    res->len = k->len;
    return CLAIMS_OK;
}

/* One GET (post NULL) or POST under the policy of claims_fetch.h. */
/* One GET (post NULL) or POST under the policy of claims_fetch.h. On a session, a POST leaves
 * the handle set up (policy, URL, headers), and the next POST to the same URL with the same
 * headers and options sets only its body and the answer's sinks: the set-up of a POST (reset,
 * policy, header list, header checks) costs more than the module's own part of an answer. */
static claims_status_t transfer(apr_pool_t *p, const char *url, const claims_fetch_opts_t *opts,
                                const post_t *post, claims_fetch_result_t *res)
{
    claims_fetch_session_t *s = opts->session;
    sink_t k;
    CURL *c;
    CURLcode cc;
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    const char *why;
    int ready = post != NULL && set_up_for(s, url, opts, post->authorization, post->accept);

    memset(res, 0, sizeof(*res));
    res->max_age = -1;
    if (!ready && (why = check_url_for(p, s, url, opts->allow_http_loopback)) != NULL) {
        res->error = why;
        return CLAIMS_ERR_CONFIG;
    }
    if (!ready && post != NULL && ((post->authorization != NULL && !header_value_ok(post->authorization))
                                   || (post->accept != NULL && !header_value_ok(post->accept)))) {
        res->error = "a header value holds a control character";
        return CLAIMS_ERR_CONFIG;
    }
    memset(&k, 0, sizeof(k));
    k.p = p;
    k.max = opts->max_size > 0 ? opts->max_size : DEFAULT_MAX_SIZE;
    k.max_age = -1;
    errbuf[0] = '\0';
    if (ready) {
        c = s->curl;
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &k);
    }
    else {
        if (post != NULL && (headers = post_headers(p, post)) == NULL) {
            res->error = "cannot create a curl handle";
            return CLAIMS_ERR_INTERNAL;
        }
        if ((c = take_handle(s)) == NULL) {
            curl_slist_free_all(headers);
            res->error = "cannot create a curl handle";
            return CLAIMS_ERR_INTERNAL;
        }
        set_policy(c, url, opts, &k, errbuf);
        if (post != NULL) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        }
    }
    if (post != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post->len);
    }
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    if (s != NULL && post != NULL) {
        unhook(c);
        if (!ready) {
            keep_set_up(s, url, opts, post->authorization, post->accept, headers);
        }
    }
    else {
        give_back_handle(s, c);        /* before the headers go: the handle points to them */
        curl_slist_free_all(headers);
    }
    return verdict(p, &k, cc, errbuf, res);
}

claims_status_t claims_fetch(apr_pool_t *p, const char *url, const claims_fetch_opts_t *opts,
                             claims_fetch_result_t *res)
{
    claims_status_t st = transfer(p, url, opts, NULL, res);
    if (st == CLAIMS_OK && !json_media_type(res->media_type)) {
        res->error = apr_psprintf(p, "media type \"%s\" is not JSON",
                                  res->media_type != NULL ? claims_log_escape(p, res->media_type,
                                                                              strlen(res->media_type), 64) : "");
        res->body = NULL;
        res->len = 0;
        return CLAIMS_ERR_IO;
    }
    return st;
}

claims_status_t claims_fetch_post(apr_pool_t *p, const char *url, const claims_fetch_opts_t *opts,
                                  const char *body, apr_size_t len, const char *authorization,
                                  const char *accept, claims_fetch_result_t *res)
{
    post_t post = {body != NULL ? body : "", len, authorization, accept};

    if (body == NULL && len > 0) {
        memset(res, 0, sizeof(*res));
        res->max_age = -1;
        res->error = "no body";
        return CLAIMS_ERR_CONFIG;
    }
    return transfer(p, url, opts, &post, res);  /* which checks the header values */
}

claims_status_t claims_discovery_jwks_uri(apr_pool_t *p, const char *body, apr_size_t len,
                                          const char *issuer, int allow_http_loopback,
                                          const char **jwks_uri, const char **err)
{
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *iss, *uri;
    claims_status_t st = CLAIMS_OK;
    const char *why;

    if (doc == NULL || !json_is_object(doc)) {
        *err = "metadata is not a JSON object";
        json_decref(doc);
        return CLAIMS_ERR_CONFIG;
    }
    iss = json_object_get(doc, "issuer");
    uri = json_object_get(doc, "jwks_uri");
    if (!json_is_string(iss) || json_string_length(iss) != strlen(issuer)
        || strcmp(json_string_value(iss), issuer) != 0) {
        *err = "metadata \"issuer\" does not equal the configured issuer";
        st = CLAIMS_ERR_ISSUER;
    }
    else if (!json_is_string(uri)) {
        *err = "metadata has no \"jwks_uri\"";
        st = CLAIMS_ERR_CONFIG;
    }
    else if ((why = claims_fetch_check_url(p, json_string_value(uri), allow_http_loopback)) != NULL) {
        *err = apr_psprintf(p, "metadata \"jwks_uri\" refused: %s", why);
        st = CLAIMS_ERR_CONFIG;
    }
    else {
        *jwks_uri = apr_pstrdup(p, json_string_value(uri));
    }
    json_decref(doc);
    return st;
}
