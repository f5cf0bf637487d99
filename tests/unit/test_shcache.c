/*
 * test_shcache.c - SipHash-2-4 (claims_siphash.h) against OpenSSL's, and the verified-token
 * level shared by a server's children (claims_shcache.h): records found by the exact token
 * bytes only, bounded by expires, key identities that follow the key material and nothing else,
 * the figures, and consistent answers under concurrent writers, threads and processes.
 */
#include "test_util.h"

#include "claims_b64url.h"
#include "claims_shcache.h"
#include "claims_siphash.h"

#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOW 1700000000.0

/* ------------------------------------------------------------------ siphash */

static apr_uint64_t openssl_siphash(const unsigned char key[16], const unsigned char *data, size_t len,
                                    unsigned int c, unsigned int d)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    size_t size = 8, n = 0;
    unsigned char out[8];
    apr_uint64_t v = 0;
    OSSL_PARAM params[4] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                            OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_C_ROUNDS, &c),
                            OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_D_ROUNDS, &d), OSSL_PARAM_construct_end()};
    ck_assert_ptr_nonnull(ctx);
    ck_assert(EVP_MAC_init(ctx, key, 16, params) == 1 && EVP_MAC_update(ctx, data, len) == 1
              && EVP_MAC_final(ctx, out, &n, sizeof(out)) == 1 && n == 8);
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | out[i];        /* the output is the little-endian encoding of the word */
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return v;
}

/* The paper's test vector (key 00..0f, message 00..0e), then random keys and every length up
 * to 80 bytes (all tails of the last word) against OpenSSL's SIPHASH, with 2-4 and 1-3 rounds. */
START_TEST(test_siphash_is_siphash_2_4_and_1_3)
{
    unsigned char key[16], msg[80];
    claims_siphash_key_t k;
    for (int i = 0; i < 16; i++) {
        key[i] = (unsigned char)i;
    }
    for (int i = 0; i < 15; i++) {
        msg[i] = (unsigned char)i;
    }
    claims_siphash_key(&k, key);
    ck_assert(claims_siphash(&k, msg, 15) == 0xa129ca6149be45e5ULL);
    for (int round = 0; round < 8; round++) {
        ck_assert(RAND_bytes(key, sizeof(key)) == 1 && RAND_bytes(msg, sizeof(msg)) == 1);
        claims_siphash_key(&k, key);
        for (size_t len = 0; len <= sizeof(msg); len++) {
            ck_assert_msg(claims_siphash(&k, msg, len) == openssl_siphash(key, msg, len, 2, 4), "length %zu", len);
            ck_assert_msg(claims_siphash13(&k, msg, len) == openssl_siphash(key, msg, len, 1, 3), "1-3, length %zu",
                          len);
        }
    }
}
END_TEST

/* SipHash-2-4-128 against OpenSSL's SIPHASH with size 16: random keys, every length up to 80
 * bytes, the data given whole and in pieces cut at random places */
START_TEST(test_siphash128_is_openssls_siphash_with_size_16)
{
    unsigned char key[16], msg[80], want[16], got[16];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    size_t size = 16, n = 0;
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    claims_siphash_key_t k;
    ck_assert_ptr_nonnull(mac);
    for (int round = 0; round < 8; round++) {
        ck_assert(RAND_bytes(key, sizeof(key)) == 1 && RAND_bytes(msg, sizeof(msg)) == 1);
        claims_siphash_key(&k, key);
        for (size_t len = 0; len <= sizeof(msg); len++) {
            EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
            claims_siphash128_t st;
            size_t at = 0;
            ck_assert(EVP_MAC_init(ctx, key, 16, params) == 1 && EVP_MAC_update(ctx, msg, len) == 1
                      && EVP_MAC_final(ctx, want, &n, sizeof(want)) == 1 && n == 16);
            EVP_MAC_CTX_free(ctx);
            claims_siphash128_init(&st, &k);
            while (at < len) {
                size_t piece = 1 + (size_t)(msg[at] % 11);
                piece = piece > len - at ? len - at : piece;
                claims_siphash128_update(&st, msg + at, piece);
                at += piece;
            }
            claims_siphash128_final(&st, got);
            ck_assert_msg(memcmp(got, want, 16) == 0, "length %zu", len);
        }
    }
    EVP_MAC_free(mac);
}
END_TEST

/* ------------------------------------------------------------------ helpers */

static claims_shcache_t *level_of(apr_size_t size)
{
    void *base = apr_pcalloc(tu_p, size);
    claims_shcache_t *sh = claims_shcache_create(tu_p, base, size);
    ck_assert_ptr_nonnull(sh);
    return sh;
}

