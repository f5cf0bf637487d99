/*
 * mod_claims_status.c - the operators' view: `SetHandler claims-status` serves the module
 * version, each issuer with its key ids, key set age, last refresh result and next refresh,
 * the verified-token cache figures, and the accepted / refused tokens by issuer and reason,
 * summed over all child processes. HTML by default, ?format=json and ?format=prometheus
 * (text exposition format 0.0.4). It shows no token, claim value or key material.
 *
 * The page only reads: the counters are mod_claims_counters.c's, the key sets
 * mod_claims_remote.c's.
 */
#include "mod_claims_status.h"
#include "mod_claims_counters.h"
#include "mod_claims_remote.h"

#include "claims_alg.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MC_STATUS_HANDLER "claims-status"

/* ------------------------------------------------------------------ collecting */

typedef struct issuer_view_t {
    const mc_issuer_t *ic;
    mc_keys_info_t keys;
    mc_counts_t counts;
} issuer_view_t;

static apr_array_header_t *collect(request_rec *r)
{
    const mc_srv_conf_t *sc = mc_srv(r->server);
    apr_array_header_t *views = apr_array_make(r->pool, sc->issuers->nelts, sizeof(issuer_view_t));
    for (int i = 0; i < sc->issuers->nelts; i++) {
        issuer_view_t *v = apr_array_push(views);
        memset(v, 0, sizeof(*v));
        v->ic = APR_ARRAY_IDX(sc->issuers, i, const mc_issuer_t *);
        mc_describe_keys(r, v->ic, &v->keys);
        mc_read_counts(v->ic, &v->counts);
    }
    return views;
}

static apr_int64_t secs_since(apr_time_t t)
{
    return t > 0 ? apr_time_sec(apr_time_now() - t) : -1;
}

static apr_int64_t secs_until(apr_time_t t)
{
    return t > 0 ? apr_time_sec(t - apr_time_now()) : -1;
}

static const char *kid_of(const claims_key_t *k)
{
    return k->kid != NULL ? k->kid : "(no kid)";
}

/* ------------------------------------------------------------------ JSON */

static json_t *counts_json(const mc_counts_t *c)
{
    json_t *refused = json_object();
    for (int i = 1; i < CLAIMS_STATUS_COUNT; i++) {
        if (c->refused[i] > 0) {
            json_object_set_new(refused, claims_status_name((claims_status_t)i), json_integer((json_int_t)c->refused[i]));
        }
    }
    return refused;
}

