/*
 * mod_claims_identity.c - the verified identity handed over: to CGI, SSI and handlers as
 * environment variables, and to proxied backends as request headers no client can forge.
 *
 * Order on every request: post_perdir_config removes client-sent headers whose normalised
 * name (case-insensitive, '-' and '_' and any other non-alphanumeric equal) matches a
 * configured ClaimsHeader or the ClaimsHeaderPrefix, before any other module looks at them;
 * fixups then exports the identity and sets (never adds) our headers.
 */
#include "mod_claims_identity.h"
#include "mod_claims_authn.h"

#include "claims_export.h"
#include "claims_path.h"
#include "claims_token.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <string.h>

/* ------------------------------------------------------------------ scrubbing */

/* Whether a client-sent header name looks like one of ours: configured here (dc, may be NULL)
 * or anywhere in this server (sc). */
static int is_ours_header(const mc_srv_conf_t *sc, const mc_dir_conf_t *dc, const char *name)
{
    if (dc != NULL) {
        if (dc->header_prefix_norm != NULL && *dc->header_prefix_norm != '\0'
            && claims_header_norm_match(name, dc->header_prefix_norm, 1)) {
            return 1;
        }
        for (int i = 0; dc->headers != NULL && i < dc->headers->nelts; i++) {
            if (claims_header_norm_match(name, APR_ARRAY_IDX(dc->headers, i, mc_header_t).norm, 0)) {
                return 1;
            }
        }
    }
    for (int i = 0; sc != NULL && sc->scrub_prefixes != NULL && i < sc->scrub_prefixes->nelts; i++) {
        if (claims_header_norm_match(name, APR_ARRAY_IDX(sc->scrub_prefixes, i, const char *), 1)) {
            return 1;
        }
    }
    for (int i = 0; sc != NULL && sc->scrub_names != NULL && i < sc->scrub_names->nelts; i++) {
        if (claims_header_norm_match(name, APR_ARRAY_IDX(sc->scrub_names, i, const char *), 0)) {
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
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(042) "removed names of our headers from the client's "
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
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(040) "removed client-sent header %s that looks like "
                      "one of ours", claims_log_escape(r->pool, name, strlen(name), 64));
        apr_table_unset(r->headers_in, name);
    }
    scrub_connection(&c);
}

/* First, for every request of a server where any section configures ClaimsHeader or
 * ClaimsHeaderPrefix: before mod_setenvif, mod_rewrite and every other module sees a header
 * (CL-80), whatever the location. */
static int scrub_server(request_rec *r)
{
    const mc_srv_conf_t *sc = mc_srv(r->server);
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
    const mc_dir_conf_t *dc = mc_dir(r);
    if (!mc_has_headers(dc)) {
        return DECLINED;
    }
    scrub(r, NULL, dc, 0);
    return DECLINED;
}

/* ------------------------------------------------------------------ header values */

