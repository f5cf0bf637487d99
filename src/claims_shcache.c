/*
 * claims_shcache.c - the verified-token level shared by the children of a server; see
 * claims_shcache.h for what a record says, the layout and the concurrency rules.
 */
#include "claims_shcache.h"
#include "claims_siphash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <apr_tables.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Processes share these words: the atomics must not hide a lock in one process's memory. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free to be shared between processes");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to be shared between processes");
_Static_assert(CLAIMS_SHCACHE_MAX_TOKEN < 65536, "record lengths are 16-bit");

#define SEG_MAGIC 0x434c4d53u        /* "CLMS" */
#define SEG_LAYOUT 1u
#define TAIL 16                      /* bytes of a token's end (its signature's) that pick its bucket */
#define BUSY 1u                      /* cell word: a writer owns the cell */
#define MAX_CELLS ((CLAIMS_SHCACHE_MAX_TOKEN + (apr_size_t)sizeof(rec_t) + CLAIMS_SHCACHE_CELL - 1) \
                   / CLAIMS_SHCACHE_CELL)

typedef _Atomic uint32_t at32_t;
typedef _Atomic uint64_t at64_t;
typedef _Atomic int64_t ats64_t;

/* The segment's header. Only sizes and figures: no key. */
typedef struct seg_t {
    uint32_t magic, layout;
    uint32_t ncells, nwords;           /* nwords: a power of two, a multiple of WAYS */
    at64_t clock;                      /* cells handed out since the start */
    at64_t hits, misses, stores, evictions, dropped;
    ats64_t entries, bytes;
} seg_t;

/* The header of a record, in its first cell; the token's form follows (its header segment,
 * then its payload and signature bytes). */
typedef struct rec_t {
    uint64_t id;                       /* the clock value that handed out its cells */
    uint64_t hash;                     /* claims_shcache_hash of the token */
    int64_t expires;                   /* microseconds since the epoch */
    unsigned char key_id[CLAIMS_SHCACHE_KEY_ID_LEN];
    uint16_t ncells;
    uint16_t header_len, payload_len, sig_len;
    uint64_t check;                    /* SipHash of everything above */
} rec_t;

struct claims_shcache_t {
    seg_t *seg;
    at32_t *index;
    at32_t *words;
    unsigned char *cells;
    claims_siphash_key_t hash_key, check_key;
    unsigned char id_secret[32];       /* keys the key identities */
    apr_array_header_t *learnt;        /* learnt_t: identities computed before the fork */
};

typedef struct learnt_t {
    const claims_key_t *key;
    apr_uint32_t serial;
    unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN];
} learnt_t;

static apr_size_t align64(apr_size_t n)
{
    return (n + 63) & ~(apr_size_t)63;
}

static apr_size_t form_len(const claims_shcache_form_t *f)
{
    return f->header_len + f->payload_len + f->sig_len;
}

static uint32_t cells_for(apr_size_t len)
{
    return (uint32_t)((sizeof(rec_t) + len + CLAIMS_SHCACHE_CELL - 1) / CLAIMS_SHCACHE_CELL);
}

/* The cell word of a record's cells once written: its owner, not busy. */
static uint32_t owner_word(uint64_t id)
{
    return (uint32_t)((id & 0x7fffffffu) << 1);
}

static unsigned char *cell_at(const claims_shcache_t *sh, uint32_t i)
{
    return sh->cells + (apr_size_t)i * CLAIMS_SHCACHE_CELL;
}

static uint64_t record_check(const claims_shcache_t *sh, const rec_t *r)
{
    return claims_siphash(&sh->check_key, r, offsetof(rec_t, check));
}

/* ------------------------------------------------------------------ creation */

/* Sizes: about one index word per 8 cells (a record of a typical token takes 8 to 25), the
 * rest cells and their words. */
