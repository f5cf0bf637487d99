/*
 * mod_claims_status_view.c - the status page's figures and strings, gathered and made safe
 * once; see mod_claims_status_view.h.
 */
#include "mod_claims_status_view.h"

#include "claims_alg.h"
#include "claims_fetch.h"

#include "http_core.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <string.h>

/* A refresh may be in flight when it falls due: the set counts as overdue only this long after
 * its due time beyond the fetch timeout. */
#define MC_DUE_GRACE apr_time_from_sec(2)

static const char *const set_state_names[MC_SET_STATES] = {
    [MC_SET_PENDING] = "pending",
    [MC_SET_UNAVAILABLE] = "unavailable",
    [MC_SET_FRESH] = "fresh",
    [MC_SET_FAILING] = "failing",
    [MC_SET_OVERDUE] = "overdue",
    [MC_SET_EXPIRED] = "expired",
};

const char *mc_set_state_name(mc_set_state_t st)
{
    return (int)st >= 0 && st < MC_SET_STATES ? set_state_names[st] : "unknown";
}

/* ------------------------------------------------------------------ text */

/* Invisible formatting characters that would let a string look like another one (zero-width
 * spaces and joiners, bidirectional overrides and isolates, the byte order mark). */
static int invisible(apr_uint32_t cp)
{
    return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F)
           || cp == 0xFEFF;
}

/* The length of the printable UTF-8 character at s (at most n bytes), or 0 when the byte at s
 * does not start one: a control (C0, DEL, C1), an invisible formatting character, or a byte
 * that is not part of a well-formed sequence (RFC 3629: no overlong forms, no surrogates). */
static apr_size_t printable_char(const unsigned char *s, apr_size_t n)
{
    apr_uint32_t cp, min;
    apr_size_t len;
    if (s[0] >= 0x20 && s[0] < 0x7f) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2, cp = s[0] & 0x1Fu, min = 0xA0;  /* U+0080..U+009F are controls */
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3, cp = s[0] & 0x0Fu, min = 0x800;
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    }
    else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (apr_size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || invisible(cp)) {
        return 0;
    }
    return len;
}

const char *mc_status_text(apr_pool_t *p, const char *s, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = (const unsigned char *)s;
    char *out = apr_palloc(p, len * 4 + 1), *o = out;
    apr_size_t i = 0, n;
    while (i < len) {
        if (in[i] == '\\') {
            *o++ = '\\';
            *o++ = '\\';
            i++;
        }
        else if ((n = printable_char(in + i, len - i)) > 0) {
            memcpy(o, in + i, n);
            o += n;
            i += n;
        }
        else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[in[i] >> 4];
            *o++ = hex[in[i] & 0xf];
            i++;
        }
    }
    *o = '\0';
    return out;
}

static const char *text_of(apr_pool_t *p, const char *s)
{
    return s != NULL ? mc_status_text(p, s, strlen(s)) : NULL;
}

static int scheme_char(char c)
{
    return apr_isalnum(c) || c == '+' || c == '-' || c == '.';
}

/* A refresh error names the URL it failed on (the configured one, or the jwks_uri of the
 * provider's metadata): every URL in it that may hold userinfo is shown without it, as
 * claims_fetch_redact_url shows it (which shows nothing where it cannot be sure). URLs were
 * checked by curl before they were fetched: they hold no white space, which ends them here. */
static const char *redact_urls(apr_pool_t *p, const char *text)
{
    const char *out = "", *rest = text, *m;
    while ((m = strstr(rest, "://")) != NULL) {
        const char *start = m, *end = m + 3, *url;
        while (start > rest && scheme_char(start[-1])) {
            start--;
        }
        while (*end != '\0' && !apr_isspace(*end)) {
            end++;
        }
        while (end > m + 3 && strchr(":,;.)", end[-1]) != NULL) {
            end--;  /* what the message put after the URL */
        }
        url = apr_pstrmemdup(p, start, (apr_size_t)(end - start));
        if (memchr(start, '@', (apr_size_t)(end - start)) != NULL) {
            url = claims_fetch_redact_url(p, url);
        }
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, rest, (apr_size_t)(start - rest)), url, NULL);
        rest = end;
    }
    return apr_pstrcat(p, out, rest, NULL);
}

