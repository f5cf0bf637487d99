/*
 * test_json.c - the reader of token headers and claims sets (claims_json.h): it must accept and
 * build exactly what jansson's json_loadb(JSON_REJECT_DUPLICATES) does for objects, nesting
 * limit included (SECURITY.md CL-12 duplicates, CL-18 depth).
 * jansson is the oracle of every case here; tests/fuzz/fuzz_json.c compares the two on
 * generated inputs.
 */
#include "test_util.h"

#include "claims_json.h"

#include <apr_strings.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The reader on an exact-size heap copy (so a read past the end is an ASan/valgrind error). */
static json_t *read_exact(const char *text, apr_size_t len)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    json_t *j;
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);
    j = claims_json_object(tu_p, copy, len);
    free(copy);
    return j;
}

static json_t *oracle(const char *text, apr_size_t len)
{
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Same verdict and same tree as jansson; returns the verdict. */
static int agrees(const char *text, apr_size_t len)
{
    json_t *ours = read_exact(text, len), *ref = oracle(text, len);
    int ok = ours != NULL;
    ck_assert_msg((ours != NULL) == (ref != NULL), "[%.*s]: reader %s, jansson %s", (int)len, text,
                  ours ? "accepts" : "refuses", ref ? "accepts" : "refuses");
    if (ours != NULL) {
        ck_assert_msg(json_equal(ours, ref), "[%.*s]: trees differ", (int)len, text);
    }
    json_decref(ours);
    json_decref(ref);
    return ok;
}

static const struct {
    const char *text;
    int accept;
} cases[] = {
    /* shapes */
    { "{}", 1 },
    { " \t\r\n{ \t\r\n} \t\r\n", 1 },
    { "{\"a\":1}", 1 },
    { "{\"a\":[1,2,{\"b\":[]}],\"c\":{\"d\":{}}}", 1 },
    { "{\"a\" : [ 1 , \"x\" , true , false , null ] }", 1 },
    { "", 0 },
    { "   ", 0 },
    { "[]", 0 },
    { "\"s\"", 0 },
    { "1", 0 },
    { "null", 0 },
    { "{", 0 },
    { "}", 0 },
    { "{}}", 0 },
    { "{}{}", 0 },
    { "{} x", 0 },
    { "{\"a\":1,}", 0 },
    { "{,\"a\":1}", 0 },
    { "{\"a\":1 \"b\":2}", 0 },
    { "{\"a\"1}", 0 },
    { "{\"a\":}", 0 },
    { "{a:1}", 0 },
    { "{'a':1}", 0 },
    { "{1:1}", 0 },
    { "{\"a\":[1,]}", 0 },
    { "{\"a\":[,1]}", 0 },
    { "{\"a\":[1 2]}", 0 },
    { "{\"a\":[}", 0 },
    { "{\"a\":1}\f", 0 },
    { "\xef\xbb\xbf{}", 0 },                        /* a BOM */
    { "{\"a\":1}/*c*/", 0 },
    /* duplicates (CL-12) */
    { "{\"a\":1,\"a\":1}", 0 },
    { "{\"a\":1,\"\\u0061\":2}", 0 },
    { "{\"a\":{\"b\":1},\"b\":{\"b\":1}}", 1 },
    { "{\"\":1}", 1 },
    { "{\"\":1,\"\":2}", 0 },
    /* literals */
    { "{\"a\":true,\"b\":false,\"c\":null}", 1 },
    { "{\"a\":tru}", 0 },
    { "{\"a\":truex}", 0 },
    { "{\"a\":True}", 0 },
    { "{\"a\":nul}", 0 },
    { "{\"a\":NaN}", 0 },
    { "{\"a\":Infinity}", 0 },
    { "{\"a\":undefined}", 0 },
    /* numbers */
    { "{\"a\":0,\"b\":-0,\"c\":7,\"d\":-12,\"e\":1796003600}", 1 },
    { "{\"a\":9223372036854775807}", 1 },
    { "{\"a\":-9223372036854775808}", 1 },
    { "{\"a\":9223372036854775808}", 0 },
    { "{\"a\":-9223372036854775809}", 0 },
    { "{\"a\":99999999999999999999999}", 0 },
    { "{\"a\":1.5,\"b\":-0.0,\"c\":1e3,\"d\":1E-3,\"e\":1e+3,\"f\":2.5e10}", 1 },
    { "{\"a\":1e400}", 0 },
    { "{\"a\":-1e400}", 0 },
    { "{\"a\":1e-400}", 1 },
    { "{\"a\":123456789012345678901234567890.5}", 1 },
    { "{\"a\":01}", 0 },
    { "{\"a\":-01}", 0 },
    { "{\"a\":00}", 0 },
    { "{\"a\":+1}", 0 },
    { "{\"a\":.5}", 0 },
    { "{\"a\":1.}", 0 },
    { "{\"a\":1.e5}", 0 },
    { "{\"a\":1e}", 0 },
    { "{\"a\":1e+}", 0 },
    { "{\"a\":-}", 0 },
    { "{\"a\":--1}", 0 },
    { "{\"a\":0x10}", 0 },
    { "{\"a\":1a}", 0 },
    { "{\"a\":1 2}", 0 },
    /* strings and escapes */
    { "{\"a\":\"\"}", 1 },
    { "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1 },
    { "{\"a\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}", 1 },
    { "{\"\\u00e9\\n\":\"\\u0041\"}", 1 },
    { "{\"a\":\"\\u0000\"}", 0 },
    { "{\"\\u0000\":1}", 0 },
    { "{\"a\":\"\\ud83d\"}", 0 },
    { "{\"a\":\"\\ud83dx\"}", 0 },
    { "{\"a\":\"\\ud83d\\n\"}", 0 },
    { "{\"a\":\"\\ud83d\\u0041\"}", 0 },
    { "{\"a\":\"\\ud83d\\ud83d\"}", 0 },
    { "{\"a\":\"\\ude00\"}", 0 },
    { "{\"a\":\"\\ude00\\ud83d\"}", 0 },
    { "{\"a\":\"\\u12\"}", 0 },
    { "{\"a\":\"\\u12g4\"}", 0 },
    { "{\"a\":\"\\x41\"}", 0 },
    { "{\"a\":\"\\a\"}", 0 },
    { "{\"a\":\"\\'\"}", 0 },
    { "{\"a\":\"\\\"}", 0 },
    { "{\"a\":\"abc}", 0 },
    { "{\"a\":\"tab\there\"}", 0 },
    { "{\"a\":\"nl\nhere\"}", 0 },
    { "{\"a\":\"del\x7fok\"}", 1 },
    { "{\"a\":'x'}", 0 },
    /* UTF-8 */
    { "{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}", 1 },
    { "{\"\xc3\xa9\":1}", 1 },
    { "{\"a\":\"\x80\"}", 0 },
    { "{\"a\":\"\xbf\"}", 0 },
    { "{\"a\":\"\xc0\xaf\"}", 0 },                  /* overlong '/' */
    { "{\"a\":\"\xc1\xbf\"}", 0 },
    { "{\"a\":\"\xe0\x80\xaf\"}", 0 },
    { "{\"a\":\"\xe0\x9f\xbf\"}", 0 },
    { "{\"a\":\"\xf0\x80\x80\xaf\"}", 0 },
    { "{\"a\":\"\xf0\x8f\xbf\xbf\"}", 0 },
    { "{\"a\":\"\xed\xa0\x80\"}", 0 },              /* an encoded surrogate */
    { "{\"a\":\"\xed\xbf\xbf\"}", 0 },
    { "{\"a\":\"\xf4\x90\x80\x80\"}", 0 },          /* above U+10FFFF */
    { "{\"a\":\"\xf5\x80\x80\x80\"}", 0 },
    { "{\"a\":\"\xff\"}", 0 },
    { "{\"a\":\"\xc3\"}", 0 },
    { "{\"a\":\"\xe2\x82\"}", 0 },
    { "{\"a\":\"\xc3\x28\"}", 0 },
    { "{\"a\":1,\xc3\xa9:1}", 0 },
};

START_TEST(test_agrees_with_jansson)
{
    const char *text = cases[_i].text;
    int accepted = agrees(text, strlen(text));
    ck_assert_msg(accepted == cases[_i].accept, "[%s]: expected %s", text, cases[_i].accept ? "accept" : "refuse");
}
END_TEST

/* jansson drops a NUL byte right after a number or literal ({"a":1\0} is an object to it);
 * the reader refuses a NUL byte wherever it is */
START_TEST(test_nul_byte_anywhere_is_refused)
{
    static const char text[] = "{\"a\":\"x\",\"n\":1,\"t\":true,\"r\":2.5}";
    for (apr_size_t at = 0; at <= sizeof(text) - 1; at++) {
        char buf[sizeof(text) + 1];
        memcpy(buf, text, at);
        buf[at] = '\0';
        memcpy(buf + at + 1, text + at, sizeof(text) - 1 - at);
        ck_assert_msg(read_exact(buf, sizeof(text)) == NULL, "NUL at %d accepted", (int)at);
    }
}
END_TEST

START_TEST(test_every_truncation_is_refused_without_reading_past_the_end)
{
    static const char text[] = "{\"s\":\"caf\xc3\xa9\\u00e9\\ud83d\\ude00\",\"n\":-12.5e3,\"i\":42,"
                               "\"a\":[true,false,null,{\"k\":\"v\"}]}";
    json_t *full = read_exact(text, sizeof(text) - 1);
    ck_assert_ptr_nonnull(full);
    json_decref(full);
    for (apr_size_t len = 0; len < sizeof(text) - 1; len++) {
        ck_assert_msg(read_exact(text, len) == NULL, "prefix of %d bytes accepted", (int)len);
    }
}
END_TEST

START_TEST(test_values_and_member_order_are_kept)
{
    static const char text[] = "{\"z\":\"\\u00e9t\\u00e9\",\"\\u0041\\n\":\"k\",\"m\":9223372036854775807,"
                               "\"n\":-9223372036854775808,\"r\":0.25,\"a\":[\"\\ud83d\\ude00\"]}";
    json_t *j = read_exact(text, sizeof(text) - 1);
    const char *expect[] = { "z", "A\n", "m", "n", "r", "a" };
    const char *key;
    json_t *v;
    int i = 0;
    ck_assert_ptr_nonnull(j);
    json_object_foreach(j, key, v) {
        ck_assert_int_lt(i, TU_COUNT(expect));
        ck_assert_str_eq(key, expect[i]);
        i++;
    }
    ck_assert_int_eq(i, TU_COUNT(expect));
    ck_assert_str_eq(json_string_value(json_object_get(j, "z")), "\xc3\xa9t\xc3\xa9");
    ck_assert_str_eq(json_string_value(json_object_get(j, "A\n")), "k");
    ck_assert(json_integer_value(json_object_get(j, "m")) == LLONG_MAX);
    ck_assert(json_integer_value(json_object_get(j, "n")) == LLONG_MIN);
    ck_assert(json_is_real(json_object_get(j, "r")) && json_real_value(json_object_get(j, "r")) == 0.25);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "a"), 0)), "\xf0\x9f\x98\x80");
    json_decref(j);
}
END_TEST

