/*
 * test_path_match.c - claim lookup by name, dotted path and JSON Pointer (RFC 6901), and the
 * Require semantics on claim values and scopes (SECURITY.md CL-48, CL-52).
 */
#include "test_util.h"

#include "claims_match.h"
#include "claims_path.h"

#include <apr_strings.h>
#include <string.h>

#define CLAIMS_DOC                                                                                                   \
    "{\"sub\":\"alice\",\"realm_access\":{\"roles\":[\"ops\",\"dev\"]},\"groups\":[\"g0\",\"g1\",{\"n\":\"g2\"}]," \
    "\"https://example.com/roles\":[\"admin\"],\"a.b\":\"flat\",\"a\":{\"b\":\"nested\",\"c\":{\"d\":4}},"         \
    "\"x.y\":{\"z\":\"longest\"},\"x\":{\"y\":{\"z\":\"shorter\"}},\"a/b\":\"slash\",\"m~n\":\"tilde\","           \
    "\"\":\"empty\",\"str\":\"text\"}"

/* ------------------------------------------------------------------ paths */

static const struct {
    const char *path;
    const char *want;   /* JSON text of the value, NULL when not found */
} lookups[] = {
    {"sub", "\"alice\""},
    {"realm_access.roles", "[\"ops\",\"dev\"]"},
    {"realm_access", "{\"roles\":[\"ops\",\"dev\"]}"},
    {"https://example.com/roles", "[\"admin\"]"},
    {"a.b", "\"flat\""},                 /* the whole name as a member comes first */
    {"a.c.d", "4"},
    {"x.y.z", "\"longest\""},            /* longest member name before a dot wins */
    {"str.length", NULL},
    {"missing", NULL},
    {"realm_access.missing", NULL},
    {"groups.0", NULL},                  /* dotted paths do not index arrays */
    {"SUB", NULL},                       /* no case folding */
    {"/realm_access/roles", "[\"ops\",\"dev\"]"},
    {"/groups/0", "\"g0\""},
    {"/groups/1", "\"g1\""},
    {"/groups/2/n", "\"g2\""},
    {"/groups/3", NULL},
    {"/groups/01", NULL},
    {"/groups/-", NULL},
    {"/groups/-1", NULL},
    {"/groups/1x", NULL},
    {"/groups/", NULL},
    {"/a~1b", "\"slash\""},
    {"/m~0n", "\"tilde\""},
    {"/", "\"empty\""},
    {"/https:~1~1example.com~1roles/0", "\"admin\""},
    {"/a.b", "\"flat\""},
    {"/a/b", "\"nested\""},
    {"/sub/0", NULL},
    {"/str/x", NULL},
};

START_TEST(test_path_lookup_finds_exactly_the_addressed_value)
{
    char *err = NULL;
    claims_path_t *path = claims_path_compile(tu_p, lookups[_i].path, &err);
    json_t *doc = tu_json(CLAIMS_DOC);
    json_t *v;
    ck_assert_msg(path != NULL, "%s: %s", lookups[_i].path, err);
    v = claims_path_lookup(doc, path);
    if (lookups[_i].want == NULL) {
        ck_assert_msg(v == NULL, "%s found something", lookups[_i].path);
    }
    else {
        ck_assert_msg(v != NULL, "%s not found", lookups[_i].path);
        ck_assert_msg(json_equal(v, tu_json(lookups[_i].want)), "%s: wrong value", lookups[_i].path);
    }
}
END_TEST

START_TEST(test_pointer_form_is_recognised_by_the_leading_slash)
{
    char *err = NULL;
    claims_path_t *ptr = claims_path_compile(tu_p, "/a~1b/c~0d", &err);
    claims_path_t *name = claims_path_compile(tu_p, "a/b", &err);
    ck_assert_ptr_nonnull(ptr);
    ck_assert_int_eq(ptr->pointer, 1);
    ck_assert_int_eq(ptr->tokens->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(ptr->tokens, 0, const char *), "a/b");
    ck_assert_str_eq(APR_ARRAY_IDX(ptr->tokens, 1, const char *), "c~d");
    ck_assert_ptr_nonnull(name);
    ck_assert_int_eq(name->pointer, 0);
    ck_assert_str_eq(name->text, "a/b");
}
END_TEST

static const char *const bad_paths[] = {
    "", "/a~2", "/a~", "/~", "/a/~x/b", ".sub", "sub.", "a..b", ".",
};

