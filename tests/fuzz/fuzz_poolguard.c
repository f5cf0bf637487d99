/*
 * fuzz_poolguard.c - makes APR pool allocations visible to AddressSanitizer.
 *
 * An APR pool hands out slices of 8 KiB blocks and keeps freed blocks for reuse, so ASan sees
 * neither an overflow from one apr_palloc() result into the next nor a use after the pool is
 * cleared. This file interposes apr_palloc() (the core calls it directly, and libapr's own
 * apr_pstrdup/apr_pstrcat/apr_array_push/... call it through the PLT): every allocation becomes
 * its own malloc() with redzones, and a cleanup registered on the pool frees them when the pool
 * is cleared or destroyed. The cleanup is registered by the first allocation from a pool, before
 * any cleanup the caller registers, so it runs last (APR runs cleanups in reverse order).
 * apr_psprintf() keeps using the pool's own blocks (it does not call apr_palloc).
 *
 * FUZZ_POOL_GUARD=0 in the environment turns it off (plain APR behaviour).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <apr_pools.h>
#include <apr_strings.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*palloc_fn)(apr_pool_t *, apr_size_t);

typedef struct tracker_t {
    apr_pool_t *pool;
    void **ptrs;
    size_t n, cap;
    struct tracker_t *prev, *next;
} tracker_t;

static palloc_fn real_palloc;
static int guard = -1;
static int registering;
static tracker_t *trackers;
static unsigned long tracked_pools;

static apr_status_t tracker_cleanup(void *data)
{
    tracker_t *t = data;
    for (size_t i = 0; i < t->n; i++) {
        free(t->ptrs[i]);
    }
    free(t->ptrs);
    if (t->prev != NULL) {
        t->prev->next = t->next;
    }
    else {
        trackers = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    free(t);
    return APR_SUCCESS;
}

static tracker_t *tracker_of(apr_pool_t *p)
{
    tracker_t *t;
    for (t = trackers; t != NULL; t = t->next) {
        if (t->pool == p) {
            return t;
        }
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        abort();
    }
    t->pool = p;
    t->next = trackers;
    if (trackers != NULL) {
        trackers->prev = t;
    }
    trackers = t;
    tracked_pools++;
    registering = 1;  /* the cleanup record itself comes from the pool's own blocks */
    apr_pool_cleanup_register(p, t, tracker_cleanup, apr_pool_cleanup_null);
    registering = 0;
    return t;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    tracker_t *t;
    void *m;

    if (real_palloc == NULL) {
        real_palloc = (palloc_fn)dlsym(RTLD_NEXT, "apr_palloc");
        if (real_palloc == NULL) {
            fprintf(stderr, "fuzz_poolguard: apr_palloc not found in libapr\n");
            abort();
        }
    }
    if (guard < 0) {
        const char *e = getenv("FUZZ_POOL_GUARD");
        guard = !(e != NULL && e[0] == '0');
    }
    if (!guard || registering) {
        return real_palloc(p, size);
    }
    t = tracker_of(p);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        void **np = realloc(t->ptrs, cap * sizeof(void *));
        if (np == NULL) {
            abort();
        }
        t->ptrs = np;
        t->cap = cap;
    }
    m = malloc(size > 0 ? size : 1);
    if (m == NULL) {
        abort();
    }
    t->ptrs[t->n++] = m;
    return m;
}

/* 1 when the guard is on and catches allocations made inside libapr too. */
int fz_poolguard_active(apr_pool_t *p);
int fz_poolguard_active(apr_pool_t *p)
{
    char *s = apr_pstrdup(p, "probe");
    tracker_t *t;
    if (guard != 1) {
        return 0;
    }
    for (t = trackers; t != NULL; t = t->next) {
        for (size_t i = 0; t->pool == p && i < t->n; i++) {
            if (t->ptrs[i] == s) {
                return 1;
            }
        }
    }
    return 0;
}
