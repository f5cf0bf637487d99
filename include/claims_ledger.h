/*
 * claims_ledger.h - how many records a store with a fixed capacity holds that are still live,
 * counted by the second they expire (the DPoP replay store in shmcb, SECURITY.md CL-97).
 *
 * Why: a store of fixed size (httpd's shmcb) makes room for a new record by dropping its oldest
 * ones, live or not, and says nothing. A replay store that drops a jti before the proof's window
 * has passed lets that proof be replayed. The ledger lets its owner refuse a new record instead
 * (fail closed) once the records still live reach the capacity it was given.
 *
 * Promises:
 *  - the ledger lives in memory its owner provides (claims_ledger_size bytes, e.g. shared
 *    memory mapped before the children are forked) and holds no pointer;
 *  - claims_ledger_admit counts a record expiring at now + ttl and answers 1, or answers 0 and
 *    counts nothing when capacity records are live at now; a record counts until the second it
 *    expires; a ttl is taken as at least 1 and at most CLAIMS_LEDGER_SPAN - 1 seconds;
 *  - it is not safe for concurrent use: the owner calls it under the lock of its store;
 *  - time going backwards never makes it count a record twice or forget one early: a now
 *    before the last one seen is taken as that one.
 */
#ifndef CLAIMS_LEDGER_H
#define CLAIMS_LEDGER_H

#include "claims.h"

#define CLAIMS_LEDGER_SPAN 4096             /* seconds: the longest ttl the ledger counts */

typedef struct claims_ledger_t claims_ledger_t;

/* Bytes the ledger needs. */
apr_size_t claims_ledger_size(void);

/* Formats mem (claims_ledger_size() bytes) as an empty ledger of capacity records (>= 1). */
claims_ledger_t *claims_ledger_init(void *mem, apr_uint64_t capacity);

/* 1: a record expiring at now + ttl (seconds) is counted; 0: capacity records are live. */
int claims_ledger_admit(claims_ledger_t *l, apr_int64_t now, apr_int64_t ttl);

/* Records live at the last call (for the status page and tests). */
apr_uint64_t claims_ledger_live(const claims_ledger_t *l);

#endif