int mc_status_answer(claims_status_t st, const char **error)
{
    switch (claims_status_class(st)) {
    case CLAIMS_CLASS_NO_TOKEN:
        *error = NULL;
        return 401;
    case CLAIMS_CLASS_INVALID_REQUEST:
        *error = "invalid_request";
        return 400;
    case CLAIMS_CLASS_INVALID_TOKEN:
        *error = "invalid_token";
        return 401;
    default:
        *error = NULL;
        return 500;
    }
}

/* ------------------------------------------------------------------ keys and key sets */

static int is_local(const mc_issuer_t *ic, const claims_key_t *k)
{
    for (int i = 0; ic->core.keys != NULL && i < ic->core.keys->nelts; i++) {
        if (APR_ARRAY_IDX(ic->core.keys, i, const claims_key_t *) == k) {
            return 1;
        }
    }
    return 0;
}

static void collect_keys(apr_pool_t *p, mc_sv_issuer_t *v)
{
    const mc_keys_info_t *set = &v->set;
    int nk = set->keys != NULL ? set->keys->nelts : 0, ns = set->skipped != NULL ? set->skipped->nelts : 0;
    v->keys = apr_array_make(p, nk + ns + 1, sizeof(mc_sv_key_t));
    for (int i = 0; i < nk; i++) {
        const claims_key_t *k = APR_ARRAY_IDX(set->keys, i, const claims_key_t *);
        mc_sv_key_t *o = apr_array_push(v->keys);
        memset(o, 0, sizeof(*o));
        o->kid = k->kid != NULL ? mc_status_text(p, k->kid, k->kid_len) : NULL;
        o->alg = claims_alg_name(k->alg);
        o->bits = k->bits;
        o->remote = !is_local(v->ic, k);
    }
    for (int i = 0; i < ns; i++) {
        const claims_key_skipped_t *ks = APR_ARRAY_IDX(set->skipped, i, const claims_key_skipped_t *);
        mc_sv_key_t *o = apr_array_push(v->keys);
        memset(o, 0, sizeof(*o));
        o->kid = text_of(p, ks->kid);
        o->kty = text_of(p, ks->kty != NULL ? ks->kty : "");
        o->remote = 1;
        o->skipped = text_of(p, ks->reason != NULL ? ks->reason : "skipped");
    }
    v->ntrusted = nk;
    v->nskipped = ns;
}

/* The state of a remote key set at now: due when the published state says (the last success
 * plus the set's lifetime, shortened by the provider's max-age). */
static void set_state(apr_pool_t *p, mc_sv_issuer_t *v, apr_time_t now)
{
    const mc_keys_info_t *s = &v->set;
    const mc_issuer_t *ic = v->ic;
    v->in_use = s->version > 0 && s->keys != ic->core.keys;
    v->due_at = s->fetched_at > 0 ? s->due_at : 0;
    if (s->version == 0) {
        v->set_state = s->attempt_at == 0 ? MC_SET_PENDING : MC_SET_UNAVAILABLE;
    }
    else if (!v->in_use) {
        v->set_state = MC_SET_EXPIRED;
    }
    else if (v->due_at > 0 && now > v->due_at + ic->fetch_timeout + MC_DUE_GRACE) {
        v->set_state = MC_SET_OVERDUE;
    }
    else {
        v->set_state = s->last_ok ? MC_SET_FRESH : MC_SET_FAILING;
    }
    if (s->attempt_at > 0 && !s->last_ok && s->last_error != NULL && *s->last_error != '\0') {
        v->last_error = text_of(p, redact_urls(p, s->last_error));
    }
}

/* ------------------------------------------------------------------ the view */

