/*
 * claims_metadata.c - protected resource metadata (RFC 9728); see claims_metadata.h.
 */
#include "claims_metadata.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3986 characters: unreserved, gen-delims, sub-delims, and '%' before two hex digits. */
static int uri_chars_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '%') {
            if (!apr_isxdigit(s[1]) || !apr_isxdigit(s[2])) {
                return 0;
            }
            s += 2;
        }
        else if (!apr_isalnum(c) && strchr("-._~:/?#[]@!$&'()*+,;=", c) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* Length of the authority after "scheme://": up to the first '/', '?' or '#'. */
static apr_size_t authority_len(const char *after_scheme)
{
    return strcspn(after_scheme, "/?#");
}

/* https_only: a resource identifier (https, no fragment); else a page's URL (http too). */
static const char *check_url(const char *url, int https_only)
{
    const char *rest;
    apr_size_t alen;

    if (url == NULL || *url == '\0') {
        return "empty URL";
    }
    if (strncmp(url, "https://", 8) == 0) {
        rest = url + 8;
    }
    else if (!https_only && strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
    }
    else {
        return https_only ? "not an https URL (it must start with https://)" : "not an http or https URL";
    }
    if (!uri_chars_ok(url)) {
        return "characters outside RFC 3986 (quote them as %XX)";
    }
    alen = authority_len(rest);
    if (alen == 0 || rest[0] == ':') {
        return "no host";
    }
    if (memchr(rest, '@', alen) != NULL) {
        return "userinfo (user@) is not allowed";
    }
    if (https_only && strchr(url, '#') != NULL) {  /* a resource identifier has none (RFC 9728 1.2) */
        return "a fragment (#) is not allowed";
    }
    return NULL;
}

const char *claims_resource_check(const char *uri)
{
    return check_url(uri, 1);
}

const char *claims_doc_url_check(const char *url)
{
    return check_url(url, 0);
}

const char *claims_resource_origin(apr_pool_t *p, const char *uri)
{
    const char *rest = strstr(uri, "://");
    rest = rest != NULL ? rest + 3 : uri;
    return apr_pstrndup(p, uri, (apr_size_t)(rest - uri) + authority_len(rest));
}

const char *claims_metadata_path(apr_pool_t *p, const char *uri)
{
    const char *rest = strstr(uri, "://");
    const char *tail;
    rest = rest != NULL ? rest + 3 : uri;
    tail = rest + authority_len(rest);  /* the path and query, "" when there are none */
    if (tail[0] == '/' && (tail[1] == '\0' || tail[1] == '?')) {
        tail++;  /* RFC 9728 3.1: the terminating slash after the host goes */
    }
    return apr_pstrcat(p, CLAIMS_WELL_KNOWN_PRM, tail, NULL);
}

const char *claims_metadata_url(apr_pool_t *p, const char *uri)
{
    return apr_pstrcat(p, claims_resource_origin(p, uri), claims_metadata_path(p, uri), NULL);
}

void claims_resource_meta_init(claims_resource_meta_t *m, const char *resource)
{
    memset(m, 0, sizeof(*m));
    m->resource = resource;
    m->dpop_bound_required = CLAIMS_META_ABSENT;
    m->tls_client_certificate_bound = CLAIMS_META_ABSENT;
}

static json_t *string_array(const apr_array_header_t *a)
{
    json_t *out = json_array();
    for (int i = 0; out != NULL && a != NULL && i < a->nelts; i++) {
        json_array_append_new(out, json_string(APR_ARRAY_IDX(a, i, const char *)));
    }
    return out;
}

static void set_array(json_t *doc, const char *name, const apr_array_header_t *a)
{
    if (a != NULL && a->nelts > 0) {
        json_object_set_new(doc, name, string_array(a));
    }
}

static void set_string(json_t *doc, const char *name, const char *v)
{
    if (v != NULL) {
        json_object_set_new(doc, name, json_string(v));
    }
}

static void set_flag(json_t *doc, const char *name, int v)
{
    if (v != CLAIMS_META_ABSENT) {
        json_object_set_new(doc, name, json_boolean(v));
    }
}

static json_t *bearer_methods(int bits)
{
    json_t *a = json_array();
    if (bits & CLAIMS_BEARER_HEADER) {
        json_array_append_new(a, json_string("header"));
    }
    if (bits & CLAIMS_BEARER_BODY) {
        json_array_append_new(a, json_string("body"));
    }
    if (bits & CLAIMS_BEARER_QUERY) {
        json_array_append_new(a, json_string("query"));
    }
    return a;
}

char *claims_metadata_document(apr_pool_t *p, const claims_resource_meta_t *m)
{
    json_t *doc = json_object();
    char *text, *out = NULL;

    if (doc == NULL) {
        return NULL;
    }
    /* members in the order of RFC 9728 section 2 */
    json_object_set_new(doc, "resource", json_string(m->resource));
    json_object_set_new(doc, "authorization_servers", string_array(m->authorization_servers));
    set_string(doc, "jwks_uri", m->jwks_uri);
    set_array(doc, "scopes_supported", m->scopes);
    json_object_set_new(doc, "bearer_methods_supported", bearer_methods(m->bearer_methods));
    set_string(doc, "resource_documentation", m->documentation);
    set_flag(doc, "tls_client_certificate_bound_access_tokens", m->tls_client_certificate_bound);
    set_array(doc, "dpop_signing_alg_values_supported", m->dpop_algs);
    set_flag(doc, "dpop_bound_access_tokens_required", m->dpop_bound_required);
    text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (text != NULL) {
        out = apr_pstrcat(p, text, "\n", NULL);
        free(text);
    }
    return out;
}
