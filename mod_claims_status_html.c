/*
 * mod_claims_status_html.c - the status page as HTML; see mod_claims_status_html.h. Every
 * string of the view goes through ap_escape_html; no attribute holds one.
 */
#include "mod_claims_status_html.h"

#include "http_protocol.h"

#include <apr_date.h>
#include <apr_strings.h>

#define E(s) ap_escape_html(r->pool, (s))
#define BEFORE_ISSUER "(before an issuer was known)"

static const char *style =
    "body{font-family:sans-serif;margin:1em 2em;color:#222}"
    "table{border-collapse:collapse;margin:0 0 1.5em 0}"
    "th,td{border:1px solid #aaa;padding:2px 8px;text-align:left;vertical-align:top}"
    "th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".bad{color:#a00}.note{color:#555;font-size:90%}";

static const char *date_of(request_rec *r, apr_time_t t)
{
    char *buf = apr_palloc(r->pool, APR_RFC822_DATE_LEN);
    if (t <= 0 || apr_rfc822_date(buf, t) != APR_SUCCESS) {
        return "never";
    }
    return buf;
}

static const char *duration(request_rec *r, apr_int64_t secs)
{
    const char *sign = secs < 0 ? "-" : "";
    apr_int64_t s = secs < 0 ? -secs : secs;
    if (s >= 86400) {
        return apr_psprintf(r->pool, "%s%" APR_INT64_T_FMT " d %" APR_INT64_T_FMT " h", sign, s / 86400,
                            s % 86400 / 3600);
    }
    if (s >= 3600) {
        return apr_psprintf(r->pool, "%s%" APR_INT64_T_FMT " h %" APR_INT64_T_FMT " min", sign, s / 3600,
                            s % 3600 / 60);
    }
    if (s >= 60) {
        return apr_psprintf(r->pool, "%s%" APR_INT64_T_FMT " min %" APR_INT64_T_FMT " s", sign, s / 60, s % 60);
    }
    return apr_psprintf(r->pool, "%s%" APR_INT64_T_FMT " s", sign, s);
}

static const mc_sv_issuer_t *issuer_at(const mc_status_view_t *view, int i)
{
    return &APR_ARRAY_IDX(view->issuers, i, mc_sv_issuer_t);
}

static void head(request_rec *r, const mc_status_view_t *view)
{
    ap_rprintf(r, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<title>mod_claims status</title>\n<style>%s</style>\n</head>\n<body>\n"
                  "<h1>mod_claims %s</h1>\n", style, E(CLAIMS_VERSION));
    if (view->started_at > 0) {
        ap_rprintf(r, "<p>Up %s since the last start or restart (%s); figures summed over all child "
                      "processes since then. Page at %s.</p>\n",
                   duration(r, apr_time_sec(view->now) - apr_time_sec(view->started_at)), date_of(r, view->started_at),
                   date_of(r, view->now));
    }
    else {
        ap_rputs("<p class=\"bad\">No shared memory: no counts (see the error log).</p>\n", r);
    }
    ap_rprintf(r, "<p class=\"note\">%s, OpenSSL %s, libcurl %s, jansson %s.</p>\n", E(view->httpd),
               E(view->openssl), E(view->curl), E(view->jansson));
}

/* ------------------------------------------------------------------ refusals */

static int refusal_rows(request_rec *r, const char *issuer, const mc_counts_t *c)
{
    int n = 0;
    for (int s = 1; s < CLAIMS_STATUS_COUNT; s++) {
        const char *error;
        int status;
        if (c->refused[s] == 0) {
            continue;
        }
        status = mc_status_answer((claims_status_t)s, &error);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%d%s%s</td><td>%s</td><td class=\"n\">%" APR_UINT64_T_FMT
                      "</td></tr>\n", issuer, claims_status_name((claims_status_t)s), status,
                   error != NULL ? " " : "", error != NULL ? error : "",
                   E(claims_status_text((claims_status_t)s)), c->refused[s]);
        n++;
    }
    return n;
}

static void refusals(request_rec *r, const mc_status_view_t *view)
{
    int n;
    ap_rputs("<h2 id=\"refusals\">Refusals by reason</h2>\n<table id=\"refusal-table\">\n"
             "<tr><th>issuer</th><th>reason</th><th>answer</th><th>text (error_description)</th>"
             "<th>count</th></tr>\n", r);
    n = refusal_rows(r, BEFORE_ISSUER, &view->before);
    for (int i = 0; i < view->issuers->nelts; i++) {
        n += refusal_rows(r, E(issuer_at(view, i)->name), &issuer_at(view, i)->counts);
    }
    if (n == 0) {
        ap_rputs("<tr><td colspan=\"5\">no refusals</td></tr>\n", r);
    }
    ap_rputs("</table>\n<p class=\"note\">The text is the error_description of the WWW-Authenticate answer "
             "(a 401 without a token carries none). A token whose issuer is not configured counts as "
             "untrusted_issuer " BEFORE_ISSUER ". The error log says more at LogLevel claims:info.</p>\n", r);
}