static int layout(seg_t *seg, apr_size_t size)
{
    apr_size_t room = size - align64(sizeof(seg_t)) - 2 * 64, nwords = CLAIMS_SHCACHE_WAYS;
    apr_size_t per_cell = CLAIMS_SHCACHE_CELL + sizeof(uint32_t), ncells;
    while (nwords * 2 <= room / per_cell / 8 && nwords < ((apr_size_t)1 << 22)) {
        nwords *= 2;
    }
    ncells = (room - nwords * sizeof(uint32_t)) / per_cell;
    if (ncells < 2 * MAX_CELLS || ncells >= ((apr_size_t)1 << 24) - 1) {
        ncells = ncells >= ((apr_size_t)1 << 24) - 1 ? ((apr_size_t)1 << 24) - 2 : 0;
    }
    seg->ncells = (uint32_t)ncells;
    seg->nwords = (uint32_t)nwords;
    return ncells > 0;
}

claims_shcache_t *claims_shcache_create(apr_pool_t *p, void *base, apr_size_t size)
{
    claims_shcache_t *sh;
    seg_t *seg = base;
    unsigned char *at = base;
    if (base == NULL || size < CLAIMS_SHCACHE_MIN_SIZE) {
        return NULL;
    }
    memset(seg, 0, sizeof(*seg));
    if (!layout(seg, size)) {
        return NULL;
    }
    sh = apr_pcalloc(p, sizeof(*sh));
    if (!claims_siphash_random_key(&sh->hash_key) || !claims_siphash_random_key(&sh->check_key)
        || RAND_bytes(sh->id_secret, sizeof(sh->id_secret)) != 1) {
        return NULL;
    }
    sh->seg = seg;
    sh->index = (at32_t *)(at + align64(sizeof(seg_t)));
    sh->words = (at32_t *)(at + align64(sizeof(seg_t)) + align64((apr_size_t)seg->nwords * sizeof(uint32_t)));
    sh->cells = (unsigned char *)sh->words + align64((apr_size_t)seg->ncells * sizeof(uint32_t));
    /* the index, the words and the cells are zero: a fresh mapping. Records start at clock 1,
     * so that no record is owned by 0, the word of a cell never written */
    atomic_init(&seg->clock, 1);
    seg->magic = SEG_MAGIC;
    seg->layout = SEG_LAYOUT;
    return sh;
}

void claims_shcache_form(const claims_jws_t *jws, claims_shcache_form_t *form)
{
    const char *dot = memchr(jws->signing_input, '.', jws->signing_input_len);
    form->header = jws->signing_input;
    form->header_len = dot != NULL ? (apr_size_t)(dot - jws->signing_input) : jws->signing_input_len;
    form->payload = jws->payload;
    form->payload_len = jws->payload_len;
    form->sig = jws->sig;
    form->sig_len = jws->sig_len;
}

apr_uint64_t claims_shcache_hash(const claims_shcache_t *sh, const char *token, apr_size_t len)
{
    unsigned char buf[8 + TAIL];
    apr_size_t n = len < TAIL ? len : TAIL;
    uint64_t l = (uint64_t)len;
    memcpy(buf, &l, 8);
    memcpy(buf + 8, token + len - n, n);
    return claims_siphash13(&sh->hash_key, buf, 8 + n);
}

/* ------------------------------------------------------------------ look-up */

/* 1 when the words of cells [i, i + n) all equal want (acquire). */
static int words_are(const claims_shcache_t *sh, uint32_t i, uint32_t n, uint32_t want)
{
    for (uint32_t j = 0; j < n; j++) {
        if (atomic_load_explicit(&sh->words[i + j], memory_order_acquire) != want) {
            return 0;
        }
    }
    return 1;
}

/* Whether the header r, read from cell i, is that of a record of form f with hash: in its
 * place, with a check value of this start's key. */
static int header_fits(const claims_shcache_t *sh, const rec_t *r, uint32_t i, uint32_t word,
                       apr_uint64_t hash, const claims_shcache_form_t *f)
{
    uint32_t n = sh->seg->ncells;
    return owner_word(r->id) == word && r->id % n == i && r->hash == hash && r->header_len == f->header_len
        && r->payload_len == f->payload_len && r->sig_len == f->sig_len && r->ncells == cells_for(form_len(f))
        && r->ncells <= n - i && record_check(sh, r) == r->check;
}

