/*
 * mod_claims_remote.c - remote key sets (ClaimsJWKS, ClaimsDiscovery): fetched by one
 * process at a time, shared with every child, refreshed before they expire, kept while the
 * identity provider is down (up to ClaimsMaxStale), refreshed early on an unknown kid at most
 * once per ClaimsUnknownKidInterval.
 *
 * Who does what:
 *  - a singleton mod_watchdog callback (one child at a time across the server) fetches:
 *    discovery metadata (issuer checked), then the JWK Set; it validates the set with the
 *    core's key loader and only then publishes it;
 *  - the published document and its metadata live in an httpd socache (shmcb by default,
 *    ClaimsKeyCache), every access under a global mutex; each declaration of an issuer (main
 *    server, every virtual host that declares it again) has records of its own, named by a
 *    keyed digest of the server, the issuer, the key source and the rules it is parsed under;
 *  - every record is sealed (claims_store.h): a store other parties can write (memcache,
 *    redis) needs ClaimsCacheSecret, and a record that fails authentication is ignored,
 *    logged and fetched again; a child only ever moves to a newer version than it has, so an
 *    old record played back is not taken either;
 *  - each child parses a published document once per version into its own key set (OpenSSL
 *    objects cannot be shared across processes) and swaps it in; requests hold a reference
 *    to the set they verify with, so a swap never frees keys in use;
 *  - a request whose token names an unknown kid asks the watchdog for a refresh (if the last
 *    attempt is older than ClaimsUnknownKidInterval) and, if fewer than ClaimsRefreshWaiters
 *    requests of its child wait already, waits for it at most ClaimsFetchTimeout; otherwise it
 *    is refused at once, without any network. Requests with known kids never wait.
 */
#include "mod_claims_remote.h"
#include "mod_claims_socache.h"

#include "http_core.h"

#include "claims_keyset.h"
#include "claims_store.h"

#include "mod_watchdog.h"

#include <apr_atomic.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <curl/curl.h>
#include <string.h>

#define MC_WATCHDOG_NAME "_claims_keys_"
#define MC_SYNC_INTERVAL apr_time_from_msec(1000)   /* children look for new sets this often */
#define MC_WAIT_STEP apr_time_from_msec(50)

/* One child's parsed key set, shared by its threads; freed when retired and unused. */
typedef struct mc_keyset_t {
    apr_pool_t *pool;
    apr_array_header_t *keys;          /* claims_key_t *: local keys, then remote ones */
    apr_array_header_t *skipped;       /* claims_key_skipped_t *: keys of the document left out */
    apr_time_t fetched_at;
    apr_time_t due_at;                 /* when the provider should have sent a newer set */
    apr_uint64_t version;
    int refs;
    int retired;
} mc_keyset_t;

typedef struct mc_remote_t {
    mc_issuer_t *ic;
    server_rec *s;
    unsigned char meta_id[MC_RECORD_ID_LEN];  /* keyed digests naming this declaration (CL-90, CL-91) */
    unsigned char doc_id[MC_RECORD_ID_LEN];
    apr_thread_mutex_t *lock;          /* child-local: current, refs */
    apr_thread_mutex_t *sync_lock;     /* child-local: one thread brings the set up to date */
    mc_keyset_t *current;
    apr_time_t last_sync;              /* under sync_lock */
    volatile apr_uint32_t waiting;     /* requests of this child waiting for a refresh */
    volatile apr_uint32_t has_set;     /* current was set once */
    apr_time_t wd_attempt_at;          /* watchdog: its last attempt, when nothing was readable */
    int stale_logged;
    int failing;                       /* watchdog: the last attempt failed (log once) */
    int auth_failed;                   /* a record failed authentication (log once per streak) */
} mc_remote_t;

typedef struct mc_release_t {
    mc_remote_t *rm;
    mc_keyset_t *ks;
} mc_release_t;

#define MC_KEYS_MUTEX "claims-keys"
#define MC_KEY_SET_TTL MC_SOCACHE_MAX_TTL            /* a record that expires is fetched again */

static apr_array_header_t *remotes;    /* mc_remote_t *, every remote declaration of every server */
static mc_socache_t *keystore;        /* ClaimsKeyCache */

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

