/*
 * mod_claims_metadata.c - protected resource metadata (RFC 9728); see mod_claims_metadata.h.
 *
 * Where a location's settings come from: httpd merges a request's configuration from the
 * <Location> sections that match its path, which it knows only per request. The document is
 * built once, at start-up, the same way: each <Location> section (and <Directory> section,
 * and the server's own settings) with the settings a request for its own path sees: the
 * server's, then every <Location> whose path covers it, in configuration order (httpd's rule:
 * a literal prefix ending at a '/' or at the end, a wildcard or a regular expression).
 * Sections whose settings name the same resource are one resource: their Require scope lines
 * add up to scopes_supported, and everything else the document says must agree, or configtest
 * fails. <If> and <Files> sections, and .htaccess files, are not read for the document.
 *
 * The document is answered from the quick handler, before any access control: RFC 9728 makes
 * it public, and a location's own Require lines must not hide it.
 */
#include "mod_claims_metadata.h"
#include "mod_claims_binding.h"
#include "mod_claims_config.h"

#include "claims_metadata.h"
#include "claims_policy.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_cfgtree.h"
#include "util_md5.h"

#include <apr_fnmatch.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#define MC_METADATA_MAX_AGE "3600"

/* One document this server answers. */
typedef struct mc_metadata_doc_t {
    const char *path;                  /* the well-known path and the resource's query */
    const char *origin;                /* https://host[:port] of the resource */
    const char *body;
    apr_size_t len;
    const char *etag;
} mc_metadata_doc_t;

struct mc_metadata_docs_t {
    apr_array_header_t *docs;          /* mc_metadata_doc_t */
};

/* A section of the configuration with the settings a request for its own path sees. */
typedef struct section_t {
    const mc_dir_conf_t *eff;
    const char *name;                  /* for messages: <Location /mcp> */
} section_t;

/* A resource and what its sections say. */
typedef struct resource_t {
    const char *uri;
    const section_t *first;
    const char *settings;              /* the document without scopes_supported */
    apr_array_header_t *scopes;        /* const char *, first appearance first */
    int served;                        /* ClaimsResourceMetadata */
} resource_t;

/* ------------------------------------------------------------------ challenges */

const char *mc_resource_metadata_param(request_rec *r)
{
    const char *url = mc_resource_metadata_url(mc_dir(r));
    /* the URL holds RFC 3986 characters only (no '"' or '\'): checked when it was configured */
    return url != NULL ? apr_pstrcat(r->pool, ", resource_metadata=\"", url, "\"", NULL) : "";
}

static void add_unique(apr_array_header_t *list, const char *s)
{
    for (int i = 0; i < list->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(list, i, const char *), s) == 0) {
            return;
        }
    }
    APR_ARRAY_PUSH(list, const char *) = s;
}

