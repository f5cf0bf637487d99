/*
 * mod_claims_introspect.c - opaque tokens; see mod_claims_introspect.h.
 *
 * An answer is looked up first in the introspection cache (ClaimsIntrospectionCache: shmcb on
 * one machine, memcache or redis for a fleet), keyed by a keyed digest of the token, the
 * endpoint and the client id, in records that are authenticated and encrypted (they hold
 * claims; CL-89, CL-90). An active answer is kept until the token's exp, at most
 * ClaimsIntrospectionCacheTTL; an inactive one for ClaimsIntrospectionNegativeTTL (CL-94).
 * Concurrent misses for the same token in one process make one request to the endpoint: the
 * others wait for it (at most ClaimsFetchTimeout) and read its answer from the cache.
 */
#include "mod_claims_introspect.h"
#include "mod_claims_config_issuer.h"
#include "mod_claims_counters.h"
#include "mod_claims_remote.h"
#include "mod_claims_socache.h"

#include "claims_introspect.h"
#include "claims_json.h"
#include "claims_validate.h"

#include "http_core.h"

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_portable.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <string.h>

#define MC_INTRO_MUTEX "claims-intro"
#define MC_INTRO_MAGIC 0x434c4931u       /* "CLI1" */
#define MC_INTRO_MAX_RECORD (96 * 1024)  /* claims and a signed answer, as the fetch caps them */

/* A cached answer: this head, then the claims as JSON text, then the signed answer (if any). */
typedef struct record_head_t {
    apr_uint32_t magic;
    apr_uint32_t active;
    apr_uint32_t claims_len;
    apr_uint32_t jwt_len;
    apr_time_t expires_at;
} record_head_t;

typedef struct figures_t {
    volatile apr_uint64_t calls, errors, active, inactive, hits, misses;
} figures_t;

/* One request to the endpoint in flight in this process; others wait on it. */
typedef struct flight_t {
    apr_pool_t *pool;                  /* its own: flights come and go by the million */
    unsigned char id[MC_RECORD_ID_LEN];
    apr_thread_cond_t *done;
    int finished;
    int waiters;
} flight_t;

static mc_socache_t *cache;
static figures_t *figures;
static apr_thread_mutex_t *flights_lock;
static apr_hash_t *flights;
static volatile apr_uint32_t *failing;   /* per issuer record: the last call failed (log once) */
static int nfailing;

/* ------------------------------------------------------------------ choosing */

int mc_is_jws_shaped(const char *token, apr_size_t len)
{
    /* memchr, and no further than a third dot: every JWT at an introspecting location passes
     * here, and a byte-by-byte count cost about 8 instructions per byte of the token */
    const char *p = token, *end = token + len;
    int dots = 0;
    while (dots < 3 && p < end && (p = memchr(p, '.', (size_t)(end - p))) != NULL) {
        dots++;
        p++;
    }
    return dots == 2;
}

const mc_issuer_t *mc_introspecting_issuer(const claims_issuer_t *const *trusted, int n)
{
    for (int i = 0; i < n; i++) {
        const mc_issuer_t *ic = (const mc_issuer_t *)trusted[i];  /* the core record is the first member */
        if (ic->introspection) {
            return ic;
        }
    }
    return NULL;
}

typedef enum figure_t { CALLS, ERRORS, ACTIVE, INACTIVE, HITS, MISSES } figure_t;

static void count(figure_t which)
{
    volatile apr_uint64_t *v;
    if (figures == NULL) {
        return;
    }
    switch (which) {
    case CALLS: v = &figures->calls; break;
    case ERRORS: v = &figures->errors; break;
    case ACTIVE: v = &figures->active; break;
    case INACTIVE: v = &figures->inactive; break;
    case HITS: v = &figures->hits; break;
    default: v = &figures->misses; break;
    }
    apr_atomic_inc64(v);
}

/* ------------------------------------------------------------------ the cache */

static void record_id(const mc_issuer_t *ic, const char *endpoint, const char *token, apr_size_t len,
                      apr_pool_t *p, unsigned char id[MC_RECORD_ID_LEN])
{
    const char *parts[4];
    parts[0] = "introspection v1";
    parts[1] = endpoint;
    parts[2] = ic->client.client_id;
    parts[3] = apr_pstrmemdup(p, token, len);
    mc_socache_id(cache, 'i', parts, 4, id);
}