static void id_of(unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN], int n)
{
    memset(id, 0, CLAIMS_SHCACHE_KEY_ID_LEN);
    memcpy(id, &n, sizeof(n));
    id[CLAIMS_SHCACHE_KEY_ID_LEN - 1] = 0x5a;
}

/* The form of a token "header.payload.signature" (strict base64url, as claims_jws_parse
 * decodes it). */
static claims_shcache_form_t form_of(apr_pool_t *p, const char *tok)
{
    claims_shcache_form_t f;
    const char *d1 = strchr(tok, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    unsigned char *payload, *sig;
    ck_assert_ptr_nonnull(d2);
    ck_assert_int_eq(claims_b64url_decode(p, d1 + 1, (apr_size_t)(d2 - d1 - 1), &payload, &f.payload_len), 0);
    ck_assert_int_eq(claims_b64url_decode(p, d2 + 1, strlen(d2 + 1), &sig, &f.sig_len), 0);
    f.header = tok;
    f.header_len = (apr_size_t)(d1 - tok);
    f.payload = payload;
    f.sig = sig;
    return f;
}

static int add(claims_shcache_t *sh, const char *tok, int key, double expires)
{
    unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN];
    claims_shcache_form_t f = form_of(tu_p, tok);
    id_of(id, key);
    return claims_shcache_add(sh, claims_shcache_hash(sh, tok, strlen(tok)), &f, id, expires);
}

/* The key number the level holds the token of form f (hash of tok) under, -1 when none. */
static int find_form(claims_shcache_t *sh, const char *tok, const claims_shcache_form_t *f, double now)
{
    unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN], want[CLAIMS_SHCACHE_KEY_ID_LEN];
    int n;
    if (!claims_shcache_find(sh, claims_shcache_hash(sh, tok, strlen(tok)), f, now, id)) {
        return -1;
    }
    memcpy(&n, id, sizeof(n));
    id_of(want, n);
    ck_assert_msg(memcmp(id, want, sizeof(id)) == 0, "a key identity that no writer wrote");
    return n;
}

/* The key number the level holds tok under, -1 when it holds none. */
static int find(claims_shcache_t *sh, const char *tok, double now)
{
    claims_shcache_form_t f = form_of(tu_p, tok);
    return find_form(sh, tok, &f, now);
}

/* A token-like string: a header, a payload naming i, and a signature from i's bytes. */
static char *token_no(apr_pool_t *p, int i, apr_size_t sig_len)
{
    unsigned char sig[512];
    apr_uint64_t x = 0x9e3779b97f4a7c15ULL * (apr_uint64_t)(i + 1);
    for (apr_size_t j = 0; j < sig_len && j < sizeof(sig); j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sig[j] = (unsigned char)x;
    }
    return apr_psprintf(p, "eyJhbGciOiJFUzI1NiJ9.%s.%s", tu_b64(p, apr_psprintf(p, "{\"jti\":\"%d\"}", i)),
                        tu_b64n(p, sig, sig_len));
}

/* ------------------------------------------------------------------ records */

/* A record is found by the exact token: not for a token that differs only in its last
 * character (the bytes that pick the bucket), nor for one that differs only in its header with
 * the same signature (same bucket), nor for one whose signature or payload is one byte longer
 * or shorter, even with the same bucket. */
START_TEST(test_record_is_found_by_the_exact_token_bytes_only)
{
    claims_shcache_t *sh = level_of(1 << 20);
    char *tok = token_no(tu_p, 1, 64), *last = apr_pstrdup(tu_p, tok), *other_header, *longer;
    claims_shcache_form_t f = form_of(tu_p, tok), g;
    /* 64 bytes are 86 characters: the last holds 2 bits, so A, Q, g and w are its canonical values */
    last[strlen(last) - 1] = last[strlen(last) - 1] == 'A' ? 'Q' : 'A';
    other_header = apr_pstrcat(tu_p, "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ", strchr(tok, '.'), NULL);
    longer = apr_pstrcat(tu_p, tok, "A", NULL);
    ck_assert_int_eq(find(sh, tok, NOW), -1);
    ck_assert(add(sh, tok, 7, NOW + 60));
    ck_assert_int_eq(find(sh, tok, NOW), 7);
    ck_assert_int_eq(find(sh, last, NOW), -1);
    ck_assert_int_eq(find(sh, other_header, NOW), -1);
    ck_assert_int_eq(find(sh, longer, NOW), -1);
    /* the same hash (the caller's), a form one byte shorter in its signature or payload */
    g = f;
    g.sig_len--;
    ck_assert_int_eq(find_form(sh, tok, &g, NOW), -1);
    g = f;
    g.payload_len--;
    ck_assert_int_eq(find_form(sh, tok, &g, NOW), -1);
    g = f;
    g.header_len--;
    ck_assert_int_eq(find_form(sh, tok, &g, NOW), -1);
    /* and the look-alike records do not hide the first */
    ck_assert(add(sh, other_header, 8, NOW + 60) && add(sh, last, 9, NOW + 60));
    ck_assert_int_eq(find(sh, tok, NOW), 7);
    ck_assert_int_eq(find(sh, other_header, NOW), 8);
    ck_assert_int_eq(find(sh, last, NOW), 9);
}
END_TEST

