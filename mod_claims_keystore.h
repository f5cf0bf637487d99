/*
 * mod_claims_keystore.h - the socache that remote key sets are shared through (ClaimsKeyCache:
 * shmcb by default; memcache or redis for a fleet of servers). Made at start-up, every access
 * under one global mutex, every record sealed (claims_store.h) under ClaimsCacheSecret, or, for
 * shmcb, under a random secret of this start. Record ids are keyed digests of what they name.
 * Every provider gets an expiry inside its own rules: memcached reads more than 30 days as an
 * absolute date (in 1970, so the record would be gone at once), mod_socache_redis turns a past
 * one into ~136 years; a record that expires is simply fetched again.
 */
#ifndef MOD_CLAIMS_KEYSTORE_H
#define MOD_CLAIMS_KEYSTORE_H

#include "mod_claims_records.h"

#define MC_RECORD_ID_LEN (1 + CLAIMS_STORE_ID_LEN)   /* a kind byte, then the digest */

/* Opens the store for the configuration of s (the main server). NULL, or why not. */
const char *mc_keystore_open(server_rec *s, apr_pool_t *pconf, apr_pool_t *ptemp);

/* Attaches a child to the store's mutex; 0 when it cannot. */
int mc_keystore_child_init(apr_pool_t *pchild, server_rec *s);

/* The id of the record of one kind ('m', 'd', ...) that parts name. */
void mc_keystore_id(char kind, const char *const *parts, int nparts, unsigned char id[MC_RECORD_ID_LEN]);

/* The store's mutex, for a read-modify-write of one record. */
apr_status_t mc_keystore_lock(void);
void mc_keystore_unlock(void);

/* Reads a record (with the mutex held): APR_SUCCESS and its data (pointing into buf, cap bytes),
 * APR_NOTFOUND and the provider's other errors, or APR_EGENERAL when it failed authentication. */
apr_status_t mc_keystore_get_locked(server_rec *s, const unsigned char *id, unsigned char *buf, unsigned int cap,
                                    const unsigned char **data, apr_size_t *len, apr_pool_t *p);
apr_status_t mc_keystore_put_locked(server_rec *s, const unsigned char *id, const void *data, apr_size_t len,
                                    apr_pool_t *p);

/* The same, taking the mutex. */
apr_status_t mc_keystore_get(server_rec *s, const unsigned char *id, unsigned char *buf, unsigned int cap,
                             const unsigned char **data, apr_size_t *len, apr_pool_t *p);
apr_status_t mc_keystore_put(server_rec *s, const unsigned char *id, const void *data, apr_size_t len,
                             apr_pool_t *p);

void mc_register_keystore_hooks(apr_pool_t *p);

#endif
