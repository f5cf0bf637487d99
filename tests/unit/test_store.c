/*
 * test_store.c - authenticated records for shared stores (SECURITY.md CL-89, CL-90).
 */
#include "test_util.h"

#include "claims_store.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <apr_thread_proc.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned char secret_a[40] = "0123456789abcdef0123456789abcdef-fleet-A";
static const unsigned char secret_b[40] = "0123456789abcdef0123456789abcdef-fleet-B";

static claims_store_secret_t *secret(const unsigned char *bytes)
{
    claims_store_secret_t *s = NULL;
    ck_assert_int_eq(claims_store_secret_from(tu_p, bytes, 40, &s), CLAIMS_OK);
    return s;
}

static void make_id(const claims_store_secret_t *s, const char *a, const char *b, unsigned char id[CLAIMS_STORE_ID_LEN])
{
    const char *parts[2] = {a, b};
    claims_store_id(s, parts, 2, id);
}

START_TEST(test_sealed_record_opens_to_its_data)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    const char *doc = "{\"keys\":[]}";
    apr_size_t rlen = 0, dlen = 0;
    const unsigned char *data = NULL;
    unsigned char *rec;

    make_id(s, "keys", "https://idp.example", id);
    rec = claims_store_seal(tu_p, s, id, sizeof(id), doc, strlen(doc), &rlen);
    ck_assert_ptr_nonnull(rec);
    ck_assert_uint_eq(rlen, strlen(doc) + CLAIMS_STORE_OVERHEAD);
    ck_assert_int_eq(claims_store_open(s, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_OK);
    ck_assert_uint_eq(dlen, strlen(doc));
    ck_assert_mem_eq(data, doc, dlen);
}
END_TEST

START_TEST(test_every_flipped_bit_of_a_record_is_refused)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    const char *doc = "meta";
    apr_size_t rlen = 0, dlen = 0;
    const unsigned char *data = NULL;
    unsigned char *rec;

    make_id(s, "m", "x", id);
    rec = claims_store_seal(tu_p, s, id, sizeof(id), doc, strlen(doc), &rlen);
    for (apr_size_t i = 0; i < rlen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[i] ^= (unsigned char)(1u << bit);
            ck_assert_int_eq(claims_store_open(s, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_ERR_KEY);
            rec[i] ^= (unsigned char)(1u << bit);
        }
    }
    ck_assert_int_eq(claims_store_open(s, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_OK);
}
END_TEST

START_TEST(test_cut_or_extended_records_are_refused)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    apr_size_t rlen = 0, dlen = 0;
    const unsigned char *data = NULL;
    unsigned char *rec, *longer;

    make_id(s, "d", "x", id);
    rec = claims_store_seal(tu_p, s, id, sizeof(id), "abcdef", 6, &rlen);
    for (apr_size_t n = 0; n < rlen; n++) {
        ck_assert_int_eq(claims_store_open(s, id, sizeof(id), rec, n, &data, &dlen), CLAIMS_ERR_KEY);
    }
    longer = apr_palloc(tu_p, rlen + 1);
    memcpy(longer, rec, rlen);
    longer[rlen] = 'g';
    ck_assert_int_eq(claims_store_open(s, id, sizeof(id), longer, rlen + 1, &data, &dlen), CLAIMS_ERR_KEY);
    ck_assert_int_eq(claims_store_open(s, id, sizeof(id), NULL, 0, &data, &dlen), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_record_moved_to_another_id_is_refused)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char meta[CLAIMS_STORE_ID_LEN], doc[CLAIMS_STORE_ID_LEN];
    apr_size_t rlen = 0, dlen = 0;
    const unsigned char *data = NULL;
    unsigned char *rec;

    make_id(s, "m", "issuer", meta);
    make_id(s, "d", "issuer", doc);
    rec = claims_store_seal(tu_p, s, doc, sizeof(doc), "payload", 7, &rlen);
    ck_assert_int_eq(claims_store_open(s, meta, sizeof(meta), rec, rlen, &data, &dlen), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_record_sealed_under_another_secret_is_refused)
{
    claims_store_secret_t *a = secret(secret_a), *b = secret(secret_b);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    apr_size_t rlen = 0, dlen = 0;
    const unsigned char *data = NULL;
    unsigned char *rec;

    make_id(a, "d", "issuer", id);
    rec = claims_store_seal(tu_p, b, id, sizeof(id), "payload", 7, &rlen);
    ck_assert_int_eq(claims_store_open(a, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_ERR_KEY);
}
END_TEST

/* A record in the layout mod_claims wrote before records were sealed: a generation, then JSON. */
START_TEST(test_unsealed_record_of_the_old_layout_is_refused)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    unsigned char old[64] = {7, 0, 0, 0};
    apr_size_t dlen = 0;
    const unsigned char *data = NULL;

    memcpy(old + 4, "{\"keys\":[{\"kty\":\"RSA\"}]}", 24);
    make_id(s, "d", "issuer", id);
    ck_assert_int_eq(claims_store_open(s, id, sizeof(id), old, 28, &data, &dlen), CLAIMS_ERR_KEY);
}
END_TEST