/* ------------------------------------------------------------------ issuers and keys */

static const char *keys_summary(request_rec *r, const mc_sv_issuer_t *v)
{
    const char *out = apr_psprintf(r->pool, "%d trusted", v->ntrusted);
    for (int i = 0; i < v->keys->nelts; i++) {
        const mc_sv_key_t *k = &APR_ARRAY_IDX(v->keys, i, mc_sv_key_t);
        if (k->skipped != NULL) {
            out = apr_pstrcat(r->pool, out, "; skipped: ", k->kid != NULL ? E(k->kid) : "(no kid)", NULL);
        }
    }
    return out;
}

static void issuers(request_rec *r, const mc_status_view_t *view)
{
    ap_rputs("<h2 id=\"issuers\">Issuers</h2>\n<table id=\"issuer-table\">\n<tr><th>issuer</th><th>accepted</th>"
             "<th>refused</th><th>key source</th><th>keys</th></tr>\n", r);
    for (int i = 0; i < view->issuers->nelts; i++) {
        const mc_sv_issuer_t *v = issuer_at(view, i);
        ap_rprintf(r, "<tr><td>%s</td><td class=\"n\">%" APR_UINT64_T_FMT "</td><td class=\"n\">%" APR_UINT64_T_FMT
                      "</td><td>%s</td><td>%s</td></tr>\n", E(v->name), v->counts.accepted, v->refused,
                   E(v->source), keys_summary(r, v));
    }
    ap_rputs("</table>\n", r);
}

static void keys(request_rec *r, const mc_status_view_t *view)
{
    ap_rputs("<h2 id=\"keys\">Keys</h2>\n<table id=\"key-table\">\n<tr><th>issuer</th><th>kid</th>"
             "<th>algorithm</th><th>bits</th><th>source</th><th>state</th></tr>\n", r);
    for (int i = 0; i < view->issuers->nelts; i++) {
        const mc_sv_issuer_t *v = issuer_at(view, i);
        for (int j = 0; j < v->keys->nelts; j++) {
            const mc_sv_key_t *k = &APR_ARRAY_IDX(v->keys, j, mc_sv_key_t);
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%s</td><td>%s</td><td%s>%s%s</td>"
                          "</tr>\n", E(v->name), k->kid != NULL ? E(k->kid) : "(no kid)",
                       k->skipped != NULL ? apr_pstrcat(r->pool, "kty ", E(k->kty), NULL) : E(k->alg),
                       k->skipped != NULL ? "" : apr_itoa(r->pool, k->bits), k->remote ? "remote" : "local",
                       k->skipped != NULL ? " class=\"bad\"" : "", k->skipped != NULL ? "skipped: " : "trusted",
                       k->skipped != NULL ? E(k->skipped) : "");
        }
    }
    ap_rputs("</table>\n", r);
}

/* ------------------------------------------------------------------ remote key sets */

static const char *last_refresh(request_rec *r, const mc_sv_issuer_t *v, apr_time_t now)
{
    const mc_keys_info_t *s = &v->set;
    if (s->attempt_at == 0) {
        return "pending";
    }
    return apr_psprintf(r->pool, "%s, %s ago%s%s", s->last_ok ? "ok" : "failed",
                        duration(r, apr_time_sec(now - s->attempt_at)), v->last_error != NULL ? ": " : "",
                        v->last_error != NULL ? E(v->last_error) : "");
}

static void key_set_row(request_rec *r, const mc_sv_issuer_t *v, apr_time_t now)
{
    const mc_keys_info_t *s = &v->set;
    int bad = v->set_state != MC_SET_FRESH && v->set_state != MC_SET_PENDING;
    ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td%s>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                  "<td class=\"n\">%" APR_UINT64_T_FMT "</td><td class=\"n\">%" APR_UINT64_T_FMT "</td></tr>\n",
               E(v->name), E(v->source), bad ? " class=\"bad\"" : "", mc_set_state_name(v->set_state),
               last_refresh(r, v, now),
               s->fetched_at > 0 ? apr_pstrcat(r->pool, duration(r, apr_time_sec(now - s->fetched_at)), " ago", NULL)
                                 : "never",
               s->next_at > 0 ? (s->next_at >= now ? apr_pstrcat(r->pool, "in ", duration(r, apr_time_sec(s->next_at - now)), NULL)
                                                   : apr_pstrcat(r->pool, duration(r, apr_time_sec(now - s->next_at)), " late", NULL))
                              : "-",
               s->version, s->fetches);
}