/* A record is never used at or after its expiry. */
START_TEST(test_record_is_not_used_at_or_after_expires)
{
    claims_shcache_t *sh = level_of(1 << 20);
    char *tok = token_no(tu_p, 2, 64);
    ck_assert(add(sh, tok, 1, NOW + 10));
    ck_assert_int_eq(find(sh, tok, NOW + 9.5), 1);
    ck_assert_int_eq(find(sh, tok, NOW + 10), -1);
    ck_assert_int_eq(find(sh, tok, NOW + 3600), -1);
}
END_TEST

/* A token whose form is n bytes: a header of 4 characters, a payload of 3 bytes, the rest
 * signature. */
static char *token_of_form_size(apr_size_t n)
{
    unsigned char *sig = apr_pcalloc(tu_p, n - 7);
    return apr_pstrcat(tu_p, "aaaa.AAAA.", tu_b64n(tu_p, sig, n - 7), NULL);
}

/* A level holds tokens up to CLAIMS_SHCACHE_MAX_TOKEN bytes (and an eighth of itself): a
 * larger one is not written (dropped), and the caller keeps it elsewhere. */
START_TEST(test_record_larger_than_the_level_allows_is_dropped)
{
    claims_shcache_t *sh = level_of(4 << 20), *small = level_of(CLAIMS_SHCACHE_MIN_SIZE);
    char *big = token_of_form_size(CLAIMS_SHCACHE_MAX_TOKEN + 1), *max = token_of_form_size(CLAIMS_SHCACHE_MAX_TOKEN);
    claims_shcache_stats_t st;
    ck_assert(!add(sh, big, 1, NOW + 60));
    ck_assert_int_eq(find(sh, big, NOW), -1);
    ck_assert(add(sh, max, 2, NOW + 60));
    ck_assert_int_eq(find(sh, max, NOW), 2);
    ck_assert(!add(small, token_of_form_size(9000), 3, NOW + 60));
    claims_shcache_get_stats(small, &st);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(st.stores, 0);
}
END_TEST

/* Records are written in turn around the level: once it is full the oldest go, the figures
 * follow (entries are the records still whole, bytes their cells), and no look-up of an
 * overwritten token finds a record. */
START_TEST(test_full_level_overwrites_its_oldest_records)
{
    claims_shcache_t *sh = level_of(CLAIMS_SHCACHE_MIN_SIZE * 2);
    claims_shcache_stats_t st;
    int n = 1500, found = 0;
    for (int i = 0; i < n; i++) {
        ck_assert(add(sh, token_no(tu_p, i, 64), i, NOW + 60));
    }
    for (int i = 0; i < n; i++) {
        int k = find(sh, token_no(tu_p, i, 64), NOW);
        ck_assert(k == -1 || k == i);
        found += k == i;
    }
    claims_shcache_get_stats(sh, &st);
    ck_assert_uint_eq(st.stores, (apr_uint64_t)n);
    ck_assert(st.evictions > 0 && st.entries == st.stores - st.evictions);
    ck_assert(st.bytes <= st.max_bytes && st.entries * 128 <= st.bytes);
    ck_assert_msg(found > 0 && found < n, "found %d of %d", found, n);
    ck_assert_int_eq(find(sh, token_no(tu_p, n - 1, 64), NOW), n - 1);   /* the newest are there */
    ck_assert_int_eq(find(sh, token_no(tu_p, 0, 64), NOW), -1);          /* the oldest are gone */
}
END_TEST

/* Hits and misses are what the verification path notes. */
START_TEST(test_notes_count_hits_and_misses)
{
    claims_shcache_t *sh = level_of(1 << 20);
    claims_shcache_stats_t st;
    claims_shcache_note(sh, 1);
    claims_shcache_note(sh, 1);
    claims_shcache_note(sh, 0);
    claims_shcache_get_stats(sh, &st);
    ck_assert_uint_eq(st.hits, 2);
    ck_assert_uint_eq(st.misses, 1);
}
END_TEST

