/*
 * fuzz_claims.c - claim paths and Require values (configuration text) applied to claims
 * (token content): claims_path_compile + claims_path_lookup, claims_expected_parse +
 * claims_match, claims_has_scope, claims_export_env, claims_remote_user (CL-48..CL-52, CL-76..CL-79).
 *
 * Input, split at the first three newlines:
 *   line 1  a claim path (ClaimsUser, ClaimsExport, Require claim <path>)
 *   line 2  a Require claim value
 *   line 3  a scope (Require scope)
 *   rest    a claims set (JSON); when it parses as an object it is used beside a fixed claims set
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when an exported variable name has a
 * byte outside [A-Z0-9_] after the prefix, starts with HTTP_ or lacks the prefix (CL-77); when a
 * REMOTE_USER is empty, too long or holds a control character (CL-49); when a string Require value
 * matches a non-string or a literal matches a string (CL-52); or when a scope matches that is not
 * a whole space-delimited token (CL-52).
 */
#include "claims.h"
#include "claims_export.h"
#include "claims_match.h"
#include "claims_path.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

static const char fixed_json[] =
    "{\"iss\":\"https://issuer.example\",\"sub\":\"alice\",\"aud\":[\"api://fuzz\",\"other\"],"
    "\"exp\":4102444800,\"iat\":1700000000.5,\"scope\":\"read write admin:all  openid\","
    "\"scp\":[\"files.read\",\"files.write\"],\"realm_access\":{\"roles\":[\"admin\",\"user\"]},"
    "\"resource_access\":{\"app\":{\"roles\":[\"r1\",\"r2\"]}},\"https://example.com/roles\":[\"x\",\"y\"],"
    "\"groups\":[\"admins\",\"users\",[\"nested\"],{\"k\":\"v\"}],\"a/b\":{\"c~d\":1},\"num\":1,"
    "\"real\":1.0,\"neg\":-3,\"big\":9007199254740993,\"bool\":true,\"false\":false,\"null\":null,"
    "\"nested\":{\"a.b\":{\"c\":\"dotted\"},\"a\":{\"b\":{\"c\":\"deep\"}}},\"empty\":\"\",\"obj\":{},"
    "\"arr\":[],\"ctl\":\"a\\u0001b\\r\\nc\",\"unicode\":\"\\uff41\\uff44\\uff4d\\uff49\\uff4e\","
    "\"Sub\":\"case\",\"s-u_b\":\"collides\",\"s.u.b\":\"dots\",\"long\":\"" "0123456789abcdef" "\"}";

static json_t *fixed;
static apr_array_header_t *fixed_paths;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *gp = fz_global_pool();
    static const char *const paths[] = {"sub", "realm_access.roles", "/groups/1", "https://example.com/roles",
                                        "/a~1b/c~0d", "nested.a.b.c", "num", "scp"};
    char *err = NULL;

    fixed = json_loads(fixed_json, JSON_REJECT_DUPLICATES, NULL);
    if (fixed == NULL || !fz_poolguard_active(gp)) {
        if (fixed == NULL) {
            fz_die("fixed claims");
        }
        fprintf(stderr, "fuzz_claims: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    fixed_paths = apr_array_make(gp, 8, sizeof(claims_path_t *));
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        claims_path_t *cp = claims_path_compile(gp, paths[i], &err);
        if (cp == NULL) {
            fz_die(paths[i]);
        }
        *(claims_path_t **)apr_array_push(fixed_paths) = cp;
    }
    return 0;
}

static void log_fn(void *baton, claims_log_level_t level, const char *msg)
{
    CHECK(msg != NULL && strlen(msg) < 4096);
}

