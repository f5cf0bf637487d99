/*
 * claims_ledger.c - live records of a store of fixed capacity; see claims_ledger.h.
 *
 * One counter per second of expiry, in a ring of CLAIMS_LEDGER_SPAN seconds, and their sum.
 * Every record expires within the span after the last second seen, so the counter of a second
 * s holds only records that expire at s: when time reaches s, they are no longer live and the
 * counter is taken off the sum.
 */
#include "claims_ledger.h"

#include <string.h>

struct claims_ledger_t {
    apr_int64_t swept;                       /* every second up to this one is taken off */
    apr_uint64_t live;                       /* records whose second of expiry is after swept */
    apr_uint64_t capacity;
    apr_uint32_t count[CLAIMS_LEDGER_SPAN];  /* records by second of expiry, modulo the span */
};

apr_size_t claims_ledger_size(void)
{
    return sizeof(claims_ledger_t);
}

claims_ledger_t *claims_ledger_init(void *mem, apr_uint64_t capacity)
{
    claims_ledger_t *l = mem;
    memset(l, 0, sizeof(*l));
    l->capacity = capacity > 0 ? capacity : 1;
    return l;
}

/* Takes off the records that expired at or before now. */
static void sweep(claims_ledger_t *l, apr_int64_t now)
{
    if (now <= l->swept) {
        return;
    }
    if (now - l->swept >= CLAIMS_LEDGER_SPAN || l->live == 0) {
        memset(l->count, 0, sizeof(l->count));
        l->live = 0;
    }
    else {
        for (apr_int64_t s = l->swept + 1; s <= now; s++) {
            apr_uint32_t *c = &l->count[s % CLAIMS_LEDGER_SPAN];
            l->live -= *c;
            *c = 0;
        }
    }
    l->swept = now;
}

int claims_ledger_admit(claims_ledger_t *l, apr_int64_t now, apr_int64_t ttl)
{
    if (now < l->swept) {
        now = l->swept;  /* the clock went back: the records counted stay live as counted */
    }
    sweep(l, now);
    if (l->live >= l->capacity) {
        return 0;
    }
    ttl = ttl < 1 ? 1 : ttl > CLAIMS_LEDGER_SPAN - 1 ? CLAIMS_LEDGER_SPAN - 1 : ttl;
    l->count[(now + ttl) % CLAIMS_LEDGER_SPAN]++;
    l->live++;
    return 1;
}

apr_uint64_t claims_ledger_live(const claims_ledger_t *l)
{
    return l->live;
}
