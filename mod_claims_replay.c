/*
 * mod_claims_replay.c - the DPoP replay store; see mod_claims_replay.h.
 */
#include "mod_claims_replay.h"
#include "mod_claims_socache.h"

#include "claims_ledger.h"
#include "claims_store.h"

#include "ap_mpm.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "http_core.h"

#include <apr_atomic.h>
#include <apr_memcache.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <string.h>

#define MC_REPLAY_MUTEX "claims-replay"
#define MC_REPLAY_TIMEOUT apr_time_from_msec(1000)   /* a store slower than this is down */
#define MC_REPLAY_POOL 8                             /* redis connections kept per child */
#define MC_REPLAY_DEFAULT_SIZE 16777216              /* bytes of the default shmcb store */
#define MC_SHMCB_PATH_SIZE 524288                    /* mod_socache_shmcb's own default, which
                                                      * "shmcb:PATH" without (BYTES) gets */
#define MC_SHMCB_MAX_SIZE APR_UINT64_C(4294967295)   /* mod_socache_shmcb takes less (httpd
                                                      * 2.4.71: UINT_MAX; older ones 64 MiB) */
#define MC_REPLAY_RECORD_BYTES 256                   /* shmcb bytes a jti is counted for: it
                                                      * keeps about 150 a record (id, value,
                                                      * index), spread over 64 subcaches */

typedef enum store_kind_t { STORE_NONE = 0, STORE_SOCACHE, STORE_MEMCACHE, STORE_REDIS } store_kind_t;

static store_kind_t kind;
static mc_socache_t *socache;             /* shmcb (or another socache, under its mutex) */
static const claims_store_secret_t *secret;
static const char *servers;               /* memcache / redis: host:port */
static apr_memcache_t *memcache;          /* per child */
static apr_thread_mutex_t *redis_lock;    /* per child: the idle connections */
static redisContext *redis_idle[MC_REPLAY_POOL];
static int redis_nidle;
static claims_ledger_t *ledger;           /* shmcb: its live jti, in shared memory */
static apr_uint64_t ledger_capacity;
static const char *store_name;

typedef struct figures_t {               /* in shared memory: every child adds to them */
    volatile apr_uint64_t accepted, replayed, unavailable, full;
} figures_t;
static figures_t *figures;
static volatile apr_uint32_t down_logged, full_logged;

/* ------------------------------------------------------------------ keys */

static void record_id(request_rec *r, const char *jkt, const char *jti, unsigned char id[CLAIMS_STORE_ID_LEN])
{
    const char *parts[3] = {"dpop jti v1", jkt, jti};
    claims_store_id(secret, parts, 3, id);
}