static void check_env(const apr_table_t *env, const char *prefix)
{
    const apr_array_header_t *arr = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    size_t plen = strlen(prefix);
    for (int i = 0; i < arr->nelts; i++) {
        CHECK(strncmp(e[i].key, prefix, plen) == 0 && strncmp(e[i].key, "HTTP_", 5) != 0);
        for (const char *c = e[i].key + plen; *c; c++) {
            CHECK((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_');
        }
        CHECK(e[i].val != NULL);
    }
}

static void match_checks(const json_t *v, const claims_expected_t *e)
{
    int m = claims_match(v, e);
    CHECK(m == 0 || m == 1);
    if (m && !json_is_array(v)) {
        if (e->literal == NULL) {
            CHECK(json_is_string(v) && json_string_length(v) == e->len);
        }
        else {
            CHECK(!json_is_string(v));
        }
    }
}

/* A scope match is a whole token of "scope" or "scp". */
static void scope_checks(const json_t *claims, const char *scope, size_t len)
{
    if (claims_has_scope(claims, scope, len)) {
        CHECK(len > 0 || json_is_array(json_object_get(claims, "scp")));
        CHECK(memchr(scope, ' ', len) == NULL || json_is_array(json_object_get(claims, "scp")));
    }
}

static void run(apr_pool_t *p, const json_t *claims, const claims_path_t *path, const claims_expected_t *e,
                const char *scope, size_t scope_len, int all_claims)
{
    claims_logger_t log = {log_fn, NULL};
    apr_table_t *env = apr_table_make(p, 8);
    apr_array_header_t *paths = apr_array_copy(p, fixed_paths);
    const char *user = NULL;
    void *it;
    const char *key;
    json_t *v;

    if (path != NULL) {
        json_t *found = claims_path_lookup(claims, path);
        match_checks(found, e);
        if (claims_remote_user(p, claims, path, &user) == CLAIMS_OK) {
            size_t n = strlen(user);
            CHECK(n > 0 && n <= CLAIMS_MAX_REMOTE_USER);
            for (size_t i = 0; i < n; i++) {
                CHECK((unsigned char)user[i] >= 0x20 && user[i] != 0x7f);
            }
        }
        *(const claims_path_t **)apr_array_push(paths) = path;
        (void)claims_value_text(p, found);
    }
    /* the value against every top-level claim (all JSON types) */
    it = json_object_iter((json_t *)claims);
    for (int n = 0; it != NULL && n < 64; n++, it = json_object_iter_next((json_t *)claims, it)) {
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        match_checks(v, e);
        (void)key;
    }
    scope_checks(claims, scope, scope_len);
    claims_export_env(p, claims, paths, "CLAIM_", env, &log);
    check_env(env, "CLAIM_");
    if (all_claims) {
        apr_table_t *env2 = apr_table_make(p, 8);
        claims_export_env(p, claims, NULL, NULL, env2, &log);
        check_env(env2, CLAIMS_DEFAULT_ENV_PREFIX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *field[4] = {"", "", "", ""};
    size_t flen[4] = {0, 0, 0, 0};
    const char *s, *end;
    char *path_text, *value_text, *err = NULL;
    claims_path_t *path;
    claims_expected_t *e;
    json_t *claims = NULL;
    int nf = 0;

    apr_pool_create(&p, fz_global_pool());
    s = size > 0 ? apr_pmemdup(p, data, size) : "";
    end = s + size;
    while (nf < 3) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL) {
            break;
        }
        field[nf] = s;
        flen[nf] = (size_t)(nl - s);
        nf++;
        s = nl + 1;
    }
    field[nf] = s;
    flen[nf] = (size_t)(end - s);

    /* configuration text is a C string */
    path_text = fz_cstr(p, (const unsigned char *)field[0], flen[0]);
    value_text = fz_cstr(p, (const unsigned char *)field[1], flen[1]);
    path = claims_path_compile(p, path_text, &err);
    if (path == NULL) {
        CHECK(err != NULL);
    }
    else {
        CHECK(strcmp(path->text, path_text) == 0 && (!path->pointer || path->tokens != NULL));
        (void)claims_env_name(p, CLAIMS_DEFAULT_ENV_PREFIX, path->text);
    }
    e = claims_expected_parse(p, value_text);
    CHECK(e != NULL && (e->literal != NULL || e->str != NULL));

    run(p, fixed, path, e, field[2], flen[2], 0);
    if (flen[3] > 0) {
        claims = json_loadb(field[3], flen[3], JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(claims)) {
            run(p, claims, path, e, field[2], flen[2], 1);
        }
        json_decref(claims);
    }
    apr_pool_destroy(p);
    return 0;
}