/* The cached answer for id: 1 (active: *claims, *jwt and *expires filled), 0 (inactive),
 * -1 (none or unusable). */
static int cache_get(request_rec *r, const unsigned char *id, json_t **claims, const char **jwt, apr_time_t *expires)
{
    unsigned char *data = NULL;
    apr_size_t len = 0;
    record_head_t head;
    apr_status_t rv = mc_socache_get_private(cache, r->server, id, MC_INTRO_MAX_RECORD, &data, &len, r->pool);

    if (rv == APR_EGENERAL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, MC_LOGNO(083) "an introspection record read from "
                      "ClaimsIntrospectionCache failed authentication: ignored");
    }
    if (rv != APR_SUCCESS || len < sizeof(head)) {
        return -1;
    }
    memcpy(&head, data, sizeof(head));
    if (head.magic != MC_INTRO_MAGIC || (apr_size_t)head.claims_len + head.jwt_len != len - sizeof(head)
        || head.expires_at <= apr_time_now()) {
        return -1;
    }
    if (!head.active) {
        return 0;
    }
    *claims = claims_json_pool(r->pool, claims_json_object(r->pool, data + sizeof(head), head.claims_len));
    if (*claims == NULL) {
        return -1;
    }
    *jwt = head.jwt_len > 0 ? apr_pstrmemdup(r->pool, (const char *)data + sizeof(head) + head.claims_len,
                                             head.jwt_len) : NULL;
    *expires = head.expires_at;
    return 1;
}

/* How long an answer may be reused: an active one never past the token's exp. */
static apr_interval_time_t lifetime(const mc_issuer_t *ic, const claims_introspection_t *ans, double now)
{
    double exp = 0;
    apr_interval_time_t ttl;
    if (!ans->active) {
        return ic->negative_ttl;
    }
    ttl = ic->introspection_ttl;
    if (claims_numeric_date(ans->claims, "exp", &exp) > 0) {
        double left = exp - now;
        if (left <= 0) {
            return 0;
        }
        if (left < (double)apr_time_sec(ttl)) {
            ttl = apr_time_from_sec((apr_int64_t)left);
        }
    }
    return ttl;
}

/* Stores an answer (its claims as compact JSON text, NULL when inactive) until expires. */
static void cache_put(request_rec *r, const unsigned char *id, int active, const char *text, const char *jwt,
                      apr_time_t expires)
{
    apr_size_t clen = text != NULL ? strlen(text) : 0, jlen = jwt != NULL ? strlen(jwt) : 0;
    apr_interval_time_t ttl = expires - apr_time_now();
    record_head_t head;
    unsigned char *rec;

    if (ttl <= 0 || (active && text == NULL) || sizeof(head) + clen + jlen > MC_INTRO_MAX_RECORD) {
        return;
    }
    head.magic = MC_INTRO_MAGIC;
    head.active = (apr_uint32_t)active;
    head.claims_len = (apr_uint32_t)clen;
    head.jwt_len = (apr_uint32_t)jlen;
    head.expires_at = expires;
    rec = apr_palloc(r->pool, sizeof(head) + clen + jlen);
    memcpy(rec, &head, sizeof(head));
    if (clen > 0) {
        memcpy(rec + sizeof(head), text, clen);
    }
    if (jlen > 0) {
        memcpy(rec + sizeof(head) + clen, jwt, jlen);
    }
    if (mc_socache_put_private(cache, r->server, id, rec, sizeof(head) + clen + jlen, ttl, r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(084) "introspection answer not cached "
                      "(ClaimsIntrospectionCache unavailable or full)");
    }
}

/* Keeps an active answer in this process's level until expires; *out then refers to the
 * entry (CLAIMS_JSON and CLAIM_* pairs computed once), else to claims and jwt as they are. */
static void keep(request_rec *r, const mc_issuer_t *ic, const char *token, apr_size_t len, json_t *claims,
                 const char *jwt, apr_time_t expires, mc_introspected_t *out)
{
    claims_cache_t *answers = mc_answer_cache();
    out->claims = claims;
    out->jwt = jwt;
    if (answers != NULL && expires > apr_time_now()) {
        out->cached = claims_cache_put_answer(answers, r->pool, token, len, &ic->core, claims, jwt,
                                              (double)expires / (double)APR_USEC_PER_SEC);
    }
}

/* ------------------------------------------------------------------ the endpoint */

