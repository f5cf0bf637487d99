/*
 * mod_claims_identity.c - the verified identity handed over: to CGI, SSI and handlers as
 * environment variables, to proxied backends as request headers no client can forge, and to
 * ap_expr as the functions claim('path') and claims('path').
 *
 * Order on every request: post_perdir_config removes client-sent headers whose normalised
 * name (case-insensitive, '-' and '_' and any other non-alphanumeric equal) matches a
 * configured ClaimsHeader or the ClaimsHeaderPrefix, before any other module looks at them;
 * fixups then exports the identity and sets (never adds) our headers.
 */
#include "mod_claims.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

/* log lines of this file belong to mod_claims (LogLevel claims:...) */
APLOG_USE_MODULE(claims);

char *mc_normalise_header(apr_pool_t *p, const char *name)
{
    char *out = apr_pstrdup(p, name);
    for (char *c = out; *c; c++) {
        *c = apr_isalnum(*c) ? (char)apr_toupper(*c) : '_';
    }
    return out;
}

/* ------------------------------------------------------------------ scrubbing */

/* Whether name, normalised, equals norm (exact) or starts with it (prefix), without copying. */
static int norm_match(const char *name, const char *norm, int prefix)
{
    for (; *norm; name++, norm++) {
        char c = apr_isalnum(*name) ? (char)apr_toupper(*name) : '_';
        if (*name == '\0' || c != *norm) {
            return 0;
        }
    }
    return prefix || *name == '\0';
}

/* Whether a client-sent header name looks like one of ours: configured here (dc, may be NULL)
 * or anywhere in this server (sc). */
static int is_ours_header(const mc_srv_conf_t *sc, const mc_dir_conf_t *dc, const char *name)
{
    if (dc != NULL) {
        if (dc->header_prefix_norm != NULL && *dc->header_prefix_norm != '\0'
            && norm_match(name, dc->header_prefix_norm, 1)) {
            return 1;
        }
        for (int i = 0; dc->headers != NULL && i < dc->headers->nelts; i++) {
            if (norm_match(name, APR_ARRAY_IDX(dc->headers, i, mc_header_t).norm, 0)) {
                return 1;
            }
        }
    }
    for (int i = 0; sc != NULL && sc->scrub_prefixes != NULL && i < sc->scrub_prefixes->nelts; i++) {
        if (norm_match(name, APR_ARRAY_IDX(sc->scrub_prefixes, i, const char *), 1)) {
            return 1;
        }
    }
    for (int i = 0; sc != NULL && sc->scrub_names != NULL && i < sc->scrub_names->nelts; i++) {
        if (norm_match(name, APR_ARRAY_IDX(sc->scrub_names, i, const char *), 0)) {
            return 1;
        }
    }
    return 0;
}

typedef struct scrub_ctx_t {
    request_rec *r;
    const mc_srv_conf_t *sc;
    const mc_dir_conf_t *dc;
    apr_array_header_t *doomed;
    const char *connection;            /* every Connection value, joined */
} scrub_ctx_t;

static int collect_spoofed(void *baton, const char *key, const char *value)
{
    scrub_ctx_t *c = baton;
    if (strcasecmp(key, "Connection") == 0) {
        c->connection = c->connection == NULL ? value : apr_pstrcat(c->r->pool, c->connection, ", ", value, NULL);
    }
    else if (is_ours_header(c->sc, c->dc, key)) {
        APR_ARRAY_PUSH(c->doomed, const char *) = key;
    }
    return 1;
}

/* Connection names hop-by-hop headers, which mod_proxy removes before the request goes on
 * (RFC 9110 7.6.1): `Connection: close, X-User` would strip our verified X-User on its way to
 * the backend (the pattern of CVE-2022-31813). Our names are taken out of it. */
