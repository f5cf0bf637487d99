/*
 * claims_json_text.c - compact JSON text of a jansson value; see claims_json.h.
 *
 * jansson's json_dumps writes through a callback and a string buffer, a few bytes at a time:
 * about 50 instructions per byte of an introspection answer's claims, the largest part of a
 * new opaque token's own cost after the HMAC and the encryption of its record. This writer
 * copies runs of plain bytes and gives the same text.
 */
#include "claims_json.h"

#include <stdlib.h>
#include <string.h>

typedef struct out_t {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
    int failed;
} out_t;

static void grow(out_t *o, apr_size_t n)
{
    char *nb;
    apr_size_t cap;
    cap = o->cap * 2 > o->len + n + 1 ? o->cap * 2 : o->len + n + 1;
    nb = apr_palloc(o->p, cap);
    if (o->len > 0) {
        memcpy(nb, o->buf, o->len);
    }
    o->buf = nb;
    o->cap = cap;
}

/* Room for n more bytes and the final NUL. */
static inline void reserve(out_t *o, apr_size_t n)
{
    if (o->len + n + 1 > o->cap) {
        grow(o, n);
    }
}

static inline void put(out_t *o, const char *s, apr_size_t n)
{
    reserve(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void put_char(out_t *o, char c)
{
    reserve(o, 1);
    o->buf[o->len++] = c;
}

/* A string as jansson writes it without flags: '"', '\\' and control characters escaped (the
 * short forms where JSON has them, else \u00XX in upper-case hex), everything else as it is.
 * Room for the plain case is made once; an escape makes more. */
static void put_string(out_t *o, const char *s, apr_size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t run = 0;
    reserve(o, n + 2);
    o->buf[o->len++] = '"';
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        put(o, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 0xf];
            put(o, u, 6);
            continue;
        }
        put(o, esc, 2);
    }
    put(o, s + run, n - run);
    put_char(o, '"');
}

/* An integer in decimal, as "%" JSON_INTEGER_FORMAT writes it (without snprintf's cost). */
static void put_integer(out_t *o, json_int_t v)
{
    char digits[24];
    apr_size_t n = 0;
    /* the magnitude as unsigned, so that the most negative value has one too */
    unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0);
    if (v < 0) {
        digits[sizeof(digits) - 1 - n++] = '-';
    }
    put(o, digits + sizeof(digits) - n, n);
}

/* A real as jansson writes it (its own precision and locale handling). */
static void put_real(out_t *o, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        o->failed = 1;
        return;
    }
    put(o, s, strlen(s));
    free(s);
}

static void put_value(out_t *o, const json_t *j, int depth)
{
    if (depth > CLAIMS_JSON_MAX_DEPTH) {
        o->failed = 1;                 /* as jansson refuses to dump deeper values */
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *name;
        json_t *v;
        int first = 1;
        put_char(o, '{');
        json_object_foreach((json_t *)j, name, v) {
            if (!first) {
                put_char(o, ',');
            }
            first = 0;
            put_string(o, name, strlen(name));
            put_char(o, ':');
            put_value(o, v, depth + 1);
        }
        put_char(o, '}');
        break;
    }
    case JSON_ARRAY:
        put_char(o, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i > 0) {
                put_char(o, ',');
            }
            put_value(o, json_array_get(j, i), depth + 1);
        }
        put_char(o, ']');
        break;
    case JSON_STRING:
        put_string(o, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        put_integer(o, json_integer_value(j));
        break;
    case JSON_REAL:
        put_real(o, j);
        break;
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    default:
        put(o, "null", 4);
        break;
    }
}

char *claims_json_text(apr_pool_t *p, const json_t *j)
{
    out_t o;
    if (j == NULL) {
        return NULL;
    }
    memset(&o, 0, sizeof(o));
    o.p = p;
    reserve(&o, 255);
    put_value(&o, j, 1);
    if (o.failed) {
        return NULL;
    }
    o.buf[o.len] = '\0';
    return o.buf;
}
