/*
 * mod_claims_counters.c - the verified-token cache and the shared figures; see
 * mod_claims_counters.h.
 */
#include "mod_claims_counters.h"
#include "mod_claims_config_issuer.h"

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

claims_cache_t *mc_token_cache(void)
{
    return token_cache;
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
    return 1;
}

apr_time_t mc_counters_started_at(void)
{
    return shared != NULL ? shared->started_at : 0;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_shm_t *shm = NULL;
    apr_uint32_t n = (apr_uint32_t)mc_issuer_records();
    apr_size_t size;
    apr_status_t rv;

    shared = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
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

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    token_cache = NULL;
    if (mc_cache_on(sc)) {
        token_cache = claims_cache_create(pchild, sc->cache_entries, sc->cache_bytes);
        if (token_cache != NULL && shared != NULL) {
            claims_cache_share_counters(token_cache, &shared->cache);
        }
    }
}

void mc_register_counters_hooks(apr_pool_t *p)
{
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
