/*
 * claims_store.h - authenticated records for stores another party may write (SECURITY.md
 * CL-89, CL-90): httpd's socache providers memcache and redis, shared by a fleet of servers.
 *
 * Promises:
 *  - a record is sealed under a secret every server of the fleet shares (a file of at least
 *    CLAIMS_STORE_SECRET_MIN bytes): "CLS1", then HMAC-SHA-256 over the record's id and data,
 *    then the data. claims_store_open accepts exactly the records sealed under the same secret
 *    for the same id: a record moved to another id, cut, extended or changed by one bit is
 *    refused (compared in constant time);
 *  - record ids are keyed digests of what they name (never a raw issuer string or token):
 *    SipHash-2-4 with its 128-bit output, a pseudorandom function, under a key derived from the
 *    secret (it costs a tenth of an HMAC-SHA-256 through OpenSSL 3's EVP layer, on the path of
 *    every new opaque token and DPoP proof), so a party that reads the store learns nothing it
 *    could not read in the configuration, and cannot aim a record at an id it did not see;
 *  - a private record (one that holds claims or tokens) is also encrypted: "CLS2", a 96-bit
 *    nonce (64 bits drawn at random per thread and process, then a counter from a random
 *    start: never repeated by one thread), then AES-256-GCM of the data with the record's id as additional data and
 *    its 128-bit tag; it opens only under the same secret for the same id, and reading it
 *    tells nothing of its data to a party without the secret;
 *  - the MAC, encryption, id and purpose-MAC (claims_store_mac) keys are derived from the secret with distinct labels, so the
 *    secret's bytes are never used directly and the same file can key other purposes;
 *  - the secret's derived keys live in pool memory that is wiped when the pool is cleared.
 */
#ifndef CLAIMS_STORE_H
#define CLAIMS_STORE_H

#include "claims.h"

#define CLAIMS_STORE_SECRET_MIN 32          /* bytes of the shared secret file, at least */
#define CLAIMS_STORE_SECRET_MAX 4096
#define CLAIMS_STORE_ID_LEN 16              /* bytes of a record id digest */
#define CLAIMS_STORE_OVERHEAD (4 + 32)      /* bytes a sealed record adds to its data */

typedef struct claims_store_secret_t claims_store_secret_t;

/* Reads the shared secret from a file: its bytes, one trailing newline (LF or CRLF) dropped;
 * refused when it is not a regular file, shorter than CLAIMS_STORE_SECRET_MIN or longer than
 * CLAIMS_STORE_SECRET_MAX bytes (*err says why). */
claims_status_t claims_store_secret_load(apr_pool_t *p, const char *path, claims_store_secret_t **out,
                                         char **err);

/* The same from bytes in memory (len >= CLAIMS_STORE_SECRET_MIN), e.g. for tests. */
claims_status_t claims_store_secret_from(apr_pool_t *p, const unsigned char *bytes, apr_size_t len,
                                         claims_store_secret_t **out);

/* A random secret, for stores only this machine's processes can reach (shmcb); NULL when
 * the system has no randomness. */
claims_store_secret_t *claims_store_secret_random(apr_pool_t *p);

/* The id of a record named by parts (each a NUL-terminated string; their boundaries count). */
void claims_store_id(const claims_store_secret_t *s, const char *const *parts, int nparts,
                     unsigned char id[CLAIMS_STORE_ID_LEN]);

/* data sealed for id: CLAIMS_STORE_OVERHEAD + len bytes from p (*outlen). */
unsigned char *claims_store_seal(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                 apr_size_t idlen, const void *data, apr_size_t len, apr_size_t *outlen);

/* The data of a record sealed for id: CLAIMS_OK with *data pointing into rec, or CLAIMS_ERR_KEY
 * when it was not sealed under this secret for this id. */
claims_status_t claims_store_open(const claims_store_secret_t *s, const unsigned char *id, apr_size_t idlen,
                                  const unsigned char *rec, apr_size_t len, const unsigned char **data,
                                  apr_size_t *dlen);

#define CLAIMS_STORE_MAC_LEN 32

/* HMAC-SHA-256 of data under a key derived from the secret for other uses than records (its
 * own label, so never the record MAC, id or encryption key), with purpose (a fixed label, e.g.
 * "DPoP nonce v1") framed in front: distinct purposes give unrelated MACs. 0 on success, -1
 * when OpenSSL fails. */
int claims_store_mac(const claims_store_secret_t *s, const char *purpose, const void *data, apr_size_t len,
                     unsigned char out[CLAIMS_STORE_MAC_LEN]);

#define CLAIMS_STORE_PRIVATE_OVERHEAD (4 + 12 + 16)   /* magic, nonce, tag */

/* data encrypted and authenticated for id: CLAIMS_STORE_PRIVATE_OVERHEAD + len bytes from p, or
 * NULL when the system has no randomness for a nonce. */
unsigned char *claims_store_seal_private(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                         apr_size_t idlen, const void *data, apr_size_t len, apr_size_t *outlen);

/* The data of a private record sealed for id, decrypted into p (NUL-terminated, not counted), or
 * CLAIMS_ERR_KEY when it was not sealed under this secret for this id. */
claims_status_t claims_store_open_private(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                          apr_size_t idlen, const unsigned char *rec, apr_size_t len,
                                          unsigned char **data, apr_size_t *dlen);

#endif
