/*
 * mod_claims_counters.c - the verified-token caches and the shared figures; see
 * mod_claims_counters.h.
 */
#include "mod_claims_counters.h"
#include "mod_claims_config_issuer.h"

#include "ap_mpm.h"
#include "http_core.h"

#include <apr_atomic.h>
#include <apr_shm.h>
#include <string.h>

typedef struct mc_slot_counts_t {
    volatile apr_uint64_t accepted;
    volatile apr_uint64_t refused[CLAIMS_STATUS_COUNT];
} mc_slot_counts_t;

typedef struct mc_shared_t {
    apr_time_t started_at;             /* written once, before the children are forked */
    claims_cache_counters_t cache;
    apr_uint32_t nslots;               /* issuer records + 1: the last slot is "no issuer" */
    mc_slot_counts_t slot[1];          /* nslots of them */
} mc_shared_t;

static mc_shared_t *shared;
static claims_cache_t *token_cache;
static int token_cache_on;
static claims_cache_t *answer_cache;   /* introspection answers (NULL: none) */

/* The server's budget for verified tokens, as post_config split it for this generation. */
static struct {
    apr_size_t total;                  /* ClaimsCacheSize */
    int children;                      /* the most children the MPM runs at once */
    apr_size_t per_child;              /* each child's own level */
    apr_size_t answers;                /* each child's level of introspection answers */
    claims_shcache_t *level;           /* the level shared by the children, or NULL */
    apr_size_t level_bytes;
} budget;

claims_cache_t *mc_token_cache(void)
{
    return token_cache;
}

int mc_token_cache_on(void)
{
    return token_cache_on;
}

claims_cache_t *mc_answer_cache(void)
{
    return answer_cache;
}

static mc_slot_counts_t *slot_of(const mc_issuer_t *ic)
{
    apr_uint32_t last = shared->nslots - 1;
    return &shared->slot[ic != NULL && ic->index >= 0 && (apr_uint32_t)ic->index < last ? (apr_uint32_t)ic->index
                                                                                          : last];
}

void mc_count(const claims_issuer_t *issuer, claims_status_t st)
{
    mc_slot_counts_t *slot;
    if (shared == NULL) {
        return;
    }
    slot = slot_of((const mc_issuer_t *)issuer);  /* the core record is the first member */
    if (st == CLAIMS_OK) {
        apr_atomic_inc64(&slot->accepted);
    }
    else if ((int)st > 0 && st < CLAIMS_STATUS_COUNT) {
        apr_atomic_inc64(&slot->refused[st]);
    }
}

int mc_read_counts(const mc_issuer_t *ic, mc_counts_t *out)
{
    const mc_slot_counts_t *src;
    memset(out, 0, sizeof(*out));
    if (shared == NULL || (ic != NULL && (ic->index < 0 || (apr_uint32_t)ic->index >= shared->nslots - 1))) {
        return 0;
    }
    src = slot_of(ic);
    out->accepted = apr_atomic_read64((volatile apr_uint64_t *)&src->accepted);
    for (int i = 0; i < CLAIMS_STATUS_COUNT; i++) {
        out->refused[i] = apr_atomic_read64((volatile apr_uint64_t *)&src->refused[i]);
    }
    return 1;
}

int mc_read_cache_counts(claims_cache_counters_t *out)
{
    memset(out, 0, sizeof(*out));
    if (shared == NULL) {
        return 0;
    }
    out->entries = apr_atomic_read64(&shared->cache.entries);
    out->bytes = apr_atomic_read64(&shared->cache.bytes);
    out->hits = apr_atomic_read64(&shared->cache.hits);
    out->misses = apr_atomic_read64(&shared->cache.misses);
    out->evictions = apr_atomic_read64(&shared->cache.evictions);
    out->verifications = apr_atomic_read64(&shared->cache.verifications);
    return 1;
}

apr_time_t mc_counters_started_at(void)
{
    return shared != NULL ? shared->started_at : 0;
}

int mc_read_shared_level(claims_shcache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (budget.level == NULL) {
        return 0;
    }
    claims_shcache_get_stats(budget.level, out);
    return 1;
}

/* Splits ClaimsCacheSize (see mod_claims_counters.h): with one child, all of it is the child's;
 * with more, three quarters are the level shared by all children and a quarter is split evenly
 * among the most children the MPM may run at once. */