void mc_metadata_note_scopes(cmd_parms *cmd, const char *scopes)
{
    mc_dir_conf_t *dc;
    const char *w, *text = scopes;
    /* .htaccess files are read per request: they never change a document built at start-up */
    if (scopes == NULL || cmd->context == NULL || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM) {
        return;
    }
    /* a section with no directive of ours has no record of ours yet: httpd makes it */
    dc = ap_set_config_vectors(cmd->server, cmd->context, cmd->path, &claims_module, cmd->pool);
    if (dc == NULL) {
        return;
    }
    if (dc->required_scopes == NULL) {
        dc->required_scopes = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    while (*(w = ap_getword_white(cmd->pool, &text)) != '\0') {
        add_unique(dc->required_scopes, w);
    }
}

/* ------------------------------------------------------------------ sections and their settings */

/* Whether httpd applies the <Location> section t to a request for uri. */
static int location_covers(const core_dir_config *t, const char *uri)
{
    apr_size_t len;
    if (t->r != NULL) {
        return ap_regexec(t->r, uri, 0, NULL, 0) == 0;
    }
    if (t->d_is_fnmatch) {
        return apr_fnmatch(t->d, uri, APR_FNM_PATHNAME) == APR_SUCCESS;
    }
    len = strlen(t->d);
    return strncmp(t->d, uri, len) == 0 && (len == 0 || t->d[len - 1] == '/' || uri[len] == '/' || uri[len] == '\0');
}

static const mc_dir_conf_t *ours(ap_conf_vector_t *v)
{
    return ap_get_module_config(v, &claims_module);
}

/* As httpd merges: a section made before the module was loaded has no record of ours. */
static const mc_dir_conf_t *merged(apr_pool_t *p, const mc_dir_conf_t *base, const mc_dir_conf_t *add)
{
    if (add == NULL || base == NULL) {
        return add != NULL ? add : base;
    }
    return mc_merge_dir_conf(p, (void *)base, (void *)add);
}

static void push_section(apr_array_header_t *out, const mc_dir_conf_t *eff, const char *name)
{
    section_t *sec;
    if (eff == NULL || eff->resource == NULL) {
        return;
    }
    sec = apr_array_push(out);
    sec->eff = eff;
    sec->name = name;
}

/* Every section of server s whose settings name a resource, with those settings. */
static apr_array_header_t *resource_sections(apr_pool_t *p, server_rec *s)
{
    core_server_config *sconf = ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **urls = (ap_conf_vector_t **)sconf->sec_url->elts;
    ap_conf_vector_t **dirs = (ap_conf_vector_t **)sconf->sec_dir->elts;
    const mc_dir_conf_t *base = ours(s->lookup_defaults);
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(section_t));

    push_section(out, base, "the server's own settings");
    for (int i = 0; i < sconf->sec_dir->nelts; i++) {
        const core_dir_config *cd = ap_get_core_module_config(dirs[i]);
        push_section(out, merged(p, base, ours(dirs[i])), apr_psprintf(p, "<Directory %s>", cd->d));
    }
    for (int i = 0; i < sconf->sec_url->nelts; i++) {
        const core_dir_config *cd = ap_get_core_module_config(urls[i]);
        const char *probe = cd->r == NULL && !cd->d_is_fnmatch ? cd->d : NULL;
        const mc_dir_conf_t *eff = base;
        for (int j = 0; j < sconf->sec_url->nelts; j++) {
            if (j == i || (probe != NULL && location_covers(ap_get_core_module_config(urls[j]), probe))) {
                eff = merged(p, eff, ours(urls[j]));
            }
        }
    push_section(out, eff, apr_psprintf(p, "<Location%s %s>", cd->r != NULL ? "Match" : "", cd->d));
    }
    return out;
}

/* authorization_servers: the issuers trusted there (ClaimsTrust, else every declared one). */
static apr_array_header_t *trusted_issuers(apr_pool_t *p, server_rec *s, const mc_dir_conf_t *eff)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    const claims_issuer_t **all = apr_pcalloc(p, sizeof(*all) * (apr_size_t)(sc->issuers->nelts + 1));
    const claims_issuer_t *trusted[CLAIMS_MAX_TRUSTED];
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    int n;
    for (int i = 0; i < sc->issuers->nelts; i++) {
        all[i] = &APR_ARRAY_IDX(sc->issuers, i, const mc_issuer_t *)->core;
    }
    n = claims_policy_trusted(all, sc->issuers->nelts, eff->trust, trusted, CLAIMS_MAX_TRUSTED);
    for (int i = 0; i < n; i++) {
        APR_ARRAY_PUSH(out, const char *) = trusted[i]->iss;
    }
    return out;
}

/* bearer_methods_supported: the RFC 6750 ways ClaimsTokenFrom allows (a cookie is none). */
static int bearer_methods(const mc_dir_conf_t *eff)
{
    int from = mc_token_from(eff), bits = 0;
    if (from & MC_FROM_HEADER) {
        bits |= CLAIMS_BEARER_HEADER;
    }
    if (from & MC_FROM_FORM) {
        bits |= CLAIMS_BEARER_BODY;
    }
    if ((from & MC_FROM_QUERY) && eff->query_name != NULL && strcmp(eff->query_name, "access_token") == 0) {
        bits |= CLAIMS_BEARER_QUERY;  /* RFC 6750 2.3 names the parameter access_token */
    }
    return bits;
}

/* Sender-constrained tokens (RFC 9728 section 2): the proof algorithms and whether only
 * DPoP-bound tokens are taken, where the DPoP scheme is; certificate-bound tokens are
 * advertised where a certificate can arrive from a proxy (ClaimsClientCertHeader): whether
 * mod_ssl asks clients for one is its own configuration, which this cannot see. */