static void streak(request_rec *r, const mc_issuer_t *ic, int failed, const char *why)
{
    volatile apr_uint32_t *flag = failing != NULL && ic->index < nfailing ? &failing[ic->index] : NULL;
    int level;
    if (!failed) {
        if (flag != NULL && apr_atomic_xchg32(flag, 0) != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, MC_LOGNO(082) "issuer %s: introspection works again",
                          ic->core.iss);
        }
        return;
    }
    count(ERRORS);
    /* once per failure streak and process, not per request (the level is worked out before
     * ap_log_rerror, a macro that reads its level argument twice) */
    level = flag == NULL || apr_atomic_xchg32(flag, 1) == 0 ? APLOG_ERR : APLOG_DEBUG;
    ap_log_rerror(APLOG_MARK, level, 0, r, MC_LOGNO(081) "issuer %s: token introspection failed: %s: answered 503",
                  ic->core.iss, why);
}

/* The fetch session of the thread serving r, so that its calls to an endpoint keep their
 * connection alive: made on the thread's first call, in a subpool of the thread's pool (gone,
 * with the handle and its connections, when the thread exits). NULL, and so a fresh connection,
 * when r's connection names no thread, or names one that is not the running thread (the
 * session stays with the OS thread that made it: never two threads at once). */