/* an escaped member name is decoded into scratch memory: escaped values read after it must not
 * overwrite it */
START_TEST(test_escaped_names_survive_escaped_values)
{
    static const char text[] = "{\"\\u006b\\u0065\\u0079\":{\"\\u0069\\u006e\":\"\\u0076\\u0061\\u006c\"},"
                               "\"k2\\t\":\"v2\\t\"}";
    json_t *j = read_exact(text, sizeof(text) - 1);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "key"), "in")), "val");
    ck_assert_str_eq(json_string_value(json_object_get(j, "k2\t")), "v2\t");
    json_decref(j);
}
END_TEST

/* depth levels: the top-level object, then depth - 1 objects ("a":{...}) or arrays ("a":[[...]]) */
static char *nested(int depth, char open, char close, const char *inner)
{
    char *s = apr_palloc(tu_p, (apr_size_t)depth * 8 + strlen(inner) + 16);
    char *o = s;
    o += sprintf(o, open == '{' ? "{" : "{\"a\":");
    for (int i = 1; i < depth; i++) {
        o += open == '{' ? sprintf(o, "\"a\":{") : sprintf(o, "[");
    }
    o += sprintf(o, "%s", inner);
    for (int i = 1; i < depth; i++) {
        *o++ = close;
    }
    *o++ = '}';
    *o = '\0';
    return s;
}

