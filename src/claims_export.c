/*
 * claims_export.c - claims to environment variables; see claims_export.h.
 */
#include "claims_export.h"
#include "claims_b64url.h"
#include "claims_json.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

char *claims_value_text(apr_pool_t *p, const json_t *v)
{
    if (json_is_string(v)) {
        return apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    }
    return claims_json_text(p, v);     /* NULL for NULL; the same text as jansson's */
}

char *claims_payload_text(apr_pool_t *p, const unsigned char *payload, apr_size_t len, const json_t *claims)
{
    int plain = payload != NULL;
    for (apr_size_t i = 0; plain && i < len; i++) {
        plain = payload[i] >= 0x20;
    }
    if (plain) {
        return apr_pstrmemdup(p, (const char *)payload, len);  /* the exact verified bytes */
    }
    return claims_json_text(p, claims);
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

/* One claim to export: name gives its variables, label names it in a report (a configured
 * pointer keeps its '/'), v is its value. */
typedef struct claim_t {
    const char *name;
    const char *label;
    const json_t *v;
} claim_t;

/* A variable a claim would set, in export order. */
typedef struct candidate_t {
    const char *var;
    const char *value;
} candidate_t;

/* Who maps to one variable name: the first claim, and the others when there are any. */
typedef struct var_use_t {
    int first;
    apr_array_header_t *others;        /* int; NULL while only one claim maps to the name */
    int reported;
} var_use_t;

#define MAX_NAMED_IN_REPORT 8

typedef struct exporter_t {
    apr_pool_t *p;
    apr_array_header_t *claims;        /* claim_t */
    apr_array_header_t *candidates;    /* candidate_t */
    apr_hash_t *uses;                  /* variable name -> var_use_t */
} exporter_t;

/* Adds claim k's candidate var (NULL value: nothing to export) and notes who maps to var. */
static void candidate(exporter_t *x, int k, const char *var, const char *value)
{
    var_use_t *use;
    candidate_t *c;
    if (value == NULL) {
        return;
    }
    use = apr_hash_get(x->uses, var, APR_HASH_KEY_STRING);
    if (use == NULL) {
        use = apr_pcalloc(x->p, sizeof(*use));
        use->first = k;
        apr_hash_set(x->uses, var, APR_HASH_KEY_STRING, use);
    }
    else if (use->first != k) {
        if (use->others == NULL) {
            use->others = apr_array_make(x->p, 2, sizeof(int));
        }
        *(int *)apr_array_push(use->others) = k;
    }
    c = apr_array_push(x->candidates);
    c->var = var;
    c->value = value;
}

/* The variables of claim k: NAME, and for an array NAME_0.. (at most CLAIMS_MAX_EXPORT_ARRAY)
 * and NAME_N. */
static void claim_candidates(exporter_t *x, int k, const char *prefix)
{
    apr_pool_t *p = x->p;
    const claim_t *cl = &APR_ARRAY_IDX(x->claims, k, claim_t);
    char *var = claims_env_name(p, prefix, cl->name);
    apr_array_header_t *parts;
    size_t i;
    json_t *el;
    if (!json_is_array(cl->v)) {
        candidate(x, k, var, claims_value_text(p, cl->v));
        return;
    }
    parts = apr_array_make(p, (int)json_array_size(cl->v) + 1, sizeof(char *));
    json_array_foreach(cl->v, i, el) {
        char *text = claims_value_text(p, el);
        if (text == NULL) {
            continue;
        }
        *(char **)apr_array_push(parts) = join_escape(p, text);
        if (i < CLAIMS_MAX_EXPORT_ARRAY) {
            candidate(x, k, apr_pstrcat(p, var, "_", apr_off_t_toa(p, (apr_off_t)i), NULL), text);
        }
    }
    candidate(x, k, var, apr_array_pstrcat(p, parts, ','));
    candidate(x, k, apr_pstrcat(p, var, "_N", NULL), apr_off_t_toa(p, (apr_off_t)json_array_size(cl->v)));
}

/* once: a configured list may name one claim twice ("sub" and "/sub"); top-level names are
 * unique already */
static void add_claim(exporter_t *x, const char *name, const char *label, const json_t *v, int once)
{
    claim_t *cl;
    for (int i = 0; once && i < x->claims->nelts; i++) {
        const claim_t *o = &APR_ARRAY_IDX(x->claims, i, claim_t);
        if (o->v == v && strcmp(o->name, name) == 0) {
            return;                    /* the same claim listed again */
        }
    }
    cl = apr_array_push(x->claims);
    cl->name = name;
    cl->label = label;
    cl->v = v;
}

static const char *quoted_label(const exporter_t *x, int k)
{
    const char *label = APR_ARRAY_IDX(x->claims, k, claim_t).label;
    return apr_pstrcat(x->p, "\"", claims_log_escape(x->p, label, strlen(label), 64), "\"", NULL);
}

/* The report of one variable that several claims map to: the variable and the claims, never a
 * value (CL-77). */
static const char *collision_report(const exporter_t *x, const char *var, const var_use_t *use)
{
    int total = 1 + use->others->nelts;
    const char *list = quoted_label(x, use->first);
    for (int i = 0; i < use->others->nelts && i + 1 < MAX_NAMED_IN_REPORT; i++) {
        list = apr_pstrcat(x->p, list, ", ", quoted_label(x, APR_ARRAY_IDX(use->others, i, int)), NULL);
    }
    return apr_psprintf(x->p, "%s not exported: %d claims map to it: %s%s",
                        claims_log_escape(x->p, var, strlen(var), 128), total, list,
                        total > MAX_NAMED_IN_REPORT ? ", ..." : "");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct named_t {
    const char *name;
    json_t *value;
} named_t;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_t *)a)->name, ((const named_t *)b)->name);
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
    exporter_t x = { p, apr_array_make(p, 16, sizeof(claim_t)), apr_array_make(p, 32, sizeof(candidate_t)),
                     apr_hash_make(p) };
    apr_array_header_t *pairs = apr_array_make(p, 32, sizeof(claims_pair_t));
    if (prefix == NULL) {
        prefix = CLAIMS_DEFAULT_ENV_PREFIX;
    }
    if (paths == NULL) {
        /* every claim, by name: each name with its value, so that none is looked up again */
        named_t *all = apr_palloc(p, (json_object_size(claims) + 1) * sizeof(named_t));
        apr_size_t count = 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)claims, key, v) {
            all[count].name = key;
            all[count++].value = v;
        }
        qsort(all, count, sizeof(named_t), cmp_named);
        for (apr_size_t k = 0; k < count; k++) {
            add_claim(&x, all[k].name, all[k].name, all[k].value, 0);
        }
    }
    else {
        for (int i = 0; i < paths->nelts; i++) {
            const claims_path_t *path = APR_ARRAY_IDX(paths, i, const claims_path_t *);
            json_t *v = claims_path_lookup(claims, path);
            if (v != NULL) {
                /* "/groups/0" is named GROUPS_0: the pointer's leading '/' is not part of a name */
                add_claim(&x, path->pointer ? path->text + 1 : path->text, path->text, v, 1);
            }
        }
    }
    /* first every claim's variables, so that a name is known to be shared before it is given
     * out, whichever claim comes first */
    for (int k = 0; k < x.claims->nelts; k++) {
        claim_candidates(&x, k, prefix);
    }
    for (int i = 0; i < x.candidates->nelts; i++) {
        const candidate_t *c = &APR_ARRAY_IDX(x.candidates, i, candidate_t);
        var_use_t *use = apr_hash_get(x.uses, c->var, APR_HASH_KEY_STRING);
        if (use->others == NULL) {
            claims_pair_t *pr = apr_array_push(pairs);
            pr->name = c->var;
            pr->value = c->value;
        }
        else if (!use->reported) {
            use->reported = 1;
            claims_log(log, CLAIMS_LOG_INFO, collision_report(&x, c->var, use));
        }
    }
    *n = pairs->nelts;
    return (const claims_pair_t *)pairs->elts;
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

