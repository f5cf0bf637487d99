/*
 * claims_problem.c - RFC 9457 bodies for RFC 6750 refusals; see claims_problem.h.
 */
#include "claims_problem.h"
#include "claims_dpop.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX 1000                     /* q values in thousandths */

/* ---------------------------------------------------------------- Accept */

/* A q value ("0", "0.5", "1.000") in thousandths; -1 when malformed (RFC 9110 12.4.2). */
static int parse_q(const char *s, apr_size_t n)
{
    int q, scale = 100;
    apr_size_t i = 2;
    if (n == 0 || (s[0] != '0' && s[0] != '1')) {
        return -1;
    }
    q = (s[0] - '0') * Q_MAX;
    if (n == 1) {
        return q;
    }
    if (s[1] != '.' || n > 5) {
        return -1;
    }
    for (; i < n; i++, scale /= 10) {
        if (!apr_isdigit(s[i])) {
            return -1;
        }
        q += (s[i] - '0') * scale;
    }
    return q <= Q_MAX ? q : -1;
}

/* The q of one media range's parameters (";q=0.5;level=1"); 1000 without one. */
static int range_q(const char *params, apr_size_t n)
{
    apr_size_t i = 0;
    while (i < n) {
        apr_size_t start, len;
        while (i < n && (params[i] == ';' || params[i] == ' ' || params[i] == '\t')) {
            i++;
        }
        start = i;
        while (i < n && params[i] != ';') {
            i++;
        }
        len = i - start;
        while (len > 0 && (params[start + len - 1] == ' ' || params[start + len - 1] == '\t')) {
            len--;
        }
        if (len >= 2 && (params[start] == 'q' || params[start] == 'Q') && params[start + 1] == '=') {
            return parse_q(params + start + 2, len - 2);
        }
    }
    return Q_MAX;
}

static int type_is(const char *s, apr_size_t n, const char *type)
{
    return strlen(type) == n && strncasecmp(s, type, n) == 0;
}

int claims_problem_wanted(const char *accept)
{
    int qjson = 0, qhtml = 0;
    const char *s = accept;

    while (s != NULL && *s != '\0') {
        apr_size_t elen = strcspn(s, ","), tlen;
        const char *t = s;
        int q;
        while (*t == ' ' || *t == '\t') {
            t++;
        }
        tlen = strcspn(t, ";, \t");
        if ((apr_size_t)(t - s) + tlen > elen) {
            tlen = elen - (apr_size_t)(t - s);
        }
        q = range_q(t + tlen, elen - (apr_size_t)(t - s) - tlen);
        if (type_is(t, tlen, "application/json") || type_is(t, tlen, CLAIMS_PROBLEM_TYPE)) {
            qjson = q > qjson ? q : qjson;
        }
        else if (type_is(t, tlen, "text/html")) {
            qhtml = q > qhtml ? q : qhtml;
        }
        s += elen;
        if (*s == ',') {
            s++;
        }
    }
    return qjson > 0 && qjson >= qhtml;
}

/* ---------------------------------------------------------------- the challenge */

static const char *const known_errors[] = {
    "invalid_request", "invalid_token", "insufficient_scope", "invalid_dpop_proof", "use_dpop_nonce", NULL
};

static const char *known_error(const char *e)
{
    for (int i = 0; e != NULL && known_errors[i] != NULL; i++) {
        if (strcmp(e, known_errors[i]) == 0) {
            return known_errors[i];
        }
    }
    return NULL;
}

/* The module's own text equal to d, or NULL: a body only ever carries one of these (a status,
 * a DPoP proof's refusal, a binding's refusal). */
static const char *fixed_text(const char *d)
{
    for (int st = 0; d != NULL && st < CLAIMS_STATUS_COUNT; st++) {
        if (strcmp(d, claims_status_text((claims_status_t)st)) == 0) {
            return claims_status_text((claims_status_t)st);
        }
    }
    for (int f = CLAIMS_DPOP_OK + 1; d != NULL && f < CLAIMS_DPOP_FAIL_COUNT; f++) {
        if (strcmp(d, claims_dpop_fail_text((claims_dpop_fail_t)f)) == 0) {
            return claims_dpop_fail_text((claims_dpop_fail_t)f);
        }
    }
    for (int w = 0; d != NULL && w < CLAIMS_BIND_COUNT; w++) {
        if (strcmp(d, claims_binding_text((claims_binding_why_t)w)) == 0) {
            return claims_binding_text((claims_binding_why_t)w);
        }
    }
    return NULL;
}

