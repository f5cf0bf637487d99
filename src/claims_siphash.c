/*
 * claims_siphash.c - SipHash-2-4; see claims_siphash.h.
 */
#include "claims_siphash.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound on the state v0..v3 (locals of the caller: a macro, so that the state stays in
 * registers; as functions taking the state by pointer, gcc -O2 kept it in memory). */
#define SIPROUND                                                                                  \
    do {                                                                                          \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                 \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                    \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                    \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                 \
    } while (0)

/* The little-endian 64-bit word at p, whatever the host's byte order. */
static inline apr_uint64_t load_le64(const unsigned char *p)
{
#if APR_IS_BIGENDIAN
    return (apr_uint64_t)p[0] | ((apr_uint64_t)p[1] << 8) | ((apr_uint64_t)p[2] << 16)
        | ((apr_uint64_t)p[3] << 24) | ((apr_uint64_t)p[4] << 32) | ((apr_uint64_t)p[5] << 40)
        | ((apr_uint64_t)p[6] << 48) | ((apr_uint64_t)p[7] << 56);
#else
    apr_uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
#endif
}

void claims_siphash_key(claims_siphash_key_t *key, const unsigned char bytes[CLAIMS_SIPHASH_KEY_LEN])
{
    key->k0 = load_le64(bytes);
    key->k1 = load_le64(bytes + 8);
}

int claims_siphash_random_key(claims_siphash_key_t *key)
{
    unsigned char bytes[CLAIMS_SIPHASH_KEY_LEN];
    int ok = RAND_bytes(bytes, sizeof(bytes)) == 1;
    claims_siphash_key(key, bytes);
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return ok;
}

/* SipHash-c-d: c compression rounds per message word, d finalization rounds (inlined into the
 * two variants below with constant c and d, so that the rounds unroll). */
static inline apr_uint64_t siphash_cd(const claims_siphash_key_t *key, const void *data, apr_size_t len, int c,
                                      int d)
{
    const unsigned char *in = data;
    apr_size_t whole = len - len % 8;
    unsigned char last[8] = {0};
    /* the constants spell "somepseudorandomlygeneratedbytes" */
    apr_uint64_t v0 = key->k0 ^ 0x736f6d6570736575ULL, v1 = key->k1 ^ 0x646f72616e646f6dULL;
    apr_uint64_t v2 = key->k0 ^ 0x6c7967656e657261ULL, v3 = key->k1 ^ 0x7465646279746573ULL, m;

    for (apr_size_t i = 0; i < whole; i += 8) {
        m = load_le64(in + i);
        v3 ^= m;
        for (int r = 0; r < c; r++) {
            SIPROUND;
        }
        v0 ^= m;
    }
    /* the last word: the remaining bytes, and the length modulo 256 in its top byte */
    memcpy(last, in + whole, len % 8);
    last[7] = (unsigned char)(len & 0xff);
    m = load_le64(last);
    v3 ^= m;
    for (int r = 0; r < c; r++) {
        SIPROUND;
    }
    v0 ^= m;
    v2 ^= 0xff;
    for (int r = 0; r < d; r++) {
        SIPROUND;
    }
    return v0 ^ v1 ^ v2 ^ v3;
}

apr_uint64_t claims_siphash(const claims_siphash_key_t *key, const void *data, apr_size_t len)
{
    return siphash_cd(key, data, len, 2, 4);
}

apr_uint64_t claims_siphash13(const claims_siphash_key_t *key, const void *data, apr_size_t len)
{
    return siphash_cd(key, data, len, 1, 3);
}

/* ------------------------------------------------------------------ SipHash-2-4-128 */

static inline void compress2(claims_siphash128_t *st, apr_uint64_t m)
{
    apr_uint64_t v0 = st->v0, v1 = st->v1, v2 = st->v2, v3 = st->v3;
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
    st->v0 = v0;
    st->v1 = v1;
    st->v2 = v2;
    st->v3 = v3;
}

void claims_siphash128_init(claims_siphash128_t *st, const claims_siphash_key_t *key)
{
    memset(st, 0, sizeof(*st));
    st->v0 = key->k0 ^ 0x736f6d6570736575ULL;
    st->v1 = key->k1 ^ 0x646f72616e646f6dULL ^ 0xee;   /* the 128-bit variant's mark */
    st->v2 = key->k0 ^ 0x6c7967656e657261ULL;
    st->v3 = key->k1 ^ 0x7465646279746573ULL;
}

void claims_siphash128_update(claims_siphash128_t *st, const void *data, apr_size_t len)
{
    const unsigned char *in = data;
    st->total += len;
    if (st->buffered > 0) {
        apr_size_t n = 8 - st->buffered < len ? 8 - st->buffered : len;
        memcpy(st->tail + st->buffered, in, n);
        st->buffered += n;
        in += n;
        len -= n;
        if (st->buffered < 8) {
            return;
        }
        compress2(st, load_le64(st->tail));
        st->buffered = 0;
    }
    for (; len >= 8; in += 8, len -= 8) {
        compress2(st, load_le64(in));
    }
    memcpy(st->tail, in, len);
    st->buffered = len;
}

static void store_le64(unsigned char *p, apr_uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

void claims_siphash128_final(claims_siphash128_t *st, unsigned char out[16])
{
    apr_uint64_t v0, v1, v2, v3;
    memset(st->tail + st->buffered, 0, 8 - st->buffered);
    st->tail[7] = (unsigned char)(st->total & 0xff);
    compress2(st, load_le64(st->tail));
    v0 = st->v0;
    v1 = st->v1;
    v2 = st->v2 ^ 0xee;
    v3 = st->v3;
    for (int r = 0; r < 4; r++) {
        SIPROUND;
    }
    store_le64(out, v0 ^ v1 ^ v2 ^ v3);
    v1 ^= 0xdd;
    for (int r = 0; r < 4; r++) {
        SIPROUND;
    }
    store_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
    OPENSSL_cleanse(st, sizeof(*st));
}