/* ------------------------------------------------------------------ shared store */

/* Every record is sealed (claims_store.h): under ClaimsCacheSecret for a store other parties
 * may write (memcache, redis, ...), under a random secret of this start for shmcb. A record
 * that fails is treated as absent, logged once per streak, and fetched again from the IdP. */
static void auth_failed(mc_remote_t *rm, const char *what)
{
    if (!rm->auth_failed) {
        rm->auth_failed = 1;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, rm->s, MC_LOGNO(065) "issuer %s: the %s record read from "
                     "ClaimsKeyCache failed authentication (written by a party without ClaimsCacheSecret, "
                     "or by a server with another secret): ignored, the key set is fetched again from the "
                     "identity provider", rm->ic->core.iss, what);
    }
}

/* The store's records of this declaration; a record that failed authentication is logged. */
static apr_status_t checked(mc_remote_t *rm, const unsigned char *id, apr_status_t rv)
{
    if (rv == APR_EGENERAL) {
        auth_failed(rm, id[0] == 'm' ? "state" : "key set");
    }
    else if (rv == APR_SUCCESS) {
        rm->auth_failed = 0;
    }
    return rv;
}

static apr_status_t get_locked(mc_remote_t *rm, const unsigned char *id, unsigned char *buf, unsigned int cap,
                               const unsigned char **data, apr_size_t *dlen, apr_pool_t *p)
{
    return checked(rm, id, mc_socache_get_locked(keystore, rm->s, id, buf, cap, data, dlen, p));
}

static apr_status_t store_get(mc_remote_t *rm, const unsigned char *id, unsigned char *buf, unsigned int cap,
                              const unsigned char **data, apr_size_t *dlen, apr_pool_t *p)
{
    return checked(rm, id, mc_socache_get(keystore, rm->s, id, buf, cap, data, dlen, p));
}

static int read_meta(mc_remote_t *rm, claims_keyset_state_t *meta, apr_pool_t *p)
{
    unsigned char buf[sizeof(*meta) + CLAIMS_STORE_OVERHEAD];
    const unsigned char *data = NULL;
    apr_size_t len = 0;
    if (store_get(rm, rm->meta_id, buf, sizeof(buf), &data, &len, p) != APR_SUCCESS) {
        memset(meta, 0, sizeof(*meta));
        return 0;
    }
    return claims_keyset_state_decode(data, len, meta);
}

static apr_status_t write_meta(mc_remote_t *rm, claims_keyset_state_t *meta, apr_pool_t *p)
{
    meta->magic = CLAIMS_KEYSET_STATE_MAGIC;
    return mc_socache_put(keystore, rm->s, rm->meta_id, meta, sizeof(*meta), MC_KEY_SET_TTL, p);
}

/* ------------------------------------------------------------------ parsing a key set */

static claims_status_t parse_set(apr_pool_t *p, const mc_issuer_t *ic, const char *doc, apr_size_t len,
                                 const char *label, apr_array_header_t *skipped, const claims_logger_t *log,
                                 apr_array_header_t **out, char **err)
{
    claims_keyset_rules_t rules;
    rules.algs = ic->core.algs;
    rules.local = ic->core.keys;
    return claims_keyset_parse(p, &rules, doc, len, label, skipped, log, out, err);
}

static void schedule_of(const mc_issuer_t *ic, claims_keyset_schedule_t *sch)
{
    sch->refresh = ic->refresh;
    sch->retry = ic->kid_interval;
}

/* ------------------------------------------------------------------ the watchdog: fetching */

/* An issuer that introspects opaque tokens at the endpoint its metadata names: remembered with
 * the key set's state, for the requests to read (mc_remote_introspection_endpoint). */
static void note_introspection_endpoint(mc_remote_t *rm, apr_pool_t *p, claims_keyset_state_t *meta,
                                        const claims_fetch_result_t *res)
{
    const char *url = NULL, *why = NULL;
    if (!rm->ic->introspection || rm->ic->introspection_url != NULL) {
        return;
    }
    if (claims_keyset_discovery_url(p, res->body, res->len, rm->ic->core.iss, "introspection_endpoint",
                                    rm->ic->fetch.allow_http_loopback, &url, &why) != CLAIMS_OK
        || strlen(url) >= sizeof(meta->introspection_endpoint)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rm->s, MC_LOGNO(069) "issuer %s: no introspection endpoint in "
                     "its metadata (%s): opaque tokens cannot be checked", rm->ic->core.iss,
                     why != NULL ? why : "URL too long");
        meta->introspection_endpoint[0] = '\0';
        return;
    }
    apr_cpystrn(meta->introspection_endpoint, url, sizeof(meta->introspection_endpoint));
}

