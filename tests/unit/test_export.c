/*
 * test_export.c - verified claims as environment variables, the REMOTE_USER value, and the
 * pieces of request headers and ap_expr texts: names normalised and matched, header values
 * encoded (ARCHITECTURE.md section 5; SECURITY.md CL-18, CL-49, CL-76..CL-80).
 */
#include "test_util.h"

#include "claims_export.h"

#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

static apr_table_t *export_all(const char *claims, const char *prefix, tu_logsink_t *sink)
{
    apr_table_t *env = apr_table_make(tu_p, 8);
    claims_export_env(tu_p, tu_json(claims), NULL, prefix, env, sink != NULL ? &sink->logger : NULL);
    return env;
}

static apr_array_header_t *paths(const char *const *texts, int n)
{
    apr_array_header_t *arr = apr_array_make(tu_p, n, sizeof(claims_path_t *));
    for (int i = 0; i < n; i++) {
        char *err = NULL;
        claims_path_t *p = claims_path_compile(tu_p, texts[i], &err);
        ck_assert_msg(p != NULL, "%s: %s", texts[i], err);
        *(claims_path_t **)apr_array_push(arr) = p;
    }
    return arr;
}

#define ENV_IS(env, name, value) ck_assert_str_eq(apr_table_get((env), (name)) ? apr_table_get((env), (name)) : "(unset)", (value))
#define ENV_UNSET(env, name) ck_assert_ptr_null(apr_table_get((env), (name)))

/* ------------------------------------------------------------------ names */

static const struct {
    const char *prefix;
    const char *claim;
    const char *name;
} names[] = {
    {"CLAIM_", "sub", "CLAIM_SUB"},
    {"CLAIM_", "given-name", "CLAIM_GIVEN_NAME"},
    {"CLAIM_", "https://example.com/roles", "CLAIM_HTTPS___EXAMPLE_COM_ROLES"},
    {"CLAIM_", "a b.c", "CLAIM_A_B_C"},
    {"CLAIM_", "Mixed_Case_9", "CLAIM_MIXED_CASE_9"},
    {"CLAIM_", "\xc3\xa9t\xc3\xa9", "CLAIM___T__"},
    {"CLAIM_", "HTTP_HOST", "CLAIM_HTTP_HOST"},
    {"CLAIM_", "a=b;c", "CLAIM_A_B_C"},
    {"CLAIM_", "x\ny", "CLAIM_X_Y"},
    {"JWT_", "sub", "JWT_SUB"},
    {"", "email", "EMAIL"},
};

START_TEST(test_env_name_is_prefix_plus_upper_cased_safe_characters)
{
    ck_assert_str_eq(claims_env_name(tu_p, names[_i].prefix, names[_i].claim), names[_i].name);
}
END_TEST

/* ------------------------------------------------------------------ values */

static const struct {
    const char *json;
    const char *text;
} values[] = {
    {"\"alice\"", "alice"},
    {"\"a,b\\nc \\\"q\\\"\"", "a,b\nc \"q\""},
    {"\"\\u00e9\\u4e2d\"", "\xc3\xa9\xe4\xb8\xad"},
    {"\"\"", ""},
    {"42", "42"},
    {"-7", "-7"},
    {"1.5", "1.5"},
    {"true", "true"},
    {"false", "false"},
    {"null", "null"},
    {"{\"a\": 1, \"b\": [1, 2]}", "{\"a\":1,\"b\":[1,2]}"},
    {"[1, \"x\"]", "[1,\"x\"]"},
    {"{}", "{}"},
};

START_TEST(test_value_text_is_raw_string_or_compact_json)
{
    ck_assert_str_eq(claims_value_text(tu_p, tu_json(values[_i].json)), values[_i].text);
}
END_TEST

START_TEST(test_all_top_level_claims_are_exported)
{
    apr_table_t *env = export_all("{\"sub\":\"alice\",\"n\":42,\"ok\":true,\"obj\":{\"a\":1,\"b\":\"x\"},\"nil\":null}",
                                  NULL, NULL);
    ENV_IS(env, "CLAIM_SUB", "alice");
    ENV_IS(env, "CLAIM_N", "42");
    ENV_IS(env, "CLAIM_OK", "true");
    ENV_IS(env, "CLAIM_OBJ", "{\"a\":1,\"b\":\"x\"}");
    ENV_IS(env, "CLAIM_NIL", "null");
    ck_assert_int_eq(apr_table_elts(env)->nelts, 5);
}
END_TEST