static void collect_issuer(request_rec *r, const mc_issuer_t *ic, mc_sv_issuer_t *v, apr_time_t now)
{
    memset(v, 0, sizeof(*v));
    v->ic = ic;
    v->name = text_of(r->pool, ic->core.iss);
    mc_describe_keys(r, ic, &v->set);
    v->source = text_of(r->pool, v->set.source != NULL ? v->set.source : "local");
    mc_read_counts(ic, &v->counts);
    for (int s = 1; s < CLAIMS_STATUS_COUNT; s++) {
        v->refused += v->counts.refused[s];
    }
    collect_keys(r->pool, v);
    if (v->set.remote) {
        set_state(r->pool, v, now);
    }
}

/* The verified-token level shared by the children: a hit is a signature it saved, a miss a
 * look-up that did not (the token was verified afresh). */
static void collect_shared_level(request_rec *r, mc_status_view_t *view)
{
    claims_shcache_stats_t st;
    mc_sv_cache_t *c = apr_array_push(view->caches);
    memset(c, 0, sizeof(*c));
    c->name = "verified_tokens_shared";
    c->member = "shared_cache";
    c->enabled = mc_read_shared_level(&st);
    c->figures.entries = st.entries;
    c->figures.bytes = st.bytes;
    c->figures.hits = st.hits;
    c->figures.misses = st.misses;
    c->figures.evictions = st.evictions;
    c->hit_ratio = st.hits + st.misses > 0 ? (double)st.hits / (double)(st.hits + st.misses) : -1.0;
}

static void collect_caches(request_rec *r, mc_status_view_t *view)
{
    mc_sv_cache_t *c;
    view->caches = apr_array_make(r->pool, 1, sizeof(mc_sv_cache_t));
    c = apr_array_push(view->caches);
    memset(c, 0, sizeof(*c));
    c->name = "verified_tokens";
    c->member = "cache";
    c->enabled = mc_token_cache_on();
    mc_read_cache_counts(&c->figures);
    c->hit_ratio = c->figures.hits + c->figures.misses > 0
                   ? (double)c->figures.hits / (double)(c->figures.hits + c->figures.misses) : -1.0;
    view->signature_verifications = c->figures.verifications;
    collect_shared_level(r, view);
    view->replay = mc_read_replay_counts(&view->dpop);
    view->introspection = mc_read_introspect_counts(&view->introspect);
    if (view->introspection) {
        /* the introspection answers' cache: its entries live in the socache, only look-ups count */
        c = apr_array_push(view->caches);
        memset(c, 0, sizeof(*c));
        c->name = "introspection";
        c->member = "introspection_cache";
        c->enabled = 1;
        c->figures.hits = view->introspect.hits;
        c->figures.misses = view->introspect.misses;
        c->hit_ratio = c->figures.hits + c->figures.misses > 0
                       ? (double)c->figures.hits / (double)(c->figures.hits + c->figures.misses) : -1.0;
    }
}

mc_status_view_t *mc_status_collect(request_rec *r)
{
    const mc_srv_conf_t *sc = mc_srv(r->server);
    mc_status_view_t *view = apr_pcalloc(r->pool, sizeof(*view));
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

    view->now = apr_time_now();
    view->started_at = mc_counters_started_at();
    view->have_counts = mc_read_counts(NULL, &view->before);
    view->issuers = apr_array_make(r->pool, sc->issuers->nelts + 1, sizeof(mc_sv_issuer_t));
    for (int i = 0; i < sc->issuers->nelts; i++) {
        collect_issuer(r, APR_ARRAY_IDX(sc->issuers, i, const mc_issuer_t *), apr_array_push(view->issuers),
                       view->now);
    }
    collect_caches(r, view);
    view->openssl = text_of(r->pool, OpenSSL_version(OPENSSL_VERSION_STRING));
    view->curl = text_of(r->pool, cv != NULL && cv->version != NULL ? cv->version : "unknown");
    view->jansson = text_of(r->pool, jansson_version_str());
    view->httpd = text_of(r->pool, ap_get_server_banner());
    return view;
}