static claims_status_t fetch_set(mc_remote_t *rm, apr_pool_t *p, claims_keyset_state_t *meta, char **doc,
                                 apr_size_t *len, apr_int64_t *max_age, const char **err)
{
    mc_issuer_t *ic = rm->ic;
    claims_fetch_result_t res;
    const char *jwks = ic->jwks_url;
    claims_status_t st;
    apr_array_header_t *keys;
    char *kerr = NULL;

    if (ic->discovery_url != NULL) {
        st = claims_fetch(p, ic->discovery_url, &ic->fetch, &res);
        meta->fetches++;
        if (st != CLAIMS_OK) {
            *err = apr_psprintf(p, "discovery %s: %s", claims_fetch_redact_url(p, ic->discovery_url), res.error);
            return st;
        }
        st = claims_discovery_jwks_uri(p, res.body, res.len, ic->core.iss, ic->fetch.allow_http_loopback,
                                       &jwks, err);
        if (st != CLAIMS_OK) {
            *err = apr_psprintf(p, "discovery %s: %s", claims_fetch_redact_url(p, ic->discovery_url), *err);
            return st;
        }
        apr_cpystrn(meta->jwks_uri, jwks, sizeof(meta->jwks_uri));
        note_introspection_endpoint(rm, p, meta, &res);
    }
    st = claims_fetch(p, jwks, &ic->fetch, &res);
    meta->fetches++;
    if (st != CLAIMS_OK) {
        *err = apr_psprintf(p, "%s: %s", claims_fetch_redact_url(p, jwks), res.error);
        return st;
    }
    {
        /* the watchdog tells of skipped keys, once per fetch; children parse quietly */
        claims_logger_t log = {mc_core_log_server, rm->s};
        st = parse_set(p, ic, res.body, res.len, claims_fetch_redact_url(p, jwks), NULL, &log, &keys, &kerr);
    }
    if (st != CLAIMS_OK) {
        *err = apr_psprintf(p, "key set refused: %s", kerr != NULL ? kerr : claims_status_text(st));
        return st;
    }
    *doc = res.body;
    *len = res.len;
    *max_age = res.max_age;
    return CLAIMS_OK;
}