static void scrub_connection(scrub_ctx_t *c)
{
    request_rec *r = c->r;
    const char *rest = c->connection, *out = NULL;
    char *tok;
    int dropped = 0;
    if (rest == NULL) {
        return;
    }
    while ((tok = ap_get_list_item(r->pool, &rest)) != NULL) {
        if (*tok == '\0') {
            continue;
        }
        if (is_ours_header(c->sc, c->dc, tok)) {
            dropped = 1;
            continue;
        }
        out = out == NULL ? tok : apr_pstrcat(r->pool, out, ", ", tok, NULL);
    }
    if (!dropped) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "CLM042: removed names of our headers from the client's "
                  "Connection header");
    apr_table_unset(r->headers_in, "Connection");
    if (out != NULL) {
        apr_table_setn(r->headers_in, "Connection", out);
    }
}

static void scrub(request_rec *r, const mc_srv_conf_t *sc, const mc_dir_conf_t *dc, int connection_only)
{
    scrub_ctx_t c;
    c.r = r;
    c.sc = sc;
    c.dc = dc;
    c.doomed = apr_array_make(r->pool, 2, sizeof(const char *));
    c.connection = NULL;
    apr_table_do(collect_spoofed, &c, r->headers_in, NULL);
    for (int i = 0; !connection_only && i < c.doomed->nelts; i++) {
        const char *name = APR_ARRAY_IDX(c.doomed, i, const char *);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "CLM040: removed client-sent header %s that looks like "
                      "one of ours", claims_log_escape(r->pool, name, strlen(name), 64));
        apr_table_unset(r->headers_in, name);
    }
    scrub_connection(&c);
}

static int has_headers(const mc_dir_conf_t *dc)
{
    return dc != NULL && (dc->headers != NULL || (dc->header_prefix_norm != NULL && *dc->header_prefix_norm != '\0'));
}

/* First, for every request of a server where any section configures ClaimsHeader or
 * ClaimsHeaderPrefix: before mod_setenvif, mod_rewrite and every other module sees a header
 * (CL-80), whatever the location. */
static int scrub_server(request_rec *r)
{
    const mc_srv_conf_t *sc = ap_get_module_config(r->server->module_config, &claims_module);
    if (sc == NULL || (sc->scrub_names == NULL && sc->scrub_prefixes == NULL)) {
        return DECLINED;
    }
    scrub(r, sc, NULL, 0);
    return DECLINED;
}

/* Again once the location is known: names configured in .htaccess files, which are not in the
 * server's list, and headers that a module added since. */
static int scrub_headers(request_rec *r)
{
    const mc_dir_conf_t *dc = ap_get_module_config(r->per_dir_config, &claims_module);
    if (!has_headers(dc)) {
        return DECLINED;
    }
    scrub(r, NULL, dc, 0);
    return DECLINED;
}

/* ------------------------------------------------------------------ header values */

/* Encodes a claim's text for a header value; NULL when it cannot be sent (raw with controls). */
static const char *encode_value(request_rec *r, int encoding, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t len = strlen(v);
    char *out, *o;

    if (encoding == MC_ENC_BASE64URL) {
        return claims_b64url_encode(r->pool, (const unsigned char *)v, len);
    }
    if (encoding == MC_ENC_RAW) {
        for (const char *c = v; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                return NULL;
            }
        }
        return v;
    }
    o = out = apr_palloc(r->pool, len * 3 + 1);
    for (const char *c = v; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= 0x20 || u >= 0x7f || u == '%') {
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

/* A claim as header text: strings as their bytes, anything else as compact JSON. */
static const char *header_text(request_rec *r, const json_t *v)
{
    char *s, *out;
    if (json_is_string(v)) {
        return claims_value_text(r->pool, v);
    }
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        return NULL;
    }
    out = apr_pstrdup(r->pool, s);
    free(s);
    return out;
}

static void set_claim_header(request_rec *r, const mc_dir_conf_t *dc, const char *name, const json_t *v,
                             const char *claim)
{
    int enc = dc->header_encoding == CLAIMS_UNSET ? MC_ENC_PERCENT : dc->header_encoding;
    const char *text = header_text(r, v);
    const char *value = text != NULL ? encode_value(r, enc, text) : NULL;
    if (value == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "CLM041: claim %s not sent as header %s: its value "
                      "holds control characters (ClaimsHeaderEncoding raw)",
                      claims_log_escape(r->pool, claim, strlen(claim), 64), name);
        return;
    }
    apr_table_set(r->headers_in, name, value);  /* set, never add (CL-81) */
}

