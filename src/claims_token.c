/*
 * claims_token.c - bearer token extraction; see claims_token.h.
 */
#include "claims_token.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

/* 1 for the characters of RFC 6750 b64token (without '='): one table look-up a byte, since
 * every request's token goes through here */
static const unsigned char b64token_table[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1,
};

static int b64token_char(char c)
{
    return b64token_table[(unsigned char)c];
}

int claims_token_is_b64token(const char *s, apr_size_t len)
{
    apr_size_t i = 0;
    while (i < len && b64token_char(s[i])) {
        i++;
    }
    if (i == 0) {
        return 0;
    }
    while (i < len && s[i] == '=') {
        i++;
    }
    return i == len;
}

/* Whether s[0..n) has exactly two dots, the shape of a compact JWS: three scans of the C
 * library's word-at-a-time memchr. */
static int jws_shaped(const char *s, apr_size_t n)
{
    const char *end = s + n, *d1 = memchr(s, '.', n), *d2;
    d2 = d1 != NULL ? memchr(d1 + 1, '.', (apr_size_t)(end - d1 - 1)) : NULL;
    return d2 != NULL && memchr(d2 + 1, '.', (apr_size_t)(end - d2 - 1)) == NULL;
}

/* The credentials after a scheme name of n bytes at s: one b64token (RFC 6750 2.1 for Bearer,
 * RFC 9449 7.1 for DPoP: the same token68 syntax). */
static claims_status_t credentials(const char *s, apr_size_t n, const char **token, apr_size_t *len)
{
    const char *space;
    s += n;
    /* "Bearer" 1*SP b64token; a tab is not SP */
    while (*s == ' ') {
        s++;
    }
    /* the token is everything up to the first space; only spaces may follow it */
    n = strlen(s);
    space = memchr(s, ' ', n);
    if (space != NULL) {
        const char *rest = space;
        while (*rest == ' ') {
            rest++;
        }
        if (*rest != '\0') {
            return CLAIMS_ERR_REQUEST;  /* two tokens (CL-03) */
        }
        n = (apr_size_t)(space - s);
    }
    /* a JWS-shaped token is left to claims_verify_token (claims_token.h): no look at each
     * character here, so that a cache hit costs none */
    if (n == 0 || (!jws_shaped(s, n) && !claims_token_is_b64token(s, n))) {
        return CLAIMS_ERR_REQUEST;  /* empty, or not a b64token (CL-03) */
    }
    *token = s;
    *len = n;
    return CLAIMS_OK;
}

static int is_scheme(const char *s, const char *name, apr_size_t n)
{
    return strncasecmp(s, name, n) == 0 && (s[n] == '\0' || s[n] == ' ' || s[n] == '\t');
}

claims_status_t claims_token_from_authorization_scheme(const char *value, int dpop, const char **token,
                                                       apr_size_t *len, claims_scheme_t *scheme)
{
    const char *s = value;
    if (value == NULL) {
        return CLAIMS_NO_TOKEN;
    }
    while (*s == ' ') {
        s++;
    }
    if (is_scheme(s, "Bearer", 6)) {
        *scheme = CLAIMS_SCHEME_BEARER;
        return credentials(s, 6, token, len);
    }
    if (dpop && is_scheme(s, "DPoP", 4)) {
        *scheme = CLAIMS_SCHEME_DPOP;
        return credentials(s, 4, token, len);
    }
    return CLAIMS_NO_TOKEN;  /* another scheme (Basic, Digest, "Bearerx") */
}