/* Publishes a fetched document: the document record first, then the state that names it. */
static apr_status_t publish(mc_remote_t *rm, apr_pool_t *p, claims_keyset_state_t *meta, const char *doc, apr_size_t len,
                            apr_int64_t max_age, apr_time_t now)
{
    mc_issuer_t *ic = rm->ic;
    claims_keyset_schedule_t sch;
    apr_interval_time_t every;
    unsigned char *buf = apr_palloc(p, sizeof(apr_uint64_t) + len);
    /* a child never goes back to an older document, even an authentic one played back */
    apr_uint64_t version = claims_keyset_next_version(meta->version, now);
    apr_status_t rv;

    schedule_of(ic, &sch);
    every = claims_keyset_lifetime(&sch, max_age);
    memcpy(buf, &version, sizeof(version));
    memcpy(buf + sizeof(version), doc, len);
    rv = mc_socache_put(keystore, rm->s, rm->doc_id, buf, sizeof(version) + len, MC_KEY_SET_TTL, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    meta->version = version;
    meta->fetched_at = now;
    meta->expires_at = now + every;
    meta->last_error[0] = '\0';
    ap_log_error(APLOG_MARK, rm->failing ? APLOG_NOTICE : APLOG_INFO, 0, rm->s,
                 MC_LOGNO(050) "issuer %s: key set refreshed (version %" APR_UINT64_T_FMT ", next in %"
                 APR_TIME_T_FMT " s)", ic->core.iss, version, apr_time_sec(every));
    return APR_SUCCESS;
}

static void refresh_one(mc_remote_t *rm, apr_pool_t *p)
{
    mc_issuer_t *ic = rm->ic;
    claims_keyset_schedule_t sch;
    claims_keyset_state_t meta;
    apr_time_t now = apr_time_now();
    int have = read_meta(rm, &meta, p);
    char *doc = NULL;
    apr_size_t len = 0;
    apr_int64_t max_age = -1;
    const char *err = NULL;
    claims_status_t st;

    schedule_of(ic, &sch);
    if (!claims_keyset_refresh_due(&meta, have, rm->wd_attempt_at, &sch, now)) {
        return;
    }
    rm->wd_attempt_at = now;
    st = fetch_set(rm, p, &meta, &doc, &len, &max_age, &err);
    now = apr_time_now();
    /* re-read: a request may have asked for a refresh meanwhile; keep its wish if newer */
    {
        claims_keyset_state_t cur;
        if (read_meta(rm, &cur, p)) {
            cur.fetches = meta.fetches;
            apr_cpystrn(cur.jwks_uri, meta.jwks_uri, sizeof(cur.jwks_uri));
            apr_cpystrn(cur.introspection_endpoint, meta.introspection_endpoint, sizeof(cur.introspection_endpoint));
            if (cur.version < meta.version) {
                cur.version = meta.version;
            }
            meta = cur;
        }
    }
    meta.attempt_at = now;
    meta.last_status = st;
    if (st == CLAIMS_OK) {
        apr_status_t rv = publish(rm, p, &meta, doc, len, max_age, now);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, rm->failing ? APLOG_DEBUG : APLOG_ERR, rv, rm->s, MC_LOGNO(053) "issuer %s: "
                         "the key set (%" APR_SIZE_T_FMT " bytes) could not be stored in ClaimsKeyCache (too "
                         "large, or the store is unreachable)", ic->core.iss, len);
            meta.last_status = CLAIMS_ERR_INTERNAL;
            apr_cpystrn(meta.last_error, "key set could not be stored in the key cache", sizeof(meta.last_error));
            rm->failing = 1;
        }
        else {
            rm->failing = 0;
        }
    }
    else {
        apr_cpystrn(meta.last_error, err != NULL ? err : claims_status_text(st), sizeof(meta.last_error));
        /* logged once per failure streak, not per attempt or request */
        ap_log_error(APLOG_MARK, rm->failing ? APLOG_DEBUG : APLOG_ERR, 0, rm->s,
                     MC_LOGNO(051) "issuer %s: key set fetch failed, %s: %s", ic->core.iss,
                     meta.version > 0 ? "keeping the last good set" : "no keys yet, tokens are refused",
                     meta.last_error);
        rm->failing = 1;
    }
    write_meta(rm, &meta, p);
}

