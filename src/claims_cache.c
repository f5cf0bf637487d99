/*
 * claims_cache.c - the verified-token cache; see claims_cache.h.
 */
#include "claims_cache.h"
#include "claims_export.h"
#include "claims_json.h"
#include "claims_validate.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_t entry_t;

struct entry_t {
    claims_cached_t pub;               /* what callers see; first member */
    unsigned char digest[CLAIMS_DIGEST_LEN];
    double expires;
    apr_size_t bytes;
    unsigned refs;                     /* under the cache lock */
    int linked;                        /* in the table and the LRU list */
    entry_t *hnext;
    entry_t *prev, *next;              /* LRU: most recently used at head */
    claims_cache_t *cache;
    /* then, in the same malloc'd block: the pairs, their strings, the export note, CLAIMS_JSON,
     * kid and typ */
};

struct claims_cache_t {
    apr_thread_mutex_t *lock;
    entry_t **buckets;
    apr_size_t mask;
    entry_t *head, *tail;
    apr_size_t entries, bytes, max_entries, max_bytes;
    apr_uint64_t hits, misses, evictions;
    claims_cache_counters_t *shared;
    EVP_MAC *mac;                      /* SipHash, keyed once per cache */
    EVP_MAC_CTX *mac_tmpl;             /* copied per digest: never changed after creation */
};

static void share(volatile apr_uint64_t *ctr, apr_int64_t delta)
{
    apr_atomic_add64(ctr, (apr_uint64_t)delta);  /* two's complement: adding -n subtracts */
}

typedef struct entry_ref_t {
    entry_t *e;
} entry_ref_t;

static void entry_free(entry_t *e)
{
    json_decref(e->pub.claims);
    free(e);
}

static apr_size_t bucket_of(const claims_cache_t *c, const unsigned char *digest)
{
    apr_size_t h;
    memcpy(&h, digest, sizeof(h));  /* SHA-256 bits are uniform */
    return h & c->mask;
}