START_TEST(test_malformed_paths_are_refused_at_compile_time)
{
    char *err = NULL;
    ck_assert_msg(claims_path_compile(tu_p, bad_paths[_i], &err) == NULL, "\"%s\" compiled", bad_paths[_i]);
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_overlong_path_is_refused)
{
    char *err = NULL;
    char *p = apr_palloc(tu_p, CLAIMS_MAX_PATH + 2);
    memset(p, 'a', CLAIMS_MAX_PATH + 1);
    p[CLAIMS_MAX_PATH + 1] = '\0';
    ck_assert_ptr_null(claims_path_compile(tu_p, p, &err));
    p[CLAIMS_MAX_PATH] = '\0';
    ck_assert_ptr_nonnull(claims_path_compile(tu_p, p, &err));
}
END_TEST

START_TEST(test_lookup_tolerates_null_inputs)
{
    char *err = NULL;
    claims_path_t *path = claims_path_compile(tu_p, "sub", &err);
    ck_assert_ptr_null(claims_path_lookup(NULL, path));
    ck_assert_ptr_null(claims_path_lookup(tu_json(CLAIMS_DOC), NULL));
    ck_assert_ptr_null(claims_path_lookup(tu_json("[1,2]"), path));
}
END_TEST

/* ------------------------------------------------------------------ expected values (CL-52) */

static const struct {
    const char *expected;   /* as configured in Require claim */
    const char *claim;      /* claim value as JSON */
    int match;
} matches[] = {
    {"true", "true", 1},
    {"true", "\"true\"", 0},
    {"\"true\"", "\"true\"", 1},
    {"\"true\"", "true", 0},
    {"false", "false", 1},
    {"false", "0", 0},
    {"false", "\"false\"", 0},
    {"null", "null", 1},
    {"null", "\"null\"", 0},
    {"1", "1", 1},
    {"1", "1.0", 1},
    {"1.0", "1", 1},
    {"1", "\"1\"", 0},
    {"\"1\"", "1", 0},
    {"\"1\"", "\"1\"", 1},
    {"1", "true", 0},
    {"9007199254740993", "9007199254740993", 1},        /* 2^53 + 1: integers compare exactly */
    {"9007199254740993", "9007199254740992", 0},
    {"9007199254740992", "9007199254740993", 0},
    {"9007199254740993", "9007199254740992.0", 0},      /* a real equals an integer only exactly */
    {"9007199254740992", "9007199254740992.0", 1},
    {"9223372036854775807", "9223372036854775806", 0},
    {"9223372036854775807", "9223372036854775808.0", 0},
    {"-9223372036854775808", "-9223372036854775808.0", 1},
    {"1e300", "1e300", 1},
    {"1e300", "9223372036854775807", 0},
    {"0", "false", 0},
    {"-2.5", "-2.5", 1},
    {"1e2", "100", 1},
    {"admin", "\"admin\"", 1},
    {"admin", "\"Admin\"", 0},
    {"admin", "\"ADMIN\"", 0},
    {"admin", "\"admin \"", 0},
    {"admin", "\"admi\"", 0},
    {"admin", "\"administrator\"", 0},
    {"admin", "\"\\uff41\\uff44\\uff4d\\uff49\\uff4e\"", 0},   /* fullwidth ａｄｍｉｎ (CL-48) */
    {"admin", "\"admin\\u200b\"", 0},                          /* zero-width space */
    {"admin", "\"a\\u0064min\"", 1},                           /* escapes are just bytes */
    {"\xef\xbd\x81\xef\xbd\x84\xef\xbd\x8d\xef\xbd\x89\xef\xbd\x8e", "\"\\uff41\\uff44\\uff4d\\uff49\\uff4e\"", 1},
    {"\xef\xbd\x81\xef\xbd\x84\xef\xbd\x8d\xef\xbd\x89\xef\xbd\x8e", "\"admin\"", 0},
    {"\"\\u0061dmin\"", "\"admin\"", 1},
    {"\"a\\\"b\"", "\"a\\\"b\"", 1},
    {"ad\"min", "\"ad\\\"min\"", 1},
    {"admin", "[\"staff\",\"admin\"]", 1},
    {"admin", "[\"staff\",\"administrator\"]", 0},
    {"admin", "[[\"admin\"]]", 0},
    {"admin", "{\"admin\":true}", 0},
    {"admin", "[]", 0},
    {"1", "[0,1]", 1},
    {"1", "[\"1\"]", 0},
    {"true", "[false,true]", 1},
    {"{\"a\":1}", "{\"a\":1}", 0},
    {"{\"a\":1}", "\"{\\\"a\\\":1}\"", 1},
    {"[1]", "[1]", 0},
};

START_TEST(test_claim_matches_by_json_type_and_exact_value)
{
    claims_expected_t *e = claims_expected_parse(tu_p, matches[_i].expected);
    json_t *v = tu_json(matches[_i].claim);
    ck_assert_msg(claims_match(v, e) == matches[_i].match, "expected %s vs claim %s: want %d", matches[_i].expected,
                  matches[_i].claim, matches[_i].match);
}
END_TEST

