/*
 * mod_claims_socache.h - an httpd socache (shmcb on one machine; memcache or redis for a fleet
 * of servers) holding the module's shared records: remote key sets (ClaimsKeyCache) and
 * introspection answers (ClaimsIntrospectionCache). One global mutex per store; every record
 * sealed (claims_store.h) under ClaimsCacheSecret, or, for shmcb, under a random secret of this
 * start; records that hold claims also encrypted. Record ids are keyed digests of what they
 * name. Expiries stay inside every provider's rules: memcached reads more than 30 days as an
 * absolute date (in 1970, so the record would be gone at once), mod_socache_redis turns a past
 * one into ~136 years.
 */
#ifndef MOD_CLAIMS_SOCACHE_H
#define MOD_CLAIMS_SOCACHE_H

#include "mod_claims_records.h"

/* The digest, then a kind byte: never the kind first. mod_socache_shmcb picks the subcache by an
 * id's first byte, so a constant first byte put every record of a kind in one of its subcaches
 * (1/64 of a 2 MiB store), scanned whole on every look-up and evicting records before their
 * time: a DPoP jti among them, whose replay then passed. */
#define MC_RECORD_ID_LEN (CLAIMS_STORE_ID_LEN + 1)
#define MC_SOCACHE_MAX_TTL apr_time_from_sec(29 * 86400)

typedef struct mc_socache_t mc_socache_t;

/* What a store is: its configuration and names. */
typedef struct mc_socache_spec_t {
    const char *spec;                  /* provider[:args] */
    const char *shmcb_args;            /* args when the spec is a bare "shmcb", e.g. "(4194304)" */
    const char *name;                  /* socache namespace (at most 15 characters) */
    const char *mutex_type;            /* registered with mc_socache_register */
    const char *directive;             /* for messages, e.g. "ClaimsKeyCache" */
} mc_socache_spec_t;

/* Registers a store's mutex type (in pre_config, before the configuration is read). */
void mc_socache_register(apr_pool_t *pconf, const char *mutex_type);

/* Opens a store for the main server s. NULL, or why not (*out then NULL). */
const char *mc_socache_open(mc_socache_t **out, const mc_socache_spec_t *spec, server_rec *s, apr_pool_t *pconf,
                            apr_pool_t *ptemp);

/* Attaches a child to the store's mutex; 0 when it cannot. */
int mc_socache_child_init(mc_socache_t *c, apr_pool_t *pchild, server_rec *s);

/* The id of the record of one kind ('m', 'd', 'i', ...) that parts name. */
void mc_socache_id(const mc_socache_t *c, char kind, const char *const *parts, int nparts,
                   unsigned char id[MC_RECORD_ID_LEN]);

/* The secret the store's records are sealed and named under. */
const struct claims_store_secret_t *mc_socache_secret(const mc_socache_t *c);

/* The store's mutex, for a read-modify-write of one record. */
apr_status_t mc_socache_lock(mc_socache_t *c);
void mc_socache_unlock(mc_socache_t *c);

/* Reads a sealed record (with the mutex held): APR_SUCCESS and its data (pointing into buf,
 * cap bytes), APR_NOTFOUND and the provider's other errors, or APR_EGENERAL when it failed
 * authentication. */
apr_status_t mc_socache_get_locked(mc_socache_t *c, server_rec *s, const unsigned char *id, unsigned char *buf,
                                   unsigned int cap, const unsigned char **data, apr_size_t *len, apr_pool_t *p);
/* Writes a sealed record (with the mutex held), to expire after ttl (at most MC_SOCACHE_MAX_TTL). */
apr_status_t mc_socache_put_locked(mc_socache_t *c, server_rec *s, const unsigned char *id, const void *data,
                                   apr_size_t len, apr_interval_time_t ttl, apr_pool_t *p);

/* The same, taking the mutex. */
apr_status_t mc_socache_get(mc_socache_t *c, server_rec *s, const unsigned char *id, unsigned char *buf,
                            unsigned int cap, const unsigned char **data, apr_size_t *len, apr_pool_t *p);
apr_status_t mc_socache_put(mc_socache_t *c, server_rec *s, const unsigned char *id, const void *data,
                            apr_size_t len, apr_interval_time_t ttl, apr_pool_t *p);

/* Private records (claims, tokens): encrypted as well; the data is decrypted into p. */
apr_status_t mc_socache_get_private(mc_socache_t *c, server_rec *s, const unsigned char *id, unsigned int cap,
                                    unsigned char **data, apr_size_t *len, apr_pool_t *p);
apr_status_t mc_socache_put_private(mc_socache_t *c, server_rec *s, const unsigned char *id, const void *data,
                                    apr_size_t len, apr_interval_time_t ttl, apr_pool_t *p);

#endif