START_TEST(test_custom_prefix_is_used)
{
    apr_table_t *env = export_all("{\"sub\":\"alice\"}", "JWT_", NULL);
    ENV_IS(env, "JWT_SUB", "alice");
    ENV_UNSET(env, "CLAIM_SUB");
}
END_TEST

START_TEST(test_array_is_joined_and_indexed_with_a_count)
{
    apr_table_t *env = export_all("{\"roles\":[\"a\",\"b,c\",3,true,{\"k\":\"v\"}]}", NULL, NULL);
    ENV_IS(env, "CLAIM_ROLES", "a,b\\,c,3,true,{\"k\":\"v\"}");
    ENV_IS(env, "CLAIM_ROLES_0", "a");
    ENV_IS(env, "CLAIM_ROLES_1", "b,c");
    ENV_IS(env, "CLAIM_ROLES_2", "3");
    ENV_IS(env, "CLAIM_ROLES_3", "true");
    ENV_IS(env, "CLAIM_ROLES_4", "{\"k\":\"v\"}");
    ENV_UNSET(env, "CLAIM_ROLES_5");
    ENV_IS(env, "CLAIM_ROLES_N", "5");
}
END_TEST

START_TEST(test_joined_value_escapes_commas_and_backslashes_of_elements)
{
    /* CL-78: different arrays never give the same joined value */
    apr_table_t *env = export_all("{\"a\":[\"x,y\",\"z\"],\"b\":[\"x\",\"y,z\"],\"c\":[\"x\\\\\",\"y\"]}", NULL, NULL);
    ENV_IS(env, "CLAIM_A", "x\\,y,z");
    ENV_IS(env, "CLAIM_A_0", "x,y");
    ENV_IS(env, "CLAIM_B", "x,y\\,z");
    ENV_IS(env, "CLAIM_C", "x\\\\,y");
    ENV_IS(env, "CLAIM_C_0", "x\\");
}
END_TEST

START_TEST(test_empty_array_exports_an_empty_value_and_zero_count)
{
    apr_table_t *env = export_all("{\"groups\":[]}", NULL, NULL);
    ENV_IS(env, "CLAIM_GROUPS", "");
    ENV_IS(env, "CLAIM_GROUPS_N", "0");
    ENV_UNSET(env, "CLAIM_GROUPS_0");
}
END_TEST

START_TEST(test_long_array_indexes_at_most_the_cap_but_counts_all)
{
    json_t *arr = json_array();
    json_t *claims = json_object();
    apr_table_t *env = apr_table_make(tu_p, 8);
    char *last = apr_psprintf(tu_p, "CLAIM_BIG_%d", CLAIMS_MAX_EXPORT_ARRAY - 1);
    char *over = apr_psprintf(tu_p, "CLAIM_BIG_%d", CLAIMS_MAX_EXPORT_ARRAY);
    for (int i = 0; i < CLAIMS_MAX_EXPORT_ARRAY + 44; i++) {
        json_array_append_new(arr, json_integer(i));
    }
    json_object_set_new(claims, "big", arr);
    claims_json_pool(tu_p, claims);
    claims_export_env(tu_p, claims, NULL, NULL, env, NULL);
    ENV_IS(env, last, apr_psprintf(tu_p, "%d", CLAIMS_MAX_EXPORT_ARRAY - 1));
    ENV_UNSET(env, over);
    ENV_IS(env, "CLAIM_BIG_N", apr_psprintf(tu_p, "%d", CLAIMS_MAX_EXPORT_ARRAY + 44));
    ck_assert_ptr_nonnull(strstr(apr_table_get(env, "CLAIM_BIG"), apr_psprintf(tu_p, ",%d", CLAIMS_MAX_EXPORT_ARRAY + 43)));
}
END_TEST

/* ------------------------------------------------------------------ collisions (CL-77) */

/* A variable name that two or more claims map to - by the claim's own name, an array element's
 * NAME_i or an array's count NAME_N - is exported by none of them: whichever sorted first would
 * otherwise speak for the other (CLAIM_GROUPS_0=admin read as the first group). Each such
 * variable is reported once; the claims' other variables are exported as usual. */