/* Two levels (two server starts) have keys of their own: a record is bound to its level, and
 * the same key has another identity in each. */
START_TEST(test_each_start_has_keys_of_its_own)
{
    claims_shcache_t *a = level_of(1 << 20), *b = level_of(1 << 20);
    claims_key_opts_t opts = tu_opts(CLAIMS_ALG_ES256);
    claims_key_t *k = tu_key(tu_p, tu_jwk(tu_p, tu_keys.ec256, NULL), &opts);
    unsigned char ia[CLAIMS_SHCACHE_KEY_ID_LEN], ib[CLAIMS_SHCACHE_KEY_ID_LEN];
    char *tok = token_no(tu_p, 3, 64);
    ck_assert(claims_shcache_hash(a, tok, strlen(tok)) != claims_shcache_hash(b, tok, strlen(tok)));
    ck_assert_int_eq(claims_shcache_key_id(a, k, ia), CLAIMS_OK);
    ck_assert_int_eq(claims_shcache_key_id(b, k, ib), CLAIMS_OK);
    ck_assert(memcmp(ia, ib, sizeof(ia)) != 0);
}
END_TEST

/* A key's identity follows its material and its bound algorithm, and nothing else: two key
 * objects of one public key (a JWKS refresh, another virtual host, another process) share it,
 * with or without the same kid; another key, another algorithm for the same RSA key, or an
 * HMAC secret do not. */
START_TEST(test_key_identity_follows_material_and_algorithm)
{
    claims_shcache_t *sh = level_of(1 << 20);
    unsigned char a[CLAIMS_SHCACHE_KEY_ID_LEN], b[CLAIMS_SHCACHE_KEY_ID_LEN];
    claims_key_opts_t rs_opts = tu_opts(CLAIMS_ALG_RS256);
    claims_key_t *rs = tu_key(tu_p, tu_jwk(tu_p, tu_keys.rsa, "\"alg\":\"RS256\",\"kid\":\"one\""), &rs_opts);
    claims_key_t *rs_again;
    claims_key_opts_t ps_opts = tu_opts(CLAIMS_ALG_PS256);
    claims_key_t *ps = tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &ps_opts);
    claims_key_t *other = tu_key(tu_p, tu_jwk(tu_p, tu_keys.rsa_b, "\"alg\":\"RS256\",\"kid\":\"one\""), &rs_opts);
    claims_key_t *hs = NULL;
    char *err = NULL;
    rs_again = tu_key(tu_p, tu_pem_spki(tu_p, tu_keys.rsa), &rs_opts);
    ck_assert_int_eq(claims_key_secret(tu_p, tu_secret, 32, CLAIMS_ALG_HS256, NULL, "t", &hs, &err), CLAIMS_OK);
    ck_assert(rs->serial != rs_again->serial);
    ck_assert_int_eq(claims_shcache_key_id(sh, rs, a), CLAIMS_OK);
    ck_assert_int_eq(claims_shcache_key_id(sh, rs_again, b), CLAIMS_OK);
    ck_assert(memcmp(a, b, sizeof(a)) == 0);
    ck_assert_int_eq(claims_shcache_key_id(sh, ps, b), CLAIMS_OK);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert_int_eq(claims_shcache_key_id(sh, other, b), CLAIMS_OK);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert_int_eq(claims_shcache_key_id(sh, hs, b), CLAIMS_OK);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

#define WRITERS 4
#define TOKENS 300

typedef struct hammer_t {
    claims_shcache_t *sh;
    apr_pool_t *p;
    int seed, wrong, found;
} hammer_t;

/* Adds and looks up overlapping tokens of a level much smaller than them all (so records are
 * overwritten while others read them); counts look-ups that found a record naming another
 * key than the one every writer adds that token under (there must be none). */
static void hammer(hammer_t *h)
{
    for (int round = 0; round < 4; round++) {
        for (int j = 0; j < TOKENS; j++) {
            int i = (j * 7 + h->seed * 31 + round * 13) % TOKENS;
            char *tok = token_no(h->p, i, 40 + i % 300);
            unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN], want[CLAIMS_SHCACHE_KEY_ID_LEN];
            apr_uint64_t hash = claims_shcache_hash(h->sh, tok, strlen(tok));
            claims_shcache_form_t f = form_of(h->p, tok);
            if (claims_shcache_find(h->sh, hash, &f, NOW, id)) {
                id_of(want, i);
                h->wrong += memcmp(id, want, sizeof(id)) != 0;
                h->found++;
            }
            else {
                id_of(want, i);
                claims_shcache_add(h->sh, hash, &f, want, NOW + 60);
            }
        }
        apr_pool_clear(h->p);
    }
}