/* ------------------------------------------------------------------ request headers, ap_expr */

/* ASCII only, whatever the process's locale. */
static int ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char norm_char(char c)
{
    if (c >= 'a' && c <= 'z') {
        return (char)(c - 'a' + 'A');
    }
    return ascii_alnum(c) ? c : '_';
}

char *claims_header_name_norm(apr_pool_t *p, const char *name)
{
    char *out = apr_pstrdup(p, name);
    for (char *c = out; *c; c++) {
        *c = norm_char(*c);
    }
    return out;
}

int claims_header_norm_match(const char *name, const char *norm, int prefix)
{
    for (; *norm; name++, norm++) {
        if (*name == '\0' || norm_char(*name) != *norm) {
            return 0;
        }
    }
    return prefix || *name == '\0';
}

char *claims_header_prefixed_name(apr_pool_t *p, const char *prefix, const char *claim)
{
    char *name = apr_pstrcat(p, prefix, claim, NULL);
    for (char *c = name + strlen(prefix); *c; c++) {
        if (!ascii_alnum(*c) && *c != '-') {
            *c = '-';
        }
    }
    return name;
}

/* text with every byte for which encode() is true as %XX. */
static char *percent_encode(apr_pool_t *p, const char *text, int (*encode)(unsigned char))
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(text) * 3 + 1), *o = out;
    for (const char *c = text; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (encode(u)) {
            *o++ = '%';
            *o++ = hex[u >> 4];
            *o++ = hex[u & 15];
        }
        else {
            *o++ = (char)u;
        }
    }
    *o = '\0';
    return out;
}

static int is_control(unsigned char u)
{
    return u < 0x20 || u == 0x7f;
}

/* Not printable ASCII, a space, or '%': encoded in a percent header value. */
static int header_escaped(unsigned char u)
{
    return u <= 0x20 || u >= 0x7f || u == '%';
}

/* A control character or '%': encoded in an expression's text. */
static int expr_escaped(unsigned char u)
{
    return is_control(u) || u == '%';
}

const char *claims_header_value(apr_pool_t *p, claims_header_encoding_t enc, const char *text)
{
    if (enc == CLAIMS_HDR_BASE64URL) {
        return claims_b64url_encode(p, (const unsigned char *)text, strlen(text));
    }
    if (enc == CLAIMS_HDR_RAW) {
        for (const char *c = text; *c; c++) {
            if (is_control((unsigned char)*c)) {
                return NULL;
            }
        }
        return text;
    }
    return percent_encode(p, text, header_escaped);
}

const char *claims_expr_text(apr_pool_t *p, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (expr_escaped((unsigned char)*c)) {
            return percent_encode(p, text, expr_escaped);
        }
    }
    return text;
}