START_TEST(test_ids_are_keyed_and_keep_part_boundaries)
{
    claims_store_secret_t *a = secret(secret_a), *b = secret(secret_b);
    unsigned char x[CLAIMS_STORE_ID_LEN], y[CLAIMS_STORE_ID_LEN], z[CLAIMS_STORE_ID_LEN];

    make_id(a, "ab", "c", x);
    make_id(a, "a", "bc", y);
    ck_assert(memcmp(x, y, sizeof(x)) != 0);
    make_id(b, "ab", "c", z);
    ck_assert(memcmp(x, z, sizeof(x)) != 0);
    make_id(a, "ab", "c", y);
    ck_assert_mem_eq(x, y, sizeof(x));
}
END_TEST

START_TEST(test_ids_never_hold_the_named_text)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    const char *parts[1] = {"https://idp.example"};
    claims_store_id(s, parts, 1, id);
    for (apr_size_t i = 0; i + 3 <= sizeof(id); i++) {
        ck_assert(memcmp(id + i, "idp", 3) != 0);
    }
}
END_TEST

static const char *write_secret_file(const char *content, apr_size_t len)
{
    char *path = apr_pstrdup(tu_p, "/tmp/claims-secret-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, content, len), (int)len);
    close(fd);
    return path;
}

START_TEST(test_secret_file_loads_and_drops_one_trailing_newline)
{
    const char *a = write_secret_file("0123456789abcdef0123456789abcdef-fleet-A\n", 41);
    const char *b = write_secret_file("0123456789abcdef0123456789abcdef-fleet-A", 40);
    claims_store_secret_t *sa = NULL, *sb = NULL;
    unsigned char ia[CLAIMS_STORE_ID_LEN], ib[CLAIMS_STORE_ID_LEN];
    char *err = NULL;

    ck_assert_int_eq(claims_store_secret_load(tu_p, a, &sa, &err), CLAIMS_OK);
    ck_assert_int_eq(claims_store_secret_load(tu_p, b, &sb, &err), CLAIMS_OK);
    make_id(sa, "x", "y", ia);
    make_id(sb, "x", "y", ib);
    ck_assert_mem_eq(ia, ib, sizeof(ia));
    unlink(a);
    unlink(b);
}
END_TEST

START_TEST(test_short_missing_or_directory_secrets_are_refused)
{
    const char *shortf = write_secret_file("only-31-bytes-of-secret-here!!!\n", 32);
    claims_store_secret_t *s = NULL;
    char *err = NULL;

    ck_assert_int_eq(claims_store_secret_load(tu_p, shortf, &s, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "31 bytes"));
    err = NULL;
    ck_assert_int_eq(claims_store_secret_load(tu_p, "/nonexistent/secret", &s, &err), CLAIMS_ERR_IO);
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_int_eq(claims_store_secret_load(tu_p, "/tmp", &s, &err), CLAIMS_ERR_IO);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(claims_store_secret_from(tu_p, secret_a, 31, &s), CLAIMS_ERR_KEY);
    unlink(shortf);
}
END_TEST

START_TEST(test_random_secrets_differ)
{
    claims_store_secret_t *a = claims_store_secret_random(tu_p), *b = claims_store_secret_random(tu_p);
    unsigned char x[CLAIMS_STORE_ID_LEN], y[CLAIMS_STORE_ID_LEN];
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    make_id(a, "x", "y", x);
    make_id(b, "x", "y", y);
    ck_assert(memcmp(x, y, sizeof(x)) != 0);
}
END_TEST

START_TEST(test_private_record_opens_to_its_data_and_hides_it)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char id[CLAIMS_STORE_ID_LEN];
    const char *claims = "{\"sub\":\"alice-the-secret-subject\"}";
    apr_size_t rlen = 0, dlen = 0;
    unsigned char *rec, *data = NULL;

    make_id(s, "i", "token digest", id);
    rec = claims_store_seal_private(tu_p, s, id, sizeof(id), claims, strlen(claims), &rlen);
    ck_assert_ptr_nonnull(rec);
    ck_assert_uint_eq(rlen, strlen(claims) + CLAIMS_STORE_PRIVATE_OVERHEAD);
    for (apr_size_t i = 0; i + 5 <= rlen; i++) {
        ck_assert(memcmp(rec + i, "alice", 5) != 0);
    }
    ck_assert_int_eq(claims_store_open_private(tu_p, s, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_OK);
    ck_assert_uint_eq(dlen, strlen(claims));
    ck_assert_mem_eq(data, claims, dlen);
    ck_assert_int_eq(data[dlen], '\0');
}
END_TEST

START_TEST(test_private_record_changed_moved_or_under_another_secret_is_refused)
{
    claims_store_secret_t *a = secret(secret_a), *b = secret(secret_b);
    unsigned char id[CLAIMS_STORE_ID_LEN], other[CLAIMS_STORE_ID_LEN];
    apr_size_t rlen = 0, dlen = 0;
    unsigned char *rec, *data = NULL, *again;

    make_id(a, "i", "one", id);
    make_id(a, "i", "two", other);
    rec = claims_store_seal_private(tu_p, a, id, sizeof(id), "payload", 7, &rlen);
    for (apr_size_t i = 0; i < rlen; i++) {
        rec[i] ^= 0x01;
        ck_assert_int_eq(claims_store_open_private(tu_p, a, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_ERR_KEY);
        rec[i] ^= 0x01;
    }
    ck_assert_int_eq(claims_store_open_private(tu_p, a, other, sizeof(other), rec, rlen, &data, &dlen), CLAIMS_ERR_KEY);
    ck_assert_int_eq(claims_store_open_private(tu_p, b, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_ERR_KEY);
    ck_assert_int_eq(claims_store_open_private(tu_p, a, id, sizeof(id), rec, rlen - 1, &data, &dlen), CLAIMS_ERR_KEY);
    /* a MAC-only record is not a private one, and each seal uses a fresh nonce */
    ck_assert_int_eq(claims_store_open_private(tu_p, a, id, sizeof(id), claims_store_seal(tu_p, a, id, sizeof(id),
                     "payload", 7, &dlen), dlen, &data, &dlen), CLAIMS_ERR_KEY);
    again = claims_store_seal_private(tu_p, a, id, sizeof(id), "payload", 7, &dlen);
    ck_assert(memcmp(again, rec, rlen) != 0);
    ck_assert_int_eq(claims_store_open_private(tu_p, a, id, sizeof(id), rec, rlen, &data, &dlen), CLAIMS_OK);
}
END_TEST

/* HMAC-SHA-256 by OpenSSL's one-shot HMAC(), for comparison with the store's keyed contexts. */
static void reference_hmac(const unsigned char *key, size_t klen, const unsigned char *data, size_t len,
                           unsigned char out[32])
{
    unsigned int olen = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)klen, data, len, out, &olen));
    ck_assert_uint_eq(olen, 32);
}