static void render_json(request_rec *r, apr_array_header_t *views)
{
    mc_counts_t none;
    claims_cache_counters_t cc;
    json_t *doc = json_object(), *issuers = json_array(), *cache = json_object();
    char *text;
    json_object_set_new(doc, "module", json_string("mod_claims"));
    json_object_set_new(doc, "version", json_string(CLAIMS_VERSION));
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        json_t *o = json_object(), *kids = json_array();
        for (int k = 0; v->keys.keys != NULL && k < v->keys.keys->nelts; k++) {
            const claims_key_t *key = APR_ARRAY_IDX(v->keys.keys, k, const claims_key_t *);
            json_t *kj = json_object();
            json_object_set_new(kj, "kid", key->kid != NULL ? json_stringn(key->kid, key->kid_len) : json_null());
            json_object_set_new(kj, "alg", json_string(claims_alg_name(key->alg)));
            json_array_append_new(kids, kj);
        }
        json_object_set_new(o, "issuer", json_string(v->ic->core.iss));
        json_object_set_new(o, "key_source", json_string(v->keys.source));
        json_object_set_new(o, "keys", kids);
        if (v->keys.skipped != NULL) {
            json_t *sk = json_array();
            for (int k = 0; k < v->keys.skipped->nelts; k++) {
                const claims_key_skipped_t *ks = APR_ARRAY_IDX(v->keys.skipped, k, const claims_key_skipped_t *);
                json_t *kj = json_object();
                json_object_set_new(kj, "kid", ks->kid != NULL ? json_string(claims_log_escape(r->pool, ks->kid, strlen(ks->kid), 128)) : json_null());
                json_object_set_new(kj, "kty", json_string(ks->kty != NULL ? ks->kty : ""));
                json_object_set_new(kj, "reason", json_string(ks->reason));
                json_array_append_new(sk, kj);
            }
            json_object_set_new(o, "skipped_keys", sk);
        }
        if (v->keys.remote) {
            json_object_set_new(o, "key_set_version", json_integer((json_int_t)v->keys.version));
            json_object_set_new(o, "key_set_age_seconds", json_integer(secs_since(v->keys.fetched_at)));
            json_object_set_new(o, "last_refresh", json_string(v->keys.attempt_at == 0 ? "pending"
                                                                : v->keys.last_ok ? "ok" : "failed"));
            if (!v->keys.last_ok && v->keys.last_error != NULL) {
                json_object_set_new(o, "last_refresh_error", json_string(v->keys.last_error));
            }
            json_object_set_new(o, "next_refresh_in_seconds", json_integer(secs_until(v->keys.next_at)));
            json_object_set_new(o, "fetches", json_integer((json_int_t)v->keys.fetches));
        }
        json_object_set_new(o, "accepted", json_integer((json_int_t)v->counts.accepted));
        json_object_set_new(o, "refused", counts_json(&v->counts));
        json_array_append_new(issuers, o);
    }
    json_object_set_new(doc, "issuers", issuers);
    if (mc_read_counts(NULL, &none)) {
        json_object_set_new(doc, "refused_before_issuer", counts_json(&none));
    }
    if (mc_read_cache_counts(&cc)) {
        json_object_set_new(cache, "entries", json_integer((json_int_t)cc.entries));
        json_object_set_new(cache, "bytes", json_integer((json_int_t)cc.bytes));
        json_object_set_new(cache, "hits", json_integer((json_int_t)cc.hits));
        json_object_set_new(cache, "misses", json_integer((json_int_t)cc.misses));
        json_object_set_new(cache, "evictions", json_integer((json_int_t)cc.evictions));
    }
    json_object_set_new(cache, "enabled", json_boolean(mc_token_cache() != NULL));
    json_object_set_new(doc, "cache", cache);
    text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    ap_set_content_type(r, "application/json");
    if (text != NULL) {
        ap_rputs(text, r);
        ap_rputs("\n", r);
        free(text);
    }
}

/* ------------------------------------------------------------------ Prometheus */