static void sender_constraint_fields(apr_pool_t *p, const mc_dir_conf_t *eff, claims_resource_meta_t *m)
{
    int dpop = mc_dpop(eff);
    m->dpop_algs = dpop != MC_DPOP_OFF ? mc_dpop_alg_list(p, eff) : NULL;
    m->dpop_bound_required = dpop == MC_DPOP_OFF ? CLAIMS_META_ABSENT : dpop == MC_DPOP_REQUIRED;
    m->tls_client_certificate_bound = eff->cert_header != NULL ? 1 : CLAIMS_META_ABSENT;
}

/* What the document says for a section, scopes aside. jwks_uri stays out: mod_claims holds no
 * key of the resource's own (it signs and decrypts nothing), and the issuers' key sets are the
 * authorization servers' to publish, in their own metadata. */
static void settings_of(apr_pool_t *p, server_rec *s, const mc_dir_conf_t *eff, claims_resource_meta_t *m)
{
    claims_resource_meta_init(m, eff->resource);
    m->authorization_servers = trusted_issuers(p, s, eff);
    m->bearer_methods = bearer_methods(eff);
    m->documentation = eff->resource_docs;
    sender_constraint_fields(p, eff, m);
}

/* ------------------------------------------------------------------ resources of a server */

static resource_t *resource_of(apr_array_header_t *resources, const char *uri)
{
    for (int i = 0; i < resources->nelts; i++) {
        resource_t *res = &APR_ARRAY_IDX(resources, i, resource_t);
        if (strcmp(res->uri, uri) == 0) {
            return res;
        }
    }
    return NULL;
}

/* Adds a section to its resource; an error when it says something else than the resource's
 * first section. */
static const char *add_section(apr_pool_t *p, server_rec *s, apr_array_header_t *resources, const section_t *sec)
{
    claims_resource_meta_t m;
    resource_t *res;
    const char *settings;
    int served = sec->eff->resource_metadata != 0;
    const apr_array_header_t *scopes = sec->eff->required_scopes;

    settings_of(p, s, sec->eff, &m);
    settings = claims_metadata_document(p, &m);
    if (settings == NULL) {
        return apr_psprintf(p, "ClaimsResource %s: cannot build its metadata document", sec->eff->resource);
    }
    res = resource_of(resources, sec->eff->resource);
    if (res == NULL) {
        res = apr_array_push(resources);
        res->uri = sec->eff->resource;
        res->first = sec;
        res->settings = settings;
        res->scopes = apr_array_make(p, 4, sizeof(const char *));
        res->served = served;
    }
    else if (strcmp(res->settings, settings) != 0 || res->served != served) {
        return apr_psprintf(p, "ClaimsResource %s: %s and %s claim this resource with different settings "
                            "(ClaimsTrust, ClaimsTokenFrom, ClaimsResourceDocs or ClaimsResourceMetadata), so its "
                            "metadata document (RFC 9728) would say two things: give them the same settings or "
                            "resources of their own", res->uri, res->first->name, sec->name);
    }
    for (int i = 0; scopes != NULL && i < scopes->nelts; i++) {
        add_unique(res->scopes, APR_ARRAY_IDX(scopes, i, const char *));
    }
    return NULL;
}

static void add_document(apr_pool_t *p, server_rec *s, apr_array_header_t *docs, const resource_t *res)
{
    claims_resource_meta_t m;
    mc_metadata_doc_t *doc;
    const char *body;

    settings_of(p, s, res->first->eff, &m);
    m.scopes = res->scopes;
    body = claims_metadata_document(p, &m);
    if (body == NULL) {
        return;
    }
    doc = apr_array_push(docs);
    doc->path = claims_metadata_path(p, res->uri);
    doc->origin = claims_resource_origin(p, res->uri);
    doc->body = body;
    doc->len = strlen(body);
    doc->etag = apr_pstrcat(p, "\"", ap_md5_binary(p, (const unsigned char *)body, (int)doc->len), "\"", NULL);
}

/* The documents server s serves (into *out when out is not NULL), or the first configuration
 * error. */
