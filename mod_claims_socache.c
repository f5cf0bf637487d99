/*
 * mod_claims_socache.c - the module's shared stores; see mod_claims_socache.h.
 */
#include "mod_claims_socache.h"

#include "http_core.h"

#include "claims_store.h"

#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"

#include <apr_strings.h>
#include <string.h>

struct mc_socache_t {
    ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;
    const claims_store_secret_t *secret;
    server_rec *s;
};

void mc_socache_register(apr_pool_t *pconf, const char *mutex_type)
{
    ap_mutex_register(pconf, mutex_type, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t cleanup(void *data)
{
    mc_socache_t *c = data;
    if (c->instance != NULL && c->provider != NULL) {
        c->provider->destroy(c->instance, c->s);
    }
    c->instance = NULL;
    return APR_SUCCESS;
}

static const char *provider_of(apr_pool_t *p, const char *spec)
{
    const char *sep = strchr(spec, ':');
    return sep != NULL ? apr_pstrndup(p, spec, (apr_size_t)(sep - spec)) : spec;
}

const char *mc_socache_open(mc_socache_t **out, const mc_socache_spec_t *spec, server_rec *s, apr_pool_t *pconf,
                            apr_pool_t *ptemp)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    const char *name = provider_of(ptemp, spec->spec), *sep = strchr(spec->spec, ':'), *args, *err;
    int shmcb = strcmp(name, MC_DEFAULT_KEY_CACHE) == 0;
    mc_socache_t *c = apr_pcalloc(pconf, sizeof(*c));

    *out = NULL;
    args = sep != NULL ? sep + 1 : (shmcb ? spec->shmcb_args : NULL);
    if (!shmcb && sc->cache_secret == NULL) {
        /* configtest says so already (mod_claims_config_check.c): never run without it */
        return apr_psprintf(ptemp, "%s %s needs ClaimsCacheSecret", spec->directive, spec->spec);
    }
    c->s = s;
    c->secret = sc->cache_secret != NULL ? sc->cache_secret : claims_store_secret_random(pconf);
    if (c->secret == NULL) {
        return apr_psprintf(ptemp, "%s: no random bytes for the store's secret", spec->directive);
    }
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (c->provider == NULL) {
        return apr_psprintf(ptemp, "%s needs the socache provider \"%s\": load it, e.g. a2enmod socache_%s",
                            spec->directive, name, name);
    }
    if ((err = c->provider->create(&c->instance, args, ptemp, pconf)) != NULL) {
        return apr_psprintf(ptemp, "%s %s: %s", spec->directive, spec->spec, err);
    }
    if (ap_global_mutex_create(&c->mutex, NULL, spec->mutex_type, NULL, s, pconf, 0) != APR_SUCCESS) {
        return apr_psprintf(ptemp, "%s: cannot create the store's mutex", spec->directive);
    }
    if (c->provider->init(c->instance, spec->name, NULL, s, pconf) != APR_SUCCESS) {
        return apr_psprintf(ptemp, "cannot initialise %s %s", spec->directive, spec->spec);
    }
    apr_pool_cleanup_register(pconf, c, cleanup, apr_pool_cleanup_null);
    *out = c;
    return NULL;
}

int mc_socache_child_init(mc_socache_t *c, apr_pool_t *pchild, server_rec *s)
{
    if (c == NULL || c->mutex == NULL) {
        return 0;
    }
    if (apr_global_mutex_child_init(&c->mutex, apr_global_mutex_lockfile(c->mutex), pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(064) "cannot attach a shared store's mutex");
        c->mutex = NULL;
        return 0;
    }
    return 1;
}

void mc_socache_id(const mc_socache_t *c, char kind, const char *const *parts, int nparts,
                   unsigned char id[MC_RECORD_ID_LEN])
{
    claims_store_id(c->secret, parts, nparts, id);
    id[CLAIMS_STORE_ID_LEN] = (unsigned char)kind;  /* last: see MC_RECORD_ID_LEN */
}

const claims_store_secret_t *mc_socache_secret(const mc_socache_t *c)
{
    return c->secret;
}

apr_status_t mc_socache_lock(mc_socache_t *c)
{
    return c != NULL && c->mutex != NULL ? apr_global_mutex_lock(c->mutex) : APR_EINIT;
}

void mc_socache_unlock(mc_socache_t *c)
{
    apr_global_mutex_unlock(c->mutex);
}

static apr_time_t expiry(apr_interval_time_t ttl)
{
    if (ttl <= 0) {
        ttl = apr_time_from_sec(1);
    }
    return apr_time_now() + (ttl < MC_SOCACHE_MAX_TTL ? ttl : MC_SOCACHE_MAX_TTL);
}

apr_status_t mc_socache_get_locked(mc_socache_t *c, server_rec *s, const unsigned char *id, unsigned char *buf,
                                   unsigned int cap, const unsigned char **data, apr_size_t *len, apr_pool_t *p)
{
    unsigned int n = cap;
    apr_status_t rv = c->provider->retrieve(c->instance, s, id, MC_RECORD_ID_LEN, buf, &n, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return claims_store_open(c->secret, id, MC_RECORD_ID_LEN, buf, n, data, len) == CLAIMS_OK ? APR_SUCCESS
                                                                                           : APR_EGENERAL;
}

apr_status_t mc_socache_put_locked(mc_socache_t *c, server_rec *s, const unsigned char *id, const void *data,
                                   apr_size_t len, apr_interval_time_t ttl, apr_pool_t *p)
{
    apr_size_t rlen = 0;
    unsigned char *rec = claims_store_seal(p, c->secret, id, MC_RECORD_ID_LEN, data, len, &rlen);
    if (rec == NULL) {
        return APR_EGENERAL;
    }
    return c->provider->store(c->instance, s, id, MC_RECORD_ID_LEN, expiry(ttl), rec, (unsigned int)rlen, p);
}

apr_status_t mc_socache_get(mc_socache_t *c, server_rec *s, const unsigned char *id, unsigned char *buf,
                            unsigned int cap, const unsigned char **data, apr_size_t *len, apr_pool_t *p)
{
    apr_status_t rv = mc_socache_lock(c);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = mc_socache_get_locked(c, s, id, buf, cap, data, len, p);
    mc_socache_unlock(c);
    return rv;
}

apr_status_t mc_socache_put(mc_socache_t *c, server_rec *s, const unsigned char *id, const void *data,
                            apr_size_t len, apr_interval_time_t ttl, apr_pool_t *p)
{
    apr_status_t rv = mc_socache_lock(c);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = mc_socache_put_locked(c, s, id, data, len, ttl, p);
    mc_socache_unlock(c);
    return rv;
}

apr_status_t mc_socache_get_private(mc_socache_t *c, server_rec *s, const unsigned char *id, unsigned int cap,
                                    unsigned char **data, apr_size_t *len, apr_pool_t *p)
{
    unsigned char *buf = apr_palloc(p, cap);
    unsigned int n = cap;
    apr_status_t rv = mc_socache_lock(c);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = c->provider->retrieve(c->instance, s, id, MC_RECORD_ID_LEN, buf, &n, p);
    mc_socache_unlock(c);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return claims_store_open_private(p, c->secret, id, MC_RECORD_ID_LEN, buf, n, data, len) == CLAIMS_OK
           ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t mc_socache_put_private(mc_socache_t *c, server_rec *s, const unsigned char *id, const void *data,
                                    apr_size_t len, apr_interval_time_t ttl, apr_pool_t *p)
{
    apr_size_t rlen = 0;
    unsigned char *rec = claims_store_seal_private(p, c->secret, id, MC_RECORD_ID_LEN, data, len, &rlen);
    apr_status_t rv;
    if (rec == NULL) {
        return APR_EGENERAL;
    }
    if ((rv = mc_socache_lock(c)) != APR_SUCCESS) {
        return rv;
    }
    rv = c->provider->store(c->instance, s, id, MC_RECORD_ID_LEN, expiry(ttl), rec, (unsigned int)rlen, p);
    mc_socache_unlock(c);
    return rv;
}