START_TEST(test_nesting_is_bounded_as_jansson_bounds_it)
{
    /* levels: the top-level object, depth - 1 containers, then the scalar one level deeper */
    const char *objs_ok = nested(CLAIMS_JSON_MAX_DEPTH - 1, '{', '}', "\"x\":1");
    const char *objs_deep = nested(CLAIMS_JSON_MAX_DEPTH, '{', '}', "\"x\":1");
    const char *arrs_ok = nested(CLAIMS_JSON_MAX_DEPTH - 1, '[', ']', "1");
    const char *arrs_deep = nested(CLAIMS_JSON_MAX_DEPTH, '[', ']', "1");
    const char *arrs_empty = nested(CLAIMS_JSON_MAX_DEPTH, '[', ']', "");
    const char *arrs_2100 = nested(2100, '[', ']', "");
    ck_assert(agrees(objs_ok, strlen(objs_ok)));
    ck_assert(agrees(arrs_ok, strlen(arrs_ok)));
    ck_assert(agrees(arrs_empty, strlen(arrs_empty)));
    ck_assert(!agrees(objs_deep, strlen(objs_deep)));
    ck_assert(!agrees(arrs_deep, strlen(arrs_deep)));
    ck_assert(!agrees(arrs_2100, strlen(arrs_2100)));
}
END_TEST

