/*
 * claims_cache.c - the verified-token cache of one process: entries, look-up by exact bytes,
 * LRU, figures; see claims_cache.h. Verification through it: claims_cache_verify.c.
 */
#include "claims_cache_int.h"
#include "claims_export.h"
#include "claims_json.h"
#include "claims_siphash.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

#define TAIL 16                        /* bytes of a token's end (its signature's) that pick its bucket */
#define KEY_IDS 64                     /* key identities kept (direct-mapped by serial) */
#define SEEN_PER_ENTRY 4               /* tokens remembered as seen, per entry of the budget */
#define EXPECTED_ENTRY 1024            /* bytes, to size the table from a byte budget */

typedef struct entry_t entry_t;

struct entry_t {
    claims_cached_t pub;               /* what callers see; first member */
    apr_uint64_t hash;                 /* claims_cache_hash of the token */
    const char *token;                 /* the exact bytes, in the entry's block */
    apr_size_t token_len;
    double expires;
    apr_size_t bytes;
    volatile apr_uint32_t refs;        /* atomic: one for the table while linked, one per request
                                        * holding it; the last one to let go frees it */
    entry_t *hnext;
    entry_t *prev, *next;              /* LRU: most recently used at head */
    claims_cache_t *cache;
    /* then, in the same malloc'd block: the pairs, their strings, the export note, CLAIMS_JSON,
     * kid, typ and the token */
};

typedef struct key_id_t {
    apr_uint32_t serial;
    int valid;
    unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN];
} key_id_t;

struct claims_cache_t {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;
    entry_t **buckets;
    apr_size_t mask;
    entry_t *head, *tail;
    apr_size_t entries, bytes, max_entries, max_bytes;
    apr_uint64_t hits, misses, evictions;
    apr_uint64_t verifications;        /* atomic: counted outside the lock */
    claims_cache_counters_t *shared;
    claims_siphash_key_t key;          /* of the bucket hash, drawn per cache */
    int off;                           /* keeps nothing, counts (claims_cache_create_off) */
    claims_shcache_t *level;           /* the level shared by the server's children, or NULL */
    key_id_t ids[KEY_IDS];             /* under the lock */
    apr_uint64_t *seen;                /* with a level: hashes of tokens this process saw, direct- */
    apr_size_t seen_mask;              /*   mapped, under the lock (claims_cache_seen_before) */
    apr_size_t expected;               /* entries the budget allows, about */
};

static void share(volatile apr_uint64_t *ctr, apr_int64_t delta)
{
    apr_atomic_add64(ctr, (apr_uint64_t)delta);  /* two's complement: adding -n subtracts */
}

static void entry_free(entry_t *e)
{
    json_decref(e->pub.claims);
    free(e);
}

static apr_size_t bucket_of(const claims_cache_t *c, apr_uint64_t hash)
{
    return (apr_size_t)hash & c->mask;
}

/* Removes e from the table and the list; frees it unless a request still holds it. */
static void unlink_entry(claims_cache_t *c, entry_t *e)
{
    entry_t **pp = &c->buckets[bucket_of(c, e->hash)];
    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->hnext;
    }
    if (*pp == e) {
        *pp = e->hnext;
    }
    if (e->prev != NULL) {
        e->prev->next = e->next;
    }
    else {
        c->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    else {
        c->tail = e->prev;
    }
    e->prev = e->next = e->hnext = NULL;
    c->entries--;
    c->bytes -= e->bytes;
    if (c->shared != NULL) {
        share(&c->shared->entries, -1);
        share(&c->shared->bytes, -(apr_int64_t)e->bytes);
    }
    if (apr_atomic_dec32(&e->refs) == 0) {
        entry_free(e);                 /* the table's was the last reference */
    }
}

/* Links e, in no list, at the head of the list. */
static void push_front(claims_cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL) {
        c->head->prev = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
}