/* Whether the bytes after a record header at d are form f's. */
static int same_form(const unsigned char *d, const claims_shcache_form_t *f)
{
    return memcmp(d, f->header, f->header_len) == 0 && memcmp(d + f->header_len, f->payload, f->payload_len) == 0
        && memcmp(d + f->header_len + f->payload_len, f->sig, f->sig_len) == 0;
}

/* The record in cell i, when it is one of exactly form f usable at now_us, read consistently
 * (see claims_shcache.h): 1 with *key_id. */
static int read_record(const claims_shcache_t *sh, uint32_t i, apr_uint64_t hash, const claims_shcache_form_t *f,
                       int64_t now_us, unsigned char *key_id)
{
    uint32_t word = atomic_load_explicit(&sh->words[i], memory_order_acquire);
    rec_t r;
    int same;
    if (word & BUSY) {
        return 0;
    }
    memcpy(&r, cell_at(sh, i), sizeof(r));
    if (!header_fits(sh, &r, i, word, hash, f) || !words_are(sh, i + 1, r.ncells - 1u, word)) {
        return 0;
    }
    same = same_form(cell_at(sh, i) + sizeof(rec_t), f);
    atomic_thread_fence(memory_order_acquire);
    if (!words_are(sh, i, r.ncells, word) || !same || r.expires <= now_us) {
        return 0;
    }
    memcpy(key_id, r.key_id, CLAIMS_SHCACHE_KEY_ID_LEN);
    return 1;
}

static at32_t *bucket_of(const claims_shcache_t *sh, apr_uint64_t hash)
{
    return sh->index + (((hash >> 8) * CLAIMS_SHCACHE_WAYS) & (sh->seg->nwords - 1));
}

int claims_shcache_find(claims_shcache_t *sh, apr_uint64_t hash, const claims_shcache_form_t *form, double now,
                        unsigned char key_id[CLAIMS_SHCACHE_KEY_ID_LEN])
{
    at32_t *bucket = bucket_of(sh, hash);
    int64_t now_us = (int64_t)(now * 1e6);
    if (form_len(form) > CLAIMS_SHCACHE_MAX_TOKEN) {
        return 0;
    }
    for (int w = 0; w < CLAIMS_SHCACHE_WAYS; w++) {
        uint32_t e = atomic_load_explicit(&bucket[w], memory_order_acquire);
        if (e != 0 && (e & 0xff) == (hash & 0xff) && (e >> 8) - 1 < sh->seg->ncells
            && read_record(sh, (e >> 8) - 1, hash, form, now_us, key_id)) {
            return 1;
        }
    }
    return 0;
}

