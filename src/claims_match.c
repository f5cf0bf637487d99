/*
 * claims_match.c - Require semantics; see claims_match.h.
 */
#include "claims_match.h"

#include <apr_strings.h>
#include <string.h>

claims_expected_t *claims_expected_parse(apr_pool_t *p, const char *text)
{
    claims_expected_t *e = apr_pcalloc(p, sizeof(*e));
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

    if (j != NULL && (json_is_boolean(j) || json_is_null(j) || json_is_number(j))) {
        e->literal = j;
        claims_json_pool(p, j);
        return e;
    }
    if (j != NULL && json_is_string(j) && text[0] == '"') {
        e->len = json_string_length(j);
        e->str = apr_pstrmemdup(p, json_string_value(j), e->len);
        json_decref(j);
        return e;
    }
    json_decref(j);
    e->str = apr_pstrdup(p, text);
    e->len = strlen(text);
    return e;
}

/* Numbers are equal by exact value: two integers as integers (a double holds only 53 bits,
 * so 2^53 + 1 would equal 2^53), an integer and a real only when the real is that integer. */
static int numbers_equal(const json_t *a, const json_t *b)
{
    const json_t *i, *r;
    double d;
    if (json_is_integer(a) && json_is_integer(b)) {
        return json_integer_value(a) == json_integer_value(b);
    }
    if (json_is_real(a) && json_is_real(b)) {
        return json_real_value(a) == json_real_value(b);
    }
    i = json_is_integer(a) ? a : b;
    r = json_is_integer(a) ? b : a;
    d = json_real_value(r);
    /* range check first: converting an out-of-range double is undefined behaviour */
    return d >= -9223372036854775808.0 && d < 9223372036854775808.0
        && (json_int_t)d == json_integer_value(i) && d == (double)json_integer_value(i);
}

static int scalar_matches(const json_t *v, const claims_expected_t *e)
{
    if (e->literal == NULL) {
        return json_is_string(v) && json_string_length(v) == e->len
            && memcmp(json_string_value(v), e->str, e->len) == 0;
    }
    if (json_is_number(e->literal)) {
        return json_is_number(v) && numbers_equal(v, e->literal);
    }
    return json_equal((json_t *)v, e->literal);
}

int claims_match(const json_t *v, const claims_expected_t *e)
{
    if (v == NULL) {
        return 0;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) {
            if (scalar_matches(el, e)) {
                return 1;
            }
        }
        return 0;
    }
    return scalar_matches(v, e);
}

/* scope in a space-delimited list (RFC 6749 section 3.3: %x20 separates tokens) */
static int in_scope_string(const char *list, apr_size_t list_len, const char *scope, apr_size_t len)
{
    apr_size_t i = 0;
    while (i < list_len) {
        apr_size_t start, end;
        while (i < list_len && list[i] == ' ') {
            i++;
        }
        start = i;
        while (i < list_len && list[i] != ' ') {
            i++;
        }
        end = i;
        if (end - start == len && len > 0 && memcmp(list + start, scope, len) == 0) {
            return 1;
        }
    }
    return 0;
}

int claims_has_scope(const json_t *claims, const char *scope, apr_size_t len)
{
    json_t *s = json_object_get(claims, "scope");
    json_t *scp = json_object_get(claims, "scp");
    if (json_is_string(s) && in_scope_string(json_string_value(s), json_string_length(s), scope, len)) {
        return 1;
    }
    if (json_is_string(scp)) {
        return in_scope_string(json_string_value(scp), json_string_length(scp), scope, len);
    }
    if (json_is_array(scp)) {
        size_t i;
        json_t *el;
        json_array_foreach(scp, i, el) {
            if (json_is_string(el) && json_string_length(el) == len
                && memcmp(json_string_value(el), scope, len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}