/* SipHash-2-4-128 by OpenSSL's SIPHASH MAC (size 16), for comparison with the store's ids. */
static void reference_siphash128(const unsigned char key[16], const unsigned char *data, size_t len,
                                 unsigned char out[16])
{
    EVP_MAC *m = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
    size_t size = 16, n = 0;
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    ck_assert(ctx != NULL && EVP_MAC_init(ctx, key, 16, params) == 1 && EVP_MAC_update(ctx, data, len) == 1
              && EVP_MAC_final(ctx, out, &n, 16) == 1 && n == 16);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
}

START_TEST(test_ids_are_siphash128_and_purpose_macs_hmac_sha256_under_the_derived_keys)
{
    /* the keys set up once per secret give what a fresh computation gives, call after call */
    const char *label_id = "mod_claims store record id v2", *label_aux = "mod_claims store purpose MAC v1";
    unsigned char id_key[32], aux_key[32], want[32], id[CLAIMS_STORE_ID_LEN], mac[CLAIMS_STORE_MAC_LEN];
    const unsigned char framed_id[] = {0, 0, 0, 2, 'a', 'b', 0, 0, 0, 1, 'c'};
    const unsigned char framed_mac[] = {0, 0, 0, 5, 'n', 'o', 'n', 'c', 'e', 'D', 'A', 'T', 'A'};
    const char *parts[2] = {"ab", "c"};
    claims_store_secret_t *sec = secret(secret_a);

    reference_hmac(secret_a, 40, (const unsigned char *)label_id, strlen(label_id), id_key);
    reference_hmac(secret_a, 40, (const unsigned char *)label_aux, strlen(label_aux), aux_key);
    for (int round = 0; round < 3; round++) {
        claims_store_id(sec, parts, 2, id);
        reference_siphash128(id_key, framed_id, sizeof(framed_id), want);
        ck_assert_mem_eq(id, want, CLAIMS_STORE_ID_LEN);
        ck_assert_int_eq(claims_store_mac(sec, "nonce", "DATA", 4, mac), 0);
        reference_hmac(aux_key, 32, framed_mac, sizeof(framed_mac), want);
        ck_assert_mem_eq(mac, want, CLAIMS_STORE_MAC_LEN);
    }
}
END_TEST

