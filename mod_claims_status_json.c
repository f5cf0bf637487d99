/*
 * mod_claims_status_json.c - the status page as JSON; see mod_claims_status_json.h. Members are
 * only ever added within a schema_version; the output is ASCII (other characters as \uXXXX).
 */
#include "mod_claims_status_json.h"

#include "http_protocol.h"

#include <jansson.h>
#include <stdlib.h>

/* The view's strings are valid UTF-8, so json_string never fails on them; NULL is null. */
static json_t *jstr(const char *s)
{
    json_t *j = s != NULL ? json_string(s) : NULL;
    return j != NULL ? j : json_null();
}

static json_t *jint(apr_uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* A Unix time in seconds, or null for "never" (0). */
static json_t *jtime(apr_time_t t)
{
    return t > 0 ? json_integer((json_int_t)mc_status_epoch(t)) : json_null();
}

static json_t *refused_map(const mc_counts_t *c)
{
    json_t *o = json_object();
    for (int s = 1; s < CLAIMS_STATUS_COUNT; s++) {
        if (c->refused[s] > 0) {
            json_object_set_new(o, claims_status_name((claims_status_t)s), jint(c->refused[s]));
        }
    }
    return o;
}

static void add_keys(json_t *o, const mc_sv_issuer_t *v)
{
    json_t *keys = json_array(), *skipped = json_array();
    for (int i = 0; i < v->keys->nelts; i++) {
        const mc_sv_key_t *k = &APR_ARRAY_IDX(v->keys, i, mc_sv_key_t);
        json_t *kj = json_object();
        json_object_set_new(kj, "kid", jstr(k->kid));
        json_object_set_new(kj, "source", json_string(k->remote ? "remote" : "local"));
        if (k->skipped == NULL) {
            json_object_set_new(kj, "alg", jstr(k->alg));
            json_object_set_new(kj, "bits", json_integer(k->bits));
            json_object_set_new(kj, "state", json_string("trusted"));
            json_array_append_new(keys, kj);
        }
        else {
            json_object_set_new(kj, "kty", jstr(k->kty));
            json_object_set_new(kj, "state", json_string("skipped"));
            json_object_set_new(kj, "reason", jstr(k->skipped));
            json_array_append_new(skipped, kj);
        }
    }
    json_object_set_new(o, "keys", keys);
    json_object_set_new(o, "skipped_keys", skipped);
}

static void add_key_set(json_t *o, const mc_sv_issuer_t *v, apr_time_t now)
{
    const mc_keys_info_t *s = &v->set;
    json_object_set_new(o, "key_set_state", json_string(mc_set_state_name(v->set_state)));
    json_object_set_new(o, "key_set_stale", json_boolean(v->set_state == MC_SET_OVERDUE
                                                         || v->set_state == MC_SET_EXPIRED));
    json_object_set_new(o, "key_set_in_use", json_boolean(v->in_use));
    json_object_set_new(o, "key_set_version", jint(s->version));
    json_object_set_new(o, "key_set_age_seconds", s->fetched_at > 0
                        ? json_integer((json_int_t)apr_time_sec(now - s->fetched_at)) : json_null());
    json_object_set_new(o, "last_refresh", json_string(s->attempt_at == 0 ? "pending" : s->last_ok ? "ok" : "failed"));
    if (v->last_error != NULL) {
        json_object_set_new(o, "last_refresh_error", jstr(v->last_error));
    }
    json_object_set_new(o, "last_success_at", jtime(s->fetched_at));
    json_object_set_new(o, "last_attempt_at", jtime(s->attempt_at));
    json_object_set_new(o, "next_refresh_at", jtime(s->next_at));
    json_object_set_new(o, "next_refresh_in_seconds", s->next_at > 0
                        ? json_integer((json_int_t)apr_time_sec(s->next_at - now)) : json_null());
    json_object_set_new(o, "due_at", jtime(v->due_at));
    json_object_set_new(o, "refresh_interval_seconds", json_integer((json_int_t)apr_time_sec(v->ic->refresh)));
    json_object_set_new(o, "max_stale_seconds", json_integer((json_int_t)apr_time_sec(v->ic->max_stale)));
    json_object_set_new(o, "fetches", jint(s->fetches));
}

static json_t *issuer_json(const mc_sv_issuer_t *v, apr_time_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "issuer", jstr(v->name));
    json_object_set_new(o, "accepted", jint(v->counts.accepted));
    json_object_set_new(o, "refused", refused_map(&v->counts));
    json_object_set_new(o, "refused_total", jint(v->refused));
    json_object_set_new(o, "key_source", jstr(v->source));
    add_keys(o, v);
    if (v->set.remote) {
        add_key_set(o, v, now);
    }
    return o;
}

