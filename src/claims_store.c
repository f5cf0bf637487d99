/*
 * claims_store.c - authenticated records for shared stores; see claims_store.h.
 */
#include "claims_store.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define MAC_LEN 32
static const unsigned char magic[4] = {'C', 'L', 'S', '1'};

static const unsigned char magic_private[4] = {'C', 'L', 'S', '2'};
#define NONCE_LEN 12
#define TAG_LEN 16

struct claims_store_secret_t {
    unsigned char mac_key[MAC_LEN];
    unsigned char id_key[MAC_LEN];
    unsigned char enc_key[MAC_LEN];    /* AES-256 */
    unsigned char aux_key[MAC_LEN];    /* claims_store_mac */
    /* HMAC-SHA-256 set up once under each MAC key: a record's MAC copies one (the fetch and key
     * set-up of an HMAC cost ten times the MAC of a short record) */
    EVP_MAC_CTX *mac_ctx, *id_ctx, *aux_ctx;
};

static apr_status_t wipe_secret(void *data)
{
    claims_store_secret_t *s = data;
    EVP_MAC_CTX_free(s->mac_ctx);      /* OpenSSL clears the key schedule it freed */
    EVP_MAC_CTX_free(s->id_ctx);
    EVP_MAC_CTX_free(s->aux_ctx);
    OPENSSL_cleanse(data, sizeof(claims_store_secret_t));
    return APR_SUCCESS;
}

/* An HMAC-SHA-256 context keyed with key, ready for updates; NULL when OpenSSL fails. */
static EVP_MAC_CTX *keyed(const unsigned char *key, apr_size_t klen)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx != NULL && EVP_MAC_init(ctx, key, klen, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    EVP_MAC_free(mac);                 /* the context holds its own reference */
    return ctx;
}

/* HMAC-SHA-256 over the concatenation of n pieces, from a copy of a keyed context. 0 on success. */
static int hmac_keyed(const EVP_MAC_CTX *base, const unsigned char *const *pieces, const apr_size_t *lens, int n,
                      unsigned char out[MAC_LEN])
{
    EVP_MAC_CTX *ctx = base != NULL ? EVP_MAC_CTX_dup(base) : NULL;
    size_t olen = 0;
    int ok = ctx != NULL;
    for (int i = 0; ok && i < n; i++) {
        ok = EVP_MAC_update(ctx, pieces[i], lens[i]) == 1;
    }
    ok = ok && EVP_MAC_final(ctx, out, &olen, MAC_LEN) == 1 && olen == MAC_LEN;
    EVP_MAC_CTX_free(ctx);
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
        || derive(bytes, len, "mod_claims store record id v1", s->id_key) != 0
        || derive(bytes, len, "mod_claims store record encryption v1", s->enc_key) != 0
        || derive(bytes, len, "mod_claims store purpose MAC v1", s->aux_key) != 0
        || (s->mac_ctx = keyed(s->mac_key, MAC_LEN)) == NULL || (s->id_ctx = keyed(s->id_key, MAC_LEN)) == NULL
        || (s->aux_ctx = keyed(s->aux_key, MAC_LEN)) == NULL) {
        return CLAIMS_ERR_INTERNAL;
    }
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
    unsigned char full[MAC_LEN];
    const unsigned char *pieces[2 * 16];
    apr_size_t lens[2 * 16];
    unsigned char lenbuf[16][4];
    int n = 0;

    if (nparts > 16) {
        nparts = 16;
    }
    for (int i = 0; i < nparts; i++) {
        apr_size_t l = parts[i] != NULL ? strlen(parts[i]) : 0;
        lenbuf[i][0] = (unsigned char)(l >> 24);
        lenbuf[i][1] = (unsigned char)(l >> 16);
        lenbuf[i][2] = (unsigned char)(l >> 8);
        lenbuf[i][3] = (unsigned char)l;
        pieces[n] = lenbuf[i];
        lens[n++] = 4;
        pieces[n] = (const unsigned char *)(parts[i] != NULL ? parts[i] : "");
        lens[n++] = l;
    }
    if (hmac_keyed(s->id_ctx, pieces, lens, n, full) != 0 && RAND_bytes(full, sizeof(full)) != 1) {
        memset(full, 0, sizeof(full));  /* HMAC failed: an id nobody finds again, if we can */
    }
    memcpy(id, full, CLAIMS_STORE_ID_LEN);
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
    return hmac_keyed(s->aux_ctx, pieces, lens, 3, out);
}

static int record_mac(const claims_store_secret_t *s, const unsigned char *id, apr_size_t idlen,
                      const void *data, apr_size_t len, unsigned char out[MAC_LEN])
{
    unsigned char idlen_be[4] = {(unsigned char)(idlen >> 24), (unsigned char)(idlen >> 16),
                                 (unsigned char)(idlen >> 8), (unsigned char)idlen};
    const unsigned char *pieces[4] = {magic, idlen_be, id, data};
    apr_size_t lens[4] = {sizeof(magic), sizeof(idlen_be), idlen, len};
    return hmac_keyed(s->mac_ctx, pieces, lens, 4, out);
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
    ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1
         && EVP_CipherInit_ex(ctx, NULL, NULL, s->enc_key, nonce, encrypt) == 1
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

unsigned char *claims_store_seal_private(apr_pool_t *p, const claims_store_secret_t *s, const unsigned char *id,
                                         apr_size_t idlen, const void *data, apr_size_t len, apr_size_t *outlen)
{
    unsigned char *rec = apr_palloc(p, CLAIMS_STORE_PRIVATE_OVERHEAD + len);
    unsigned char *nonce = rec + sizeof(magic_private), *ct = nonce + NONCE_LEN, *tag = ct + len;
    apr_size_t aadlen = 0;
    unsigned char *aad = private_aad(p, id, idlen, &aadlen);

    memcpy(rec, magic_private, sizeof(magic_private));
    if (RAND_bytes(nonce, NONCE_LEN) != 1
        || gcm(s, 1, nonce, aad, aadlen, data, len, ct, tag) != 0) {
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