static apr_status_t watchdog_tick(int state, void *data, apr_pool_t *pool)
{
    if (state != AP_WATCHDOG_STATE_RUNNING && state != AP_WATCHDOG_STATE_STARTING) {
        return APR_SUCCESS;
    }
    for (int i = 0; i < remotes->nelts; i++) {
        apr_pool_t *p;
        apr_pool_create(&p, pool);
        refresh_one(APR_ARRAY_IDX(remotes, i, mc_remote_t *), p);
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ the children: using */

static void keyset_unref(mc_remote_t *rm, mc_keyset_t *ks)
{
    if (ks == NULL) {
        return;
    }
    if (--ks->refs == 0 && ks->retired) {
        apr_pool_destroy(ks->pool);
    }
}

static apr_status_t release_keyset(void *data)
{
    mc_release_t *rel = data;
    apr_thread_mutex_lock(rel->rm->lock);
    keyset_unref(rel->rm, rel->ks);
    apr_thread_mutex_unlock(rel->rm->lock);
    return APR_SUCCESS;
}

/* Asks the watchdog for a refresh (a request met an unknown kid, or a published document was
 * refused), at most once per ClaimsUnknownKidInterval; read and written under the store's
 * lock, so that of all requests of all children only one asks. */
static void ask_refresh(mc_remote_t *rm, apr_pool_t *p, request_rec *r, apr_time_t now)
{
    unsigned char buf[sizeof(claims_keyset_state_t) + CLAIMS_STORE_OVERHEAD];
    const unsigned char *data = NULL;
    apr_size_t len = 0;
    claims_keyset_schedule_t sch;
    claims_keyset_state_t cur;

    if (mc_socache_lock(keystore) != APR_SUCCESS) {
        return;
    }
    schedule_of(rm->ic, &sch);
    if (get_locked(rm, rm->meta_id, buf, sizeof(buf), &data, &len, p) == APR_SUCCESS
        && claims_keyset_state_decode(data, len, &cur) && claims_keyset_may_ask(&cur, &sch, now)) {
        cur.wanted_at = now;
        if (mc_socache_put_locked(keystore, rm->s, rm->meta_id, &cur, sizeof(cur), MC_KEY_SET_TTL, p) == APR_SUCCESS
            && r != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(056) "issuer %s: unknown kid, key set refresh "
                          "requested", rm->ic->core.iss);
        }
    }
    mc_socache_unlock(keystore);
}

/* Parses the published document of meta's version; NULL when it cannot be had (yet). */
static mc_keyset_t *load_published(mc_remote_t *rm, apr_pool_t *p, const claims_keyset_state_t *meta)
{
    unsigned int cap = MC_MAX_DOC + sizeof(apr_uint64_t) + CLAIMS_STORE_OVERHEAD;
    unsigned char *buf = apr_palloc(p, cap);
    const unsigned char *data = NULL;
    apr_size_t len = 0;
    apr_uint64_t version;
    apr_pool_t *kp;
    apr_array_header_t *keys = NULL, *skipped;
    char *err = NULL;
    mc_keyset_t *ks;
    apr_status_t rv = store_get(rm, rm->doc_id, buf, cap, &data, &len, p);

    if (rv == APR_EGENERAL) {
        ask_refresh(rm, p, NULL, apr_time_now());  /* refused: have the IdP's set published again */
        return NULL;
    }
    if (rv != APR_SUCCESS || len < sizeof(version)) {
        return NULL;
    }
    memcpy(&version, data, sizeof(version));
    if (version != meta->version) {
        return NULL;  /* published while we looked: next time */
    }
    apr_pool_create(&kp, NULL);
    skipped = apr_array_make(kp, 2, sizeof(claims_key_skipped_t *));
    if (parse_set(kp, rm->ic, (const char *)data + sizeof(version), len - sizeof(version),
                  claims_fetch_redact_url(kp, meta->jwks_uri[0] ? meta->jwks_uri : rm->ic->jwks_url), skipped,
                  NULL, &keys, &err) != CLAIMS_OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, rm->s, MC_LOGNO(052) "issuer %s: published key set refused: %s",
                     rm->ic->core.iss, err != NULL ? err : "invalid");
        apr_pool_destroy(kp);
        return NULL;
    }
    ks = apr_pcalloc(kp, sizeof(*ks));
    ks->pool = kp;
    ks->keys = keys;
    ks->skipped = skipped;
    ks->version = version;
    ks->fetched_at = meta->fetched_at;
    ks->due_at = meta->expires_at;
    ks->refs = 1;  /* held by rm->current */
    return ks;
}

/* Brings the child's key set up to the published version, if that is newer than its own (an
 * older version, even an authentic one played back into the store, is never taken). Called
 * with rm->sync_lock; the store is read and the document parsed without rm->lock, so threads
 * verifying with the current set never wait for it. */
static void sync_keyset(mc_remote_t *rm, apr_pool_t *p)
{
    claims_keyset_state_t meta;
    mc_keyset_t *ks, *cur;
    apr_uint64_t have;

    rm->last_sync = apr_time_now();
    apr_thread_mutex_lock(rm->lock);
    cur = rm->current;
    have = cur != NULL ? cur->version : 0;
    apr_thread_mutex_unlock(rm->lock);
    if (!read_meta(rm, &meta, p) || meta.version == 0) {
        return;
    }
    if (meta.version <= have) {
        if (meta.version == have && cur != NULL) {
            apr_thread_mutex_lock(rm->lock);
            cur->due_at = meta.expires_at;  /* refreshed with the same document: not stale */
            apr_thread_mutex_unlock(rm->lock);
        }
        return;
    }
    if ((ks = load_published(rm, p, &meta)) == NULL) {
        return;
    }
    apr_thread_mutex_lock(rm->lock);
    if (rm->current != NULL) {
        rm->current->retired = 1;
        keyset_unref(rm, rm->current);
    }
    rm->current = ks;
    rm->stale_logged = 0;
    apr_thread_mutex_unlock(rm->lock);
    apr_atomic_set32(&rm->has_set, 1);
}