/* A private record is standard AES-256-GCM under the derived encryption key: OpenSSL, set up
 * from scratch here, opens it (nonce after the magic, the magic and id as additional data,
 * the tag last), twice in a row (the store copies one keyed context per record). */
START_TEST(test_private_record_is_aes_256_gcm_under_the_derived_key)
{
    const char *label = "mod_claims store record encryption v1", *claims = "{\"sub\":\"alice\"}";
    claims_store_secret_t *sec = secret(secret_a);
    unsigned char key[32], id[CLAIMS_STORE_ID_LEN], aad[4 + CLAIMS_STORE_ID_LEN], out[64];
    reference_hmac(secret_a, 40, (const unsigned char *)label, strlen(label), key);
    make_id(sec, "i", "gcm", id);
    memcpy(aad, "CLS2", 4);
    memcpy(aad + 4, id, sizeof(id));
    for (int round = 0; round < 2; round++) {
        apr_size_t rlen = 0, len = strlen(claims);
        unsigned char *rec = claims_store_seal_private(tu_p, sec, id, sizeof(id), claims, len, &rlen);
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int n = 0, m = 0;
        ck_assert_ptr_nonnull(rec);
        ck_assert_uint_eq(rlen, 4 + 12 + len + 16);
        ck_assert(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, rec + 4) == 1);
        ck_assert(EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)sizeof(aad)) == 1);
        ck_assert(EVP_DecryptUpdate(ctx, out, &n, rec + 16, (int)len) == 1);
        ck_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, rec + rlen - 16) == 1);
        ck_assert(EVP_DecryptFinal_ex(ctx, out + n, &m) == 1);
        EVP_CIPHER_CTX_free(ctx);
        ck_assert_int_eq(n + m, (int)len);
        ck_assert_mem_eq(out, claims, len);
    }
}
END_TEST