void claims_shcache_note(claims_shcache_t *sh, int hit)
{
    atomic_fetch_add_explicit(hit ? &sh->seg->hits : &sh->seg->misses, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------ adding */

/* Takes cells [i, i + n) for the record owned by id: each word from stable to busy. On a busy
 * cell, puts the words taken back as they were (nothing of those cells was written) and
 * returns 0. old[] receives the words taken. */
static int claim_cells(claims_shcache_t *sh, uint32_t i, uint32_t n, uint64_t id, uint32_t *old)
{
    uint32_t mine = owner_word(id) | BUSY;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t w = atomic_load_explicit(&sh->words[i + j], memory_order_relaxed);
        if ((w & BUSY) || !atomic_compare_exchange_strong(&sh->words[i + j], &w, mine)) {
            while (j-- > 0) {
                atomic_store_explicit(&sh->words[i + j], old[j], memory_order_release);
            }
            return 0;
        }
        old[j] = w;
    }
    return 1;
}

/* Counts the records whose first cell is among those just taken (their words in old[]): they
 * are gone. The cells are ours now, so their old headers hold still. */
static void count_evicted(claims_shcache_t *sh, uint32_t i, uint32_t n, const uint32_t *old)
{
    for (uint32_t j = 0; j < n; j++) {
        rec_t r;
        if (old[j] == 0) {
            continue;
        }
        memcpy(&r, cell_at(sh, i + j), sizeof(r));
        if (owner_word(r.id) == old[j] && r.id % sh->seg->ncells == i + j && record_check(sh, &r) == r.check) {
            atomic_fetch_add_explicit(&sh->seg->evictions, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&sh->seg->entries, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&sh->seg->bytes, (int64_t)r.ncells * CLAIMS_SHCACHE_CELL,
                                      memory_order_relaxed);
        }
    }
}

/* Points the token's bucket at cell i: in an empty word, else in place of the word whose
 * record is oldest (furthest behind the clock). Two writers may pick the same word: one record
 * is then not found, and verified again once. */
static void index_put(claims_shcache_t *sh, apr_uint64_t hash, uint32_t i)
{
    at32_t *bucket = bucket_of(sh, hash);
    uint32_t n = sh->seg->ncells;
    uint32_t now = (uint32_t)(atomic_load_explicit(&sh->seg->clock, memory_order_relaxed) % n);
    uint32_t best = 0, best_age = 0;
    for (uint32_t w = 0; w < CLAIMS_SHCACHE_WAYS; w++) {
        uint32_t e = atomic_load_explicit(&bucket[w], memory_order_relaxed), age;
        if (e == 0) {
            best = w;
            break;
        }
        age = ((e >> 8) - 1 < n) ? (now + n - ((e >> 8) - 1)) % n : n;
        if (age >= best_age) {
            best_age = age;
            best = w;
        }
    }
    atomic_store_explicit(&bucket[best], ((i + 1) << 8) | (uint32_t)(hash & 0xff), memory_order_release);
}

/* Writes the record into the cells [i, i + r->ncells) it owns, and lets readers see it. */
static void write_record(claims_shcache_t *sh, uint32_t i, rec_t *r, const claims_shcache_form_t *f)
{
    unsigned char *d = cell_at(sh, i) + sizeof(*r);
    r->check = record_check(sh, r);
    memcpy(cell_at(sh, i), r, sizeof(*r));
    memcpy(d, f->header, f->header_len);
    memcpy(d + f->header_len, f->payload, f->payload_len);
    memcpy(d + f->header_len + f->payload_len, f->sig, f->sig_len);
    for (uint32_t j = 0; j < r->ncells; j++) {
        atomic_store_explicit(&sh->words[i + j], owner_word(r->id), memory_order_release);
    }
}

int claims_shcache_add(claims_shcache_t *sh, apr_uint64_t hash, const claims_shcache_form_t *form,
                       const unsigned char key_id[CLAIMS_SHCACHE_KEY_ID_LEN], double expires)
{
    uint32_t n = sh->seg->ncells, k = cells_for(form_len(form)), old[MAX_CELLS];
    rec_t r;
    if (form_len(form) > CLAIMS_SHCACHE_MAX_TOKEN || k > n / 8) {
        atomic_fetch_add_explicit(&sh->seg->dropped, 1, memory_order_relaxed);
        return 0;
    }
    memset(&r, 0, sizeof(r));
    r.hash = hash;
    r.expires = (int64_t)(expires * 1e6);
    r.ncells = (uint16_t)k;
    r.header_len = (uint16_t)form->header_len;
    r.payload_len = (uint16_t)form->payload_len;
    r.sig_len = (uint16_t)form->sig_len;
    memcpy(r.key_id, key_id, CLAIMS_SHCACHE_KEY_ID_LEN);
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t id = atomic_fetch_add_explicit(&sh->seg->clock, k, memory_order_relaxed);
        uint32_t i = (uint32_t)(id % n);
        if (i > n - k || !claim_cells(sh, i, k, id, old)) {
            continue;                  /* past the end (the next turn starts at 0), or busy */
        }
        count_evicted(sh, i, k, old);
        r.id = id;
        write_record(sh, i, &r, form);
        index_put(sh, hash, i);
        atomic_fetch_add_explicit(&sh->seg->stores, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sh->seg->entries, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sh->seg->bytes, (int64_t)k * CLAIMS_SHCACHE_CELL, memory_order_relaxed);
        return 1;
    }
    atomic_fetch_add_explicit(&sh->seg->dropped, 1, memory_order_relaxed);
    return 0;
}