/* RFC 6749 3.3 scope-tokens separated by single spaces. */
static int scope_ok(const char *s)
{
    if (s == NULL || *s == '\0' || *s == ' ') {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || (c == ' ' && (s[1] == ' ' || s[1] == '\0'))) {
            return 0;
        }
    }
    return 1;
}

/* Next auth-param name="value" (or name=token) of a challenge; 0 at the end or on anything
 * else (such as the next challenge's scheme). */
static int next_param(apr_pool_t *p, const char **s, const char **name, const char **value)
{
    const char *c = *s, *n, *v;
    while (*c == ' ' || *c == ',' || *c == '\t') {
        c++;
    }
    for (n = c; apr_isalnum(*c) || *c == '_' || *c == '-'; c++) {
    }
    if (c == n || *c != '=') {
        return 0;
    }
    *name = apr_pstrndup(p, n, (apr_size_t)(c - n));
    if (*++c == '"') {
        for (v = ++c; *c != '\0' && *c != '"' && *c != '\\'; c++) {
        }
        if (*c != '"') {
            return 0;
        }
        *value = apr_pstrndup(p, v, (apr_size_t)(c - v));
        c++;
    }
    else {
        for (v = c; *c != '\0' && *c != ',' && *c != ' '; c++) {
        }
        *value = apr_pstrndup(p, v, (apr_size_t)(c - v));
    }
    *s = c;
    return 1;
}

static const char *default_detail(int status, const char *error)
{
    if (status == 401 && error == NULL) {
        return claims_status_text(CLAIMS_NO_TOKEN);
    }
    if (status == 403) {
        return "the token does not grant what this resource requires";
    }
    if (status == 400) {
        return claims_status_text(CLAIMS_ERR_REQUEST);
    }
    return status == 401 ? "the token is not accepted" : NULL;
}

void claims_problem_from_challenge(apr_pool_t *p, int status, const char *challenge, claims_problem_t *out)
{
    const char *s = challenge, *name, *value;
    memset(out, 0, sizeof(*out));
    out->status = status;
    if (s != NULL) {
        s += strcspn(s, " ");  /* the scheme */
        while (next_param(p, &s, &name, &value)) {
            if (strcmp(name, "error") == 0) {
                out->error = known_error(value);
            }
            else if (strcmp(name, "error_description") == 0) {
                out->detail = fixed_text(value);
            }
            else if (strcmp(name, "scope") == 0 && scope_ok(value)) {
                out->scope = value;
            }
        }
    }
    if (out->detail == NULL) {
        out->detail = default_detail(status, out->error);
    }
}

/* ---------------------------------------------------------------- the body */

static const char *title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 503:
        return "Service Unavailable";
    default:
        return NULL;
    }
}

/* pb's detail when it is a fixed text (CL-100), else NULL. */
static const char *allowed_detail(const claims_problem_t *pb)
{
    const char *d = default_detail(pb->status, pb->error);
    if (fixed_text(pb->detail) != NULL) {
        return pb->detail;
    }
    return d != NULL && pb->detail != NULL && strcmp(pb->detail, d) == 0 ? d : NULL;
}

char *claims_problem_body(apr_pool_t *p, const claims_problem_t *pb)
{
    json_t *doc = json_object();
    char *text, *out = NULL;
    if (doc == NULL) {
        return NULL;
    }
    json_object_set_new(doc, "type", json_string("about:blank"));
    if (title(pb->status) != NULL) {
        json_object_set_new(doc, "title", json_string(title(pb->status)));
    }
    json_object_set_new(doc, "status", json_integer(pb->status));
    if (allowed_detail(pb) != NULL) {
        json_object_set_new(doc, "detail", json_string(allowed_detail(pb)));
    }
    if (known_error(pb->error) != NULL) {
        json_object_set_new(doc, "error", json_string(pb->error));
    }
    if (scope_ok(pb->scope)) {
        json_object_set_new(doc, "scope", json_string(pb->scope));
    }
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text != NULL) {
        out = apr_pstrdup(p, text);
        free(text);
    }
    return out;
}