/* The nonce of a private record (bytes 4..15 of it) sealed now by this thread. */
static void seal_nonce(const claims_store_secret_t *s, unsigned char nonce[12])
{
    unsigned char id[CLAIMS_STORE_ID_LEN];
    apr_size_t rlen = 0;
    unsigned char *rec;
    make_id(s, "i", "nonce", id);
    rec = claims_store_seal_private(tu_p, s, id, sizeof(id), "{}", 2, &rlen);
    ck_assert_ptr_nonnull(rec);
    memcpy(nonce, rec + 4, 12);
}

static void *APR_THREAD_FUNC nonce_thread(apr_thread_t *t, void *data)
{
    (void)t;
    seal_nonce(secret(secret_a), data);
    return NULL;                       /* never apr_thread_exit: see test_dpop.c */
}

/* A thread's nonces never repeat: one fixed field, then a counter; another thread and a forked
 * process draw fixed fields of their own. */
START_TEST(test_private_record_nonces_never_repeat_in_a_thread_and_differ_across_threads_and_forks)
{
    claims_store_secret_t *s = secret(secret_a);
    unsigned char first[12], nonce[12], other[12], forked[12];
    apr_thread_t *t;
    apr_status_t trv;
    int fds[2];
    pid_t pid;

    seal_nonce(s, first);
    for (apr_uint32_t i = 1; i <= 2000; i++) {
        apr_uint32_t c0 = ((apr_uint32_t)first[8] << 24) | ((apr_uint32_t)first[9] << 16)
                          | ((apr_uint32_t)first[10] << 8) | first[11], c;
        seal_nonce(s, nonce);
        c = ((apr_uint32_t)nonce[8] << 24) | ((apr_uint32_t)nonce[9] << 16) | ((apr_uint32_t)nonce[10] << 8) | nonce[11];
        ck_assert_mem_eq(nonce, first, 8);
        ck_assert_uint_eq(c, c0 + i);      /* modulo 2^32 */
    }
    ck_assert_int_eq(apr_thread_create(&t, NULL, nonce_thread, other, tu_p), APR_SUCCESS);
    ck_assert_int_eq(apr_thread_join(&trv, t), APR_SUCCESS);
    ck_assert(memcmp(other, first, 8) != 0);

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        seal_nonce(s, nonce);
        _exit(write(fds[1], nonce, sizeof(nonce)) == (ssize_t)sizeof(nonce) ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], forked, sizeof(forked)), (ssize_t)sizeof(forked));
    close(fds[0]);
    waitpid(pid, NULL, 0);
    ck_assert(memcmp(forked, first, 8) != 0);
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tu_tcase("authenticated store records", 0);
    tcase_add_test(tc, test_sealed_record_opens_to_its_data);
    tcase_add_test(tc, test_every_flipped_bit_of_a_record_is_refused);
    tcase_add_test(tc, test_cut_or_extended_records_are_refused);
    tcase_add_test(tc, test_record_moved_to_another_id_is_refused);
    tcase_add_test(tc, test_record_sealed_under_another_secret_is_refused);
    tcase_add_test(tc, test_unsealed_record_of_the_old_layout_is_refused);
    tcase_add_test(tc, test_ids_are_keyed_and_keep_part_boundaries);
    tcase_add_test(tc, test_ids_never_hold_the_named_text);
    tcase_add_test(tc, test_ids_are_siphash128_and_purpose_macs_hmac_sha256_under_the_derived_keys);
    tcase_add_test(tc, test_secret_file_loads_and_drops_one_trailing_newline);
    tcase_add_test(tc, test_short_missing_or_directory_secrets_are_refused);
    tcase_add_test(tc, test_random_secrets_differ);
    tcase_add_test(tc, test_private_record_opens_to_its_data_and_hides_it);
    tcase_add_test(tc, test_private_record_changed_moved_or_under_another_secret_is_refused);
    tcase_add_test(tc, test_private_record_is_aes_256_gcm_under_the_derived_key);
    tcase_add_test(tc, test_private_record_nonces_never_repeat_in_a_thread_and_differ_across_threads_and_forks);
    suite_add_tcase(s, tc);
    return s;
}
