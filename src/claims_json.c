/*
 * claims_json.c - the JSON reader for token headers and claims sets; see claims_json.h.
 */
#include "claims_json.h"

#include <limits.h>
#include <string.h>

typedef struct reader_t {
    const unsigned char *buf, *s, *end;
    apr_pool_t *pool;
    unsigned char *scratch;   /* len bytes, lazily: an escaped string is decoded at its own
                               * offset, which its decoded form never outgrows, so strings
                               * still in use (member names) are never overwritten */
    int depth;                /* containers around the value being read */
} reader_t;

static json_t *read_value(reader_t *r);

static void skip_ws(reader_t *r)
{
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\n' || *r->s == '\r' || *r->s == '\t')) {
        r->s++;
    }
}

static int is_digit(const reader_t *r)
{
    return r->s < r->end && *r->s >= '0' && *r->s <= '9';
}

/* Four hex digits at s (bounds checked by the caller), or -1. */
static long hex4(const unsigned char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        }
        else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        }
        else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        }
        else {
            return -1;
        }
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence of two to four bytes at s, or 0. */
static int utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned long cp;
    int n;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2, cp = s[0] & 0x1f;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3, cp = s[0] & 0x0f;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4, cp = s[0] & 0x07;
    }
    else {
        return 0;
    }
    if (end - s < n) {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

static unsigned char *put_utf8(unsigned char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    }
    else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | (cp >> 6));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | (cp >> 12));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    else {
        *o++ = (unsigned char)(0xf0 | (cp >> 18));
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* The escape after a backslash at r->s (pointing at the escape letter), written to *o. */
static int read_escape(reader_t *r, unsigned char **o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e;
    long cp, lo;
    if (r->s >= r->end) {
        return 0;
    }
    if (*r->s != 'u') {
        e = memchr(from, *r->s, sizeof(from) - 1);
        if (e == NULL) {
            return 0;
        }
        *(*o)++ = (unsigned char)to[e - from];
        r->s++;
        return 1;
    }
    if (r->end - r->s < 5 || (cp = hex4(r->s + 1)) < 0) {
        return 0;
    }
    r->s += 5;
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        return 0;                                    /* a low surrogate first */
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (r->end - r->s < 6 || r->s[0] != '\\' || r->s[1] != 'u' || (lo = hex4(r->s + 2)) < 0
            || lo < 0xdc00 || lo > 0xdfff) {
            return 0;                                /* a high surrogate alone */
        }
        r->s += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0) {
        return 0;
    }
    *o = put_utf8(*o, (unsigned long)cp);
    return 1;
}

/* A string after its opening quote: its bytes in *out (into the input or the scratch buffer). */
static int read_string(reader_t *r, const char **out, apr_size_t *len)
{
    const unsigned char *start = r->s;
    unsigned char *o, *first;
    /* the common case: printable ASCII without escapes, used in place */
    while (r->s < r->end && *r->s >= 0x20 && *r->s < 0x80 && *r->s != '"' && *r->s != '\\') {
        r->s++;
    }
    if (r->s < r->end && *r->s == '"') {
        *out = (const char *)start;
        *len = (apr_size_t)(r->s - start);
        r->s++;
        return 1;
    }
    if (r->scratch == NULL) {
        r->scratch = apr_palloc(r->pool, (apr_size_t)(r->end - r->buf));
    }
    first = o = r->scratch + (start - r->buf);
    memcpy(o, start, (apr_size_t)(r->s - start));
    o += r->s - start;
    while (r->s < r->end) {
        unsigned char c = *r->s;
        if (c == '"') {
            r->s++;
            *out = (const char *)first;
            *len = (apr_size_t)(o - first);
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            r->s++;
            if (!read_escape(r, &o)) {
                return 0;
            }
        }
        else if (c < 0x80) {
            *o++ = c;
            r->s++;
        }
        else {
            int n = utf8_len(r->s, r->end);
            if (n == 0) {
                return 0;
            }
            memcpy(o, r->s, (apr_size_t)n);
            o += n;
            r->s += n;
        }
    }
    return 0;
}

/* A run of digits; 0 when there is none. */
static int skip_digits(reader_t *r)
{
    if (!is_digit(r)) {
        return 0;
    }
    while (is_digit(r)) {
        r->s++;
    }
    return 1;
}

/* The integer part of a number: "0" alone, or digits without a leading zero. */
static int scan_int_part(reader_t *r)
{
    if (!is_digit(r)) {
        return 0;
    }
    if (*r->s == '0') {
        r->s++;
        return !is_digit(r);                        /* leading zero */
    }
    return skip_digits(r);
}

/* The optional fraction and exponent; *real set when either is there. 0 when malformed. */
static int scan_frac_exp(reader_t *r, int *real)
{
    if (r->s < r->end && *r->s == '.') {
        r->s++;
        if (!skip_digits(r)) {
            return 0;
        }
        *real = 1;
    }
    if (r->s < r->end && (*r->s == 'e' || *r->s == 'E')) {
        r->s++;
        if (r->s < r->end && (*r->s == '+' || *r->s == '-')) {
            r->s++;
        }
        if (!skip_digits(r)) {
            return 0;
        }
        *real = 1;
    }
    return 1;
}

