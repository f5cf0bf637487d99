/*
 * mod_claims_status_prom.c - the status page as Prometheus metrics; see mod_claims_status_prom.h.
 *
 * Naming (https://prometheus.io/docs/practices/naming/): one prefix, claims_; counters end in
 * _total; times are Unix timestamps in seconds (_timestamp_seconds, so that an age is
 * time() - x and never goes stale between scrapes) and durations are in seconds; sizes in
 * bytes; the version and libraries are the labels of claims_build_info; a state is an enum
 * (one series per state, 1 for the current one). Labels are bounded by the configuration: an
 * issuer label only ever names a configured issuer (a token's unknown iss is counted under
 * issuer="", with the refusals made before an issuer was known), reason is one of the module's
 * fixed reason names, and every configured combination is exported from zero, so that rate()
 * sees the first refusal of a kind.
 */
#include "mod_claims_status_prom.h"

#include "http_protocol.h"

#include <string.h>

/* A label value: \ " and newline escaped (the view's strings are printable UTF-8 already). */
static const char *lv(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) * 2 + 1), *o = out;
    for (; *s != '\0'; s++) {
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

static void family(request_rec *r, const char *name, const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(request_rec *r, const char *name, const char *labels, apr_uint64_t v)
{
    ap_rprintf(r, "%s{%s} %" APR_UINT64_T_FMT "\n", name, labels, v);
}

static void sample_time(request_rec *r, const char *name, const char *labels, apr_time_t t)
{
    ap_rprintf(r, "%s{%s} %" APR_INT64_T_FMT ".%03d\n", name, labels, (apr_int64_t)apr_time_sec(t),
               (int)(apr_time_msec(t) % 1000));
}

static const char *issuer_label(request_rec *r, const mc_sv_issuer_t *v)
{
    return apr_pstrcat(r->pool, "issuer=\"", lv(r->pool, v->name), "\"", NULL);
}

static const mc_sv_issuer_t *issuer_at(const mc_status_view_t *view, int i)
{
    return &APR_ARRAY_IDX(view->issuers, i, mc_sv_issuer_t);
}

static void head(request_rec *r, const mc_status_view_t *view)
{
    family(r, "claims_build_info", "gauge", "mod_claims version and the libraries it runs with (value 1).");
    ap_rprintf(r, "claims_build_info{version=\"%s\",httpd=\"%s\",openssl=\"%s\",curl=\"%s\",jansson=\"%s\"} 1\n",
               lv(r->pool, CLAIMS_VERSION), lv(r->pool, view->httpd), lv(r->pool, view->openssl),
               lv(r->pool, view->curl), lv(r->pool, view->jansson));
    if (view->started_at > 0) {
        family(r, "claims_start_time_seconds", "gauge",
               "Unix time of the last start or restart of httpd, when the counters began from zero.");
        ap_rprintf(r, "claims_start_time_seconds %" APR_INT64_T_FMT ".%03d\n",
                   (apr_int64_t)apr_time_sec(view->started_at), (int)(apr_time_msec(view->started_at) % 1000));
    }
}

static void refused(request_rec *r, const char *issuer, const mc_counts_t *c)
{
    for (int s = 1; s < CLAIMS_STATUS_COUNT; s++) {
        sample_u64(r, "claims_tokens_refused_total",
                   apr_psprintf(r->pool, "%s,reason=\"%s\"", issuer, claims_status_name((claims_status_t)s)),
                   c->refused[s]);
    }
}

static void tokens(request_rec *r, const mc_status_view_t *view)
{
    family(r, "claims_tokens_accepted_total", "counter", "Requests with a token accepted, by issuer.");
    for (int i = 0; i < view->issuers->nelts; i++) {
        sample_u64(r, "claims_tokens_accepted_total", issuer_label(r, issuer_at(view, i)),
                   issuer_at(view, i)->counts.accepted);
    }
    family(r, "claims_tokens_refused_total", "counter",
           "Requests refused, by configured issuer (\"\": before an issuer was known, or not a "
           "configured one) and reason (the fixed texts are on the status page).");
    refused(r, "issuer=\"\"", &view->before);
    for (int i = 0; i < view->issuers->nelts; i++) {
        refused(r, issuer_label(r, issuer_at(view, i)), &issuer_at(view, i)->counts);
    }
    family(r, "claims_keys", "gauge", "Keys of the issuer, by state: trusted, or skipped from its remote key set.");
    for (int i = 0; i < view->issuers->nelts; i++) {
        const char *l = issuer_label(r, issuer_at(view, i));
        sample_u64(r, "claims_keys", apr_pstrcat(r->pool, l, ",state=\"trusted\"", NULL),
                   (apr_uint64_t)issuer_at(view, i)->ntrusted);
        sample_u64(r, "claims_keys", apr_pstrcat(r->pool, l, ",state=\"skipped\"", NULL),
                   (apr_uint64_t)issuer_at(view, i)->nskipped);
    }
}

static void set_states(request_rec *r, const mc_sv_issuer_t *v, const char *l)
{
    for (int s = 0; s < MC_SET_STATES; s++) {
        ap_rprintf(r, "claims_key_set_state{%s,state=\"%s\"} %d\n", l, mc_set_state_name((mc_set_state_t)s),
                   (int)v->set_state == s);
    }
}

/* One family of the remote key sets: what = which figure. */
enum { KS_STATE, KS_OK, KS_SUCCESS, KS_ATTEMPT, KS_NEXT, KS_INTERVAL, KS_MAX_STALE, KS_FETCHES, KS_N };

static const struct {
    const char *name, *type, *help;
} ks_families[KS_N] = {
    [KS_STATE] = {"claims_key_set_state", "gauge", "State of the remote key set (1 for the current one): pending, "
                  "unavailable, fresh, failing, overdue (stale), expired (past ClaimsMaxStale)."},
    [KS_OK] = {"claims_key_set_last_refresh_ok", "gauge", "Whether the last refresh of the remote key set succeeded."},
    [KS_SUCCESS] = {"claims_key_set_last_success_timestamp_seconds", "gauge",
                    "Unix time of the last successful fetch of the remote key set."},
    [KS_ATTEMPT] = {"claims_key_set_last_attempt_timestamp_seconds", "gauge",
                    "Unix time of the last fetch attempt of the remote key set."},
    [KS_NEXT] = {"claims_key_set_next_refresh_timestamp_seconds", "gauge",
                 "Unix time the next refresh of the remote key set is expected."},
    [KS_INTERVAL] = {"claims_key_set_refresh_interval_seconds", "gauge", "ClaimsRefreshInterval of the issuer."},
    [KS_MAX_STALE] = {"claims_key_set_max_stale_seconds", "gauge", "ClaimsMaxStale of the issuer."},
    [KS_FETCHES] = {"claims_key_set_fetches_total", "counter", "Network fetches of key sets and metadata."},
};

static void ks_sample(request_rec *r, int what, const mc_sv_issuer_t *v, const char *l)
{
    const char *name = ks_families[what].name;
    const mc_keys_info_t *s = &v->set;
    switch (what) {
    case KS_STATE:
        set_states(r, v, l);
        break;
    case KS_OK:
        ap_rprintf(r, "%s{%s} %d\n", name, l, s->attempt_at > 0 && s->last_ok);
        break;
    case KS_SUCCESS:
    case KS_ATTEMPT:
    case KS_NEXT: {
        apr_time_t t = what == KS_SUCCESS ? s->fetched_at : what == KS_ATTEMPT ? s->attempt_at : s->next_at;
        if (t > 0) {
            sample_time(r, name, l, t);
        }
        break;
    }
    case KS_INTERVAL:
    case KS_MAX_STALE:
        ap_rprintf(r, "%s{%s} %" APR_INT64_T_FMT "\n", name, l,
                   (apr_int64_t)apr_time_sec(what == KS_INTERVAL ? v->ic->refresh : v->ic->max_stale));
        break;
    default:
        sample_u64(r, name, l, s->fetches);
    }
}

static void key_sets(request_rec *r, const mc_status_view_t *view)
{
    int remote = 0;
    for (int i = 0; i < view->issuers->nelts; i++) {
        remote |= issuer_at(view, i)->set.remote;
    }
    if (!remote) {
        return;
    }
    for (int what = 0; what < KS_N; what++) {
        family(r, ks_families[what].name, ks_families[what].type, ks_families[what].help);
        for (int i = 0; i < view->issuers->nelts; i++) {
            const mc_sv_issuer_t *v = issuer_at(view, i);
            if (v->set.remote) {
                ks_sample(r, what, v, issuer_label(r, v));
            }
        }
    }
}

static void caches(request_rec *r, const mc_status_view_t *view)
{
    static const struct {
        const char *name, *type, *help;
    } fams[5] = {
        {"claims_cache_entries", "gauge", "Entries in the cache, all child processes."},
        {"claims_cache_bytes", "gauge", "Bytes the cache entries take, all child processes."},
        {"claims_cache_hits_total", "counter", "Look-ups that found their entry."},
        {"claims_cache_misses_total", "counter", "Look-ups that found none."},
        {"claims_cache_evictions_total", "counter", "Entries evicted to make room for others."},
    };
    for (int f = 0; f < 5; f++) {
        family(r, fams[f].name, fams[f].type, fams[f].help);
        for (int i = 0; i < view->caches->nelts; i++) {
            const mc_sv_cache_t *c = &APR_ARRAY_IDX(view->caches, i, mc_sv_cache_t);
            const apr_uint64_t v[5] = {c->figures.entries, c->figures.bytes, c->figures.hits, c->figures.misses,
                                       c->figures.evictions};
            sample_u64(r, fams[f].name, apr_pstrcat(r->pool, "cache=\"", lv(r->pool, c->name), "\"", NULL), v[f]);
        }
    }
}

void mc_status_prometheus(request_rec *r, const mc_status_view_t *view)
{
    head(r, view);
    tokens(r, view);
    key_sets(r, view);
    caches(r, view);
    family(r, "claims_signature_verifications_total", "counter",
           "Token signatures computed (what the caches did not save), all child processes.");
    ap_rprintf(r, "claims_signature_verifications_total %" APR_UINT64_T_FMT "\n", view->signature_verifications);
    if (view->replay) {
        family(r, "claims_dpop_proofs_total", "counter",
               "DPoP proofs by what the replay store answered: accepted (first use), replayed, store_unavailable "
               "or store_full (both answered 503), all child processes.");
        sample_u64(r, "claims_dpop_proofs_total", "result=\"accepted\"", view->dpop.accepted);
        sample_u64(r, "claims_dpop_proofs_total", "result=\"replayed\"", view->dpop.replayed);
        sample_u64(r, "claims_dpop_proofs_total", "result=\"store_unavailable\"", view->dpop.unavailable);
        sample_u64(r, "claims_dpop_proofs_total", "result=\"store_full\"", view->dpop.full);
        if (view->dpop.capacity > 0) {
            family(r, "claims_dpop_replay_store_capacity", "gauge",
                   "Unexpired DPoP proofs the shmcb replay store keeps at most; beyond, new proofs get 503.");
            ap_rprintf(r, "claims_dpop_replay_store_capacity %" APR_UINT64_T_FMT "\n", view->dpop.capacity);
        }
    }
    if (view->introspection) {
        family(r, "claims_introspection_requests_total", "counter",
               "Calls to introspection endpoints (cache misses that asked), all child processes.");
        ap_rprintf(r, "claims_introspection_requests_total %" APR_UINT64_T_FMT "\n", view->introspect.calls);
        family(r, "claims_introspection_answers_total", "counter",
               "What introspection calls gave: active, inactive, or error (503 answered).");
        sample_u64(r, "claims_introspection_answers_total", "result=\"active\"", view->introspect.active);
        sample_u64(r, "claims_introspection_answers_total", "result=\"inactive\"", view->introspect.inactive);
        sample_u64(r, "claims_introspection_answers_total", "result=\"error\"", view->introspect.errors);
    }
}
