/*
 * mod_claims_keystore.c - the shared store of remote key sets; see mod_claims_keystore.h.
 */
#include "mod_claims_keystore.h"

#include "http_core.h"

#include "claims_store.h"

#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"

#include <apr_strings.h>
#include <string.h>

#define MC_MUTEX_TYPE "claims-keys"
#define MC_CACHE_NAMESPACE "claims-keys"             /* socache tags are at most 15 characters */
#define MC_DEFAULT_CACHE_ARGS "(4194304)"
#define MC_STORE_TTL apr_time_from_sec(29 * 86400)   /* below memcached's 30-day relative limit */

static ap_socache_provider_t *provider;
static ap_socache_instance_t *instance;
static apr_global_mutex_t *mutex;
static const claims_store_secret_t *secret;

static apr_status_t cleanup(void *data)
{
    server_rec *s = data;
    if (instance != NULL && provider != NULL) {
        provider->destroy(instance, s);
    }
    instance = NULL;
    return APR_SUCCESS;
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    ap_mutex_register(pconf, MC_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
    provider = NULL;
    instance = NULL;
    mutex = NULL;
    secret = NULL;
    return OK;
}

const char *mc_keystore_open(server_rec *s, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    const char *spec = mc_key_cache_spec(sc), *name = mc_key_cache_provider(ptemp, sc);
    const char *sep = strchr(spec, ':'), *args, *err;
    apr_status_t rv;

    args = sep != NULL ? sep + 1 : (strcmp(name, MC_DEFAULT_KEY_CACHE) == 0 ? MC_DEFAULT_CACHE_ARGS : NULL);
    if (strcmp(name, MC_DEFAULT_KEY_CACHE) != 0 && sc->cache_secret == NULL) {
        /* configtest says so already (mod_claims_config_check.c): never run without it */
        return apr_psprintf(ptemp, "ClaimsKeyCache %s needs ClaimsCacheSecret", spec);
    }
    secret = sc->cache_secret != NULL ? sc->cache_secret : claims_store_secret_random(pconf);
    if (secret == NULL) {
        return "no random bytes for the key cache's secret";
    }
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (provider == NULL) {
        return apr_psprintf(ptemp, "remote key sets need the socache provider \"%s\" (ClaimsKeyCache): load it, "
                            "e.g. a2enmod socache_%s", name, name);
    }
    if ((err = provider->create(&instance, args, ptemp, pconf)) != NULL) {
        return apr_psprintf(ptemp, "ClaimsKeyCache %s: %s", spec, err);
    }
    if ((rv = ap_global_mutex_create(&mutex, NULL, MC_MUTEX_TYPE, NULL, s, pconf, 0)) != APR_SUCCESS) {
        return "cannot create the key cache mutex";
    }
    if ((rv = provider->init(instance, MC_CACHE_NAMESPACE, NULL, s, pconf)) != APR_SUCCESS) {
        return apr_psprintf(ptemp, "cannot initialise ClaimsKeyCache %s", spec);
    }
    apr_pool_cleanup_register(pconf, s, cleanup, apr_pool_cleanup_null);
    return NULL;
}

int mc_keystore_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (mutex == NULL) {
        return 0;
    }
    if (apr_global_mutex_child_init(&mutex, apr_global_mutex_lockfile(mutex), pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(064) "cannot attach the key cache mutex");
        mutex = NULL;
        return 0;
    }
    return 1;
}

void mc_keystore_id(char kind, const char *const *parts, int nparts, unsigned char id[MC_RECORD_ID_LEN])
{
    id[0] = (unsigned char)kind;
    claims_store_id(secret, parts, nparts, id + 1);
}

apr_status_t mc_keystore_lock(void)
{
    return mutex != NULL ? apr_global_mutex_lock(mutex) : APR_EINIT;
}

void mc_keystore_unlock(void)
{
    apr_global_mutex_unlock(mutex);
}

apr_status_t mc_keystore_get_locked(server_rec *s, const unsigned char *id, unsigned char *buf, unsigned int cap,
                                    const unsigned char **data, apr_size_t *len, apr_pool_t *p)
{
    unsigned int n = cap;
    apr_status_t rv = provider->retrieve(instance, s, id, MC_RECORD_ID_LEN, buf, &n, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return claims_store_open(secret, id, MC_RECORD_ID_LEN, buf, n, data, len) == CLAIMS_OK ? APR_SUCCESS
                                                                                        : APR_EGENERAL;
}

apr_status_t mc_keystore_put_locked(server_rec *s, const unsigned char *id, const void *data, apr_size_t len,
                                    apr_pool_t *p)
{
    apr_size_t rlen = 0;
    unsigned char *rec = claims_store_seal(p, secret, id, MC_RECORD_ID_LEN, data, len, &rlen);
    if (rec == NULL) {
        return APR_EGENERAL;
    }
    return provider->store(instance, s, id, MC_RECORD_ID_LEN, apr_time_now() + MC_STORE_TTL, rec,
                           (unsigned int)rlen, p);
}

apr_status_t mc_keystore_get(server_rec *s, const unsigned char *id, unsigned char *buf, unsigned int cap,
                             const unsigned char **data, apr_size_t *len, apr_pool_t *p)
{
    apr_status_t rv = mc_keystore_lock();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = mc_keystore_get_locked(s, id, buf, cap, data, len, p);
    mc_keystore_unlock();
    return rv;
}

apr_status_t mc_keystore_put(server_rec *s, const unsigned char *id, const void *data, apr_size_t len,
                             apr_pool_t *p)
{
    apr_status_t rv = mc_keystore_lock();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = mc_keystore_put_locked(s, id, data, len, p);
    mc_keystore_unlock();
    return rv;
}

void mc_register_keystore_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}