static void *APR_THREAD_FUNC hammer_thread(apr_thread_t *t, void *data)
{
    hammer((hammer_t *)data);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Threads of one process (event MPM): writers never wait, and no reader ever gets a record
 * that is not the one written for its exact token. */
START_TEST(test_concurrent_threads_never_see_a_wrong_record)
{
    claims_shcache_t *sh = level_of(CLAIMS_SHCACHE_MIN_SIZE * 2);
    apr_thread_t *t[WRITERS];
    hammer_t h[WRITERS];
    int found = 0;
    for (int i = 0; i < WRITERS; i++) {
        h[i] = (hammer_t){sh, NULL, i, 0, 0};
        ck_assert(apr_pool_create(&h[i].p, NULL) == APR_SUCCESS);
        ck_assert(apr_thread_create(&t[i], NULL, hammer_thread, &h[i], tu_p) == APR_SUCCESS);
    }
    for (int i = 0; i < WRITERS; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, t[i]);
        ck_assert_int_eq(h[i].wrong, 0);
        found += h[i].found;
        apr_pool_destroy(h[i].p);
    }
    ck_assert(found > 0);
}
END_TEST

/* Processes (prefork): the level in an anonymous shared segment made before fork, as the glue
 * makes it; children write and read at once; every record any of them finds is right, and a
 * token one child added is found by the parent. */
START_TEST(test_concurrent_processes_share_records_and_never_see_a_wrong_one)
{
    apr_shm_t *shm = NULL;
    claims_shcache_t *sh;
    pid_t pids[WRITERS];
    char *tok;
    ck_assert(apr_shm_create(&shm, CLAIMS_SHCACHE_MIN_SIZE * 4, NULL, tu_p) == APR_SUCCESS);
    sh = claims_shcache_create(tu_p, apr_shm_baseaddr_get(shm), apr_shm_size_get(shm));
    ck_assert_ptr_nonnull(sh);
    for (int i = 0; i < WRITERS; i++) {
        pids[i] = fork();
        ck_assert(pids[i] >= 0);
        if (pids[i] == 0) {
            hammer_t h = {sh, NULL, i, 0, 0};
            apr_pool_create(&h.p, NULL);
            hammer(&h);
            _exit(h.wrong == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < WRITERS; i++) {
        int status = 0;
        ck_assert(waitpid(pids[i], &status, 0) == pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d saw a wrong record", i);
    }
    /* a record a child writes is the parent's (and every other child's) to find */
    pids[0] = fork();
    ck_assert(pids[0] >= 0);
    if (pids[0] == 0) {
        _exit(add(sh, token_no(tu_p, 4242, 64), 4242, NOW + 60) ? 0 : 1);
    }
    {
        int status = 0;
        ck_assert(waitpid(pids[0], &status, 0) == pids[0] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    tok = token_no(tu_p, 4242, 64);
    ck_assert_int_eq(find(sh, tok, NOW), 4242);
}
END_TEST

Suite *shcache_suite(void)
{
    Suite *s = suite_create("shcache");
    TCase *tc = tu_tcase("siphash", 30);
    tcase_add_test(tc, test_siphash_is_siphash_2_4_and_1_3);
    tcase_add_test(tc, test_siphash128_is_openssls_siphash_with_size_16);
    suite_add_tcase(s, tc);

    tc = tu_tcase("shared level", 60);
    tcase_add_test(tc, test_record_is_found_by_the_exact_token_bytes_only);
    tcase_add_test(tc, test_record_is_not_used_at_or_after_expires);
    tcase_add_test(tc, test_record_larger_than_the_level_allows_is_dropped);
    tcase_add_test(tc, test_full_level_overwrites_its_oldest_records);
    tcase_add_test(tc, test_notes_count_hits_and_misses);
    tcase_add_test(tc, test_each_start_has_keys_of_its_own);
    tcase_add_test(tc, test_key_identity_follows_material_and_algorithm);
    tcase_add_test(tc, test_concurrent_threads_never_see_a_wrong_record);
    tcase_add_test(tc, test_concurrent_processes_share_records_and_never_see_a_wrong_one);
    suite_add_tcase(s, tc);
    return s;
}