/* <prefix><claim name>, with characters outside [A-Za-z0-9-] as '-'. */
static const char *prefixed_name(request_rec *r, const char *prefix, const char *claim)
{
    char *name = apr_pstrcat(r->pool, prefix, claim, NULL);
    for (char *c = name + strlen(prefix); *c; c++) {
        if (!apr_isalnum(*c) && *c != '-') {
            *c = '-';
        }
    }
    return name;
}

/* Sends every exported claim as <prefix><claim>. Header names are case-insensitive, and
 * backends fold '-' and '_': when two claims would give the same header (sub and SUB, a.b and
 * a_b), neither is sent and the collision is logged, so that no claim can take another's
 * header (CL-77). */
static void set_prefixed_headers(request_rec *r, const mc_dir_conf_t *dc, const json_t *claims)
{
    apr_size_t n = 0;
    const char **claim_names;
    const json_t **values;
    const char **headers;
    apr_hash_t *seen = apr_hash_make(r->pool);  /* normalised header name -> count */

    if (dc->export_paths != NULL) {
        n = (apr_size_t)dc->export_paths->nelts;
        claim_names = apr_palloc(r->pool, (n + 1) * sizeof(char *));
        values = apr_palloc(r->pool, (n + 1) * sizeof(json_t *));
        for (apr_size_t i = 0; i < n; i++) {
            const claims_path_t *path = APR_ARRAY_IDX(dc->export_paths, (int)i, const claims_path_t *);
            claim_names[i] = path->text;
            values[i] = claims_path_lookup(claims, path);
        }
    }
    else {
        claim_names = claims_sorted_names(r->pool, claims, &n);
        values = apr_palloc(r->pool, (n + 1) * sizeof(json_t *));
        for (apr_size_t i = 0; i < n; i++) {
            values[i] = json_object_get(claims, claim_names[i]);
        }
    }
    headers = apr_palloc(r->pool, (n + 1) * sizeof(char *));
    for (apr_size_t i = 0; i < n; i++) {
        const char *norm;
        apr_size_t *count;
        headers[i] = NULL;
        if (values[i] == NULL) {
            continue;
        }
        headers[i] = prefixed_name(r, dc->header_prefix, claim_names[i]);
        norm = mc_normalise_header(r->pool, headers[i]);
        count = apr_hash_get(seen, norm, APR_HASH_KEY_STRING);
        if (count == NULL) {
            count = apr_pcalloc(r->pool, sizeof(*count));
            apr_hash_set(seen, norm, APR_HASH_KEY_STRING, count);
        }
        (*count)++;
    }
    for (apr_size_t i = 0; i < n; i++) {
        const apr_size_t *count;
        if (headers[i] == NULL) {
            continue;
        }
        count = apr_hash_get(seen, mc_normalise_header(r->pool, headers[i]), APR_HASH_KEY_STRING);
        if (*count > 1) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "CLM043: claim %s not sent as header %s: %" APR_SIZE_T_FMT
                          " claims map to that header name", claims_log_escape(r->pool, claim_names[i],
                          strlen(claim_names[i]), 64), headers[i], *count);
            continue;
        }
        set_claim_header(r, dc, headers[i], values[i], claim_names[i]);
    }
}

static int is_proxied(request_rec *r)
{
    return r->proxyreq != PROXYREQ_NONE || (r->filename != NULL && strncmp(r->filename, "proxy:", 6) == 0)
        || (r->handler != NULL && strncmp(r->handler, "proxy:", 6) == 0);
}

/* The token cookie is a credential like Authorization: kept from backends unless forwarded. */
static void drop_token_cookie(request_rec *r, const char *name)
{
    const char *all = apr_table_get(r->headers_in, "Cookie");
    const char *kept;
    if (all == NULL) {
        return;
    }
    kept = claims_cookie_without(r->pool, all, name);  /* split as the token was found */
    if (kept != NULL) {
        apr_table_set(r->headers_in, "Cookie", kept);
    }
    else {
        apr_table_unset(r->headers_in, "Cookie");
    }
}

/* ------------------------------------------------------------------ fixups */