static void to_front(claims_cache_t *c, entry_t *e)
{
    if (c->head == e) {
        return;
    }
    if (e->prev != NULL) {
        e->prev->next = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    else {
        c->tail = e->prev;
    }
    push_front(c, e);
}

/* A request's reference, let go when its pool is cleared: no lock (an entry that is still
 * linked holds the table's reference, so only an unlinked one can reach zero here). */
static apr_status_t release_entry(void *data)
{
    entry_t *e = data;
    if (apr_atomic_dec32(&e->refs) == 0) {
        entry_free(e);
    }
    return APR_SUCCESS;
}

/* Takes a reference for the lifetime of p. Called with the lock held (so e is linked). */
static const claims_cached_t *hand_out(entry_t *e, apr_pool_t *p)
{
    apr_atomic_inc32(&e->refs);
    apr_pool_cleanup_register(p, e, release_entry, apr_pool_cleanup_null);
    return &e->pub;
}

static apr_status_t cache_cleanup(void *data)
{
    claims_cache_t *c = data;
    while (c->head != NULL) {
        entry_t *e = c->head;
        apr_atomic_set32(&e->refs, 1);  /* the pool of every request is gone by now */
        unlink_entry(c, e);
    }
    return APR_SUCCESS;
}

claims_cache_t *claims_cache_create(apr_pool_t *p, apr_size_t max_entries, apr_size_t max_bytes)
{
    claims_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_size_t n = 16, expected;
    if (apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS
        || !claims_siphash_random_key(&c->key)) {
        return NULL;
    }
    c->max_entries = max_entries > 0 ? max_entries : CLAIMS_CACHE_DEFAULT_ENTRIES;
    c->max_bytes = max_bytes > 0 ? max_bytes : CLAIMS_CACHE_DEFAULT_BYTES;
    /* about one bucket per entry the budget allows: a child with a small share of the
     * server's budget gets a small table (every child's table counts in the budget) */
    expected = c->max_bytes / EXPECTED_ENTRY < c->max_entries ? c->max_bytes / EXPECTED_ENTRY : c->max_entries;
    while (n < expected && n < ((apr_size_t)1 << 24)) {
        n <<= 1;
    }
    c->buckets = apr_pcalloc(p, n * sizeof(entry_t *));
    c->mask = n - 1;
    c->expected = expected;
    c->pool = p;
    apr_pool_cleanup_register(p, c, cache_cleanup, apr_pool_cleanup_null);
    return c;
}

claims_cache_t *claims_cache_create_off(apr_pool_t *p)
{
    claims_cache_t *c = claims_cache_create(p, 1, 1);
    if (c != NULL) {
        c->off = 1;
    }
    return c;
}

int claims_cache_is_off(const claims_cache_t *c)
{
    return c->off;
}

void claims_cache_attach_shared(claims_cache_t *c, claims_shcache_t *sh)
{
    apr_size_t n = 64;
    c->level = c->off ? NULL : sh;
    if (c->level != NULL && c->seen == NULL) {
        while (n < SEEN_PER_ENTRY * c->expected && n < ((apr_size_t)1 << 16)) {
            n <<= 1;
        }
        c->seen = apr_pcalloc(c->pool, n * sizeof(apr_uint64_t));
        c->seen_mask = n - 1;
    }
}

int claims_cache_seen_before(claims_cache_t *c, apr_uint64_t hash)
{
    apr_uint64_t *slot;
    int seen;
    if (c->seen == NULL) {
        return 1;
    }
    slot = &c->seen[(apr_size_t)(hash >> 7) & c->seen_mask];
    apr_thread_mutex_lock(c->lock);
    seen = *slot == hash;
    *slot = hash;
    apr_thread_mutex_unlock(c->lock);
    return seen;
}

claims_shcache_t *claims_cache_shared_level(const claims_cache_t *c)
{
    return c->level;
}

apr_uint64_t claims_cache_hash(const claims_cache_t *c, const char *token, apr_size_t len)
{
    unsigned char buf[sizeof(apr_uint64_t) + TAIL];
    if (c->level != NULL) {
        /* the same function under the shared level's key: one hash serves both levels */
        return claims_shcache_hash(c->level, token, len);
    }
    apr_size_t n = len < TAIL ? len : TAIL;
    apr_uint64_t l = (apr_uint64_t)len;
    memcpy(buf, &l, sizeof(l));
    memcpy(buf + sizeof(l), token + len - n, n);
    return claims_siphash13(&c->key, buf, sizeof(l) + n);
}

static int same_token(const entry_t *e, apr_uint64_t hash, const char *token, apr_size_t len)
{
    return e->hash == hash && e->token_len == len && memcmp(e->token, token, len) == 0;
}

/* The record of trusted that verification would choose for a token of issuer's iss: the first
 * with that iss (claims_issuer_find), found without comparing strings when it is issuer itself
 * (the usual case: one record per iss). */
static const claims_issuer_t *chosen_issuer(const claims_issuer_t *const *trusted, int ntrusted,
                                            const claims_issuer_t *issuer)
{
    for (int i = 0; i < ntrusted; i++) {
        if (trusted[i] == issuer || strcmp(trusted[i]->iss, issuer->iss) == 0) {
            return trusted[i];
        }
    }
    return NULL;
}

/* The live entry of the token verified under the record of trusted that claims_verify_uncached
 * would choose for its iss (the first with that iss); else, when the token's iss is not trusted
 * here at all, any live entry of the token, with *untrusted set; else NULL. The entries of one
 * token all have the same iss. Expired entries of the token met on the way are unlinked.
 * Called with the lock held. */
static entry_t *find_entry(claims_cache_t *c, apr_uint64_t hash, const char *token, apr_size_t len, double now,
                           const claims_issuer_t *const *trusted, int ntrusted, int *untrusted)
{
    entry_t *e, *next, *other = NULL;
    for (e = c->buckets[bucket_of(c, hash)]; e != NULL; e = next) {
        const claims_issuer_t *chosen;
        next = e->hnext;
        if (!same_token(e, hash, token, len)) {
            continue;
        }
        if (now >= e->expires) {
            unlink_entry(c, e);        /* never outlives exp */
            continue;
        }
        chosen = chosen_issuer(trusted, ntrusted, e->pub.issuer);
        if (chosen == e->pub.issuer) {
            return e;
        }
        if (chosen == NULL) {
            other = e;
        }
    }
    *untrusted = other != NULL;
    return other;
}

const claims_cached_t *claims_cache_lookup(claims_cache_t *c, apr_pool_t *p, apr_uint64_t hash,
                                           const char *token, apr_size_t len, double now,
                                           const claims_issuer_t *const *trusted, int ntrusted,
                                           json_t **claims, int *untrusted)
{
    const claims_cached_t *out = NULL;
    entry_t *e;
    *claims = NULL;
    *untrusted = 0;
    apr_thread_mutex_lock(c->lock);
    e = find_entry(c, hash, token, len, now, trusted, ntrusted, untrusted);
    if (e != NULL) {
        to_front(c, e);
        out = hand_out(e, p);
        *claims = e->pub.claims;
        c->hits++;
        if (c->shared != NULL) {
            share(&c->shared->hits, 1);
        }
    }
    else {
        c->misses++;
        if (c->shared != NULL) {
            share(&c->shared->misses, 1);
        }
    }
    apr_thread_mutex_unlock(c->lock);
    return out;
}

static char *copy_str(char **cursor, const char *s, apr_size_t len)
{
    char *out = *cursor;
    memcpy(out, s, len);
    out[len] = '\0';
    *cursor += len + 1;
    return out;
}

/* A logger that keeps the lines (in the array's pool) instead of logging them. */
static void keep_line(void *baton, claims_log_level_t level, const char *msg)
{
    apr_array_header_t *lines = baton;
    (void)level;
    *(const char **)apr_array_push(lines) = apr_pstrdup(lines->pool, msg);
}

/* The CLAIM_* pairs of every top-level claim, and what computing them reported as one line
 * (*note, NULL when nothing), for the entry to keep: there is no request to log it for here. */
static const claims_pair_t *export_with_note(apr_pool_t *p, const json_t *claims, int *n, const char **note)
{
    apr_array_header_t *lines = apr_array_make(p, 2, sizeof(const char *));
    claims_logger_t keep = { keep_line, lines };
    const claims_pair_t *pairs = claims_export_pairs(p, claims, NULL, CLAIMS_DEFAULT_ENV_PREFIX, &keep, n);
    *note = NULL;
    for (int i = 0; i < lines->nelts; i++) {
        const char *line = APR_ARRAY_IDX(lines, i, const char *);
        *note = *note == NULL ? line : apr_pstrcat(p, *note, "; ", line, NULL);
    }
    return pairs;
}

/* What an entry holds besides its fixed part, gathered in p before its block is allocated. */
typedef struct entry_parts_t {
    const claims_pair_t *src;          /* the CLAIM_* pairs */
    int n;
    apr_size_t *lens;                  /* name and value length of each pair */
    const char *note, *text;           /* the export note (or NULL), CLAIMS_JSON */
    apr_size_t note_len, text_len, kid_len, typ_len, att_len, strings;
} entry_parts_t;

/* What an entry is made of: what was verified (jws and key NULL for an answer) and, for an
 * answer, what came with it. */
typedef struct entry_src_t {
    const claims_issuer_t *issuer;
    const claims_jws_t *jws;
    const claims_key_t *key;
    const json_t *claims;
    const char *attachment;
} entry_src_t;

static int gather_parts(apr_pool_t *p, const entry_src_t *v, entry_parts_t *x)
{
    const claims_jws_t *jws = v->jws;
    x->src = export_with_note(p, v->claims, &x->n, &x->note);
    x->text = claims_payload_text(p, jws != NULL ? jws->payload : NULL, jws != NULL ? jws->payload_len : 0,
                                  v->claims);
    if (x->text == NULL) {
        return 0;
    }
    x->text_len = strlen(x->text);
    x->note_len = x->note != NULL ? strlen(x->note) : 0;
    x->kid_len = jws != NULL && jws->kid != NULL ? jws->kid_len : 0;
    x->typ_len = jws != NULL && jws->typ != NULL ? strlen(jws->typ) : 0;
    x->att_len = v->attachment != NULL ? strlen(v->attachment) : 0;
    x->lens = apr_palloc(p, 2 * (apr_size_t)x->n * sizeof(apr_size_t) + 1);
    x->strings = 0;
    for (int i = 0; i < x->n; i++) {
        x->lens[2 * i] = strlen(x->src[i].name);
        x->lens[2 * i + 1] = strlen(x->src[i].value);
        x->strings += x->lens[2 * i] + x->lens[2 * i + 1] + 2;
    }
    return 1;
}

/* Builds an unlinked entry from v and its token: one malloc'd block (fewer, longer-lived
 * chunks for the allocator) holding the entry, the CLAIM_* pairs, their strings, the export
 * note, CLAIMS_JSON, kid, typ, the attachment and the token's bytes. */
static entry_t *entry_build(apr_pool_t *p, apr_uint64_t hash, const char *token, apr_size_t len,
                            const entry_src_t *v, double expires)
{
    const claims_jws_t *jws = v->jws;
    entry_parts_t x;
    apr_size_t size;
    entry_t *e;
    claims_pair_t *pairs;
    char *cursor;

    if (!gather_parts(p, v, &x)) {
        return NULL;
    }
    /* pairs right after the entry (pointer-aligned: the entry's size is a multiple of it) */
    size = APR_ALIGN_DEFAULT(sizeof(*e)) + (apr_size_t)x.n * sizeof(claims_pair_t) + x.strings + x.text_len + 1
           + x.kid_len + 1 + x.typ_len + 1 + x.note_len + 1 + x.att_len + 1 + len + 1;
    e = malloc(size);
    if (e == NULL) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    pairs = (claims_pair_t *)((char *)e + APR_ALIGN_DEFAULT(sizeof(*e)));
    cursor = (char *)(pairs + x.n);
    for (int i = 0; i < x.n; i++) {
        pairs[i].name = copy_str(&cursor, x.src[i].name, x.lens[2 * i]);
        pairs[i].value = copy_str(&cursor, x.src[i].value, x.lens[2 * i + 1]);
    }
    e->pub.export_note = x.note != NULL ? copy_str(&cursor, x.note, x.note_len) : NULL;
    e->pub.claims_json = copy_str(&cursor, x.text, x.text_len);
    if (jws != NULL) {
        e->pub.jws.kid = jws->kid != NULL ? copy_str(&cursor, jws->kid, x.kid_len) : NULL;
        e->pub.jws.kid_len = x.kid_len;
        e->pub.jws.typ = jws->typ != NULL ? copy_str(&cursor, jws->typ, x.typ_len) : NULL;
        e->pub.jws.alg = jws->alg;
    }
    e->pub.attachment = v->attachment != NULL ? copy_str(&cursor, v->attachment, x.att_len) : NULL;
    e->pub.issuer = v->issuer;
    e->pub.key = v->key;
    e->pub.key_serial = v->key != NULL ? v->key->serial : 0;
    e->pub.claims = NULL;              /* read on the first hit: see claims_cache_entry_claims() */
    e->pub.env = pairs;
    e->pub.nenv = x.n;
    e->token = copy_str(&cursor, token, len);
    e->token_len = len;
    e->hash = hash;
    e->expires = expires;
    /* what the entry costs: its block, and the claims tree of its first hit (jansson's objects,
     * about 4x their text) */
    e->bytes = size + 4 * x.text_len;
    return e;
}

/* Links e at the head of the list and into bucket b, evicting the least recently used first
 * while the cache would be over either bound. Called with the lock held. */
static void link_entry(claims_cache_t *c, entry_t *e, apr_size_t b)
{
    while (c->tail != NULL && (c->entries + 1 > c->max_entries || c->bytes + e->bytes > c->max_bytes)) {
        unlink_entry(c, c->tail);
        c->evictions++;
        if (c->shared != NULL) {
            share(&c->shared->evictions, 1);
        }
    }
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    apr_atomic_set32(&e->refs, 1);     /* the table's */
    push_front(c, e);
    c->entries++;
    c->bytes += e->bytes;
    if (c->shared != NULL) {
        share(&c->shared->entries, 1);
        share(&c->shared->bytes, (apr_int64_t)e->bytes);
    }
}

/* Adds what v holds for token (hash its claims_cache_hash); see claims_cache_insert. */
static const claims_cached_t *insert(claims_cache_t *c, apr_pool_t *p, apr_uint64_t hash, const char *token,
                                     apr_size_t len, const entry_src_t *v, double expires)
{
    entry_t *e, *old;
    const claims_cached_t *out;
    apr_size_t b;

    if (c->off || (e = entry_build(p, hash, token, len, v, expires)) == NULL) {
        return NULL;
    }
    if (e->bytes > c->max_bytes / 4) {
        entry_free(e);  /* one huge token must not flush the cache */
        return NULL;
    }
    e->cache = c;
    apr_thread_mutex_lock(c->lock);
    b = bucket_of(c, hash);
    for (old = c->buckets[b]; old != NULL; old = old->hnext) {
        if (same_token(old, hash, token, len) && old->pub.issuer == v->issuer) {
            break;
        }
    }
    if (old != NULL && old->pub.key == v->key && old->pub.key_serial == (v->key != NULL ? v->key->serial : 0)) {
        /* another thread verified the same token under the same issuer meanwhile: keep the first */
        out = hand_out(old, p);
        apr_thread_mutex_unlock(c->lock);
        entry_free(e);
        return out;
    }
    if (old != NULL) {
        unlink_entry(c, old);          /* verified afresh: its key left the issuer's set */
    }
    link_entry(c, e, b);
    out = hand_out(e, p);
    apr_thread_mutex_unlock(c->lock);
    return out;
}

const claims_cached_t *claims_cache_insert(claims_cache_t *c, apr_pool_t *p, apr_uint64_t hash,
                                           const char *token, apr_size_t len, const claims_verified_t *v,
                                           double expires)
{
    entry_src_t src = {v->issuer, v->jws, v->key, v->claims, NULL};
    return insert(c, p, hash, token, len, &src, expires);
}

const claims_cached_t *claims_cache_put_answer(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                               const claims_issuer_t *issuer, const json_t *claims,
                                               const char *attachment, double expires)
{
    entry_src_t src = {issuer, NULL, NULL, claims, attachment};
    return insert(c, p, claims_cache_hash(c, token, len), token, len, &src, expires);
}

const claims_cached_t *claims_cache_get_answer(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                               double now, const claims_issuer_t *issuer, json_t **claims)
{
    const claims_issuer_t *trusted[1] = {issuer};
    int untrusted = 0;
    const claims_cached_t *e = claims_cache_lookup(c, p, claims_cache_hash(c, token, len), token, len, now,
                                                   trusted, 1, claims, &untrusted);
    if (e == NULL || untrusted || e->issuer != issuer) {
        *claims = NULL;
        return NULL;                   /* another issuer's answer (held until p is cleared) */
    }
    if (*claims == NULL) {
        *claims = claims_cache_entry_claims(c, e, p);
    }
    return *claims != NULL ? e : NULL;
}

const claims_cached_t *claims_cache_put(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                        const claims_verified_t *v, double expires)
{
    return claims_cache_insert(c, p, claims_cache_hash(c, token, len), token, len, v, expires);
}

const claims_cached_t *claims_cache_get(claims_cache_t *c, apr_pool_t *p, const char *token, apr_size_t len,
                                        double now, const claims_issuer_t *const *trusted, int ntrusted,
                                        json_t **claims, int *untrusted)
{
    return claims_cache_lookup(c, p, claims_cache_hash(c, token, len), token, len, now, trusted, ntrusted,
                               claims, untrusted);
}

void claims_cache_share_counters(claims_cache_t *c, claims_cache_counters_t *shared)
{
    apr_thread_mutex_lock(c->lock);
    c->shared = shared;
    if (shared != NULL) {
        share(&shared->entries, (apr_int64_t)c->entries);
        share(&shared->bytes, (apr_int64_t)c->bytes);
    }
    apr_thread_mutex_unlock(c->lock);
}

void claims_cache_get_stats(claims_cache_t *c, claims_cache_stats_t *st)
{
    apr_thread_mutex_lock(c->lock);
    st->entries = c->entries;
    st->bytes = c->bytes;
    st->max_entries = c->max_entries;
    st->max_bytes = c->max_bytes;
    st->hits = c->hits;
    st->misses = c->misses;
    st->evictions = c->evictions;
    apr_thread_mutex_unlock(c->lock);
    st->verifications = apr_atomic_read64(&c->verifications);
}

void claims_cache_count_verification(claims_cache_t *c)
{
    apr_atomic_inc64(&c->verifications);
    if (c->shared != NULL) {
        apr_atomic_inc64(&c->shared->verifications);
    }
}

/* The entry's claims tree, read again from its CLAIMS_JSON on the entry's first hit (when
 * claims_cache_lookup found none yet), then kept. An entry whose token is never seen again (a
 * stream of new tokens) stays one malloc'd block: the jansson nodes of a tree are many small
 * long-lived chunks, and when entries come and go by the million they leave each thread's malloc
 * arena a little more fragmented (tests/load soak: RSS +4 to +11 MiB per 900,000 new tokens
 * with the tree kept from the miss, flat without). */
json_t *claims_cache_entry_claims(claims_cache_t *c, const claims_cached_t *pub, apr_pool_t *p)
{
    entry_t *e = (entry_t *)pub;  /* pub is the first member */
    json_t *out, *j = claims_json_object(p, (const unsigned char *)e->pub.claims_json,
                                         strlen(e->pub.claims_json));
    if (j == NULL) {
        return NULL;
    }
    apr_thread_mutex_lock(c->lock);
    if (e->pub.claims == NULL) {
        e->pub.claims = j;             /* the entry owns it; requests hold the entry */
        j = NULL;
    }
    out = e->pub.claims;
    apr_thread_mutex_unlock(c->lock);
    json_decref(j);                    /* another thread's hit was first */
    return out;
}

int claims_cache_key_id(claims_cache_t *c, const claims_key_t *key, unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN])
{
    key_id_t *slot = &c->ids[key->serial % KEY_IDS];
    int found;
    apr_thread_mutex_lock(c->lock);
    found = slot->valid && slot->serial == key->serial;
    if (found) {
        memcpy(id, slot->id, CLAIMS_SHCACHE_KEY_ID_LEN);
    }
    apr_thread_mutex_unlock(c->lock);
    if (found) {
        return 1;
    }
    /* computed outside the lock (a DER encoding and a digest), once per key object */
    if (c->level == NULL || claims_shcache_key_id(c->level, key, id) != CLAIMS_OK) {
        return 0;
    }
    apr_thread_mutex_lock(c->lock);
    slot->serial = key->serial;
    slot->valid = 1;
    memcpy(slot->id, id, CLAIMS_SHCACHE_KEY_ID_LEN);
    apr_thread_mutex_unlock(c->lock);
    return 1;
}
