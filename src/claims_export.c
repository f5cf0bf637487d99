/*
 * claims_export.c - claims to environment variables; see claims_export.h.
 */
#include "claims_export.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

char *claims_value_text(apr_pool_t *p, const json_t *v)
{
    char *s, *out;
    if (json_is_string(v)) {
        return apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    }
    if (v == NULL) {
        return NULL;
    }
    /* the common scalars without a trip through json_dumps (same text as jansson's) */
    if (json_is_integer(v)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    }
    if (json_is_true(v) || json_is_false(v) || json_is_null(v)) {
        return json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null";
    }
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

char *claims_payload_text(apr_pool_t *p, const unsigned char *payload, apr_size_t len, const json_t *claims)
{
    char *s, *out;
    int plain = payload != NULL;
    for (apr_size_t i = 0; plain && i < len; i++) {
        plain = payload[i] >= 0x20;
    }
    if (plain) {
        return apr_pstrmemdup(p, (const char *)payload, len);  /* the exact verified bytes */
    }
    s = json_dumps(claims, JSON_COMPACT);
    if (s == NULL) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

char *claims_env_name(apr_pool_t *p, const char *prefix, const char *name)
{
    apr_size_t plen = strlen(prefix), nlen = strlen(name);
    char *out = apr_palloc(p, plen + nlen + 1);
    memcpy(out, prefix, plen);
    for (apr_size_t i = 0; i < nlen; i++) {
        char c = name[i];
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            c = '_';
        }
        out[plen + i] = c;
    }
    out[plen + nlen] = '\0';
    return out;
}

/* An element inside the joined value: '\\' and ',' escaped with '\\', so that the separator
 * never appears unescaped in a value (CL-78); NAME_0.. keep the raw elements. */
static char *join_escape(apr_pool_t *p, const char *text)
{
    apr_size_t n = 0;
    char *out, *o;
    for (const char *c = text; *c; c++) {
        n += (*c == ',' || *c == '\\') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    for (const char *c = text; *c; c++) {
        if (*c == ',' || *c == '\\') {
            *o++ = '\\';
        }
        *o++ = *c;
    }
    *o = '\0';
    return out;
}

static void collision(apr_pool_t *p, const claims_logger_t *log, const char *var, const char *claim)
{
    claims_log(log, CLAIMS_LOG_INFO,
               apr_psprintf(p, "claim \"%s\" not exported as %s: the name is already taken by another claim",
                            claims_log_escape(p, claim, strlen(claim), 64), var));
}

/* The pairs being built, and the names given out (names are unique: first come, first served). */
typedef struct exporter_t {
    apr_pool_t *p;
    apr_array_header_t *pairs;
    apr_hash_t *taken;
    const claims_logger_t *log;
} exporter_t;

/* Takes the name var for claim; 0 (and a log line) when an earlier claim has it. */
static int claim_name(exporter_t *x, const char *var, const char *claim)
{
    if (apr_hash_get(x->taken, var, APR_HASH_KEY_STRING) != NULL) {
        collision(x->p, x->log, var, claim);
        return 0;
    }
    apr_hash_set(x->taken, var, APR_HASH_KEY_STRING, var);
    return 1;
}

static void push(exporter_t *x, const char *var, const char *value)
{
    claims_pair_t *pr = apr_array_push(x->pairs);
    pr->name = var;
    pr->value = value;
}

static void export_one(exporter_t *x, const char *claim, const json_t *v, const char *prefix)
{
    apr_pool_t *p = x->p;
    char *var = claims_env_name(p, prefix, claim);
    apr_array_header_t *parts;
    size_t i;
    json_t *el;
    if (!claim_name(x, var, claim)) {
        return;
    }
    if (!json_is_array(v)) {
        char *text = claims_value_text(p, v);
        if (text != NULL) {
            push(x, var, text);
        }
        return;
    }
    parts = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, el) {
        char *text = claims_value_text(p, el);
        if (text == NULL) {
            continue;
        }
        *(char **)apr_array_push(parts) = join_escape(p, text);
        if (i < CLAIMS_MAX_EXPORT_ARRAY) {
            char *ivar = apr_pstrcat(p, var, "_", apr_off_t_toa(p, (apr_off_t)i), NULL);
            if (claim_name(x, ivar, claim)) {
                push(x, ivar, text);
            }
        }
    }
    push(x, var, apr_array_pstrcat(p, parts, ','));
    {
        char *nvar = apr_pstrcat(p, var, "_N", NULL);
        if (claim_name(x, nvar, claim)) {
            push(x, nvar, apr_off_t_toa(p, (apr_off_t)json_array_size(v)));
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **claims_sorted_names(apr_pool_t *p, const json_t *claims, apr_size_t *n)
{
    const char **names = apr_palloc(p, (json_object_size(claims) + 1) * sizeof(char *));
    const char *key;
    json_t *v;
    *n = 0;
    json_object_foreach((json_t *)claims, key, v) {
        names[(*n)++] = key;
    }
    qsort(names, *n, sizeof(char *), cmp_str);
    return names;
}

const claims_pair_t *claims_export_pairs(apr_pool_t *p, const json_t *claims, const apr_array_header_t *paths,
                                         const char *prefix, const claims_logger_t *log, int *n)
{
    exporter_t x = { p, apr_array_make(p, 32, sizeof(claims_pair_t)), apr_hash_make(p), log };
    if (prefix == NULL) {
        prefix = CLAIMS_DEFAULT_ENV_PREFIX;
    }
    if (paths == NULL) {
        apr_size_t i = 0;
        const char **names = claims_sorted_names(p, claims, &i);
        for (apr_size_t k = 0; k < i; k++) {
            export_one(&x, names[k], json_object_get(claims, names[k]), prefix);
        }
    }
    else {
        for (int i = 0; i < paths->nelts; i++) {
            const claims_path_t *path = APR_ARRAY_IDX(paths, i, const claims_path_t *);
            json_t *v = claims_path_lookup(claims, path);
            if (v != NULL) {
                /* "/groups/0" is named GROUPS_0: the pointer's leading '/' is not part of a name */
                export_one(&x, path->pointer ? path->text + 1 : path->text, v, prefix);
            }
        }
    }
    *n = x.pairs->nelts;
    return (const claims_pair_t *)x.pairs->elts;
}

void claims_export_env(apr_pool_t *p, const json_t *claims, const apr_array_header_t *paths,
                       const char *prefix, apr_table_t *env, const claims_logger_t *log)
{
    int n;
    const claims_pair_t *pairs = claims_export_pairs(p, claims, paths, prefix, log, &n);
    for (int i = 0; i < n; i++) {
        apr_table_setn(env, pairs[i].name, pairs[i].value);
    }
}

claims_status_t claims_remote_user(apr_pool_t *p, const json_t *claims, const claims_path_t *path,
                                   const char **user)
{
    json_t *v = claims_path_lookup(claims, path);
    const char *s;
    apr_size_t len;
    if (!json_is_string(v)) {
        return CLAIMS_ERR_REMOTE_USER;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0 || len > CLAIMS_MAX_REMOTE_USER) {
        return CLAIMS_ERR_REMOTE_USER;
    }
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return CLAIMS_ERR_REMOTE_USER;
        }
        /* C1 controls U+0080-U+009F (C2 80-9F) and the line/paragraph separators U+2028/9 */
        if ((c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            || (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80
                && ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))) {
            return CLAIMS_ERR_REMOTE_USER;
        }
    }
    *user = apr_pstrmemdup(p, s, len);
    return CLAIMS_OK;
}
