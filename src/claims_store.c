/*
 * claims_store.c - authenticated records for shared stores; see claims_store.h.
 */
#include "claims_store.h"
#include "claims_siphash.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <unistd.h>

#define MAC_LEN 32
static const unsigned char magic[4] = {'C', 'L', 'S', '1'};

static const unsigned char magic_private[4] = {'C', 'L', 'S', '2'};
#define NONCE_LEN 12
#define TAG_LEN 16

/* HMAC-SHA-256 under one key, set up once: SHA-256 states that absorbed the key's inner and
 * outer pads (RFC 2104). A MAC copies them: in OpenSSL 3 a copy of a digest state costs less
 * than a copy of an EVP_MAC context, and far less than a fresh fetch and key set-up. */
typedef struct keyed_t {
    EVP_MD_CTX *inner, *outer;
} keyed_t;

struct claims_store_secret_t {
    unsigned char mac_key[MAC_LEN];
    unsigned char id_key[MAC_LEN];     /* its first 16 bytes key SipHash-2-4-128 */
    unsigned char enc_key[MAC_LEN];    /* AES-256 */
    unsigned char aux_key[MAC_LEN];    /* claims_store_mac */
    keyed_t mac_ctx, aux_ctx;
    claims_siphash_key_t id_sip;
    EVP_CIPHER *aes_gcm;               /* fetched once (an implicit fetch per record costs more
                                        * than sealing it) */
    EVP_CIPHER_CTX *gcm_ctx[2];        /* keyed once, for decryption [0] and encryption [1]: a
                                        * record copies one and sets its nonce (the key schedule
                                        * and GHASH table are not made again) */
};

static void unkey(keyed_t *k)
{
    EVP_MD_CTX_free(k->inner);         /* OpenSSL clears the states it frees */
    EVP_MD_CTX_free(k->outer);
    k->inner = k->outer = NULL;
}

static apr_status_t wipe_secret(void *data)
{
    claims_store_secret_t *s = data;
    unkey(&s->mac_ctx);
    unkey(&s->aux_ctx);
    EVP_CIPHER_CTX_free(s->gcm_ctx[0]);
    EVP_CIPHER_CTX_free(s->gcm_ctx[1]);
    EVP_CIPHER_free(s->aes_gcm);
    OPENSSL_cleanse(data, sizeof(claims_store_secret_t));
    return APR_SUCCESS;
}

/* An AES-256-GCM context keyed with key for encryption or decryption, without a nonce yet. */
static EVP_CIPHER_CTX *keyed_gcm(const EVP_CIPHER *cipher, const unsigned char *key, int encrypt)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx != NULL && EVP_CipherInit_ex2(ctx, cipher, key, NULL, encrypt, NULL) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* One SHA-256 state that absorbed key (at most one block) XORed with pad. */
static EVP_MD_CTX *padded(const EVP_MD *md, const unsigned char *key, apr_size_t klen, unsigned char pad)
{
    unsigned char block[64];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    memset(block, pad, sizeof(block));
    for (apr_size_t i = 0; i < klen; i++) {
        block[i] ^= key[i];
    }
    if (ctx != NULL && (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, block, sizeof(block)) != 1)) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    OPENSSL_cleanse(block, sizeof(block));
    return ctx;
}

/* k set up for HMAC-SHA-256 under key (klen <= 64: the derived keys are 32 bytes); 0 on success. */
static int keyed(keyed_t *k, const unsigned char *key, apr_size_t klen)
{
    EVP_MD *md = klen <= 64 ? EVP_MD_fetch(NULL, "SHA256", NULL) : NULL;
    k->inner = md != NULL ? padded(md, key, klen, 0x36) : NULL;
    k->outer = md != NULL ? padded(md, key, klen, 0x5c) : NULL;
    EVP_MD_free(md);                   /* the states hold their own reference */
    return k->inner != NULL && k->outer != NULL ? 0 : -1;
}