static void set_claim_header(request_rec *r, const mc_dir_conf_t *dc, const char *name, const json_t *v,
                             const char *claim)
{
    const char *text = claims_value_text(r->pool, v);
    const char *value = text != NULL ? claims_header_value(r->pool, mc_header_encoding(dc), text) : NULL;
    if (value == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, MC_LOGNO(041) "claim %s not sent as header %s: its value "
                      "holds control characters (ClaimsHeaderEncoding raw)",
                      claims_log_escape(r->pool, claim, strlen(claim), 64), name);
        return;
    }
    apr_table_set(r->headers_in, name, value);  /* set, never add (CL-81) */
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

    if (!mc_export_all(dc)) {
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
        headers[i] = claims_header_prefixed_name(r->pool, dc->header_prefix, claim_names[i]);
        norm = claims_header_name_norm(r->pool, headers[i]);
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
        count = apr_hash_get(seen, claims_header_name_norm(r->pool, headers[i]), APR_HASH_KEY_STRING);
        if (*count > 1) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(043) "claim %s not sent as header %s: %" APR_SIZE_T_FMT
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

/* CL-83: the credentials stay here, unless ClaimsForwardToken says otherwise: On passes them
 * as sent; jwt passes a signed JWT standing for the token (the phantom token pattern: an opaque
 * token becomes its issuer's RFC 9701 answer; a JWT stays itself), and nothing else. */
static void keep_credentials(request_rec *r, const mc_dir_conf_t *dc, const mc_state_t *state)
{
    int forward = mc_forward(dc);
    if (!is_proxied(r) || forward == MC_FORWARD_ON) {
        return;
    }
    apr_table_unset(r->headers_in, "Authorization");
    apr_table_unset(r->headers_in, "DPoP");  /* a proof is for this server's URL, and the token's */
    if (mc_token_from(dc) & MC_FROM_COOKIE) {
        drop_token_cookie(r, dc->cookie_name);
    }
    if (forward == MC_FORWARD_JWT && state != NULL && !state->anonymous && state->signed_jwt != NULL) {
        apr_table_setn(r->headers_in, "Authorization", apr_pstrcat(r->pool, "Bearer ", state->signed_jwt, NULL));
    }
}

/* CLAIM_*, CLAIMS_JSON and CLAIMS_ISSUER for CGI, SSI and handlers. */
static void export_env(request_rec *r, const mc_dir_conf_t *dc, const mc_state_t *state)
{
    const claims_pair_t *pairs;
    const char *json;
    int n;
    void (*set)(apr_table_t *, const char *, const char *);

    if (state->cached != NULL && mc_export_all(dc)) {
        /* computed once when the token was first verified; the entry lives as long as r */
        pairs = state->cached->env;
        n = state->cached->nenv;
        if (state->cached->export_note != NULL) {
            /* the collision found when the entry was made, told on every request as without
             * the cache (as the core's own report) */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(010) "%s", state->cached->export_note);
        }
    }
    else {
        claims_logger_t log = {mc_core_log, r};
        pairs = claims_export_pairs(r->pool, state->v.claims, mc_export_all(dc) ? NULL : dc->export_paths,
                                    CLAIMS_DEFAULT_ENV_PREFIX, &log, &n);
    }
    set = env_has_ours(r->subprocess_env) ? replace_var : apr_table_addn;
    for (int i = 0; i < n; i++) {
        set(r->subprocess_env, pairs[i].name, pairs[i].value);
    }
    json = state->cached != NULL ? state->cached->claims_json
           : state->v.jws != NULL ? claims_payload_text(r->pool, state->v.jws->payload, state->v.jws->payload_len,
                                                       state->v.claims)
                                  : claims_payload_text(r->pool, NULL, 0, state->v.claims);
    if (json != NULL) {
        set(r->subprocess_env, "CLAIMS_JSON", json);
    }
    set(r->subprocess_env, "CLAIMS_ISSUER", state->issuer->core.iss);
}

/* ClaimsHeader and ClaimsHeaderPrefix for proxied backends. */
static void export_headers(request_rec *r, const mc_dir_conf_t *dc, const mc_state_t *state)
{
    if (!mc_has_headers(dc)) {
        return;
    }
    scrub(r, NULL, dc, 1);  /* a Connection header added since must not strip ours either */
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
}

static int fixups(request_rec *r)
{
    const mc_state_t *state;
    const mc_dir_conf_t *dc;

    if (!mc_is_ours(r)) {
        return DECLINED;
    }
    state = mc_get_state(r);
    dc = mc_dir(r);
    keep_credentials(r, dc, state);
    if (state == NULL) {
        return DECLINED;
    }
    if (state->anonymous) {
        if (r->user != NULL && *r->user == '\0') {
            r->user = NULL;  /* ClaimsOptional: no identity reaches the handler (CL-82) */
        }
        return DECLINED;
    }
    export_env(r, dc, state);
    export_headers(r, dc, state);
    return OK;
}

void mc_register_identity_hooks(apr_pool_t *p)
{
    ap_hook_post_read_request(scrub_server, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_post_perdir_config(scrub_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_MIDDLE);
}