START_TEST(test_expected_literals_are_typed_once)
{
    claims_expected_t *b = claims_expected_parse(tu_p, "true");
    claims_expected_t *n = claims_expected_parse(tu_p, "42");
    claims_expected_t *q = claims_expected_parse(tu_p, "\"42\"");
    claims_expected_t *s = claims_expected_parse(tu_p, "forty-two");
    ck_assert(json_is_true(b->literal));
    ck_assert(json_is_integer(n->literal));
    ck_assert_ptr_null(q->literal);
    ck_assert_str_eq(q->str, "42");
    ck_assert_uint_eq(q->len, 2);
    ck_assert_ptr_null(s->literal);
    ck_assert_str_eq(s->str, "forty-two");
}
END_TEST

START_TEST(test_missing_claim_never_matches)
{
    ck_assert_int_eq(claims_match(NULL, claims_expected_parse(tu_p, "null")), 0);
    ck_assert_int_eq(claims_match(NULL, claims_expected_parse(tu_p, "admin")), 0);
}
END_TEST

/* ------------------------------------------------------------------ scopes (CL-52) */

static const struct {
    const char *claims;
    const char *scope;
    int granted;
} scopes[] = {
    {"{\"scope\":\"orders:read orders:write\"}", "orders:read", 1},
    {"{\"scope\":\"orders:read orders:write\"}", "orders:write", 1},
    {"{\"scope\":\"orders:read orders:write\"}", "orders", 0},
    {"{\"scope\":\"orders:read orders:write\"}", "read", 0},
    {"{\"scope\":\"orders:read orders:write\"}", "orders:rea", 0},
    {"{\"scope\":\"orders:read orders:write\"}", "rders:read", 0},
    {"{\"scope\":\"orders:read orders:write\"}", "orders:read orders:write", 0},
    {"{\"scope\":\"orders:read orders:write\"}", "ORDERS:READ", 0},
    {"{\"scope\":\"  a   b  \"}", "b", 1},
    {"{\"scope\":\"a\\tb\"}", "a", 0},
    {"{\"scope\":\"a,b\"}", "a", 0},
    {"{\"scope\":\"admin\"}", "", 0},
    {"{\"scope\":\"\"}", "", 0},
    {"{\"scope\":[\"admin\"]}", "admin", 0},
    {"{\"scope\":true}", "true", 0},
    {"{\"scp\":[\"orders:read\",\"orders:write\"]}", "orders:write", 1},
    {"{\"scp\":[\"orders:read\",\"orders:write\"]}", "orders", 0},
    {"{\"scp\":[\"orders:read orders:write\"]}", "orders:read", 0},
    {"{\"scp\":[1,\"x\"]}", "1", 0},
    {"{\"scp\":\"a b\"}", "b", 1},
    {"{\"scp\":\"ab\"}", "b", 0},
    {"{\"scope\":\"x\",\"scp\":[\"y\"]}", "x", 1},
    {"{\"scope\":\"x\",\"scp\":[\"y\"]}", "y", 1},
    {"{\"sub\":\"orders:read\"}", "orders:read", 0},
    {"{}", "admin", 0},
};

START_TEST(test_scope_matches_whole_tokens_only)
{
    json_t *c = tu_json(scopes[_i].claims);
    ck_assert_msg(claims_has_scope(c, scopes[_i].scope, strlen(scopes[_i].scope)) == scopes[_i].granted,
                  "%s / \"%s\": want %d", scopes[_i].claims, scopes[_i].scope, scopes[_i].granted);
}
END_TEST

Suite *path_match_suite(void)
{
    Suite *s = suite_create("path_match");
    TCase *tc = tu_tcase("paths", 0);
    tcase_add_loop_test(tc, test_path_lookup_finds_exactly_the_addressed_value, 0, TU_COUNT(lookups));
    tcase_add_test(tc, test_pointer_form_is_recognised_by_the_leading_slash);
    tcase_add_loop_test(tc, test_malformed_paths_are_refused_at_compile_time, 0, TU_COUNT(bad_paths));
    tcase_add_test(tc, test_overlong_path_is_refused);
    tcase_add_test(tc, test_lookup_tolerates_null_inputs);
    suite_add_tcase(s, tc);

    tc = tu_tcase("match", 0);
    tcase_add_loop_test(tc, test_claim_matches_by_json_type_and_exact_value, 0, TU_COUNT(matches));
    tcase_add_test(tc, test_expected_literals_are_typed_once);
    tcase_add_test(tc, test_missing_claim_never_matches);
    tcase_add_loop_test(tc, test_scope_matches_whole_tokens_only, 0, TU_COUNT(scopes));
    suite_add_tcase(s, tc);
    return s;
}
