/*
 * claims_siphash.h - SipHash (Aumasson and Bernstein, 2012): a keyed 64-bit pseudorandom
 * function of short inputs, for the verified-token caches' bucket choice (SipHash-1-3) and
 * the check values of their shared records (SipHash-2-4); and its 128-bit variant for the ids
 * of the records of shared stores.
 *
 * Promise: the 64-bit output of SipHash-2-4 (and of SipHash-1-3) as specified, little-endian
 * key and message words (the unit test compares both with OpenSSL's SIPHASH MAC). It is written here rather than called
 * through EVP_MAC because a cache look-up hashes a few dozen bytes, where EVP_MAC's context
 * copy costs more than the hash itself.
 */
#ifndef CLAIMS_SIPHASH_H
#define CLAIMS_SIPHASH_H

#include "claims.h"

#include <apr.h>

#define CLAIMS_SIPHASH_KEY_LEN 16

typedef struct claims_siphash_key_t {
    apr_uint64_t k0, k1;
} claims_siphash_key_t;

/* The key of 16 bytes (read little-endian, as SipHash does). */
void claims_siphash_key(claims_siphash_key_t *key, const unsigned char bytes[CLAIMS_SIPHASH_KEY_LEN]);

/* A fresh random key (OpenSSL's DRBG); 0 when none could be drawn. */
int claims_siphash_random_key(claims_siphash_key_t *key);

/* SipHash-2-4: the check values of shared records. */
apr_uint64_t claims_siphash(const claims_siphash_key_t *key, const void *data, apr_size_t len);

/* SipHash-2-4 with its 128-bit output (the authors' SipHash128; OpenSSL's SIPHASH with size 16),
 * over data given in pieces: the keyed ids of shared-store records (claims_store.h). A state
 * is used by one thread; final writes the two output words little-endian. */
typedef struct claims_siphash128_t {
    apr_uint64_t v0, v1, v2, v3;
    unsigned char tail[8];
    apr_size_t buffered, total;
} claims_siphash128_t;

void claims_siphash128_init(claims_siphash128_t *st, const claims_siphash_key_t *key);
void claims_siphash128_update(claims_siphash128_t *st, const void *data, apr_size_t len);
void claims_siphash128_final(claims_siphash128_t *st, unsigned char out[16]);

/* SipHash-1-3, the faster variant with one compression and three finalization rounds: the
 * choice of a cache bucket, where a collision costs a memcmp and nothing else. */
apr_uint64_t claims_siphash13(const claims_siphash_key_t *key, const void *data, apr_size_t len);

#endif