static const char *label(request_rec *r, const char *s)
{
    char *out = apr_palloc(r->pool, strlen(s) * 2 + 1), *o = out;
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static void prom_refused(request_rec *r, const char *iss, const mc_counts_t *c)
{
    for (int i = 1; i < CLAIMS_STATUS_COUNT; i++) {
        if (c->refused[i] > 0) {
            ap_rprintf(r, "claims_tokens_refused_total{issuer=\"%s\",reason=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       iss, claims_status_name((claims_status_t)i), (apr_uint64_t)c->refused[i]);
        }
    }
}

static void render_prometheus(request_rec *r, apr_array_header_t *views)
{
    mc_counts_t none;
    claims_cache_counters_t cc;
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    ap_rprintf(r, "# HELP claims_info mod_claims version.\n# TYPE claims_info gauge\n"
                  "claims_info{version=\"%s\"} 1\n", CLAIMS_VERSION);
    ap_rputs("# HELP claims_tokens_accepted_total Tokens accepted, by issuer.\n"
             "# TYPE claims_tokens_accepted_total counter\n", r);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        ap_rprintf(r, "claims_tokens_accepted_total{issuer=\"%s\"} %" APR_UINT64_T_FMT "\n",
                   label(r, v->ic->core.iss), (apr_uint64_t)v->counts.accepted);
    }
    ap_rputs("# HELP claims_tokens_refused_total Requests refused, by issuer (\"\" before one was known) "
             "and reason.\n# TYPE claims_tokens_refused_total counter\n", r);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        prom_refused(r, label(r, v->ic->core.iss), &v->counts);
    }
    if (mc_read_counts(NULL, &none)) {
        prom_refused(r, "", &none);
    }
    ap_rputs("# HELP claims_keys Keys trusted for the issuer.\n# TYPE claims_keys gauge\n", r);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        ap_rprintf(r, "claims_keys{issuer=\"%s\"} %d\n", label(r, v->ic->core.iss),
                   v->keys.keys != NULL ? v->keys.keys->nelts : 0);
    }
    ap_rputs("# HELP claims_key_set_age_seconds Age of the remote key set.\n"
             "# TYPE claims_key_set_age_seconds gauge\n", r);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        if (v->keys.remote && v->keys.fetched_at > 0) {
            ap_rprintf(r, "claims_key_set_age_seconds{issuer=\"%s\"} %" APR_INT64_T_FMT "\n",
                       label(r, v->ic->core.iss), secs_since(v->keys.fetched_at));
        }
    }
    ap_rputs("# HELP claims_key_set_last_refresh_ok Whether the last key set refresh succeeded.\n"
             "# TYPE claims_key_set_last_refresh_ok gauge\n", r);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        if (v->keys.remote) {
            ap_rprintf(r, "claims_key_set_last_refresh_ok{issuer=\"%s\"} %d\n", label(r, v->ic->core.iss),
                       v->keys.last_ok);
        }
    }
    ap_rputs("# HELP claims_key_set_fetches_total Network fetches of key sets and metadata.\n"
             "# TYPE claims_key_set_fetches_total counter\n", r);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        if (v->keys.remote) {
            ap_rprintf(r, "claims_key_set_fetches_total{issuer=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       label(r, v->ic->core.iss), v->keys.fetches);
        }
    }
    if (mc_read_cache_counts(&cc)) {
        ap_rprintf(r, "# HELP claims_cache_entries Verified tokens cached, all children.\n"
                      "# TYPE claims_cache_entries gauge\nclaims_cache_entries %" APR_UINT64_T_FMT "\n"
                      "# HELP claims_cache_bytes Bytes the cached tokens take, all children.\n"
                      "# TYPE claims_cache_bytes gauge\nclaims_cache_bytes %" APR_UINT64_T_FMT "\n"
                      "# HELP claims_cache_hits_total Tokens found in the cache.\n"
                      "# TYPE claims_cache_hits_total counter\nclaims_cache_hits_total %" APR_UINT64_T_FMT "\n"
                      "# HELP claims_cache_misses_total Tokens not found in the cache.\n"
                      "# TYPE claims_cache_misses_total counter\nclaims_cache_misses_total %" APR_UINT64_T_FMT "\n"
                      "# HELP claims_cache_evictions_total Entries evicted for room.\n"
                      "# TYPE claims_cache_evictions_total counter\nclaims_cache_evictions_total %"
                      APR_UINT64_T_FMT "\n",
                   (apr_uint64_t)cc.entries, (apr_uint64_t)cc.bytes, (apr_uint64_t)cc.hits, (apr_uint64_t)cc.misses,
                   (apr_uint64_t)cc.evictions);
    }
}

/* ------------------------------------------------------------------ HTML */