static void key_sets(request_rec *r, const mc_status_view_t *view)
{
    int n = 0;
    for (int i = 0; i < view->issuers->nelts; i++) {
        n += issuer_at(view, i)->set.remote;
    }
    if (n == 0) {
        return;
    }
    ap_rputs("<h2 id=\"key-sets\">Remote key sets</h2>\n<table id=\"key-set-table\">\n<tr><th>issuer</th>"
             "<th>source</th><th>state</th><th>last refresh</th><th>last success</th><th>next refresh</th>"
             "<th>version</th><th>fetches</th></tr>\n", r);
    for (int i = 0; i < view->issuers->nelts; i++) {
        if (issuer_at(view, i)->set.remote) {
            key_set_row(r, issuer_at(view, i), view->now);
        }
    }
    ap_rputs("</table>\n<p class=\"note\">States: fresh; failing (the last refresh failed, the set is kept); "
             "overdue (stale: due for a refresh that has not succeeded); expired (past ClaimsMaxStale: its "
             "keys are no longer trusted); unavailable (never fetched); pending (not tried yet).</p>\n", r);
}

/* ------------------------------------------------------------------ caches */

static void caches(request_rec *r, const mc_status_view_t *view)
{
    ap_rputs("<h2 id=\"caches\">Caches</h2>\n<table id=\"cache-table\">\n<tr><th>cache</th><th>state</th>"
             "<th>entries</th><th>bytes</th><th>hits</th><th>misses</th><th>hit rate</th><th>evictions</th></tr>\n", r);
    for (int i = 0; i < view->caches->nelts; i++) {
        const mc_sv_cache_t *c = &APR_ARRAY_IDX(view->caches, i, mc_sv_cache_t);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td class=\"n\">%" APR_UINT64_T_FMT "</td><td class=\"n\">%"
                      APR_UINT64_T_FMT "</td><td class=\"n\">%" APR_UINT64_T_FMT "</td><td class=\"n\">%"
                      APR_UINT64_T_FMT "</td><td class=\"n\">%s</td><td class=\"n\">%" APR_UINT64_T_FMT "</td></tr>\n",
                   E(c->name), c->enabled ? "on" : "off", (apr_uint64_t)c->figures.entries,
                   (apr_uint64_t)c->figures.bytes, (apr_uint64_t)c->figures.hits, (apr_uint64_t)c->figures.misses,
                   c->hit_ratio >= 0 ? apr_psprintf(r->pool, "%.1f %%", c->hit_ratio * 100.0) : "-",
                   (apr_uint64_t)c->figures.evictions);
    }
    ap_rputs("</table>\n", r);
    ap_rprintf(r, "<p id=\"signatures\">Token signatures computed: %" APR_UINT64_T_FMT " (what the caches did not "
                  "save), all children.</p>\n", view->signature_verifications);
    if (view->replay) {
        ap_rprintf(r, "<p id=\"dpop-replay\">DPoP proofs, replay store %s: %" APR_UINT64_T_FMT " accepted, %"
                      APR_UINT64_T_FMT " replays refused, %" APR_UINT64_T_FMT " refused with 503 because the store "
                      "did not answer, %" APR_UINT64_T_FMT " because it was full%s, all children.</p>\n",
                   ap_escape_html(r->pool, view->dpop.store), view->dpop.accepted, view->dpop.replayed,
                   view->dpop.unavailable, view->dpop.full,
                   view->dpop.capacity > 0 ? apr_psprintf(r->pool, " (it keeps %" APR_UINT64_T_FMT " unexpired proofs)",
                                                          view->dpop.capacity) : "");
    }
    if (view->introspection) {
        ap_rprintf(r, "<p id=\"introspection\">Introspection of opaque tokens: %" APR_UINT64_T_FMT " calls, %"
                      APR_UINT64_T_FMT " active, %" APR_UINT64_T_FMT " inactive, %" APR_UINT64_T_FMT
                      " errors (answered 503), all children.</p>\n", view->introspect.calls,
                   view->introspect.active, view->introspect.inactive, view->introspect.errors);
    }
}

void mc_status_html(request_rec *r, const mc_status_view_t *view)
{
    head(r, view);
    refusals(r, view);
    issuers(r, view);
    keys(r, view);
    key_sets(r, view);
    caches(r, view);
    ap_rputs("<p class=\"note\">Also as <a href=\"?format=json\">JSON</a> and "
             "<a href=\"?format=prometheus\">Prometheus metrics</a>.</p>\n</body>\n</html>\n", r);
}