/* ours under our spelling: apr_table_setn would keep a preset "claim_sub" spelled so */
static void replace_var(apr_table_t *env, const char *name, const char *value)
{
    apr_table_unset(env, name);
    apr_table_addn(env, name, value);
}

/* Whether env holds a variable named like ours (CLAIM_*, CLAIMS_*): set from a configuration or
 * copied into a sub-request. Only then must ours replace entries; else they are appended, since
 * apr_table_setn compares the name with every entry of the same first four letters: with
 * "CLAI" shared by all of ours, setting n of them cost n^2/2 string comparisons. */
static int env_has_ours(const apr_table_t *env)
{
    const apr_array_header_t *arr = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    for (int i = 0; i < arr->nelts; i++) {
        if (e[i].key != NULL && strncasecmp(e[i].key, "CLAIM", 5) == 0) {
            return 1;
        }
    }
    return 0;
}

static int fixups(request_rec *r)
{
    mc_state_t *state;
    const mc_dir_conf_t *dc;
    const char *json;
    const claims_pair_t *pairs;
    int n;
    void (*set)(apr_table_t *, const char *, const char *);
    claims_logger_t log = {mc_core_log, r};

    if (!mc_is_ours(r)) {
        return DECLINED;
    }
    state = mc_get_state(r);
    dc = ap_get_module_config(r->per_dir_config, &claims_module);
    if (is_proxied(r) && dc->forward_token != 1) {
        apr_table_unset(r->headers_in, "Authorization");  /* CL-83 */
        if (dc->token_from != CLAIMS_UNSET && (dc->token_from & MC_FROM_COOKIE)) {
            drop_token_cookie(r, dc->cookie_name);
        }
    }
    if (state == NULL) {
        return DECLINED;
    }
    if (state->anonymous) {
        if (r->user != NULL && *r->user == '\0') {
            r->user = NULL;  /* ClaimsOptional: no identity reaches the handler (CL-82) */
        }
        return DECLINED;
    }
    if (state->cached != NULL && dc->export_paths == NULL) {
        /* computed once when the token was first verified; the entry lives as long as r */
        pairs = state->cached->env;
        n = state->cached->nenv;
        if (state->cached->export_note != NULL) {
            /* the collision found when the entry was made, told on every request as without
             * the cache (CLM010, as the core's own report) */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "CLM010: %s", state->cached->export_note);
        }
    }
    else {
        pairs = claims_export_pairs(r->pool, state->v.claims, dc->export_paths, CLAIMS_DEFAULT_ENV_PREFIX, &log, &n);
    }
    set = env_has_ours(r->subprocess_env) ? replace_var : apr_table_addn;
    for (int i = 0; i < n; i++) {
        set(r->subprocess_env, pairs[i].name, pairs[i].value);
    }
    json = state->cached != NULL ? state->cached->claims_json
           : claims_payload_text(r->pool, state->v.jws->payload, state->v.jws->payload_len, state->v.claims);
    if (json != NULL) {
        set(r->subprocess_env, "CLAIMS_JSON", json);
    }
    set(r->subprocess_env, "CLAIMS_ISSUER", state->issuer->core.iss);

    if (has_headers(dc)) {
        scrub(r, NULL, dc, 1);  /* a Connection header added since must not strip ours either */
    }
    for (int i = 0; dc->headers != NULL && i < dc->headers->nelts; i++) {
        const mc_header_t *h = &APR_ARRAY_IDX(dc->headers, i, mc_header_t);
        json_t *v = claims_path_lookup(state->v.claims, h->path);
        if (v != NULL) {
            set_claim_header(r, dc, h->name, v, h->path->text);
        }
    }
    if (dc->header_prefix != NULL && *dc->header_prefix != '\0') {
        set_prefixed_headers(r, dc, state->v.claims);
    }
    return OK;
}

/* ------------------------------------------------------------------ ap_expr functions */

static const claims_path_t *expr_path(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    char *err = NULL;
    if (data != NULL) {
        return data;
    }
    return claims_path_compile(ctx->p, arg, &err);
}