static const struct {
    const char *claims;
    const char *set;        /* "NAME=value;NAME=value" that must be exported, or "" */
    const char *unset;      /* "NAME;NAME" that must not be */
    int nvars;              /* variables exported in all */
    int reports;            /* log lines */
} collisions[] = {
    {"{\"sub\":\"alice\",\"SUB\":\"admin\"}", "", "CLAIM_SUB", 0, 1},
    {"{\"SUB\":\"admin\",\"sub\":\"alice\",\"email\":\"a@example\"}", "CLAIM_EMAIL=a@example", "CLAIM_SUB", 1, 1},
    {"{\"given-name\":\"dash\",\"given_name\":\"underscore\",\"GIVEN_NAME\":\"upper\"}", "", "CLAIM_GIVEN_NAME", 0, 1},
    {"{\"given_name\":\"underscore\",\"GIVEN_NAME\":\"upper\",\"given-name\":\"dash\"}", "", "CLAIM_GIVEN_NAME", 0, 1},
    {"{\"groups\":[\"user\"],\"Groups_0\":\"admin\"}", "CLAIM_GROUPS=user;CLAIM_GROUPS_N=1", "CLAIM_GROUPS_0", 2, 1},
    {"{\"r\":[\"x\",\"y\"],\"r_0\":\"other\",\"r_N\":\"7\"}", "CLAIM_R=x,y;CLAIM_R_1=y", "CLAIM_R_0;CLAIM_R_N", 2, 2},
    {"{\"R_0\":\"other\",\"R_N\":\"7\",\"r\":[\"x\",\"y\"]}", "CLAIM_R=x,y;CLAIM_R_1=y", "CLAIM_R_0;CLAIM_R_N", 2, 2},
    {"{\"a\":[1],\"A\":[2,3]}", "CLAIM_A_1=3", "CLAIM_A;CLAIM_A_0;CLAIM_A_N", 1, 3},
    {"{\"r\":[],\"r_n\":\"0\"}", "CLAIM_R=", "CLAIM_R_N", 1, 1},
    {"{\"x\":1,\"y\":2}", "CLAIM_X=1;CLAIM_Y=2", "", 2, 0},
};

static void check_vars(apr_table_t *env, const char *set, const char *unset)
{
    char *list = apr_pstrdup(tu_p, set), *last = NULL;
    for (char *item = apr_strtok(list, ";", &last); item != NULL; item = apr_strtok(NULL, ";", &last)) {
        char *eq = strchr(item, '=');
        *eq = '\0';
        ENV_IS(env, item, eq + 1);
    }
    list = apr_pstrdup(tu_p, unset);
    for (char *item = apr_strtok(list, ";", &last); item != NULL; item = apr_strtok(NULL, ";", &last)) {
        ck_assert_msg(apr_table_get(env, item) == NULL, "%s exported as [%s]", item, apr_table_get(env, item));
    }
}

START_TEST(test_a_variable_several_claims_map_to_is_exported_by_none_of_them)
{
    tu_logsink_t sink;
    apr_table_t *env;
    tu_logsink_init(&sink, tu_p);
    env = export_all(collisions[_i].claims, NULL, &sink);
    check_vars(env, collisions[_i].set, collisions[_i].unset);
    ck_assert_int_eq(apr_table_elts(env)->nelts, collisions[_i].nvars);
    ck_assert_int_eq(sink.lines->nelts, collisions[_i].reports);
}
END_TEST

/* the report names the variable and every claim that maps to it (escaped), never a value */
START_TEST(test_collision_report_names_the_variable_and_every_claim_not_a_value)
{
    tu_logsink_t sink;
    const char *line;
    tu_logsink_init(&sink, tu_p);
    export_all("{\"a-b\":\"first\",\"a_b\":\"secret-value\",\"A\\nB\":\"third\"}", NULL, &sink);
    ck_assert_int_eq(sink.lines->nelts, 1);
    line = APR_ARRAY_IDX(sink.lines, 0, const char *);
    ck_assert_ptr_nonnull(strstr(line, "CLAIM_A_B"));
    ck_assert_ptr_nonnull(strstr(line, "\"a-b\""));
    ck_assert_ptr_nonnull(strstr(line, "\"a_b\""));
    ck_assert_ptr_nonnull(strstr(line, "\"A\\x0aB\""));
    ck_assert_ptr_null(strchr(line, '\n'));
    ck_assert_ptr_null(strstr(line, "first"));
    ck_assert_ptr_null(strstr(line, "secret-value"));
    ck_assert_ptr_null(strstr(line, "third"));
}
END_TEST

START_TEST(test_existing_environment_entries_are_replaced)
{
    apr_table_t *env = apr_table_make(tu_p, 4);
    apr_table_set(env, "CLAIM_SUB", "forged");
    apr_table_add(env, "CLAIM_SUB", "forged-again");
    claims_export_env(tu_p, tu_json("{\"sub\":\"alice\"}"), NULL, NULL, env, NULL);
    ENV_IS(env, "CLAIM_SUB", "alice");
    ck_assert_int_eq(apr_table_elts(env)->nelts, 1);
}
END_TEST