/* Syncs if a second has passed; must: also when another thread is at it (wait for it). */
static void maybe_sync(mc_remote_t *rm, apr_pool_t *p, int must)
{
    apr_status_t rv = must ? apr_thread_mutex_lock(rm->sync_lock) : apr_thread_mutex_trylock(rm->sync_lock);
    if (rv != APR_SUCCESS) {
        return;  /* another thread syncs: verify with the set we have */
    }
    if (must || apr_time_now() - rm->last_sync >= MC_SYNC_INTERVAL) {
        sync_keyset(rm, p);
    }
    apr_thread_mutex_unlock(rm->sync_lock);
}

/* The current key set for a request (referenced until p is cleared), or the local keys. */
static const apr_array_header_t *use_keyset(mc_remote_t *rm, apr_pool_t *p, request_rec *r)
{
    mc_keyset_t *ks;
    mc_release_t *rel;
    apr_time_t now = apr_time_now();
    int stale = 0;

    apr_thread_mutex_lock(rm->lock);
    ks = rm->current;
    /* stale counts from when a refresh was due, not from the fetch: a healthy provider whose
     * refresh interval is longer than ClaimsMaxStale does not lose its keys */
    if (ks != NULL && claims_keyset_is_stale(ks->due_at, rm->ic->max_stale, now)) {
        stale = !rm->stale_logged;
        rm->stale_logged = 1;
        ks = NULL;
    }
    if (ks != NULL) {
        ks->refs++;
    }
    apr_thread_mutex_unlock(rm->lock);
    if (stale) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(054) "issuer %s: the key set is older than "
                      "ClaimsMaxStale and the identity provider still fails: its remote keys are no "
                      "longer trusted", rm->ic->core.iss);
    }
    if (ks == NULL) {
        return rm->ic->core.keys;
    }
    rel = apr_palloc(p, sizeof(*rel));
    rel->rm = rm;
    rel->ks = ks;
    apr_pool_cleanup_register(p, rel, release_keyset, apr_pool_cleanup_null);
    return ks->keys;
}

/* A token's kid matched nothing: ask for a refresh if allowed, and wait for it, bounded in
 * time (ClaimsFetchTimeout) and in how many requests of this child wait (ClaimsRefreshWaiters):
 * a flood of unknown kids while the IdP is slow must not take every worker. */
static void want_refresh(mc_remote_t *rm, apr_pool_t *p, request_rec *r)
{
    claims_keyset_schedule_t sch;
    claims_keyset_state_t meta;
    apr_time_t now = apr_time_now(), deadline, asked;
    int have = read_meta(rm, &meta, p), seen = 0;

    schedule_of(rm->ic, &sch);
    if (have && meta.wanted_at <= meta.attempt_at) {
        if (!claims_keyset_may_ask(&meta, &sch, now)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(055) "issuer %s: unknown kid, the key set was "
                          "refreshed less than ClaimsUnknownKidInterval ago: no refresh", rm->ic->core.iss);
            return;
        }
        ask_refresh(rm, p, r, now);
    }
    /* else nothing is published yet (the first fetch is under way), or a refresh was asked for */
    if (apr_atomic_inc32(&rm->waiting) >= (apr_uint32_t)rm->ic->refresh_waiters) {
        apr_atomic_dec32(&rm->waiting);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(066) "issuer %s: unknown kid, %d request(s) of this "
                      "process already wait for the key set refresh (ClaimsRefreshWaiters): answered at once",
                      rm->ic->core.iss, rm->ic->refresh_waiters);
        return;
    }
    asked = meta.attempt_at;
    /* the request waits at most ClaimsFetchTimeout; a slower fetch finishes in the background */
    deadline = now + rm->ic->fetch_timeout;
    while (!seen && apr_time_now() < deadline) {
        apr_sleep(MC_WAIT_STEP);
        seen = read_meta(rm, &meta, p) && meta.attempt_at > asked;
    }
    apr_atomic_dec32(&rm->waiting);
}

