/*
 * claims_path.c - claim lookup; see claims_path.h.
 */
#include "claims_path.h"

#include <apr_strings.h>
#include <string.h>

claims_path_t *claims_path_compile(apr_pool_t *p, const char *text, char **err)
{
    claims_path_t *path;
    apr_size_t len = text != NULL ? strlen(text) : 0;

    if (len == 0) {
        *err = "empty claim path";
        return NULL;
    }
    if (len > CLAIMS_MAX_PATH) {
        *err = "claim path too long";
        return NULL;
    }
    path = apr_pcalloc(p, sizeof(*path));
    path->text = apr_pstrdup(p, text);
    if (text[0] != '/') {
        if (text[0] == '.' || text[len - 1] == '.' || strstr(text, "..") != NULL) {
            *err = "claim path has an empty segment";  /* can only be a mistake */
            return NULL;
        }
        return path;
    }
    path->pointer = 1;
    path->tokens = apr_array_make(p, 4, sizeof(const char *));
    for (const char *s = text + 1;;) {
        const char *end = strchr(s, '/');
        apr_size_t n = end ? (apr_size_t)(end - s) : strlen(s);
        char *tok = apr_palloc(p, n + 1), *o = tok;
        for (apr_size_t i = 0; i < n; i++) {
            if (s[i] == '~') {
                if (i + 1 < n && s[i + 1] == '0') {
                    *o++ = '~';
                }
                else if (i + 1 < n && s[i + 1] == '1') {
                    *o++ = '/';
                }
                else {
                    *err = "JSON Pointer has a '~' not followed by 0 or 1";
                    return NULL;
                }
                i++;
            }
            else {
                *o++ = s[i];
            }
        }
        *o = '\0';
        *(const char **)apr_array_push(path->tokens) = tok;
        if (end == NULL) {
            break;
        }
        s = end + 1;
    }
    return path;
}

/* Array index per RFC 6901: "0" or digits without a leading zero. */
static int array_index(const char *tok, size_t *idx)
{
    size_t v = 0;
    if (*tok == '\0' || (tok[0] == '0' && tok[1] != '\0')) {
        return 0;
    }
    for (const char *c = tok; *c; c++) {
        if (*c < '0' || *c > '9' || v > 100000000) {
            return 0;
        }
        v = v * 10 + (size_t)(*c - '0');
    }
    *idx = v;
    return 1;
}

static json_t *lookup_dotted(const json_t *obj, const char *s, apr_size_t len, int depth)
{
    json_t *v;
    if (!json_is_object(obj) || depth > 64) {
        return NULL;
    }
    v = json_object_getn(obj, s, len);
    if (v != NULL) {
        return v;
    }
    /* the longest member name ending at a dot; no backtracking, so lookups stay linear */
    for (apr_size_t i = len; i-- > 0;) {
        if (s[i] == '.') {
            json_t *child = json_object_getn(obj, s, i);
            if (child != NULL) {
                return lookup_dotted(child, s + i + 1, len - i - 1, depth + 1);
            }
        }
    }
    return NULL;
}

json_t *claims_path_lookup(const json_t *claims, const claims_path_t *path)
{
    const json_t *cur = claims;
    if (path == NULL || claims == NULL) {
        return NULL;
    }
    if (!path->pointer) {
        return lookup_dotted(claims, path->text, strlen(path->text), 0);
    }
    for (int i = 0; i < path->tokens->nelts && cur != NULL; i++) {
        const char *tok = APR_ARRAY_IDX(path->tokens, i, const char *);
        size_t idx;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        }
        else if (json_is_array(cur) && array_index(tok, &idx)) {
            cur = json_array_get(cur, idx);
        }
        else {
            return NULL;
        }
    }
    return (json_t *)cur;
}