/* HMAC-SHA-256 over the concatenation of n pieces, from copies of k's states. 0 on success. */
static int hmac_keyed(const keyed_t *k, const unsigned char *const *pieces, const apr_size_t *lens, int n,
                      unsigned char out[MAC_LEN])
{
    EVP_MD_CTX *ctx = k->inner != NULL ? EVP_MD_CTX_new() : NULL;
    unsigned int olen = 0;
    int ok = ctx != NULL && EVP_MD_CTX_copy_ex(ctx, k->inner) == 1;
    for (int i = 0; ok && i < n; i++) {
        ok = EVP_DigestUpdate(ctx, pieces[i], lens[i]) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == MAC_LEN
         && EVP_MD_CTX_copy_ex(ctx, k->outer) == 1 && EVP_DigestUpdate(ctx, out, MAC_LEN) == 1
         && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == MAC_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* HMAC-SHA-256 over the concatenation of n pieces (the callers frame them). 0 on success. */
static int hmac(const unsigned char *key, apr_size_t klen, const unsigned char *const *pieces,
                const apr_size_t *lens, int n, unsigned char out[MAC_LEN])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t olen = 0;
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && EVP_MAC_init(ctx, key, klen, params) == 1;
    for (int i = 0; ok && i < n; i++) {
        ok = EVP_MAC_update(ctx, pieces[i], lens[i]) == 1;
    }
    ok = ok && EVP_MAC_final(ctx, out, &olen, MAC_LEN) == 1 && olen == MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

static int derive(const unsigned char *secret, apr_size_t len, const char *label, unsigned char out[MAC_LEN])
{
    const unsigned char *pieces[1] = {(const unsigned char *)label};
    apr_size_t lens[1] = {strlen(label)};
    return hmac(secret, len, pieces, lens, 1, out);
}

claims_status_t claims_store_secret_from(apr_pool_t *p, const unsigned char *bytes, apr_size_t len,
                                         claims_store_secret_t **out)
{
    claims_store_secret_t *s;
    if (bytes == NULL || len < CLAIMS_STORE_SECRET_MIN || len > CLAIMS_STORE_SECRET_MAX) {
        return CLAIMS_ERR_KEY;
    }
    s = apr_palloc(p, sizeof(*s));
    memset(s, 0, sizeof(*s));
    apr_pool_cleanup_register(p, s, wipe_secret, apr_pool_cleanup_null);
    if (derive(bytes, len, "mod_claims store record MAC v1", s->mac_key) != 0
        || derive(bytes, len, "mod_claims store record id v2", s->id_key) != 0
        || derive(bytes, len, "mod_claims store record encryption v1", s->enc_key) != 0
        || derive(bytes, len, "mod_claims store purpose MAC v1", s->aux_key) != 0
        || keyed(&s->mac_ctx, s->mac_key, MAC_LEN) != 0
        || keyed(&s->aux_ctx, s->aux_key, MAC_LEN) != 0
        || (s->aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL
        || (s->gcm_ctx[0] = keyed_gcm(s->aes_gcm, s->enc_key, 0)) == NULL
        || (s->gcm_ctx[1] = keyed_gcm(s->aes_gcm, s->enc_key, 1)) == NULL) {
        return CLAIMS_ERR_INTERNAL;
    }
    claims_siphash_key(&s->id_sip, s->id_key);
    *out = s;
    return CLAIMS_OK;
}

claims_status_t claims_store_secret_load(apr_pool_t *p, const char *path, claims_store_secret_t **out,
                                         char **err)
{
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    unsigned char buf[CLAIMS_STORE_SECRET_MAX + 3];
    apr_size_t n = sizeof(buf);
    apr_status_t rv;
    claims_status_t st;

    if (apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_SIZE, p) != APR_SUCCESS || fi.filetype != APR_REG) {
        *err = apr_psprintf(p, "%s is not a readable file", path);
        return CLAIMS_ERR_IO;
    }
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p)) != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot open %s", path);
        return CLAIMS_ERR_IO;
    }
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        OPENSSL_cleanse(buf, sizeof(buf));
        *err = apr_psprintf(p, "cannot read %s", path);
        return CLAIMS_ERR_IO;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }
    if (n < CLAIMS_STORE_SECRET_MIN || n > CLAIMS_STORE_SECRET_MAX) {
        OPENSSL_cleanse(buf, sizeof(buf));
        *err = apr_psprintf(p, "%s holds %" APR_SIZE_T_FMT " bytes: a shared secret needs %d to %d "
                            "(e.g. openssl rand -base64 48 > FILE)", path, n, CLAIMS_STORE_SECRET_MIN,
                            CLAIMS_STORE_SECRET_MAX);
        return CLAIMS_ERR_KEY;
    }
    st = claims_store_secret_from(p, buf, n, out);
    OPENSSL_cleanse(buf, sizeof(buf));
    return st;
}

claims_store_secret_t *claims_store_secret_random(apr_pool_t *p)
{
    unsigned char buf[MAC_LEN];
    claims_store_secret_t *s = NULL;
    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        return NULL;  /* no randomness: the caller cannot start */
    }
    if (claims_store_secret_from(p, buf, sizeof(buf), &s) != CLAIMS_OK) {
        s = NULL;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return s;
}