/* ------------------------------------------------------------------ the writer */

/* claims_json_text gives json_dumps' compact text of j */
static void text_agrees(const json_t *j)
{
    char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    char *got = claims_json_text(tu_p, j);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, want) == 0, "claims_json_text [%s], json_dumps [%s]", got, want);
    free(want);
}

START_TEST(test_text_agrees_with_json_dumps_on_every_accepted_case)
{
    json_t *j;
    if (!cases[_i].accept) {
        return;
    }
    j = oracle(cases[_i].text, strlen(cases[_i].text));
    ck_assert_ptr_nonnull(j);
    text_agrees(j);
    json_decref(j);
}
END_TEST

START_TEST(test_text_of_every_ascii_byte_and_scalar_agrees_with_json_dumps)
{
    char all[128], name[3] = {'n', 0, 0};
    json_t *o = json_object(), *a = json_array();
    static const double reals[] = {0.1, 1.0, -0.0, 1e300, 5e-324, 123456789.123, -2.5e-7, 1e21, 100.0};
    for (int i = 0; i < 128; i++) {
        all[i] = (char)i;
    }
    json_object_set_new(o, "all", json_stringn(all, sizeof(all)));
    json_object_set_new(o, "utf8", json_string("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x94\x91 / \\ \""));
    for (int c = 1; c < 0x20; c++) {           /* names that need escaping too */
        name[1] = (char)c;
        json_object_set_new(o, name, json_integer(c));
    }
    json_object_set_new(o, "\"quoted\\name\"", json_true());
    json_array_append_new(a, json_integer(LLONG_MAX));
    json_array_append_new(a, json_integer(LLONG_MIN));
    json_array_append_new(a, json_integer(0));
    json_array_append_new(a, json_false());
    json_array_append_new(a, json_null());
    json_array_append_new(a, json_object());
    json_array_append_new(a, json_array());
    json_array_append_new(a, json_string(""));
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        json_array_append_new(a, json_real(reals[i]));
        text_agrees(json_array_get(a, json_array_size(a) - 1));
    }
    json_object_set_new(o, "mixed", a);
    text_agrees(o);
    text_agrees(a);
    text_agrees(json_object_get(o, "all"));
    json_decref(o);
}
END_TEST