static claims_fetch_session_t *fetch_session(request_rec *r)
{
#if APR_HAS_THREADS
    static const char key[] = "mod_claims-fetch-session";
    typedef struct owned_t {
        claims_fetch_session_t *session;
        apr_os_thread_t owner;
    } owned_t;
    apr_thread_t *t = r->connection->current_thread;
    void *data = NULL;
    owned_t *o;
    apr_pool_t *p;

    if (t == NULL) {
        return NULL;
    }
    if (apr_thread_data_get(&data, key, t) == APR_SUCCESS && data != NULL) {
        o = data;
        return apr_os_thread_equal(o->owner, apr_os_thread_current()) ? o->session : NULL;
    }
    if (apr_pool_create(&p, apr_thread_pool_get(t)) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(p, "claims_fetch_session");
    o = apr_palloc(p, sizeof(*o));
    o->session = claims_fetch_session_create(p);
    o->owner = apr_os_thread_current();
    if (apr_thread_data_set(o, key, NULL, t) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    return o->session;
#else
    (void)r;
    return NULL;
#endif
}

/* Asks the endpoint; CLAIMS_OK with *ans (active or not), or CLAIMS_ERR_UNAVAILABLE / a refusal. */
static claims_status_t call_endpoint(request_rec *r, const mc_issuer_t *ic, const char *endpoint, const char *token,
                                     apr_size_t len, double now, claims_introspection_t *ans, const char **jwt)
{
    claims_introspect_request_t req;
    claims_fetch_opts_t fetch = ic->fetch;
    claims_fetch_result_t res;
    const char *why = NULL;
    claims_status_t st;

    count(CALLS);
    if (claims_introspect_request(r->pool, &ic->client, endpoint, token, len, ic->introspection_jwt, now, &req)
        != CLAIMS_OK) {
        streak(r, ic, 1, "the request could not be built (client key)");
        return CLAIMS_ERR_UNAVAILABLE;
    }
    fetch.session = fetch_session(r);
    st = claims_fetch_post(r->pool, endpoint, &fetch, req.body, req.len, req.authorization, req.accept, &res);
    if (st != CLAIMS_OK) {
        streak(r, ic, 1, res.error != NULL ? res.error : claims_status_text(st));
        return CLAIMS_ERR_UNAVAILABLE;
    }
    *jwt = NULL;
    if (ic->introspection_jwt) {
        st = claims_introspect_parse_jwt(r->pool, res.body, res.len, &ic->core, mc_issuer_keys, r,
                                         ic->client.client_id, now, ic->policy.leeway, ans, &why);
        *jwt = st == CLAIMS_OK ? apr_pstrmemdup(r->pool, res.body, strcspn(res.body, "\r\n")) : NULL;
    }
    else {
        st = claims_introspect_parse_json(r->pool, res.body, res.len, ic->core.iss, ans, &why);
    }
    if (st == CLAIMS_ERR_UNAVAILABLE) {
        streak(r, ic, 1, why != NULL ? why : "unusable answer");
        return st;
    }
    streak(r, ic, 0, NULL);
    if (st == CLAIMS_OK || st == CLAIMS_ERR_INACTIVE) {
        ans->active = st == CLAIMS_OK;
        count(ans->active ? ACTIVE : INACTIVE);
        return CLAIMS_OK;
    }
    return st;  /* e.g. an answer naming another issuer */
}

/* ------------------------------------------------------------------ one request per process */

static void end_flight(flight_t *f)
{
    apr_thread_cond_destroy(f->done);
    apr_pool_destroy(f->pool);
}

/* Joins the flight for id: as its leader (*leader), or as a waiter; NULL when none can be made
 * (the request then asks on its own). */
static flight_t *board(const unsigned char *id, int *leader)
{
    flight_t *f;
    apr_pool_t *fp;
    apr_thread_mutex_lock(flights_lock);
    f = apr_hash_get(flights, id, MC_RECORD_ID_LEN);
    *leader = f == NULL;
    if (f != NULL) {
        f->waiters++;
    }
    else if (apr_pool_create(&fp, NULL) == APR_SUCCESS) {
        f = apr_pcalloc(fp, sizeof(*f));
        f->pool = fp;
        memcpy(f->id, id, MC_RECORD_ID_LEN);
        if (apr_thread_cond_create(&f->done, fp) != APR_SUCCESS) {
            apr_pool_destroy(fp);
            f = NULL;
        }
        else {
            apr_hash_set(flights, f->id, MC_RECORD_ID_LEN, f);
        }
    }
    apr_thread_mutex_unlock(flights_lock);
    return f;
}

/* A follower waits for the leader, bounded in time; 1 when the leader finished. */
static int wait_flight(flight_t *f, apr_interval_time_t timeout)
{
    apr_time_t deadline = apr_time_now() + timeout;
    int finished;
    apr_thread_mutex_lock(flights_lock);
    while (!f->finished && apr_time_now() < deadline) {
        apr_thread_cond_timedwait(f->done, flights_lock, deadline - apr_time_now());
    }
    finished = f->finished;
    if (--f->waiters == 0 && f->finished) {
        end_flight(f);
    }
    apr_thread_mutex_unlock(flights_lock);
    return finished;
}

static void land(flight_t *f)
{
    apr_thread_mutex_lock(flights_lock);
    apr_hash_set(flights, f->id, MC_RECORD_ID_LEN, NULL);
    f->finished = 1;
    if (f->waiters == 0) {
        end_flight(f);
    }
    else {
        apr_thread_cond_broadcast(f->done);
    }
    apr_thread_mutex_unlock(flights_lock);
}

/* ------------------------------------------------------------------ introspecting */

static const char *endpoint_of(request_rec *r, const mc_issuer_t *ic)
{
    return ic->introspection_url != NULL ? ic->introspection_url : mc_remote_introspection_endpoint(r, ic);
}

/* The answer in the store the children (or the fleet) share, kept in this process's level. */
static claims_status_t from_cache(request_rec *r, const mc_issuer_t *ic, const unsigned char *id, const char *token,
                                  apr_size_t len, mc_introspected_t *out)
{
    json_t *claims = NULL;
    const char *jwt = NULL;
    apr_time_t expires = 0;
    int hit = cache_get(r, id, &claims, &jwt, &expires);
    if (hit < 0) {
        return CLAIMS_ERR_UNAVAILABLE;
    }
    count(HITS);
    if (hit) {
        keep(r, ic, token, len, claims, jwt, expires, out);
    }
    return hit ? CLAIMS_OK : CLAIMS_ERR_INACTIVE;
}

/* The answer of this process's level: no digest, no decryption, no parse. */
static int from_own_level(request_rec *r, const mc_issuer_t *ic, const char *token, apr_size_t len, double now,
                          mc_introspected_t *out)
{
    claims_cache_t *answers = mc_answer_cache();
    json_t *claims = NULL;
    const claims_cached_t *e = answers != NULL ? claims_cache_get_answer(answers, r->pool, token, len, now, &ic->core,
                                                                         &claims) : NULL;
    if (e == NULL) {
        return 0;
    }
    count(HITS);
    out->claims = claims;
    out->jwt = e->attachment;
    out->cached = e;
    return 1;
}

/* Asks the endpoint (as the leader of this process's requests for the token) and stores what
 * it answered at both levels. */
static claims_status_t ask(request_rec *r, const mc_issuer_t *ic, const char *endpoint, const unsigned char *id,
                           const char *token, apr_size_t len, double now, mc_introspected_t *out)
{
    claims_introspection_t ans;
    const char *jwt = NULL, *text = NULL;
    apr_interval_time_t ttl;
    apr_time_t expires;
    claims_status_t st;

    memset(&ans, 0, sizeof(ans));
    st = call_endpoint(r, ic, endpoint, token, len, now, &ans, &jwt);
    if (st != CLAIMS_OK) {
        return st;
    }
    ttl = lifetime(ic, &ans, now);
    expires = apr_time_now() + ttl;
    if (ans.active) {
        keep(r, ic, token, len, ans.claims, jwt, expires, out);
    }
    if (ttl > 0) {
        /* the entry's CLAIMS_JSON is the record's text: the claims are written out once */
        text = !ans.active ? NULL : out->cached != NULL ? out->cached->claims_json
                                  : claims_payload_text(r->pool, NULL, 0, ans.claims);
        cache_put(r, id, ans.active, text, jwt, expires);
    }
    return ans.active ? CLAIMS_OK : CLAIMS_ERR_INACTIVE;
}

claims_status_t mc_introspect(request_rec *r, const mc_issuer_t *ic, const char *token, apr_size_t len,
                              mc_introspected_t *out)
{
    const char *endpoint = endpoint_of(r, ic);
    unsigned char id[MC_RECORD_ID_LEN];
    double now = (double)apr_time_now() / (double)APR_USEC_PER_SEC;
    claims_status_t st;
    flight_t *f;
    int leader = 0;

    memset(out, 0, sizeof(*out));
    if (cache == NULL || endpoint == NULL) {
        streak(r, ic, 1, endpoint == NULL ? "no introspection endpoint known yet" : "no introspection cache");
        return CLAIMS_ERR_UNAVAILABLE;
    }
    if (from_own_level(r, ic, token, len, now, out)) {
        return CLAIMS_OK;
    }
    record_id(ic, endpoint, token, len, r->pool, id);
    if ((st = from_cache(r, ic, id, token, len, out)) != CLAIMS_ERR_UNAVAILABLE) {
        return st;
    }
    count(MISSES);
    f = board(id, &leader);
    if (f != NULL && !leader) {
        /* another request of this process asks already: its answer lands in the cache */
        wait_flight(f, ic->fetch_timeout);
        return from_own_level(r, ic, token, len, now, out) ? CLAIMS_OK : from_cache(r, ic, id, token, len, out);
    }
    st = ask(r, ic, endpoint, id, token, len, now, out);
    if (f != NULL) {
        land(f);
    }
    return st;
}

int mc_read_introspect_counts(mc_introspect_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    if (figures == NULL) {
        return 0;
    }
    out->calls = apr_atomic_read64(&figures->calls);
    out->errors = apr_atomic_read64(&figures->errors);
    out->active = apr_atomic_read64(&figures->active);
    out->inactive = apr_atomic_read64(&figures->inactive);
    out->hits = apr_atomic_read64(&figures->hits);
    out->misses = apr_atomic_read64(&figures->misses);
    return 1;
}

/* ------------------------------------------------------------------ start-up */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mc_socache_register(pconf, MC_INTRO_MUTEX);
    cache = NULL;
    figures = NULL;
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    mc_socache_spec_t spec;
    apr_shm_t *shm = NULL;
    const char *err;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG || !mc_issuers_introspect()
        || ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_DUMP) {
        return OK;
    }
    spec.spec = mc_introspection_cache_spec(mc_srv(s));
    spec.shmcb_args = "(8388608)";
    spec.name = "claims-intro";
    spec.mutex_type = MC_INTRO_MUTEX;
    spec.directive = "ClaimsIntrospectionCache";
    if ((err = mc_socache_open(&cache, &spec, s, pconf, ptemp)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(080) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apr_shm_create(&shm, sizeof(figures_t), NULL, pconf) == APR_SUCCESS) {
        figures = apr_shm_baseaddr_get(shm);
        memset(figures, 0, sizeof(*figures));
    }
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    if (cache == NULL || !mc_socache_child_init(cache, pchild, s)) {
        cache = NULL;
        return;
    }
    apr_thread_mutex_create(&flights_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    flights = apr_hash_make(pchild);
    nfailing = mc_issuer_records();
    failing = apr_pcalloc(pchild, sizeof(*failing) * (apr_size_t)(nfailing > 0 ? nfailing : 1));
}

void mc_register_introspect_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