static const char *record_key(request_rec *r, const unsigned char id[CLAIMS_STORE_ID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    char *key = apr_palloc(r->pool, 11 + 2 * CLAIMS_STORE_ID_LEN + 1), *o;
    memcpy(key, "claims-jti:", 11);
    o = key + 11;
    for (int i = 0; i < CLAIMS_STORE_ID_LEN; i++) {
        *o++ = hex[id[i] >> 4];
        *o++ = hex[id[i] & 15];
    }
    *o = '\0';
    return key;
}

static apr_uint32_t seconds(apr_interval_time_t ttl)
{
    apr_int64_t s = apr_time_sec(ttl) + 1;
    return (apr_uint32_t)(s < 1 ? 1 : s > 2592000 ? 2592000 : s);
}

/* ------------------------------------------------------------------ the stores */

static mc_replay_t insert_socache(request_rec *r, const unsigned char *digest, apr_interval_time_t ttl)
{
    unsigned char id[MC_RECORD_ID_LEN], buf[64];
    const unsigned char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;
    mc_replay_t out;

    memcpy(id, digest, CLAIMS_STORE_ID_LEN);  /* the keyed digest first: it spreads the subcaches */
    id[CLAIMS_STORE_ID_LEN] = 'j';
    /* the look-up and the insert under the store's one mutex: atomic for this machine */
    if (mc_socache_lock(socache) != APR_SUCCESS) {
        return MC_REPLAY_DOWN;
    }
    rv = mc_socache_get_locked(socache, r->server, id, buf, sizeof(buf), &data, &len, r->pool);
    if (rv == APR_SUCCESS || rv == APR_EGENERAL) {
        out = MC_REPLAY_SEEN;  /* present (a record we cannot read still counts as seen) */
    }
    else if (ledger != NULL && !claims_ledger_admit(ledger, apr_time_sec(apr_time_now()), (apr_int64_t)seconds(ttl))) {
        out = MC_REPLAY_FULL;  /* storing it would drop a live one */
    }
    else {
        out = mc_socache_put_locked(socache, r->server, id, "1", 1, ttl, r->pool) == APR_SUCCESS ? MC_REPLAY_FIRST
                                                                                              : MC_REPLAY_DOWN;
    }
    mc_socache_unlock(socache);
    return out;
}

static mc_replay_t insert_memcache(request_rec *r, const char *key, apr_interval_time_t ttl)
{
    apr_status_t rv;
    if (memcache == NULL) {
        return MC_REPLAY_DOWN;
    }
    /* memcached's add stores only when the key is absent, atomically on the server */
    rv = apr_memcache_add(memcache, key, (char *)"1", 1, seconds(ttl), 0);
    return rv == APR_SUCCESS ? MC_REPLAY_FIRST : rv == APR_EEXIST ? MC_REPLAY_SEEN : MC_REPLAY_DOWN;
}

static redisContext *redis_take(void)
{
    redisContext *c = NULL;
    char *host, *scope = NULL;
    apr_port_t port = 0;
    apr_pool_t *tmp;
    struct timeval tv = {apr_time_sec(MC_REPLAY_TIMEOUT), (long)(MC_REPLAY_TIMEOUT % APR_USEC_PER_SEC)};

    apr_thread_mutex_lock(redis_lock);
    if (redis_nidle > 0) {
        c = redis_idle[--redis_nidle];
    }
    apr_thread_mutex_unlock(redis_lock);
    if (c != NULL) {
        return c;
    }
    if (apr_pool_create(&tmp, NULL) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_parse_addr_port(&host, &scope, &port, servers, tmp) == APR_SUCCESS && host != NULL) {
        c = redisConnectWithTimeout(host, port != 0 ? port : 6379, tv);
        if (c != NULL && (c->err || redisSetTimeout(c, tv) != REDIS_OK)) {
            redisFree(c);
            c = NULL;
        }
    }
    apr_pool_destroy(tmp);
    return c;
}

static void redis_give(redisContext *c, int healthy)
{
    if (!healthy) {
        redisFree(c);
        return;
    }
    apr_thread_mutex_lock(redis_lock);
    if (redis_nidle < MC_REPLAY_POOL) {
        redis_idle[redis_nidle++] = c;
        c = NULL;
    }
    apr_thread_mutex_unlock(redis_lock);
    if (c != NULL) {
        redisFree(c);
    }
}

static mc_replay_t insert_redis(request_rec *r, const char *key, apr_interval_time_t ttl)
{
    redisContext *c = redis_take();
    redisReply *reply;
    mc_replay_t out = MC_REPLAY_DOWN;
    if (c == NULL) {
        return MC_REPLAY_DOWN;
    }
    /* SET NX: the server stores only when the key is absent, atomically */
    reply = redisCommand(c, "SET %s 1 NX EX %u", key, (unsigned)seconds(ttl));
    if (reply != NULL) {
        if (reply->type == REDIS_REPLY_STATUS && reply->str != NULL && strcmp(reply->str, "OK") == 0) {
            out = MC_REPLAY_FIRST;
        }
        else if (reply->type == REDIS_REPLY_NIL) {
            out = MC_REPLAY_SEEN;
        }
        freeReplyObject(reply);
    }
    redis_give(c, reply != NULL && !c->err);
    return out;
}

mc_replay_t mc_replay_insert(request_rec *r, const char *jkt, const char *jti, apr_interval_time_t ttl)
{
    unsigned char digest[CLAIMS_STORE_ID_LEN];
    mc_replay_t out;

    if (kind == STORE_NONE || secret == NULL) {
        out = MC_REPLAY_DOWN;
    }
    else {
        record_id(r, jkt, jti, digest);
        out = kind == STORE_SOCACHE ? insert_socache(r, digest, ttl)
              : kind == STORE_MEMCACHE ? insert_memcache(r, record_key(r, digest), ttl)
                                       : insert_redis(r, record_key(r, digest), ttl);
    }
    if (figures != NULL) {
        apr_atomic_inc64(out == MC_REPLAY_FIRST ? &figures->accepted : out == MC_REPLAY_SEEN ? &figures->replayed
                         : out == MC_REPLAY_FULL ? &figures->full : &figures->unavailable);
    }
    if (out == MC_REPLAY_FULL) {
        if (apr_atomic_xchg32(&full_logged, 1) == 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(095) "the DPoP replay store (ClaimsReplayCache) "
                          "holds as many unexpired proofs as it can keep (%" APR_UINT64_T_FMT "): new DPoP proofs "
                          "are refused (503) until some expire; give it more room (shmcb:(BYTES)) or a shorter "
                          "ClaimsDPoPWindow", claims_ledger_live(ledger));
        }
        return out;
    }
    if (out == MC_REPLAY_FIRST && ledger != NULL && apr_atomic_read32(&full_logged) != 0) {
        apr_atomic_set32(&full_logged, 0);
    }
    if (out == MC_REPLAY_DOWN && apr_atomic_xchg32(&down_logged, 1) == 0) {
        /* once per streak and process */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(091) "the DPoP replay store (ClaimsReplayCache) does "
                      "not answer: DPoP proofs are refused (503) until it does");
    }
    else if (out != MC_REPLAY_DOWN && apr_atomic_read32(&down_logged) != 0 && apr_atomic_xchg32(&down_logged, 0) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, MC_LOGNO(092) "the DPoP replay store answers again");
    }
    return out;
}