static json_t *expr_value(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    mc_state_t *state;
    const claims_path_t *path;
    if (ctx->r == NULL) {
        return NULL;
    }
    state = mc_lazy_state(ctx->r);
    path = expr_path(ctx, data, arg);
    if (state == NULL || path == NULL) {
        return NULL;
    }
    /* a Require expr deciding on claims: a denial is insufficient_scope, as for Require claim */
    apr_table_setn(ctx->r->notes, MC_NOTE_EVALUATED, "1");
    return claims_path_lookup(state->v.claims, path);
}

/* A claim's text for an expression: strings as they are, anything else as JSON, with control
 * characters (C0, DEL) and '%' as %XX. An expression's value may go into a request header
 * (RequestHeader set X "expr=%{claim:name}"), and a raw CR LF there would start a header of
 * the token holder's choosing; '%' is encoded too so that the text stays unambiguous. */
static const char *expr_text(request_rec *r, const json_t *v)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *s = header_text(r, v);
    apr_size_t extra = 0;
    char *out, *o;
    if (s == NULL) {
        return NULL;
    }
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        extra += (u < 0x20 || u == 0x7f || u == '%') ? 2 : 0;
    }
    if (extra == 0) {
        return s;
    }
    o = out = apr_palloc(r->pool, strlen(s) + extra + 1);
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u == 0x7f || u == '%') {
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

/* claim('path'): the claim as text (expr_text), or "". */
static const char *claim_fn(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    json_t *v = expr_value(ctx, data, arg);
    const char *s = v != NULL ? expr_text(ctx->r, v) : NULL;
    return s != NULL ? s : "";
}

/* claims('path'): the elements of an array claim, a scalar as one element, or an empty list. */
static apr_array_header_t *claims_fn(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    json_t *v = expr_value(ctx, data, arg);
    apr_array_header_t *list = apr_array_make(ctx->p, 4, sizeof(const char *));
    if (json_is_array(v)) {
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) {
            const char *s = expr_text(ctx->r, el);
            if (s != NULL) {
                APR_ARRAY_PUSH(list, const char *) = s;
            }
        }
    }
    else if (v != NULL) {
        const char *s = expr_text(ctx->r, v);
        if (s != NULL) {
            APR_ARRAY_PUSH(list, const char *) = s;
        }
    }
    return list;
}

/* mod_authz_core's record of a `Require expr` being parsed (stable since httpd 2.3): an
 * expression that reads REMOTE_USER gets want_user, so that without a user it answers
 * AUTHZ_DENIED_NO_USER (401, authenticate first) instead of AUTHZ_DENIED (403). Reading a
 * claim needs a user just the same. */
#define MC_REQUIRE_EXPR_NOTE "Require_expr_info"
typedef struct mc_require_expr_info_t {
    ap_expr_info_t *expr;
    int want_user;
} mc_require_expr_info_t;

static int expr_lookup(ap_expr_lookup_parms *parms)
{
    mc_require_expr_info_t *info = NULL;
    int is_claim = strcmp(parms->name, "claim") == 0;
    int is_claims = strcmp(parms->name, "claims") == 0;
    if (!((parms->type == AP_EXPR_FUNC_STRING && is_claim) || (parms->type == AP_EXPR_FUNC_LIST && is_claims))) {
        return DECLINED;
    }
    *parms->data = NULL;
    if (apr_pool_userdata_get((void **)&info, MC_REQUIRE_EXPR_NOTE, parms->ptemp) == APR_SUCCESS && info != NULL) {
        info->want_user = 1;
    }
    if (parms->arg != NULL) {
        /* a constant path is compiled once, when the expression is parsed */
        char *err = NULL;
        claims_path_t *path = claims_path_compile(parms->pool, parms->arg, &err);
        if (path == NULL) {
            *parms->err = apr_psprintf(parms->ptemp, "%s('%s'): %s", parms->name, parms->arg, err);
            return !OK;
        }
        *parms->data = path;
    }
    if (is_claim) {
        *parms->func = (const void *)claim_fn;
    }
    else {
        *parms->func = (const void *)claims_fn;
    }
    return OK;
}

void mc_register_identity_hooks(apr_pool_t *p)
{
    ap_hook_post_read_request(scrub_server, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_post_perdir_config(scrub_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_expr_lookup(expr_lookup, NULL, NULL, APR_HOOK_MIDDLE);
}