static void split_budget(const mc_srv_conf_t *sc)
{
    int n = 1;
    memset(&budget, 0, sizeof(budget));
    budget.total = sc->cache_bytes > 0 ? sc->cache_bytes : CLAIMS_CACHE_DEFAULT_BYTES;
    if (ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &n) != APR_SUCCESS || n < 1) {
        n = 1;
    }
    budget.children = n;
    budget.level_bytes = n > 1 ? budget.total / 4 * 3 : 0;
    budget.per_child = (budget.total - budget.level_bytes) / (apr_size_t)n;
}

/* The identities of the keys of the configuration, computed once here rather than in every
 * child (where a DER encoding would bring OpenSSL's encoders into each child's memory). */
static void learn_keys(apr_pool_t *pconf, const mc_srv_conf_t *sc)
{
    for (int i = 0; sc->issuers != NULL && i < sc->issuers->nelts; i++) {
        const mc_issuer_t *ic = APR_ARRAY_IDX(sc->issuers, i, const mc_issuer_t *);
        for (int k = 0; ic->core.keys != NULL && k < ic->core.keys->nelts; k++) {
            claims_shcache_learn_key(budget.level, pconf, APR_ARRAY_IDX(ic->core.keys, k, const claims_key_t *));
        }
    }
}

/* The level shared by the children, in its own anonymous segment (inherited by the children,
 * at the same address in each, made again at every restart with keys of its own). */
static void make_shared_level(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    if (budget.level_bytes < CLAIMS_SHCACHE_MIN_SIZE) {
        budget.level_bytes = 0;
        budget.per_child = budget.total / (apr_size_t)budget.children;
        return;
    }
    rv = apr_shm_create(&shm, budget.level_bytes, NULL, pconf);
    if (rv == APR_SUCCESS) {
        budget.level = claims_shcache_create(pconf, apr_shm_baseaddr_get(shm), apr_shm_size_get(shm));
    }
    for (server_rec *v = s; budget.level != NULL && v != NULL; v = v->next) {
        learn_keys(pconf, mc_srv(v));
    }
    if (budget.level == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MC_LOGNO(071) "no shared memory for the verified-token "
                     "level shared by the children (%" APR_SIZE_T_FMT " bytes): each child verifies the tokens "
                     "it sees itself", budget.level_bytes);
        budget.level_bytes = 0;
    }
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_shm_t *shm = NULL;
    apr_uint32_t n = (apr_uint32_t)mc_issuer_records();
    apr_size_t size;
    apr_status_t rv;

    shared = NULL;
    memset(&budget, 0, sizeof(budget));
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (mc_cache_on(mc_srv(s))) {
        split_budget(mc_srv(s));
        if (budget.children > 1) {
            make_shared_level(pconf, s);
        }
        if (mc_issuers_introspect()) {
            /* a quarter of each child's own share keeps the introspection answers it uses */
            budget.answers = budget.per_child / 4;
            budget.per_child -= budget.answers;
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MC_LOGNO(072) "verified-token caches: %" APR_SIZE_T_FMT
                     " bytes in all, %" APR_SIZE_T_FMT " shared by the children, %" APR_SIZE_T_FMT
                     " for each of at most %d children (and %" APR_SIZE_T_FMT " for its introspection answers)",
                     budget.total, budget.level_bytes, budget.per_child, budget.children, budget.answers);
    }
    size = sizeof(mc_shared_t) + (apr_size_t)n * sizeof(mc_slot_counts_t);
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, MC_LOGNO(070) "no shared memory for the status "
                     "counters: claims-status will show no counts");
        return OK;
    }
    shared = apr_shm_baseaddr_get(shm);
    memset(shared, 0, size);
    shared->started_at = apr_time_now();
    shared->nslots = n + 1;
    return OK;
}

/* Each child's own level, with the shared one attached; with ClaimsCache Off a cache that
 * keeps nothing, so that signatures are counted all the same. */
static void child_init(apr_pool_t *pchild, server_rec *s)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    answer_cache = NULL;
    token_cache_on = mc_cache_on(sc);
    if (token_cache_on) {
        token_cache = claims_cache_create(pchild, sc->cache_entries, budget.per_child > 0 ? budget.per_child : 1);
    }
    else {
        token_cache = claims_cache_create_off(pchild);
    }
    if (token_cache == NULL) {
        token_cache_on = 0;
        return;
    }
    claims_cache_attach_shared(token_cache, budget.level);
    if (token_cache_on && budget.answers > 0) {
        answer_cache = claims_cache_create(pchild, sc->cache_entries, budget.answers);
    }
    if (shared != NULL) {
        claims_cache_share_counters(token_cache, &shared->cache);
    }
}

void mc_register_counters_hooks(apr_pool_t *p)
{
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