int mc_read_replay_counts(mc_replay_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    if (figures == NULL) {
        return 0;
    }
    out->store = store_name;
    out->accepted = apr_atomic_read64(&figures->accepted);
    out->replayed = apr_atomic_read64(&figures->replayed);
    out->unavailable = apr_atomic_read64(&figures->unavailable);
    out->full = apr_atomic_read64(&figures->full);
    out->capacity = ledger != NULL ? ledger_capacity : 0;
    return 1;
}

/* ------------------------------------------------------------------ start-up */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mc_socache_register(pconf, MC_REPLAY_MUTEX);
    kind = STORE_NONE;
    socache = NULL;
    secret = NULL;
    servers = NULL;
    ledger = NULL;
    ledger_capacity = 0;
    figures = NULL;
    store_name = NULL;
    return OK;
}

/* The bytes of a shmcb spec ("shmcb", "shmcb:PATH", "shmcb:PATH(BYTES)", "shmcb:(BYTES)") as
 * mod_socache_shmcb reads its arguments: the size is what lies between the last '(' and a ')'
 * that ends them, strtol's decimal (no suffix); without it shmcb's own default, 512 KiB (a bare
 * "shmcb" is given the module's 16 MiB). NULL and *bytes, or what is wrong with the size. The
 * one parse of the size: the check of the directive and the count of live jti both use it. */
static const char *shmcb_bytes(apr_pool_t *p, const char *spec, apr_uint64_t *bytes)
{
    const char *args = strchr(spec, ':'), *open, *close;
    char *end = NULL;
    apr_int64_t n;

    *bytes = 0;
    if (args == NULL) {
        *bytes = MC_REPLAY_DEFAULT_SIZE;
        return NULL;
    }
    args++;
    open = strrchr(args, '(');
    close = *args != '\0' ? args + strlen(args) - 1 : args;
    if (open == NULL) {
        if (*close == ')') {
            return "no opening parenthesis before the size";
        }
        *bytes = MC_SHMCB_PATH_SIZE;
        return NULL;
    }
    if (*close != ')') {
        return "no closing parenthesis after the size, or something after it";
    }
    errno = 0;
    n = apr_strtoi64(open + 1, &end, 10);
    if (end != close || end == open + 1 || n < 0) {
        return apr_psprintf(p, "the size \"%s\" is not a number of bytes (decimal, no suffix: shmcb:(%d) is "
                            "1 MiB)", apr_pstrndup(p, open + 1, (apr_size_t)(close - open - 1)),
                            MC_REPLAY_MIN_SIZE);
    }
    if (errno == ERANGE || (apr_uint64_t)n >= MC_SHMCB_MAX_SIZE) {
        return apr_psprintf(p, "shmcb takes less than %" APR_UINT64_T_FMT " bytes", MC_SHMCB_MAX_SIZE);
    }
    *bytes = (apr_uint64_t)n;
    return NULL;
}

const char *mc_replay_check_spec(apr_pool_t *p, const char *spec)
{
    const char *sep = strchr(spec, ':'), *err;
    apr_uint64_t bytes;

    if (strncmp(spec, "shmcb", 5) != 0 || (spec[5] != '\0' && spec + 5 != sep)) {
        return NULL;
    }
    if ((err = shmcb_bytes(p, spec, &bytes)) != NULL) {
        return apr_psprintf(p, "ClaimsReplayCache %s: %s", spec, err);
    }
    if (bytes < MC_REPLAY_MIN_SIZE) {
        return apr_psprintf(p, "ClaimsReplayCache %s: the replay store needs at least %d bytes (1 MiB): it would "
                            "have %" APR_UINT64_T_FMT " bytes%s, and below 1 MiB one of shmcb's subcaches (picked by a "
                            "record's first byte) can overflow and drop a live jti, whose proof could then be "
                            "replayed, before the count of live proofs refuses new ones; give it (BYTES) of at "
                            "least %d, e.g. shmcb:(%d)", spec, MC_REPLAY_MIN_SIZE, bytes,
                            strchr(spec, '(') == NULL ? " (shmcb's own default for a path without (BYTES))" : "",
                            MC_REPLAY_MIN_SIZE, MC_REPLAY_DEFAULT_SIZE);
    }
    return NULL;
}