/* ------------------------------------------------------------------ configured paths */

START_TEST(test_configured_paths_export_only_those_claims)
{
    static const char *const list[] = {"sub", "realm_access.roles", "/groups/0", "missing"};
    apr_table_t *env = apr_table_make(tu_p, 8);
    claims_export_env(tu_p, tu_json("{\"sub\":\"alice\",\"email\":\"a@example\",\"realm_access\":{\"roles\":[\"ops\"]},"
                                    "\"groups\":[\"g0\",\"g1\"]}"),
                      paths(list, TU_COUNT(list)), NULL, env, NULL);
    ENV_IS(env, "CLAIM_SUB", "alice");
    ENV_IS(env, "CLAIM_REALM_ACCESS_ROLES", "ops");
    ENV_IS(env, "CLAIM_REALM_ACCESS_ROLES_0", "ops");
    ENV_IS(env, "CLAIM_REALM_ACCESS_ROLES_N", "1");
    ENV_IS(env, "CLAIM_GROUPS_0", "g0");  /* a pointer's leading '/' is not part of the name */
    ENV_UNSET(env, "CLAIM_EMAIL");
    ENV_UNSET(env, "CLAIM_MISSING");
    ck_assert_int_eq(apr_table_elts(env)->nelts, 5);
}
END_TEST

/* a configured list follows the same rule; the same claim listed twice (or as a name and as
 * its pointer) is one claim, not a collision */
static const struct {
    const char *paths;      /* space-separated */
    const char *set;
    const char *unset;
    int nvars;
    int reports;
} path_collisions[] = {
    {"given_name given-name", "", "CLAIM_GIVEN_NAME", 0, 1},
    {"given-name given_name", "", "CLAIM_GIVEN_NAME", 0, 1},
    {"groups Groups_0", "CLAIM_GROUPS=g0,g1;CLAIM_GROUPS_1=g1;CLAIM_GROUPS_N=2", "CLAIM_GROUPS_0", 3, 1},
    {"groups /groups/0", "CLAIM_GROUPS=g0,g1;CLAIM_GROUPS_1=g1;CLAIM_GROUPS_N=2", "CLAIM_GROUPS_0", 3, 1},
    {"realm_access.roles /realm_access/roles/0 sub",
     "CLAIM_SUB=alice;CLAIM_REALM_ACCESS_ROLES=ops;CLAIM_REALM_ACCESS_ROLES_N=1", "CLAIM_REALM_ACCESS_ROLES_0", 3, 1},
    {"sub sub", "CLAIM_SUB=alice", "", 1, 0},
    {"sub /sub", "CLAIM_SUB=alice", "", 1, 0},
};

START_TEST(test_configured_paths_that_map_to_one_variable_export_none)
{
    const char *claims = "{\"given-name\":\"dash\",\"given_name\":\"underscore\",\"sub\":\"alice\","
                         "\"groups\":[\"g0\",\"g1\"],\"Groups_0\":\"admin\",\"realm_access\":{\"roles\":[\"ops\"]}}";
    char *list = apr_pstrdup(tu_p, path_collisions[_i].paths), *last = NULL;
    const char *texts[8];
    int n = 0;
    apr_table_t *env = apr_table_make(tu_p, 8);
    tu_logsink_t sink;
    for (char *t = apr_strtok(list, " ", &last); t != NULL; t = apr_strtok(NULL, " ", &last)) {
        texts[n++] = t;
    }
    tu_logsink_init(&sink, tu_p);
    claims_export_env(tu_p, tu_json(claims), paths(texts, n), NULL, env, &sink.logger);
    check_vars(env, path_collisions[_i].set, path_collisions[_i].unset);
    ck_assert_int_eq(apr_table_elts(env)->nelts, path_collisions[_i].nvars);
    ck_assert_int_eq(sink.lines->nelts, path_collisions[_i].reports);
}
END_TEST

START_TEST(test_deeply_nested_claim_is_exported_as_json)
{
    /* CL-18: 200 levels, within the parser's limit, exported without trouble */
    apr_size_t depth = 200;
    char *text = apr_palloc(tu_p, depth * 7 + 32), *o = text;
    apr_table_t *env;
    const char *v;
    o += sprintf(o, "{\"deep\":");
    for (apr_size_t i = 0; i < depth; i++) {
        o += sprintf(o, "{\"a\":");
    }
    o += sprintf(o, "1");
    for (apr_size_t i = 0; i <= depth; i++) {
        *o++ = '}';
    }
    *o = '\0';
    env = export_all(text, NULL, NULL);
    v = apr_table_get(env, "CLAIM_DEEP");
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(strlen(v), depth * 6 + 1);
}
END_TEST