/* random trees from a fixed seed: the writer and jansson agree on every one */
static json_t *random_value(unsigned int *seed, int depth)
{
    int kind = depth > 4 ? 2 + rand_r(seed) % 6 : rand_r(seed) % 8;
    char s[24];
    int n = rand_r(seed) % 20;
    for (int i = 0; i < n; i++) {
        s[i] = (char)(1 + rand_r(seed) % 127);
    }
    switch (kind) {
    case 0: {
        json_t *o = json_object();
        for (int i = rand_r(seed) % 6; i > 0; i--) {
            s[n] = '\0';
            json_object_set_new(o, apr_psprintf(tu_p, "%s%d", s, i), random_value(seed, depth + 1));
        }
        return o;
    }
    case 1: {
        json_t *a = json_array();
        for (int i = rand_r(seed) % 6; i > 0; i--) {
            json_array_append_new(a, random_value(seed, depth + 1));
        }
        return a;
    }
    case 2: case 3: return json_stringn(s, (size_t)n);
    case 4: return json_integer((json_int_t)rand_r(seed) * (rand_r(seed) % 2 ? 1 : -1000003));
    case 5: return json_real((double)rand_r(seed) / 7.0);
    case 6: return rand_r(seed) % 2 ? json_true() : json_false();
    default: return json_null();
    }
}

START_TEST(test_text_agrees_with_json_dumps_on_random_trees)
{
    unsigned int seed = 20261206;
    for (int i = 0; i < 3000; i++) {
        json_t *j = random_value(&seed, 0);
        text_agrees(j);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_text_nesting_is_bounded_by_the_reader_depth)
{
    json_t *deep = json_array(), *inner = deep;
    for (int level = 2; level <= CLAIMS_JSON_MAX_DEPTH; level++) {
        json_t *next = json_array();
        json_array_append_new(inner, next);
        inner = next;
    }
    text_agrees(deep);                         /* CLAIMS_JSON_MAX_DEPTH levels */
    json_array_append_new(inner, json_array());
    ck_assert_ptr_null(claims_json_text(tu_p, deep));
    ck_assert_ptr_null(claims_json_text(tu_p, NULL));
    json_decref(deep);
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tu_tcase("reader", 0);
    tcase_add_loop_test(tc, test_agrees_with_jansson, 0, TU_COUNT(cases));
    tcase_add_test(tc, test_nul_byte_anywhere_is_refused);
    tcase_add_test(tc, test_every_truncation_is_refused_without_reading_past_the_end);
    tcase_add_test(tc, test_values_and_member_order_are_kept);
    tcase_add_test(tc, test_escaped_names_survive_escaped_values);
    tcase_add_test(tc, test_nesting_is_bounded_as_jansson_bounds_it);
    suite_add_tcase(s, tc);

    tc = tu_tcase("writer", 30);
    tcase_add_loop_test(tc, test_text_agrees_with_json_dumps_on_every_accepted_case, 0, TU_COUNT(cases));
    tcase_add_test(tc, test_text_of_every_ascii_byte_and_scalar_agrees_with_json_dumps);
    tcase_add_test(tc, test_text_agrees_with_json_dumps_on_random_trees);
    tcase_add_test(tc, test_text_nesting_is_bounded_by_the_reader_depth);
    suite_add_tcase(s, tc);
    return s;
}