/* The count of live jti beside shmcb, in memory every child shares (made before they fork). */
static int open_ledger(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, const char *spec)
{
    apr_shm_t *shm = NULL;
    apr_uint64_t bytes = 0, capacity;
    const char *err = mc_replay_check_spec(ptemp, spec);
    apr_status_t rv;

    if (err != NULL || (err = shmcb_bytes(ptemp, spec, &bytes)) != NULL) {
        /* configtest refuses it already (set_replay_cache): never count a store we cannot size */
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(162) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    capacity = bytes / MC_REPLAY_RECORD_BYTES;
    rv = apr_shm_create(&shm, claims_ledger_size(), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MC_LOGNO(096) "no shared memory for the DPoP replay "
                     "store's count of live proofs");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ledger = claims_ledger_init(apr_shm_baseaddr_get(shm), capacity);
    ledger_capacity = capacity;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MC_LOGNO(097) "DPoP replay store: shmcb keeps up to %"
                 APR_UINT64_T_FMT " unexpired proofs", capacity);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    const char *spec = mc_replay_cache_spec(sc), *name = mc_replay_cache_provider(ptemp, sc), *err;
    mc_socache_spec_t sspec;
    apr_shm_t *shm = NULL;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_DUMP) {
        return OK;
    }
    store_name = apr_pstrdup(pconf, name);
    if (apr_shm_create(&shm, sizeof(figures_t), NULL, pconf) == APR_SUCCESS) {
        figures = apr_shm_baseaddr_get(shm);
        memset(figures, 0, sizeof(*figures));
    }
    if (strcmp(name, "memcache") == 0 || strcmp(name, "redis") == 0) {
        /* configtest makes sure of the secret (mod_claims_config_check.c) */
        secret = sc->cache_secret;
        servers = apr_pstrdup(pconf, spec + strlen(name) + 1);
        kind = strcmp(name, "memcache") == 0 ? STORE_MEMCACHE : STORE_REDIS;
        return OK;
    }
    if (ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION) == NULL) {
        /* the default store, and its module is not loaded: DPoP fails closed, and says why */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, MC_LOGNO(093) "DPoP proofs are refused (503): the replay "
                     "store needs mod_socache_%s (ClaimsReplayCache)", name);
        return OK;
    }
    sspec.spec = spec;
    sspec.shmcb_args = apr_psprintf(pconf, "(%d)", MC_REPLAY_DEFAULT_SIZE);
    sspec.name = "claims-jti";
    sspec.mutex_type = MC_REPLAY_MUTEX;
    sspec.directive = "ClaimsReplayCache";
    if ((err = mc_socache_open(&socache, &sspec, s, pconf, ptemp)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(090) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    secret = mc_socache_secret(socache);
    kind = STORE_SOCACHE;
    return strcmp(name, "shmcb") == 0 ? open_ledger(pconf, ptemp, s, spec) : OK;
}

static apr_status_t close_redis(void *data)
{
    while (redis_nidle > 0) {
        redisFree(redis_idle[--redis_nidle]);
    }
    return APR_SUCCESS;
}

static void child_memcache(apr_pool_t *pchild, server_rec *s)
{
    char *host, *scope = NULL;
    apr_port_t port = 0;
    apr_memcache_server_t *ms = NULL;
    int threads = 1;
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (apr_parse_addr_port(&host, &scope, &port, servers, pchild) != APR_SUCCESS || host == NULL
        || apr_memcache_create(pchild, 1, 0, &memcache) != APR_SUCCESS
        || apr_memcache_server_create(pchild, host, port != 0 ? port : 11211, 0, 1, threads > 0 ? threads : 1,
                                      apr_time_from_sec(60), &ms) != APR_SUCCESS
        || apr_memcache_add_server(memcache, ms) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(094) "ClaimsReplayCache memcache:%s cannot be set up: "
                     "DPoP proofs are refused", servers);
        memcache = NULL;
    }
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    if (kind == STORE_SOCACHE && !mc_socache_child_init(socache, pchild, s)) {
        kind = STORE_NONE;
    }
    else if (kind == STORE_MEMCACHE) {
        child_memcache(pchild, s);
    }
    else if (kind == STORE_REDIS) {
        apr_thread_mutex_create(&redis_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
        redis_nidle = 0;
        apr_pool_cleanup_register(pchild, NULL, close_redis, apr_pool_cleanup_null);
    }
    apr_atomic_set32(&down_logged, 0);
}

void mc_register_replay_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