/* Removes e from the table and the list; frees it unless a request still holds it. */
static void unlink_entry(claims_cache_t *c, entry_t *e)
{
    entry_t **pp = &c->buckets[bucket_of(c, e->digest)];
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
    e->linked = 0;
    c->entries--;
    c->bytes -= e->bytes;
    if (c->shared != NULL) {
        share(&c->shared->entries, -1);
        share(&c->shared->bytes, -(apr_int64_t)e->bytes);
    }
    if (e->refs == 0) {
        entry_free(e);
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

static apr_status_t release_entry(void *data)
{
    entry_ref_t *ref = data;
    entry_t *e = ref->e;
    claims_cache_t *c = e->cache;
    apr_thread_mutex_lock(c->lock);
    if (--e->refs == 0 && !e->linked) {
        entry_free(e);
    }
    apr_thread_mutex_unlock(c->lock);
    return APR_SUCCESS;
}

/* Takes a reference for the lifetime of p. Called with the lock held. */
static const claims_cached_t *hand_out(entry_t *e, apr_pool_t *p)
{
    entry_ref_t *ref = apr_palloc(p, sizeof(*ref));
    e->refs++;
    ref->e = e;
    apr_pool_cleanup_register(p, ref, release_entry, apr_pool_cleanup_null);
    return &e->pub;
}

static apr_status_t cache_cleanup(void *data)
{
    claims_cache_t *c = data;
    EVP_MAC_CTX_free(c->mac_tmpl);
    EVP_MAC_free(c->mac);
    c->mac_tmpl = NULL;
    c->mac = NULL;
    while (c->head != NULL) {
        entry_t *e = c->head;
        e->refs = 0;  /* the pool of every request is gone by now */
        unlink_entry(c, e);
    }
    return APR_SUCCESS;
}

claims_cache_t *claims_cache_create(apr_pool_t *p, apr_size_t max_entries, apr_size_t max_bytes)
{
    claims_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_size_t n = 64;
    if (apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
    c->max_entries = max_entries > 0 ? max_entries : CLAIMS_CACHE_DEFAULT_ENTRIES;
    c->max_bytes = max_bytes > 0 ? max_bytes : CLAIMS_CACHE_DEFAULT_BYTES;
    while (n < c->max_entries && n < ((apr_size_t)1 << 24)) {
        n <<= 1;
    }
    c->buckets = apr_pcalloc(p, n * sizeof(entry_t *));
    c->mask = n - 1;
    apr_pool_cleanup_register(p, c, cache_cleanup, apr_pool_cleanup_null);
    {
        unsigned char key[16];
        size_t size = CLAIMS_DIGEST_LEN;
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
        params[1] = OSSL_PARAM_construct_end();
        c->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
        c->mac_tmpl = c->mac != NULL ? EVP_MAC_CTX_new(c->mac) : NULL;
        if (c->mac_tmpl == NULL || RAND_bytes(key, sizeof(key)) != 1
            || EVP_MAC_init(c->mac_tmpl, key, sizeof(key), params) != 1) {
            /* no SipHash (a FIPS-only OpenSSL): SHA-256, truncated, keyed by nothing */
            EVP_MAC_CTX_free(c->mac_tmpl);
            c->mac_tmpl = NULL;
        }
        OPENSSL_cleanse(key, sizeof(key));
    }
    return c;
}

void claims_cache_digest(const claims_cache_t *c, const char *token, apr_size_t len,
                         unsigned char digest[CLAIMS_DIGEST_LEN])
{
    EVP_MAC_CTX *ctx = c->mac_tmpl != NULL ? EVP_MAC_CTX_dup(c->mac_tmpl) : NULL;
    size_t n = 0;
    int ok = 0;
    if (ctx != NULL) {
        ok = EVP_MAC_update(ctx, (const unsigned char *)token, len) == 1
            && EVP_MAC_final(ctx, digest, &n, CLAIMS_DIGEST_LEN) == 1 && n == CLAIMS_DIGEST_LEN;
        EVP_MAC_CTX_free(ctx);
    }
    else {
        unsigned char full[EVP_MAX_MD_SIZE];
        unsigned int m = 0;
        ok = EVP_Digest(token, len, full, &m, EVP_sha256(), NULL) == 1;
        memcpy(digest, full, CLAIMS_DIGEST_LEN);
    }
    if (!ok) {
        memset(digest, 0, CLAIMS_DIGEST_LEN);
    }
}

/* The live entry for digest verified under the record of trusted that claims_verify_uncached would
 * choose for its iss (the first with that iss); else, when the token's iss is not trusted here
 * at all, any live entry of digest, with *untrusted set; else NULL. The entries of one digest
 * are one token, so they all have the same iss. Expired entries of digest met on the way are
 * unlinked. Called with the lock held. */
static entry_t *find_entry(claims_cache_t *c, const unsigned char *digest, double now,
                           const claims_issuer_t *const *trusted, int ntrusted, int *untrusted)
{
    entry_t *e, *next, *other = NULL;
    for (e = c->buckets[bucket_of(c, digest)]; e != NULL; e = next) {
        const claims_issuer_t *chosen;
        next = e->hnext;
        if (memcmp(e->digest, digest, CLAIMS_DIGEST_LEN) != 0) {
            continue;
        }
        if (now >= e->expires) {
            unlink_entry(c, e);        /* never outlives exp */
            continue;
        }
        chosen = claims_issuer_find(trusted, ntrusted, e->pub.issuer->iss, strlen(e->pub.issuer->iss));
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

const claims_cached_t *claims_cache_get(claims_cache_t *c, apr_pool_t *p,
                                        const unsigned char digest[CLAIMS_DIGEST_LEN], double now,
                                        const claims_issuer_t *const *trusted, int ntrusted, json_t **claims,
                                        int *untrusted)
{
    const claims_cached_t *out = NULL;
    entry_t *e;
    *claims = NULL;
    *untrusted = 0;
    apr_thread_mutex_lock(c->lock);
    e = find_entry(c, digest, now, trusted, ntrusted, untrusted);
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

/* Builds an unlinked entry from v: one malloc'd block (fewer, longer-lived chunks for the
 * allocator) holding the entry, the CLAIM_* pairs, their strings, the export note, CLAIMS_JSON,
 * kid and typ. */
static entry_t *entry_build(apr_pool_t *p, const unsigned char *digest, const claims_verified_t *v,
                            double expires)
{
    int n;
    const char *note;
    const claims_pair_t *src = export_with_note(p, v->claims, &n, &note);
    const char *text = claims_payload_text(p, v->jws->payload, v->jws->payload_len, v->claims);
    apr_size_t kid_len = v->jws->kid != NULL ? v->jws->kid_len : 0;
    apr_size_t typ_len = v->jws->typ != NULL ? strlen(v->jws->typ) : 0;
    apr_size_t note_len = note != NULL ? strlen(note) : 0;
    apr_size_t text_len, strings = 0, size;
    entry_t *e;
    claims_pair_t *pairs;
    char *cursor;
    apr_size_t *lens;

    if (text == NULL) {
        return NULL;
    }
    text_len = strlen(text);
    lens = apr_palloc(p, 2 * (apr_size_t)n * sizeof(apr_size_t) + 1);
    for (int i = 0; i < n; i++) {
        lens[2 * i] = strlen(src[i].name);
        lens[2 * i + 1] = strlen(src[i].value);
        strings += lens[2 * i] + lens[2 * i + 1] + 2;
    }
    /* pairs right after the entry (pointer-aligned: the entry's size is a multiple of it) */
    size = APR_ALIGN_DEFAULT(sizeof(*e)) + (apr_size_t)n * sizeof(claims_pair_t) + strings + text_len + 1
           + kid_len + 1 + typ_len + 1 + note_len + 1;
    e = malloc(size);
    if (e == NULL) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    pairs = (claims_pair_t *)((char *)e + APR_ALIGN_DEFAULT(sizeof(*e)));
    cursor = (char *)(pairs + n);
    for (int i = 0; i < n; i++) {
        pairs[i].name = copy_str(&cursor, src[i].name, lens[2 * i]);
        pairs[i].value = copy_str(&cursor, src[i].value, lens[2 * i + 1]);
    }
    e->pub.export_note = note != NULL ? copy_str(&cursor, note, note_len) : NULL;
    e->pub.claims_json = copy_str(&cursor, text, text_len);
    e->pub.jws.kid = v->jws->kid != NULL ? copy_str(&cursor, v->jws->kid, kid_len) : NULL;
    e->pub.jws.kid_len = kid_len;
    e->pub.jws.typ = v->jws->typ != NULL ? copy_str(&cursor, v->jws->typ, typ_len) : NULL;
    e->pub.jws.alg = v->jws->alg;
    e->pub.issuer = v->issuer;
    e->pub.key = v->key;
    e->pub.key_serial = v->key->serial;
    e->pub.claims = NULL;              /* read on the first hit: see entry_claims() */
    e->pub.env = pairs;
    e->pub.nenv = n;
    memcpy(e->digest, digest, CLAIMS_DIGEST_LEN);
    e->expires = expires;
    /* what the entry costs: its block, and the claims tree of its first hit (jansson's objects,
     * about 4x their text) */
    e->bytes = size + 4 * text_len;
    return e;
}

const claims_cached_t *claims_cache_put(claims_cache_t *c, apr_pool_t *p,
                                        const unsigned char digest[CLAIMS_DIGEST_LEN],
                                        const claims_verified_t *v, double expires)
{
    entry_t *e = entry_build(p, digest, v, expires), *old;
    const claims_cached_t *out;
    apr_size_t b;

    if (e == NULL) {
        return NULL;
    }
    if (e->bytes > c->max_bytes / 4) {
        entry_free(e);  /* one huge token must not flush the cache */
        return NULL;
    }
    e->cache = c;
    apr_thread_mutex_lock(c->lock);
    b = bucket_of(c, digest);
    for (old = c->buckets[b]; old != NULL; old = old->hnext) {
        if (memcmp(old->digest, digest, CLAIMS_DIGEST_LEN) == 0 && old->pub.issuer == v->issuer) {
            break;
        }
    }
    if (old != NULL && old->pub.key == v->key && old->pub.key_serial == v->key->serial) {
        /* another thread verified the same token under the same issuer meanwhile: keep the first */
        out = hand_out(old, p);
        apr_thread_mutex_unlock(c->lock);
        entry_free(e);
        return out;
    }
    if (old != NULL) {
        unlink_entry(c, old);          /* verified afresh: its key left the issuer's set */
    }
    while (c->tail != NULL && (c->entries + 1 > c->max_entries || c->bytes + e->bytes > c->max_bytes)) {
        unlink_entry(c, c->tail);
        c->evictions++;
        if (c->shared != NULL) {
            share(&c->shared->evictions, 1);
        }
    }
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->linked = 1;
    e->next = c->head;
    if (c->head != NULL) {
        c->head->prev = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
    c->entries++;
    c->bytes += e->bytes;
    if (c->shared != NULL) {
        share(&c->shared->entries, 1);
        share(&c->shared->bytes, (apr_int64_t)e->bytes);
    }
    out = hand_out(e, p);
    apr_thread_mutex_unlock(c->lock);
    return out;
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
}

/* The entry's claims tree, read again from its CLAIMS_JSON on the entry's first hit (when
 * claims_cache_get found none yet), then kept. An entry whose token is never seen again (a
 * stream of new tokens) stays one malloc'd block: the jansson nodes of a tree are many small
 * long-lived chunks, and when entries come and go by the million they leave each thread's malloc
 * arena a little more fragmented (tests/load soak: RSS +4 to +11 MiB per 900,000 new tokens
 * with the tree kept from the miss, flat without). */
static json_t *entry_claims(claims_cache_t *c, const claims_cached_t *pub, apr_pool_t *p)
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

static int key_is_current(const apr_array_header_t *keys, const claims_key_t *key, apr_uint32_t serial)
{
    for (int i = 0; keys != NULL && i < keys->nelts; i++) {
        const claims_key_t *k = APR_ARRAY_IDX(keys, i, const claims_key_t *);
        if (k == key && k->serial == serial) {
            return 1;
        }
    }
    return 0;
}

claims_status_t claims_verify_token(const claims_verifier_t *v, apr_pool_t *p, const char *token, apr_size_t len,
                                    double now, claims_verified_t *out, const claims_cached_t **cached)
{
    claims_cache_t *c = v->cache;
    unsigned char digest[CLAIMS_DIGEST_LEN];
    const claims_cached_t *e;
    json_t *tree;
    claims_status_t st;
    double exp = 0;
    int untrusted;

    *cached = NULL;
    if (c == NULL || len > (v->max_len != 0 ? v->max_len : CLAIMS_DEFAULT_MAX_TOKEN)) {
        return claims_verify_uncached(v, p, token, len, out);
    }
    claims_cache_digest(c, token, len, digest);
    /* an entry verified under the issuer record chosen here, or the news that the token's iss is
     * not trusted here at all; a token whose iss another virtual host declares too, verified
     * there, is a miss: it is verified afresh with this location's record */
    e = claims_cache_get(c, p, digest, now, v->trusted, v->ntrusted, &tree, &untrusted);
    if (e != NULL) {
        memset(out, 0, sizeof(*out));
        out->jws = &e->jws;
        if (untrusted) {
            return CLAIMS_ERR_ISSUER;  /* verified elsewhere, not trusted here (CL-67) */
        }
        if (key_is_current(claims_verifier_keys(v, p, e->issuer, 0), e->key, e->key_serial)) {
            out->claims = tree != NULL ? tree : entry_claims(c, e, p);
            if (out->claims != NULL) {
                out->issuer = e->issuer;
                out->key = e->key;
                *cached = e;
                return CLAIMS_OK;
            }
        }
        /* the key left the issuer's set: verify afresh */
    }
    st = claims_verify_uncached(v, p, token, len, out);
    if (st != CLAIMS_OK) {
        return st;
    }
    if (claims_numeric_date(out->claims, "exp", &exp) <= 0 || exp > now + CLAIMS_CACHE_MAX_AGE) {
        exp = now + CLAIMS_CACHE_MAX_AGE;
    }
    if (exp > now) {
        *cached = claims_cache_put(c, p, digest, out, exp);
    }
    return CLAIMS_OK;
}
