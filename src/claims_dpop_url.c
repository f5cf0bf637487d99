/*
 * claims_dpop_url.c - the normal form in which a DPoP proof's htu is compared with the URL of
 * the request (RFC 9449 section 4.3, RFC 3986 sections 6.2.2, 6.2.3 and 5.2.4); see
 * claims_dpop.h.
 *
 * Strict on purpose: what an absolute http(s) URL may hold is spelled out character by
 * character, and anything else refuses the htu rather than being guessed at. The normal form
 * never grows by more than one byte (an empty path becomes "/").
 */
#include "claims_dpop.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ RFC 3986 characters */

static int is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int is_unreserved(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* pchar without pct-encoded: unreserved, sub-delims, ':' and '@' */
static int is_pchar(int c)
{
    return is_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@", c) != NULL);
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Every byte a URI character: printable ASCII minus what RFC 3986 never allows. */
static int uri_chars(const char *s, apr_size_t len)
{
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ parts */

typedef struct url_t {
    const char *s;                   /* the input */
    apr_size_t len;
    apr_size_t i;                    /* position in s */
    char *out;                       /* the normal form being written */
    apr_size_t o;
    int default_port;
} url_t;

static void put(url_t *u, const char *s, apr_size_t n)
{
    memcpy(u->out + u->o, s, n);
    u->o += n;
}

static int read_scheme(url_t *u)
{
    if (u->len >= 7 && strncasecmp(u->s, "http://", 7) == 0) {
        u->default_port = 80;
        u->i = 7;
        put(u, "http://", 7);
        return 0;
    }
    if (u->len >= 8 && strncasecmp(u->s, "https://", 8) == 0) {
        u->default_port = 443;
        u->i = 8;
        put(u, "https://", 8);
        return 0;
    }
    return -1;
}

/* An IPv6 literal "[...]" of hex digits, ':' and '.', with at least one ':' (end: past the
 * authority). No zone id ('%'), no IPvFuture ('v'). */
static int read_ip_literal(url_t *u, apr_size_t end)
{
    apr_size_t j = u->i + 1;
    int colons = 0;

    while (j < end && u->s[j] != ']') {
        char c = u->s[j];
        if (c == ':') {
            colons++;
        }
        else if (hex_value(c) < 0 && c != '.') {
            return -1;
        }
        j++;
    }
    if (j == end || colons == 0) {
        return -1;
    }
    for (apr_size_t k = u->i; k <= j; k++) {
        u->out[u->o++] = lower(u->s[k]);
    }
    u->i = j + 1;
    return 0;
}

/* A port after ':' up to end: empty (RFC 3986 6.2.3) or 1..65535, dropped when the default. */
static int read_port(url_t *u, apr_size_t end)
{
    apr_size_t digits = end - u->i;
    long port = 0;

    if (digits == 0) {
        return 0;
    }
    if (digits > 5) {
        return -1;
    }
    for (apr_size_t k = u->i; k < end; k++) {
        if (!is_digit(u->s[k])) {
            return -1;
        }
        port = port * 10 + (u->s[k] - '0');
    }
    if (port == 0 || port > 65535) {
        return -1;
    }
    if (port != u->default_port) {
        char buf[8];
        int n = apr_snprintf(buf, sizeof(buf), ":%ld", port);
        put(u, buf, (apr_size_t)n);
    }
    u->i = end;
    return 0;
}

/* host [":" port] up to the first '/', '?' or '#'; no userinfo. */
static int read_authority(url_t *u)
{
    apr_size_t end = u->i, start = u->o;

    while (end < u->len && u->s[end] != '/' && u->s[end] != '?' && u->s[end] != '#') {
        if (u->s[end] == '@') {
            return -1;  /* userinfo */
        }
        end++;
    }
    if (u->i < end && u->s[u->i] == '[') {
        if (read_ip_literal(u, end) != 0) {
            return -1;
        }
    }
    else {
        while (u->i < end && u->s[u->i] != ':') {
            if (!is_unreserved(u->s[u->i])) {
                return -1;  /* '%', sub-delims, brackets: not in a host name we compare */
            }
            u->out[u->o++] = lower(u->s[u->i++]);
        }
    }
    if (u->o == start) {
        return -1;  /* no host */
    }
    if (u->i < end) {
        if (u->s[u->i] != ':') {
            return -1;  /* "[::1]x" */
        }
        u->i++;
        return read_port(u, end);
    }
    return 0;
}

/* The path up to '?' or '#' into buf, escapes checked and normalised (unreserved decoded,
 * others uppercase). Returns its length, or -1. */
static long read_path(url_t *u, char *buf)
{
    apr_size_t n = 0;

    while (u->i < u->len && u->s[u->i] != '?' && u->s[u->i] != '#') {
        char c = u->s[u->i];
        if (c == '%') {
            int hi = u->i + 2 < u->len ? hex_value(u->s[u->i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(u->s[u->i + 2]) : -1;
            int v;
            if (lo < 0) {
                return -1;
            }
            v = hi * 16 + lo;
            if (is_unreserved(v)) {
                buf[n++] = (char)v;
            }
            else {
                buf[n++] = '%';
                buf[n++] = "0123456789ABCDEF"[hi];
                buf[n++] = "0123456789ABCDEF"[lo];
            }
            u->i += 3;
            continue;
        }
        if (!is_pchar(c) && c != '/') {
            return -1;
        }
        buf[n++] = c;
        u->i++;
    }
    return (long)n;
}

/* RFC 3986 section 5.2.4 on an absolute path in[0..n) (in[0] == '/'), written to u->out. */
static void remove_dot_segments(url_t *u, const char *in, apr_size_t n)
{
    apr_size_t i = 0, base = u->o;

    while (i < n) {
        apr_size_t j = i + 1, seg;
        while (j < n && in[j] != '/') {
            j++;
        }
        seg = j - i - 1;
        if (seg == 2 && in[i + 1] == '.' && in[i + 2] == '.') {
            while (u->o > base && u->out[u->o - 1] != '/') {
                u->o--;
            }
            if (u->o > base) {
                u->o--;
            }
        }
        else if (!(seg == 1 && in[i + 1] == '.')) {
            put(u, in + i, j - i);
            i = j;
            continue;
        }
        if (j == n) {
            u->out[u->o++] = '/';  /* a trailing "." or ".." leaves the directory */
        }
        i = j;
    }
    if (u->o == base) {
        u->out[u->o++] = '/';
    }
}

/* Query and fragment: only checked, then dropped. */
static int check_rest(const url_t *u)
{
    int fragment = 0;
    for (apr_size_t k = u->i; k < u->len; k++) {
        char c = u->s[k];
        if (c == '#') {
            if (fragment++) {
                return -1;
            }
        }
        else if (c == '%') {
            if (k + 2 >= u->len || hex_value(u->s[k + 1]) < 0 || hex_value(u->s[k + 2]) < 0) {
                return -1;
            }
            k += 2;
        }
        else if (!is_pchar(c) && c != '/' && c != '?') {
            return -1;
        }
    }
    return 0;
}

claims_status_t claims_dpop_htu_normalize(apr_pool_t *p, const char *url, apr_size_t len, char **out)
{
    url_t u;
    char *path;
    long plen;

    if (url == NULL || len > CLAIMS_DPOP_MAX_URL || !uri_chars(url, len)) {
        return CLAIMS_ERR_REQUEST;
    }
    memset(&u, 0, sizeof(u));
    u.s = url;
    u.len = len;
    u.out = apr_palloc(p, len + 2);
    path = apr_palloc(p, len + 1);
    if (read_scheme(&u) != 0 || read_authority(&u) != 0) {
        return CLAIMS_ERR_REQUEST;
    }
    plen = read_path(&u, path);
    if (plen < 0 || check_rest(&u) != 0) {
        return CLAIMS_ERR_REQUEST;
    }
    if (plen == 0) {
        u.out[u.o++] = '/';
    }
    else {
        remove_dot_segments(&u, path, (apr_size_t)plen);
    }
    u.out[u.o] = '\0';
    *out = u.out;
    return CLAIMS_OK;
}

int claims_dpop_htu_match(apr_pool_t *p, const char *proof_htu, const char *expected)
{
    char *a, *b;
    if (proof_htu == NULL || expected == NULL
        || claims_dpop_htu_normalize(p, proof_htu, strlen(proof_htu), &a) != CLAIMS_OK
        || claims_dpop_htu_normalize(p, expected, strlen(expected), &b) != CLAIMS_OK) {
        return 0;
    }
    return strcmp(a, b) == 0;
}

claims_status_t claims_dpop_htu(apr_pool_t *p, const char *scheme, const char *host, int port, const char *path,
                                char **out)
{
    int bracket;
    const char *port_text = "";

    if (scheme == NULL || host == NULL || *host == '\0' || port > 65535
        || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        return CLAIMS_ERR_REQUEST;
    }
    bracket = host[0] != '[' && strchr(host, ':') != NULL;
    if (path == NULL || *path == '\0' || *path == '?' || *path == '#') {
        path = "/";
    }
    if (path[0] != '/') {
        return CLAIMS_ERR_REQUEST;  /* "*" (OPTIONS *) or a relative path */
    }
    path = apr_pstrndup(p, path, strcspn(path, "?#"));
    if (port > 0) {
        port_text = apr_psprintf(p, ":%d", port);
    }
    {
        const char *url = apr_pstrcat(p, scheme, "://", bracket ? "[" : "", host, bracket ? "]" : "", port_text,
                                      path, NULL);
        return claims_dpop_htu_normalize(p, url, strlen(url), out);
    }
}