/* ------------------------------------------------------------------ REMOTE_USER (CL-49, CL-76) */

static const char *remote_user(const char *claims, const char *path, claims_status_t *st)
{
    char *err = NULL;
    const char *user = NULL;
    claims_path_t *p = claims_path_compile(tu_p, path, &err);
    ck_assert_ptr_nonnull(p);
    *st = claims_remote_user(tu_p, tu_json(claims), p, &user);
    return user;
}

static const struct {
    const char *claims;
    const char *path;
    const char *user;
} users_ok[] = {
    {"{\"sub\":\"alice\"}", "sub", "alice"},
    {"{\"sub\":\"alice smith\"}", "sub", "alice smith"},
    {"{\"sub\":\"\\uff41\\uff44\\uff4d\\uff49\\uff4e\"}", "sub", "\xef\xbd\x81\xef\xbd\x84\xef\xbd\x8d\xef\xbd\x89\xef\xbd\x8e"},
    {"{\"sub\":\"a\\\"b\\\\c\"}", "sub", "a\"b\\c"},
    {"{\"user\":{\"name\":\"bob\"}}", "user.name", "bob"},
    {"{\"user\":{\"name\":\"bob\"}}", "/user/name", "bob"},
    {"{\"preferred_username\":\"carol\",\"sub\":\"123\"}", "preferred_username", "carol"},
};

START_TEST(test_remote_user_is_the_exact_claim_string)
{
    claims_status_t st;
    const char *user = remote_user(users_ok[_i].claims, users_ok[_i].path, &st);
    ck_assert_int_eq(st, CLAIMS_OK);
    ck_assert_str_eq(user, users_ok[_i].user);
}
END_TEST

static const char *const users_bad[] = {
    "{}",
    "{\"sub\":null}",
    "{\"sub\":42}",
    "{\"sub\":true}",
    "{\"sub\":[\"alice\"]}",
    "{\"sub\":{\"name\":\"alice\"}}",
    "{\"sub\":\"\"}",
    "{\"sub\":\"alice\\nX-Injected: 1\"}",
    "{\"sub\":\"alice\\r\"}",
    "{\"sub\":\"al\\tice\"}",
    "{\"sub\":\"\\u0001alice\"}",
    "{\"sub\":\"alice\\u001b[31m\"}",
    "{\"sub\":\"alice\\u007f\"}",
    "{\"sub\":\"alice\\u0085\"}",   /* C1 control NEL */
    "{\"sub\":\"\\u009balice\"}",   /* C1 control CSI */
    "{\"sub\":\"alice\\u2028x\"}",  /* line separator */
    "{\"sub\":\"alice\\u2029\"}",   /* paragraph separator */
};

START_TEST(test_remote_user_refuses_non_strings_empty_and_control_characters)
{
    claims_status_t st;
    remote_user(users_bad[_i], "sub", &st);
    ck_assert_msg(st == CLAIMS_ERR_REMOTE_USER, "%s accepted", users_bad[_i]);
}
END_TEST

START_TEST(test_remote_user_is_limited_to_1024_bytes)
{
    char *name = apr_palloc(tu_p, CLAIMS_MAX_REMOTE_USER + 2);
    claims_status_t st;
    const char *user;
    memset(name, 'u', CLAIMS_MAX_REMOTE_USER + 1);
    name[CLAIMS_MAX_REMOTE_USER] = '\0';
    user = remote_user(apr_psprintf(tu_p, "{\"sub\":\"%s\"}", name), "sub", &st);
    ck_assert_int_eq(st, CLAIMS_OK);
    ck_assert_uint_eq(strlen(user), CLAIMS_MAX_REMOTE_USER);
    name[CLAIMS_MAX_REMOTE_USER] = 'u';
    name[CLAIMS_MAX_REMOTE_USER + 1] = '\0';
    remote_user(apr_psprintf(tu_p, "{\"sub\":\"%s\"}", name), "sub", &st);
    ck_assert_int_eq(st, CLAIMS_ERR_REMOTE_USER);
}
END_TEST