void claims_store_id(const claims_store_secret_t *s, const char *const *parts, int nparts,
                     unsigned char id[CLAIMS_STORE_ID_LEN])
{
    /* each part with its length in front, so that ("ab","c") and ("a","bc") differ */
    claims_siphash128_t st;
    claims_siphash128_init(&st, &s->id_sip);
    for (int i = 0; i < nparts && i < 16; i++) {
        apr_size_t l = parts[i] != NULL ? strlen(parts[i]) : 0;
        unsigned char lenbuf[4] = {(unsigned char)(l >> 24), (unsigned char)(l >> 16), (unsigned char)(l >> 8),
                                   (unsigned char)l};
        claims_siphash128_update(&st, lenbuf, sizeof(lenbuf));
        claims_siphash128_update(&st, parts[i] != NULL ? parts[i] : "", l);
    }
    claims_siphash128_final(&st, id);
}

int claims_store_mac(const claims_store_secret_t *s, const char *purpose, const void *data, apr_size_t len,
                     unsigned char out[CLAIMS_STORE_MAC_LEN])
{
    /* the purpose with its length in front, so that no purpose is a prefix of another's data */
    apr_size_t plen = strlen(purpose);
    unsigned char plen_be[4] = {(unsigned char)(plen >> 24), (unsigned char)(plen >> 16),
                                (unsigned char)(plen >> 8), (unsigned char)plen};
    const unsigned char *pieces[3] = {plen_be, (const unsigned char *)purpose, data};
    apr_size_t lens[3] = {sizeof(plen_be), plen, len};
    return hmac_keyed(&s->aux_ctx, pieces, lens, 3, out);
}

static int record_mac(const claims_store_secret_t *s, const unsigned char *id, apr_size_t idlen,
                      const void *data, apr_size_t len, unsigned char out[MAC_LEN])
{
    unsigned char idlen_be[4] = {(unsigned char)(idlen >> 24), (unsigned char)(idlen >> 16),
                                 (unsigned char)(idlen >> 8), (unsigned char)idlen};
    const unsigned char *pieces[4] = {magic, idlen_be, id, data};
    apr_size_t lens[4] = {sizeof(magic), sizeof(idlen_be), idlen, len};
    return hmac_keyed(&s->mac_ctx, pieces, lens, 4, out);
}

unsigned char *claims_store_seal(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                 apr_size_t idlen, const void *data, apr_size_t len, apr_size_t *outlen)
{
    unsigned char *rec = apr_palloc(p, CLAIMS_STORE_OVERHEAD + len);
    memcpy(rec, magic, sizeof(magic));
    if (record_mac(s, id, idlen, data, len, rec + sizeof(magic)) != 0) {
        return NULL;
    }
    if (len > 0) {
        memcpy(rec + CLAIMS_STORE_OVERHEAD, data, len);
    }
    *outlen = CLAIMS_STORE_OVERHEAD + len;
    return rec;
}

claims_status_t claims_store_open(const claims_store_secret_t *s, const unsigned char *id, apr_size_t idlen,
                                  const unsigned char *rec, apr_size_t len, const unsigned char **data,
                                  apr_size_t *dlen)
{
    unsigned char want[MAC_LEN];
    if (rec == NULL || len < CLAIMS_STORE_OVERHEAD || memcmp(rec, magic, sizeof(magic)) != 0) {
        return CLAIMS_ERR_KEY;
    }
    if (record_mac(s, id, idlen, rec + CLAIMS_STORE_OVERHEAD, len - CLAIMS_STORE_OVERHEAD, want) != 0
        || CRYPTO_memcmp(want, rec + sizeof(magic), MAC_LEN) != 0) {
        return CLAIMS_ERR_KEY;
    }
    *data = rec + CLAIMS_STORE_OVERHEAD;
    *dlen = len - CLAIMS_STORE_OVERHEAD;
    return CLAIMS_OK;
}

/* AES-256-GCM of in (len bytes) into out, with aad; encrypt or decrypt (then tag is checked).
 * 0 on success. */
static int gcm(const claims_store_secret_t *s, int encrypt, const unsigned char nonce[NONCE_LEN],
               const unsigned char *aad, apr_size_t aadlen, const unsigned char *in, apr_size_t len,
               unsigned char *out, unsigned char tag[TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;
    if (ctx == NULL || len > (apr_size_t)0x7fffffff || aadlen > (apr_size_t)0x7fffffff) {
        EVP_CIPHER_CTX_free(ctx);
        return -1;
    }
    /* a copy of the keyed context; GCM's default IV length is 96 bits, NONCE_LEN */
    ok = EVP_CIPHER_CTX_copy(ctx, s->gcm_ctx[encrypt ? 1 : 0]) == 1
         && EVP_CipherInit_ex2(ctx, NULL, NULL, nonce, encrypt, NULL) == 1
         && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) == 1
         && (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1);
    if (ok && !encrypt) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    }
    ok = ok && EVP_CipherFinal_ex(ctx, out + (len > 0 ? n : 0), &n) == 1;
    if (ok && encrypt) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* The additional data: the magic and the id, so a record is bound to its place. */