claims_status_t claims_token_from_authorization(const char *value, const char **token, apr_size_t *len)
{
    claims_scheme_t scheme;
    return claims_token_from_authorization_scheme(value, 0, token, len, &scheme);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next cookie pair of [*s, end) without surrounding blanks: 1 (*pair, *plen), 0 at the end. */
static int next_cookie(const char **s, const char *end, const char **pair, apr_size_t *plen)
{
    while (*s < end) {
        const char *p = *s, *e = p;
        while (e < end && *e != ';' && *e != ',') {
            e++;
        }
        *s = e < end ? e + 1 : end;
        while (p < e && is_blank(*p)) {
            p++;
        }
        while (e > p && is_blank(e[-1])) {
            e--;
        }
        if (e > p) {
            *pair = p;
            *plen = (apr_size_t)(e - p);
            return 1;
        }
    }
    return 0;
}

/* 1 when the pair (no blanks around it) is the cookie name: the bytes before its first '=',
 * without the blanks in front of that '=', equal name exactly; *value, *vlen: what follows
 * the '=' and the blanks after it. */
static int cookie_named(const char *pair, apr_size_t plen, const char *name, apr_size_t nlen,
                        const char **value, apr_size_t *vlen)
{
    const char *eq = memchr(pair, '=', plen), *e = eq, *v, *end = pair + plen;
    if (eq == NULL) {
        return 0;
    }
    while (e > pair && is_blank(e[-1])) {
        e--;
    }
    if ((apr_size_t)(e - pair) != nlen || memcmp(pair, name, nlen) != 0) {
        return 0;
    }
    v = eq + 1;
    while (v < end && is_blank(*v)) {
        v++;
    }
    *value = v;
    *vlen = (apr_size_t)(end - v);
    return 1;
}

int claims_cookie_find(const char *header, const char *name, const char **value, apr_size_t *len)
{
    apr_size_t nlen = strlen(name), plen, vlen;
    const char *s = header, *end, *pair, *v;
    int found = 0;
    if (header == NULL) {
        return 0;
    }
    end = header + strlen(header);
    while (next_cookie(&s, end, &pair, &plen)) {
        if (cookie_named(pair, plen, name, nlen, &v, &vlen)) {
            if (found) {
                return -1;
            }
            *value = v;
            *len = vlen;
            found = 1;
        }
    }
    return found;
}

char *claims_cookie_without(apr_pool_t *p, const char *header, const char *name)
{
    apr_size_t nlen = strlen(name), plen, vlen, n = 0;
    const char *s = header, *end, *pair, *v;
    char *out, *o;
    if (header == NULL) {
        return NULL;
    }
    end = header + strlen(header);
    o = out = apr_palloc(p, (apr_size_t)(end - header) * 2 + 1);   /* "," may become "; " */
    while (next_cookie(&s, end, &pair, &plen)) {
        if (cookie_named(pair, plen, name, nlen, &v, &vlen)) {
            continue;
        }
        if (n++ > 0) {
            *o++ = ';';
            *o++ = ' ';
        }
        memcpy(o, pair, plen);
        o += plen;
    }
    *o = '\0';
    return n > 0 ? out : NULL;
}

/* 1 when the form pair s[0..plen) is name=...: names compared exactly, no blanks skipped. */
static int is_named(const char *pair, apr_size_t plen, const char *name, apr_size_t nlen)
{
    return plen > nlen && memcmp(pair, name, nlen) == 0 && pair[nlen] == '=';
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* '+' and %XX decoded into a new string from p, or NULL for a bad escape or a %00. */
static char *form_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    for (apr_size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        }
        else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                return NULL;                        /* cut short */
            }
            hi = hex_value(s[i + 1]);
            lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (s[i] == '\0') {
            return NULL;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int claims_form_param(apr_pool_t *p, const char *s, apr_size_t len, const char *name, const char **value)
{
    apr_size_t nlen = strlen(name);
    const char *end = s != NULL ? s + len : NULL;
    int found = 0;
    while (s != NULL && s < end) {
        const char *amp = memchr(s, '&', (apr_size_t)(end - s));
        apr_size_t plen = amp != NULL ? (apr_size_t)(amp - s) : (apr_size_t)(end - s);
        if (is_named(s, plen, name, nlen)) {
            char *v = form_decode(p, s + nlen + 1, plen - nlen - 1);
            if (found || v == NULL) {
                return -1;
            }
            *value = v;
            found = 1;
        }
        s = amp != NULL ? amp + 1 : end;
    }
    return found;
}