/* The digits [d, end) of an integer, negated when neg; NULL outside the 64-bit range. */
static json_t *integer_of(const unsigned char *d, const unsigned char *end, int neg)
{
    unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; d < end; d++) {
        unsigned digit = (unsigned)(*d - '0');
        if (v > (limit - digit) / 10) {
            return NULL;                            /* outside the 64-bit range */
        }
        v = v * 10 + digit;
    }
    if (neg) {
        return json_integer(v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)v);
    }
    return json_integer((json_int_t)v);
}

static json_t *read_number(reader_t *r)
{
    const unsigned char *start = r->s;
    int neg = 0, real = 0;
    if (*r->s == '-') {
        neg = 1;
        r->s++;
    }
    if (!scan_int_part(r) || !scan_frac_exp(r, &real)) {
        return NULL;
    }
    if (real) {
        /* rare in claims: jansson's own conversion, so the value is the one it would give */
        return json_loadb((const char *)start, (size_t)(r->s - start), JSON_DECODE_ANY, NULL);
    }
    return integer_of(start + neg, r->s, neg);
}

static json_t *read_literal(reader_t *r, const char *word, apr_size_t n, json_t *value)
{
    if ((apr_size_t)(r->end - r->s) < n || memcmp(r->s, word, n) != 0) {
        return NULL;
    }
    r->s += n;
    return value;
}

/* Consumes close when it comes next (blanks skipped): an empty container, or the end of one. */
static int at_close(reader_t *r, char close)
{
    skip_ws(r);
    if (r->s < r->end && *r->s == close) {
        r->s++;
        return 1;
    }
    return 0;
}

/* After a member or an element: 1 when another follows (',' consumed), 0 when the container
 * ended (close consumed), -1 otherwise. */
static int next_item(reader_t *r, char close)
{
    if (at_close(r, close)) {
        return 0;
    }
    if (r->s < r->end && *r->s == ',') {
        r->s++;
        return 1;
    }
    return -1;
}

static json_t *read_object(reader_t *r)
{
    json_t *obj = json_object();
    int more = 1;
    if (obj == NULL || at_close(r, '}')) {
        return obj;
    }
    do {
        const char *key;
        apr_size_t klen;
        json_t *v;
        skip_ws(r);
        if (r->s >= r->end || *r->s != '"') {
            break;
        }
        r->s++;
        if (!read_string(r, &key, &klen) || json_object_getn(obj, key, klen) != NULL) {
            break;                                  /* bad name, or a duplicate */
        }
        skip_ws(r);
        if (r->s >= r->end || *r->s != ':') {
            break;
        }
        r->s++;
        if ((v = read_value(r)) == NULL || json_object_setn_new_nocheck(obj, key, klen, v) != 0) {
            break;
        }
        if ((more = next_item(r, '}')) == 0) {
            return obj;
        }
    } while (more > 0);
    json_decref(obj);
    return NULL;
}

static json_t *read_array(reader_t *r)
{
    json_t *arr = json_array();
    int more = 1;
    if (arr == NULL || at_close(r, ']')) {
        return arr;
    }
    do {
        json_t *v = read_value(r);
        if (v == NULL || json_array_append_new(arr, v) != 0) {
            break;
        }
        if ((more = next_item(r, ']')) == 0) {
            return arr;
        }
    } while (more > 0);
    json_decref(arr);
    return NULL;
}

static json_t *read_value(reader_t *r)
{
    json_t *v;
    skip_ws(r);
    if (r->s >= r->end || r->depth >= CLAIMS_JSON_MAX_DEPTH) {
        return NULL;                                /* this value's level is depth + 1 */
    }
    switch (*r->s) {
    case '{':
    case '[':
        r->depth++;
        v = *r->s++ == '{' ? read_object(r) : read_array(r);
        r->depth--;
        return v;
    case '"': {
        const char *s;
        apr_size_t len;
        r->s++;
        return read_string(r, &s, &len) ? json_stringn_nocheck(s, len) : NULL;
    }
    case 't':
        return read_literal(r, "true", 4, json_true());
    case 'f':
        return read_literal(r, "false", 5, json_false());
    case 'n':
        return read_literal(r, "null", 4, json_null());
    default:
        return *r->s == '-' || (*r->s >= '0' && *r->s <= '9') ? read_number(r) : NULL;
    }
}

json_t *claims_json_object(apr_pool_t *scratch, const unsigned char *buf, apr_size_t len)
{
    reader_t r = { buf, buf, buf + len, scratch, NULL, 0 };
    json_t *v;
    skip_ws(&r);
    if (r.s >= r.end || *r.s != '{') {
        return NULL;
    }
    v = read_value(&r);
    if (v == NULL) {
        return NULL;
    }
    skip_ws(&r);
    if (r.s != r.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}