static unsigned char *private_aad(apr_pool_t *p, const unsigned char *id, apr_size_t idlen, apr_size_t *aadlen)
{
    unsigned char *aad = apr_palloc(p, sizeof(magic_private) + idlen);
    memcpy(aad, magic_private, sizeof(magic_private));
    if (idlen > 0) {
        memcpy(aad + sizeof(magic_private), id, idlen);
    }
    *aadlen = sizeof(magic_private) + idlen;
    return aad;
}

/* A private record's nonce: 64 bits drawn from the CSPRNG by each thread (again in a forked
 * process, and after 2^32 records), then a 32-bit counter that starts at a random value; the
 * NIST SP 800-38D 8.2.1 layout of a fixed field and an invocation field. Two records share a
 * nonce only when two threads drew the same 64 bits and their counters overlap: rarer than
 * a collision of random 96-bit nonces over the same number of records, at a fraction of the
 * cost (a draw from OpenSSL's DRBG costs about as much as sealing a short record). */
typedef struct nonce_state_t {
    pid_t pid;                         /* 0: never drawn */
    unsigned char fixed[8];
    apr_uint32_t next, left;
} nonce_state_t;

static _Thread_local nonce_state_t nonce_state;

static int next_nonce(unsigned char nonce[NONCE_LEN])
{
    nonce_state_t *ns = &nonce_state;
    pid_t pid = getpid();
    unsigned char draw[12];
    if (ns->pid != pid || ns->left == 0) {
        if (RAND_bytes(draw, sizeof(draw)) != 1) {
            return -1;
        }
        memcpy(ns->fixed, draw, sizeof(ns->fixed));
        ns->next = ((apr_uint32_t)draw[8] << 24) | ((apr_uint32_t)draw[9] << 16) | ((apr_uint32_t)draw[10] << 8)
                   | draw[11];
        ns->left = 0xffffffffu;        /* counter values until one would come round again */
        ns->pid = pid;
    }
    memcpy(nonce, ns->fixed, sizeof(ns->fixed));
    nonce[8] = (unsigned char)(ns->next >> 24);
    nonce[9] = (unsigned char)(ns->next >> 16);
    nonce[10] = (unsigned char)(ns->next >> 8);
    nonce[11] = (unsigned char)ns->next;
    ns->next++;                        /* wraps modulo 2^32, within the fixed field's 2^32 - 1 */
    ns->left--;
    return 0;
}

unsigned char *claims_store_seal_private(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                         apr_size_t idlen, const void *data, apr_size_t len, apr_size_t *outlen)
{
    unsigned char *rec = apr_palloc(p, CLAIMS_STORE_PRIVATE_OVERHEAD + len);
    unsigned char *nonce = rec + sizeof(magic_private), *ct = nonce + NONCE_LEN, *tag = ct + len;
    apr_size_t aadlen = 0;
    unsigned char *aad = private_aad(p, id, idlen, &aadlen);

    memcpy(rec, magic_private, sizeof(magic_private));
    if (next_nonce(nonce) != 0 || gcm(s, 1, nonce, aad, aadlen, data, len, ct, tag) != 0) {
        return NULL;
    }
    *outlen = CLAIMS_STORE_PRIVATE_OVERHEAD + len;
    return rec;
}

claims_status_t claims_store_open_private(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                          apr_size_t idlen, const unsigned char *rec, apr_size_t len,
                                          unsigned char **data, apr_size_t *dlen)
{
    apr_size_t n, aadlen = 0;
    unsigned char *aad, *out, tag[TAG_LEN];
    if (rec == NULL || len < CLAIMS_STORE_PRIVATE_OVERHEAD || memcmp(rec, magic_private, sizeof(magic_private)) != 0) {
        return CLAIMS_ERR_KEY;
    }
    n = len - CLAIMS_STORE_PRIVATE_OVERHEAD;
    aad = private_aad(p, id, idlen, &aadlen);
    out = apr_palloc(p, n + 1);
    memcpy(tag, rec + len - TAG_LEN, TAG_LEN);
    if (gcm(s, 0, rec + sizeof(magic_private), aad, aadlen, rec + sizeof(magic_private) + NONCE_LEN, n, out, tag) != 0) {
        OPENSSL_cleanse(out, n);
        return CLAIMS_ERR_KEY;
    }
    out[n] = '\0';
    *data = out;
    *dlen = n;
    return CLAIMS_OK;
}