/* ------------------------------------------------------------------ keys, figures */

/* The identity of key, computed (see claims_shcache_key_id). */
static claims_status_t compute_key_id(const claims_shcache_t *sh, const claims_key_t *key,
                                      unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL, tag[5];
    uint32_t alg = (uint32_t)key->alg;
    const unsigned char *material = key->secret;
    apr_size_t mlen = key->secret_len;
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok, dlen = 0;

    if (key->pkey != NULL) {
        dlen = i2d_PUBKEY(key->pkey, &der);
        if (dlen <= 0) {
            return CLAIMS_ERR_INTERNAL;
        }
        material = der;
        mlen = (apr_size_t)dlen;
    }
    if (material == NULL) {
        return CLAIMS_ERR_NO_KEY;
    }
    tag[0] = key->pkey != NULL ? 'P' : 'S';    /* public key or secret: never the same identity */
    memcpy(tag + 1, &alg, sizeof(alg));
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(ctx, sh->id_secret, sizeof(sh->id_secret)) == 1
        && EVP_DigestUpdate(ctx, tag, sizeof(tag)) == 1 && EVP_DigestUpdate(ctx, material, mlen) == 1
        && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= CLAIMS_SHCACHE_KEY_ID_LEN;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    if (!ok) {
        return CLAIMS_ERR_INTERNAL;
    }
    memcpy(id, md, CLAIMS_SHCACHE_KEY_ID_LEN);
    return CLAIMS_OK;
}

claims_status_t claims_shcache_key_id(const claims_shcache_t *sh, const claims_key_t *key,
                                      unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN])
{
    for (int i = 0; sh->learnt != NULL && i < sh->learnt->nelts; i++) {
        const learnt_t *l = &APR_ARRAY_IDX(sh->learnt, i, learnt_t);
        if (l->key == key && l->serial == key->serial) {
            memcpy(id, l->id, CLAIMS_SHCACHE_KEY_ID_LEN);
            return CLAIMS_OK;
        }
    }
    return compute_key_id(sh, key, id);
}

void claims_shcache_learn_key(claims_shcache_t *sh, apr_pool_t *p, const claims_key_t *key)
{
    learnt_t l;
    if (claims_shcache_key_id(sh, key, l.id) != CLAIMS_OK) {
        return;                        /* computed again where it is needed, and refused there */
    }
    if (sh->learnt == NULL) {
        sh->learnt = apr_array_make(p, 8, sizeof(learnt_t));
    }
    for (int i = 0; i < sh->learnt->nelts; i++) {
        if (APR_ARRAY_IDX(sh->learnt, i, learnt_t).key == key) {
            return;
        }
    }
    l.key = key;
    l.serial = key->serial;
    *(learnt_t *)apr_array_push(sh->learnt) = l;
}

static apr_uint64_t positive(const ats64_t *v)
{
    int64_t x = atomic_load_explicit(v, memory_order_relaxed);
    return x > 0 ? (apr_uint64_t)x : 0;        /* adds and subtracts of others may cross */
}

void claims_shcache_get_stats(const claims_shcache_t *sh, claims_shcache_stats_t *st)
{
    seg_t *seg = sh->seg;
    st->entries = positive(&seg->entries);
    st->bytes = positive(&seg->bytes);
    st->max_bytes = (apr_uint64_t)seg->ncells * CLAIMS_SHCACHE_CELL;
    st->hits = atomic_load_explicit(&seg->hits, memory_order_relaxed);
    st->misses = atomic_load_explicit(&seg->misses, memory_order_relaxed);
    st->stores = atomic_load_explicit(&seg->stores, memory_order_relaxed);
    st->evictions = atomic_load_explicit(&seg->evictions, memory_order_relaxed);
    st->dropped = atomic_load_explicit(&seg->dropped, memory_order_relaxed);
}