static void render_html(request_rec *r, apr_array_header_t *views)
{
    claims_cache_counters_t cc;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rprintf(r, "<!DOCTYPE html>\n<html><head><title>mod_claims status</title></head><body>\n"
                  "<h1>mod_claims %s</h1>\n<h2>Issuers</h2>\n<table border=\"1\">\n"
                  "<tr><th>issuer</th><th>keys (kid alg)</th><th>source</th><th>key set age</th>"
                  "<th>last refresh</th><th>next refresh</th><th>accepted</th><th>refused</th></tr>\n",
               CLAIMS_VERSION);
    for (int i = 0; i < views->nelts; i++) {
        issuer_view_t *v = &APR_ARRAY_IDX(views, i, issuer_view_t);
        const char *kids = "", *refused = "";
        for (int k = 0; v->keys.keys != NULL && k < v->keys.keys->nelts; k++) {
            const claims_key_t *key = APR_ARRAY_IDX(v->keys.keys, k, const claims_key_t *);
            kids = apr_pstrcat(r->pool, kids, ap_escape_html(r->pool, kid_of(key)), " ", claims_alg_name(key->alg),
                               "<br>", NULL);
        }
        for (int k = 0; v->keys.skipped != NULL && k < v->keys.skipped->nelts; k++) {
            const claims_key_skipped_t *ks = APR_ARRAY_IDX(v->keys.skipped, k, const claims_key_skipped_t *);
            const char *kid = ks->kid != NULL ? claims_log_escape(r->pool, ks->kid, strlen(ks->kid), 64) : "(no kid)";
            kids = apr_pstrcat(r->pool, kids, "<i>skipped: ", ap_escape_html(r->pool, kid), " (",
                               ap_escape_html(r->pool, ks->reason), ")</i><br>", NULL);
        }
        for (int s = 1; s < CLAIMS_STATUS_COUNT; s++) {
            if (v->counts.refused[s] > 0) {
                refused = apr_psprintf(r->pool, "%s%s: %" APR_UINT64_T_FMT "<br>", refused,
                                       claims_status_name((claims_status_t)s), (apr_uint64_t)v->counts.refused[s]);
            }
        }
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td>", ap_escape_html(r->pool, v->ic->core.iss), kids,
                   ap_escape_html(r->pool, v->keys.source));
        if (v->keys.remote) {
            ap_rprintf(r, "<td>%" APR_INT64_T_FMT " s</td><td>%s%s%s</td><td>in %" APR_INT64_T_FMT " s</td>",
                       secs_since(v->keys.fetched_at),
                       v->keys.attempt_at == 0 ? "pending" : v->keys.last_ok ? "ok" : "failed",
                       v->keys.last_ok ? "" : ": ", v->keys.last_ok || v->keys.last_error == NULL
                                                       ? "" : ap_escape_html(r->pool, v->keys.last_error),
                       secs_until(v->keys.next_at));
        }
        else {
            ap_rputs("<td>-</td><td>loaded at start-up</td><td>on restart</td>", r);
        }
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td><td>%s</td></tr>\n", (apr_uint64_t)v->counts.accepted,
                   refused);
    }
    ap_rputs("</table>\n<h2>Verified-token cache</h2>\n", r);
    if (mc_read_cache_counts(&cc)) {
        ap_rprintf(r, "<p>%s; entries %" APR_UINT64_T_FMT ", bytes %" APR_UINT64_T_FMT ", hits %" APR_UINT64_T_FMT
                      ", misses %" APR_UINT64_T_FMT ", evictions %" APR_UINT64_T_FMT " (all children)</p>\n",
                   mc_token_cache() != NULL ? "on" : "off", (apr_uint64_t)cc.entries, (apr_uint64_t)cc.bytes,
                   (apr_uint64_t)cc.hits, (apr_uint64_t)cc.misses, (apr_uint64_t)cc.evictions);
    }
    ap_rputs("</body></html>\n", r);
}

static int status_handler(request_rec *r)
{
    const char *fmt = "html";
    apr_array_header_t *views;
    if (r->handler == NULL || strcmp(r->handler, MC_STATUS_HANDLER) != 0) {
        return DECLINED;
    }
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (r->args != NULL) {
        if (strstr(r->args, "format=json") != NULL) {
            fmt = "json";
        }
        else if (strstr(r->args, "format=prometheus") != NULL) {
            fmt = "prometheus";
        }
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    views = collect(r);
    if (r->header_only) {
        return OK;
    }
    if (strcmp(fmt, "json") == 0) {
        render_json(r, views);
    }
    else if (strcmp(fmt, "prometheus") == 0) {
        render_prometheus(r, views);
    }
    else {
        render_html(r, views);
    }
    return OK;
}

void mc_register_status_hooks(apr_pool_t *p)
{
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