const apr_array_header_t *mc_issuer_keys(void *baton, apr_pool_t *p, const claims_issuer_t *issuer, int refresh)
{
    request_rec *r = baton;
    const mc_issuer_t *ic = (const mc_issuer_t *)issuer;
    mc_remote_t *rm = ic->remote;

    if (rm == NULL || rm->lock == NULL) {
        return issuer->keys;
    }
    if (refresh) {
        /* also without a refresh of our own: another may have published the kid meanwhile */
        want_refresh(rm, p, r);
        maybe_sync(rm, p, 1);
    }
    else {
        maybe_sync(rm, p, !apr_atomic_read32(&rm->has_set));
    }
    return use_keyset(rm, p, r);
}

const char *mc_remote_introspection_endpoint(request_rec *r, const mc_issuer_t *ic)
{
    claims_keyset_state_t meta;
    mc_remote_t *rm = ic->remote;
    apr_time_t deadline = apr_time_now() + ic->fetch_timeout;
    int have;

    if (rm == NULL || rm->lock == NULL) {
        return NULL;
    }
    /* right after a start the first discovery may be under way: wait for it, bounded, as a
     * request with an unknown kid waits for a refresh */
    while (!(have = read_meta(rm, &meta, r->pool)) || meta.attempt_at == 0) {
        if (apr_time_now() >= deadline) {
            return NULL;
        }
        apr_sleep(MC_WAIT_STEP);
    }
    return have && meta.introspection_endpoint[0] != '\0' ? apr_pstrdup(r->pool, meta.introspection_endpoint) : NULL;
}

void mc_describe_keys(request_rec *r, const mc_issuer_t *ic, mc_keys_info_t *out)
{
    mc_remote_t *rm = ic->remote;
    claims_keyset_state_t meta;
    memset(out, 0, sizeof(*out));
    out->keys = mc_issuer_keys(r, r->pool, &ic->core, 0);
    out->source = "local";
    if (rm == NULL || rm->lock == NULL) {
        return;
    }
    out->remote = 1;
    out->source = mc_key_source(r->pool, ic);
    apr_thread_mutex_lock(rm->lock);
    if (rm->current != NULL && rm->current->keys == out->keys) {
        out->skipped = rm->current->skipped;  /* held with the keys until r->pool is cleared */
    }
    apr_thread_mutex_unlock(rm->lock);
    if (read_meta(rm, &meta, r->pool)) {
        out->version = meta.version;
        out->fetched_at = meta.fetched_at;
        out->due_at = meta.expires_at;
        claims_keyset_schedule_t sch;
        schedule_of(ic, &sch);
        out->next_at = claims_keyset_next_at(&meta, &sch);
        out->attempt_at = meta.attempt_at;
        out->last_ok = meta.last_status == CLAIMS_OK;
        out->last_error = apr_pstrdup(r->pool, meta.last_error);
        out->fetches = meta.fetches;
    }
}

/* ------------------------------------------------------------------ start-up */

/* The records of one declaration (CL-91): a main server and each virtual host that declares an
 * issuer again fetch and parse under their own rules, so one never reads or blocks another's.
 * Servers of a fleet with the same configuration name the same records and share them. */