static void add_refusal_rows(json_t *rows, const char *issuer, const mc_counts_t *c)
{
    for (int s = 1; s < CLAIMS_STATUS_COUNT; s++) {
        const char *error;
        json_t *row;
        int status;
        if (c->refused[s] == 0) {
            continue;
        }
        status = mc_status_answer((claims_status_t)s, &error);
        row = json_object();
        json_object_set_new(row, "issuer", jstr(issuer));
        json_object_set_new(row, "reason", json_string(claims_status_name((claims_status_t)s)));
        json_object_set_new(row, "text", json_string(claims_status_text((claims_status_t)s)));
        json_object_set_new(row, "status", json_integer(status));
        json_object_set_new(row, "error", jstr(error));
        json_object_set_new(row, "count", jint(c->refused[s]));
        json_array_append_new(rows, row);
    }
}

static json_t *cache_json(const mc_sv_cache_t *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "enabled", json_boolean(c->enabled));
    json_object_set_new(o, "entries", jint(c->figures.entries));
    json_object_set_new(o, "bytes", jint(c->figures.bytes));
    json_object_set_new(o, "hits", jint(c->figures.hits));
    json_object_set_new(o, "misses", jint(c->figures.misses));
    json_object_set_new(o, "evictions", jint(c->figures.evictions));
    json_object_set_new(o, "hit_ratio", c->hit_ratio >= 0 ? json_real(c->hit_ratio) : json_null());
    return o;
}

static json_t *head_json(const mc_status_view_t *view)
{
    json_t *doc = json_object(), *build = json_object();
    json_object_set_new(doc, "schema_version", json_integer(MC_STATUS_SCHEMA_VERSION));
    json_object_set_new(doc, "module", json_string("mod_claims"));
    json_object_set_new(doc, "version", json_string(CLAIMS_VERSION));
    json_object_set_new(build, "httpd", jstr(view->httpd));
    json_object_set_new(build, "openssl", jstr(view->openssl));
    json_object_set_new(build, "curl", jstr(view->curl));
    json_object_set_new(build, "jansson", jstr(view->jansson));
    json_object_set_new(doc, "build", build);
    json_object_set_new(doc, "time", jtime(view->now));
    json_object_set_new(doc, "started_at", jtime(view->started_at));
    json_object_set_new(doc, "uptime_seconds", view->started_at > 0
                        ? json_integer((json_int_t)apr_time_sec(view->now) - apr_time_sec(view->started_at)) : json_null());
    return doc;
}

void mc_status_json(request_rec *r, const mc_status_view_t *view)
{
    json_t *doc = head_json(view), *issuers = json_array(), *rows = json_array();
    char *text;

    add_refusal_rows(rows, NULL, &view->before);
    for (int i = 0; i < view->issuers->nelts; i++) {
        const mc_sv_issuer_t *v = &APR_ARRAY_IDX(view->issuers, i, mc_sv_issuer_t);
        json_array_append_new(issuers, issuer_json(v, view->now));
        add_refusal_rows(rows, v->name, &v->counts);
    }
    json_object_set_new(doc, "issuers", issuers);
    json_object_set_new(doc, "refusals", rows);
    json_object_set_new(doc, "refused_before_issuer", refused_map(&view->before));
    for (int i = 0; i < view->caches->nelts; i++) {
        const mc_sv_cache_t *c = &APR_ARRAY_IDX(view->caches, i, mc_sv_cache_t);
        json_object_set_new(doc, c->member, cache_json(c));
    }
    json_object_set_new(doc, "signature_verifications", jint(view->signature_verifications));
    if (view->replay) {
        json_t *d = json_object();
        json_object_set_new(d, "store", json_string(view->dpop.store));
        json_object_set_new(d, "accepted", jint(view->dpop.accepted));
        json_object_set_new(d, "replayed", jint(view->dpop.replayed));
        json_object_set_new(d, "unavailable", jint(view->dpop.unavailable));
        json_object_set_new(d, "full", jint(view->dpop.full));
        json_object_set_new(d, "capacity", view->dpop.capacity > 0 ? jint(view->dpop.capacity) : json_null());
        json_object_set_new(doc, "dpop_replay", d);
    }
    if (view->introspection) {
        json_t *in = json_object();
        json_object_set_new(in, "calls", jint(view->introspect.calls));
        json_object_set_new(in, "active", jint(view->introspect.active));
        json_object_set_new(in, "inactive", jint(view->introspect.inactive));
        json_object_set_new(in, "errors", jint(view->introspect.errors));
        json_object_set_new(doc, "introspection", in);
    }
    text = json_dumps(doc, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (text != NULL) {
        ap_rputs(text, r);
        ap_rputs("\n", r);
        free(text);
    }
}