static const char *build_documents(apr_pool_t *p, server_rec *s, struct mc_metadata_docs_t **out)
{
    apr_array_header_t *sections = resource_sections(p, s);
    apr_array_header_t *resources = apr_array_make(p, 2, sizeof(resource_t));
    struct mc_metadata_docs_t *docs;

    for (int i = 0; i < sections->nelts; i++) {
        const char *err = add_section(p, s, resources, &APR_ARRAY_IDX(sections, i, section_t));
        if (err != NULL) {
            return err;
        }
    }
    if (out == NULL) {
        return NULL;
    }
    docs = apr_pcalloc(p, sizeof(*docs));
    docs->docs = apr_array_make(p, resources->nelts, sizeof(mc_metadata_doc_t));
    for (int i = 0; i < resources->nelts; i++) {
        const resource_t *res = &APR_ARRAY_IDX(resources, i, resource_t);
        if (res->served) {
            add_document(p, s, docs->docs, res);
        }
    }
    *out = docs;
    return NULL;
}

/* ------------------------------------------------------------------ serving */

/* Whether the resource's host (of its origin) is the host r was sent to. */
static int same_host(const request_rec *r, const char *origin)
{
    const char *host = strstr(origin, "://");
    apr_size_t n = r->hostname != NULL ? strlen(r->hostname) : 0;
    host = host != NULL ? host + 3 : origin;
    return n > 0 && strncasecmp(host, r->hostname, n) == 0 && (host[n] == ':' || host[n] == '\0');
}

/* The document of the resource whose well-known path and query r asks for. Resources of
 * other hosts with the same path are told apart by r's host; without a match, the only one. */
static const mc_metadata_doc_t *find_document(const request_rec *r)
{
    const struct mc_metadata_docs_t *docs = mc_srv(r->server)->metadata;
    const mc_metadata_doc_t *only = NULL;
    const char *path = r->parsed_uri.path;
    int found = 0;

    if (docs == NULL || path == NULL || strncmp(path, CLAIMS_WELL_KNOWN_PRM, sizeof(CLAIMS_WELL_KNOWN_PRM) - 1) != 0) {
        return NULL;
    }
    if (r->args != NULL) {
        path = apr_pstrcat(r->pool, path, "?", r->args, NULL);
    }
    for (int i = 0; i < docs->docs->nelts; i++) {
        const mc_metadata_doc_t *doc = &APR_ARRAY_IDX(docs->docs, i, mc_metadata_doc_t);
        if (strcmp(doc->path, path) == 0) {
            if (same_host(r, doc->origin)) {
                return doc;
            }
            only = doc;
            found++;
        }
    }
    return found == 1 ? only : NULL;
}

static int serve_metadata(request_rec *r, int lookup)
{
    const mc_metadata_doc_t *doc;
    int rv;
    if (lookup || r->main != NULL || (doc = find_document(r)) == NULL) {
        return DECLINED;
    }
    /* CORS: any web client may read it (RFC 9728 is public metadata); only this answer says so */
    apr_table_setn(r->headers_out, "Access-Control-Allow-Origin", "*");
    r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_OPTIONS);
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, M_OPTIONS, -1);  /* the Allow header of a 405 */
    if (r->method_number == M_OPTIONS) {
        apr_table_setn(r->headers_out, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        apr_table_setn(r->headers_out, "Access-Control-Allow-Headers", "*");
        apr_table_setn(r->headers_out, "Access-Control-Max-Age", "86400");
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, OPTIONS");
        r->status = HTTP_NO_CONTENT;
        return OK;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=" MC_METADATA_MAX_AGE);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "ETag", doc->etag);
    if ((rv = ap_meets_conditions(r)) != OK) {
        return rv;  /* 304 */
    }
    ap_set_content_length(r, (apr_off_t)doc->len);
    if (!r->header_only) {
        ap_rwrite(doc->body, (int)doc->len, r);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(160) "protected resource metadata served");
    return OK;
}

/* ------------------------------------------------------------------ hooks */

static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    for (server_rec *v = s; v != NULL; v = v->next) {
        const char *err = build_documents(ptemp, v, NULL);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(161) "%s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (server_rec *v = s; v != NULL; v = v->next) {
        build_documents(pconf, v, &mc_srv(v)->metadata);
    }
    return OK;
}

void mc_register_metadata_hooks(apr_pool_t *p)
{
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(serve_metadata, NULL, NULL, APR_HOOK_MIDDLE);
}