static void name_declaration(mc_remote_t *rm, server_rec *main_server, apr_pool_t *p)
{
    const mc_issuer_t *ic = rm->ic;
    const char *local = "";
    const char *parts[10];

    for (int i = 0; ic->core.keys != NULL && i < ic->core.keys->nelts; i++) {
        const claims_key_t *k = APR_ARRAY_IDX(ic->core.keys, i, const claims_key_t *);
        local = apr_pstrcat(p, local, claims_alg_name(k->alg), ":",
                            k->kid != NULL ? apr_pstrmemdup(p, k->kid, k->kid_len) : "", " ", NULL);
    }
    parts[0] = "key set v2";
    parts[1] = rm->s == main_server ? "main server"
               : apr_psprintf(p, "virtual host %s:%u", rm->s->server_hostname != NULL ? rm->s->server_hostname
                                                        : "", (unsigned)rm->s->port);
    parts[2] = ic->core.iss;
    parts[3] = ic->jwks_url != NULL ? apr_pstrcat(p, "jwks ", ic->jwks_url, NULL)
                                    : apr_pstrcat(p, "discovery ", ic->discovery_url, NULL);
    parts[4] = apr_psprintf(p, "%u", (unsigned)ic->core.algs);
    parts[5] = ic->fetch.ca_file != NULL ? ic->fetch.ca_file : "";
    parts[6] = ic->fetch.ca_path != NULL ? ic->fetch.ca_path : "";
    parts[7] = ic->fetch.proxy != NULL ? ic->fetch.proxy : "";
    parts[8] = ic->fetch.allow_http_loopback ? "http" : "https";
    parts[9] = local;
    mc_socache_id(keystore, 'm', parts, 10, rm->meta_id);
    mc_socache_id(keystore, 'd', parts, 10, rm->doc_id);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err;
    mc_socache_spec_t spec;
    ap_watchdog_t *wd = NULL;
    apr_status_t rv;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    remotes = apr_array_make(pconf, 4, sizeof(mc_remote_t *));
    for (server_rec *v = s; v != NULL; v = v->next) {
        mc_srv_conf_t *vc = mc_srv(v);
        for (int i = 0; i < vc->issuers->nelts; i++) {
            mc_issuer_t *ic = APR_ARRAY_IDX(vc->issuers, i, mc_issuer_t *);
            mc_remote_t *rm;
            if ((ic->jwks_url == NULL && ic->discovery_url == NULL) || ic->remote != NULL) {
                continue;  /* local keys only, or shared with the main server and seen already */
            }
            rm = apr_pcalloc(pconf, sizeof(*rm));
            rm->ic = ic;
            rm->s = v;
            ic->remote = rm;
            APR_ARRAY_PUSH(remotes, mc_remote_t *) = rm;
        }
    }
    if (remotes->nelts == 0) {
        return OK;
    }
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_DUMP) {
        return OK;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);  /* before any thread exists */

    spec.spec = mc_key_cache_spec(mc_srv(s));
    spec.shmcb_args = "(4194304)";
    spec.name = "claims-keys";
    spec.mutex_type = MC_KEYS_MUTEX;
    spec.directive = "ClaimsKeyCache";
    if ((err = mc_socache_open(&keystore, &spec, s, pconf, ptemp)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(057) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (int i = 0; i < remotes->nelts; i++) {
        name_declaration(APR_ARRAY_IDX(remotes, i, mc_remote_t *), s, ptemp);
    }
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (wd_get_instance == NULL || wd_register_callback == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(061) "remote key sets need mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = wd_get_instance(&wd, MC_WATCHDOG_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = wd_register_callback(wd, AP_WD_TM_SLICE, NULL, watchdog_tick);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MC_LOGNO(062) "cannot start the key set watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (int i = 0; i < remotes->nelts; i++) {
        mc_remote_t *rm = APR_ARRAY_IDX(remotes, i, mc_remote_t *);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rm->s, MC_LOGNO(063) "issuer %s: keys from %s, refreshed every %"
                     APR_TIME_T_FMT " s", rm->ic->core.iss, mc_key_source(ptemp, rm->ic),
                     apr_time_sec(rm->ic->refresh));
    }
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    if (remotes == NULL || remotes->nelts == 0 || !mc_socache_child_init(keystore, pchild, s)) {
        return;
    }
    for (int i = 0; i < remotes->nelts; i++) {
        mc_remote_t *rm = APR_ARRAY_IDX(remotes, i, mc_remote_t *);
        rm->current = NULL;
        rm->last_sync = 0;
        rm->waiting = 0;
        rm->has_set = 0;
        apr_thread_mutex_create(&rm->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
        apr_thread_mutex_create(&rm->sync_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    }
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mc_socache_register(pconf, MC_KEYS_MUTEX);
    remotes = NULL;
    keystore = NULL;
    return OK;
}

void mc_register_remote_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* before mod_watchdog's post_config (APR_HOOK_LAST), which starts the registered callbacks */
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