START_TEST(test_log_escape_makes_untrusted_bytes_printable_and_bounded)
{
    ck_assert_str_eq(claims_log_escape(tu_p, "a\nb\"c\\\x01\xff", 8, 64), "a\\x0ab\\x22c\\x5c\\x01\\xff");
    ck_assert_str_eq(claims_log_escape(tu_p, "abcdef", 6, 3), "abc...");
    ck_assert_str_eq(claims_log_escape(tu_p, "a\0b", 3, 10), "a\\x00b");
}
END_TEST

/* ------------------------------------------------------------------ request headers, ap_expr */

static const struct {
    const char *name, *norm;
} header_norms[] = {
    {"X-User", "X_USER"},
    {"x_user", "X_USER"},
    {"X.User", "X_USER"},
    {"x-USER", "X_USER"},
    {"Content-Type", "CONTENT_TYPE"},
    {"a1-B2", "A1_B2"},
    {"X User\t", "X_USER_"},
    {"\xc3\xa9t\xc3\xa9", "__T__"},             /* non-ASCII bytes are never letters */
    {"X-Claim-", "X_CLAIM_"},
    {"", ""},
};

START_TEST(test_header_name_norm_upper_cases_alphanumerics_and_folds_the_rest)
{
    const char *name = header_norms[_i].name;
    char *norm = claims_header_name_norm(tu_p, name);
    ck_assert_str_eq(norm, header_norms[_i].norm);
    ck_assert_int_eq(claims_header_norm_match(name, norm, 0), 1);
    ck_assert_int_eq(claims_header_norm_match(name, norm, 1), 1);
}
END_TEST

static const struct {
    const char *name, *norm;
    int prefix, match;
} header_matches[] = {
    {"x-user", "X_USER", 0, 1},
    {"X_USER", "X_USER", 0, 1},
    {"x.user", "X_USER", 0, 1},
    {"x-user-2", "X_USER", 0, 0},
    {"x-user-2", "X_USER", 1, 1},
    {"x-user", "X_USER_", 1, 0},
    {"x-use", "X_USER", 0, 0},
    {"x-use", "X_USER", 1, 0},
    {"y-user", "X_USER", 1, 0},
    {"x\xe9user", "X_USER", 0, 1},
    {"", "X", 1, 0},
    {"anything", "", 1, 1},
    {"anything", "", 0, 0},
    {"", "", 0, 1},
    {"X-Claim-sub", "X_CLAIM_", 1, 1},
    {"X-Claimsub", "X_CLAIM_", 1, 0},
};

START_TEST(test_header_norm_match_compares_the_normalised_name)
{
    ck_assert_msg(claims_header_norm_match(header_matches[_i].name, header_matches[_i].norm,
                                           header_matches[_i].prefix) == header_matches[_i].match,
                  "\"%s\" vs %s (prefix %d)", header_matches[_i].name, header_matches[_i].norm,
                  header_matches[_i].prefix);
}
END_TEST

static const struct {
    const char *prefix, *claim, *name;
} prefixed[] = {
    {"X-Claim-", "sub", "X-Claim-sub"},
    {"X-Claim-", "given_name", "X-Claim-given-name"},
    {"X-Claim-", "a.b c", "X-Claim-a-b-c"},
    {"X-Claim-", "Mixed-Case-9", "X-Claim-Mixed-Case-9"},
    {"X-Claim-", "\xc3\xa9", "X-Claim---"},
    {"X-Claim-", "x\r\ny", "X-Claim-x--y"},
    {"X-Claim-", "https://a/b", "X-Claim-https---a-b"},
    {"X_", "s_1", "X_s-1"},                    /* the prefix is kept as configured */
    {"", "sub", "sub"},
};

START_TEST(test_header_prefixed_name_keeps_only_alphanumerics_and_dashes_of_the_claim)
{
    ck_assert_str_eq(claims_header_prefixed_name(tu_p, prefixed[_i].prefix, prefixed[_i].claim), prefixed[_i].name);
}
END_TEST

#define NOT_SENT NULL

static const struct {
    claims_header_encoding_t enc;
    const char *text, *value;
} header_values[] = {
    {CLAIMS_HDR_PERCENT, "alice", "alice"},
    {CLAIMS_HDR_PERCENT, "", ""},
    {CLAIMS_HDR_PERCENT, "a b", "a%20b"},
    {CLAIMS_HDR_PERCENT, "100%", "100%25"},
    {CLAIMS_HDR_PERCENT, "x\r\nSet-Cookie: a=b", "x%0D%0ASet-Cookie:%20a=b"},
    {CLAIMS_HDR_PERCENT, "\t\x01\x1f\x7f", "%09%01%1F%7F"},
    {CLAIMS_HDR_PERCENT, "\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9"},
    {CLAIMS_HDR_PERCENT, "\xff", "%FF"},
    {CLAIMS_HDR_PERCENT, "[\"a\",\"b\"]", "[\"a\",\"b\"]"},
    {CLAIMS_HDR_PERCENT, "~!#$&'()*+,/:;<=>?@\\^_`{|}", "~!#$&'()*+,/:;<=>?@\\^_`{|}"},
    {CLAIMS_HDR_RAW, "alice", "alice"},
    {CLAIMS_HDR_RAW, "", ""},
    {CLAIMS_HDR_RAW, "a b 100%", "a b 100%"},
    {CLAIMS_HDR_RAW, "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
    {CLAIMS_HDR_RAW, "x\r\ny", NOT_SENT},
    {CLAIMS_HDR_RAW, "x\ny", NOT_SENT},
    {CLAIMS_HDR_RAW, "tab\there", NOT_SENT},
    {CLAIMS_HDR_RAW, "\x7f", NOT_SENT},
    {CLAIMS_HDR_RAW, "\x01", NOT_SENT},
    {CLAIMS_HDR_BASE64URL, "alice", "YWxpY2U"},
    {CLAIMS_HDR_BASE64URL, "", ""},
    {CLAIMS_HDR_BASE64URL, "x\r\ny", "eA0KeQ"},
    {CLAIMS_HDR_BASE64URL, "\xc3\xa9", "w6k"},
    {CLAIMS_HDR_BASE64URL, ">>?", "Pj4_"},
    {CLAIMS_HDR_BASE64URL, "\xfb\xff", "-_8"},
};

START_TEST(test_header_value_is_the_exact_encoding)
{
    const char *v = claims_header_value(tu_p, header_values[_i].enc, header_values[_i].text);
    if (header_values[_i].value == NOT_SENT) {
        ck_assert_msg(v == NULL, "case %d sent as %s", _i, v);
        return;
    }
    ck_assert_msg(v != NULL, "case %d not sent", _i);
    ck_assert_str_eq(v, header_values[_i].value);
    if (header_values[_i].enc == CLAIMS_HDR_RAW) {
        ck_assert_ptr_eq(v, header_values[_i].text);   /* as it is, not copied */
    }
}
END_TEST

static const struct {
    const char *text, *value;
} expr_texts[] = {
    {"alice", "alice"},
    {"", ""},
    {"a b", "a b"},
    {"50%", "50%25"},
    {"x\r\nSet-Cookie: a=b", "x%0D%0ASet-Cookie: a=b"},
    {"\t\x01\x1f\x7f", "%09%01%1F%7F"},
    {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
    {"{\"a\":[1,\"%\"]}", "{\"a\":[1,\"%25\"]}"},
};

START_TEST(test_expr_text_encodes_controls_and_percent_only)
{
    const char *v = claims_expr_text(tu_p, expr_texts[_i].text);
    ck_assert_str_eq(v, expr_texts[_i].value);
    if (strcmp(expr_texts[_i].text, expr_texts[_i].value) == 0) {
        ck_assert_ptr_eq(v, expr_texts[_i].text);      /* nothing to encode: the text itself */
    }
}
END_TEST

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undoes %XX (upper-case hex only; a '%' without two such digits fails the test). */
static char *percent_decode(const char *s)
{
    char *out = apr_palloc(tu_p, strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (*s == '%') {
            ck_assert_msg(hexval(s[1]) >= 0 && hexval(s[2]) >= 0, "bad escape in %s", s);
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* Every byte, alone and between letters: a header value never carries CR, LF or another
 * control character (nor a space, percent-encoded), raw is refused rather than sent with one,
 * base64url is only its alphabet, the percent and expression encodings give the text back, and
 * normalised names are [A-Z0-9_] of the same length. */
START_TEST(test_header_values_and_names_never_carry_control_characters)
{
    for (int b = 1; b < 256; b++) {
        char one[2] = {(char)b, '\0'};
        const char *texts[] = {one, apr_psprintf(tu_p, "a%cz", b), apr_psprintf(tu_p, "%c%c", b, b)};
        for (int t = 0; t < TU_COUNT(texts); t++) {
            const char *pct = claims_header_value(tu_p, CLAIMS_HDR_PERCENT, texts[t]);
            const char *raw = claims_header_value(tu_p, CLAIMS_HDR_RAW, texts[t]);
            const char *b64 = claims_header_value(tu_p, CLAIMS_HDR_BASE64URL, texts[t]);
            const char *expr = claims_expr_text(tu_p, texts[t]);
            const char *norm = claims_header_name_norm(tu_p, texts[t]);
            const char *pre = claims_header_prefixed_name(tu_p, "X-", texts[t]);
            for (const char *c = pct; *c; c++) {
                ck_assert_msg(*c > 0x20 && *c < 0x7f, "byte %d: percent value holds %d", b, *c);
            }
            ck_assert_str_eq(percent_decode(pct), texts[t]);
            if (b < 0x20 || b == 0x7f) {
                ck_assert_msg(raw == NULL, "byte %d sent raw", b);
            }
            else {
                ck_assert_ptr_eq(raw, texts[t]);
            }
            for (const char *c = b64; *c; c++) {
                ck_assert_msg((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
                              || *c == '-' || *c == '_', "byte %d: base64url holds %d", b, *c);
            }
            for (const char *c = expr; *c; c++) {
                ck_assert_msg((unsigned char)*c >= 0x20 && *c != 0x7f, "byte %d: expr text holds %d", b, *c);
            }
            ck_assert_str_eq(percent_decode(expr), texts[t]);
            ck_assert_uint_eq(strlen(norm), strlen(texts[t]));
            for (const char *c = norm; *c; c++) {
                ck_assert_msg((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_',
                              "byte %d: normalised name holds %d", b, *c);
            }
            ck_assert_uint_eq(strlen(pre), 2 + strlen(texts[t]));
            for (const char *c = pre; *c; c++) {
                ck_assert_msg((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
                              || *c == '-', "byte %d: prefixed name holds %d", b, *c);
            }
        }
    }
}
END_TEST

Suite *export_suite(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tu_tcase("environment", 0);
    tcase_add_loop_test(tc, test_env_name_is_prefix_plus_upper_cased_safe_characters, 0, TU_COUNT(names));
    tcase_add_loop_test(tc, test_value_text_is_raw_string_or_compact_json, 0, TU_COUNT(values));
    tcase_add_test(tc, test_all_top_level_claims_are_exported);
    tcase_add_test(tc, test_custom_prefix_is_used);
    tcase_add_test(tc, test_array_is_joined_and_indexed_with_a_count);
    tcase_add_test(tc, test_joined_value_escapes_commas_and_backslashes_of_elements);
    tcase_add_test(tc, test_empty_array_exports_an_empty_value_and_zero_count);
    tcase_add_test(tc, test_long_array_indexes_at_most_the_cap_but_counts_all);
    tcase_add_loop_test(tc, test_a_variable_several_claims_map_to_is_exported_by_none_of_them, 0,
                        TU_COUNT(collisions));
    tcase_add_test(tc, test_collision_report_names_the_variable_and_every_claim_not_a_value);
    tcase_add_test(tc, test_existing_environment_entries_are_replaced);
    tcase_add_test(tc, test_configured_paths_export_only_those_claims);
    tcase_add_loop_test(tc, test_configured_paths_that_map_to_one_variable_export_none, 0,
                        TU_COUNT(path_collisions));
    tcase_add_test(tc, test_deeply_nested_claim_is_exported_as_json);
    suite_add_tcase(s, tc);

    tc = tu_tcase("remote user", 0);
    tcase_add_loop_test(tc, test_remote_user_is_the_exact_claim_string, 0, TU_COUNT(users_ok));
    tcase_add_loop_test(tc, test_remote_user_refuses_non_strings_empty_and_control_characters, 0,
                        TU_COUNT(users_bad));
    tcase_add_test(tc, test_remote_user_is_limited_to_1024_bytes);
    tcase_add_test(tc, test_log_escape_makes_untrusted_bytes_printable_and_bounded);
    suite_add_tcase(s, tc);

    tc = tu_tcase("headers", 0);
    tcase_add_loop_test(tc, test_header_name_norm_upper_cases_alphanumerics_and_folds_the_rest, 0,
                        TU_COUNT(header_norms));
    tcase_add_loop_test(tc, test_header_norm_match_compares_the_normalised_name, 0, TU_COUNT(header_matches));
    tcase_add_loop_test(tc, test_header_prefixed_name_keeps_only_alphanumerics_and_dashes_of_the_claim, 0,
                        TU_COUNT(prefixed));
    tcase_add_loop_test(tc, test_header_value_is_the_exact_encoding, 0, TU_COUNT(header_values));
    tcase_add_loop_test(tc, test_expr_text_encodes_controls_and_percent_only, 0, TU_COUNT(expr_texts));
    tcase_add_test(tc, test_header_values_and_names_never_carry_control_characters);
    suite_add_tcase(s, tc);
    return s;
}
