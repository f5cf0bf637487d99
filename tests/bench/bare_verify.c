/*
 * bare_verify.c - the benchmark's reference: what one signature verification costs through
 * OpenSSL 3's EVP interface alone, with nothing of a JWT library or of httpd around it.
 *
 *   bare_verify ALG PUBKEY.pem MESSAGE SIGNATURE ITERATIONS [full|copy|sha256]
 *
 * ALG is RS256 (RSA PKCS#1 v1.5 with SHA-256), ES256 (ECDSA P-256 with SHA-256; SIGNATURE in
 * DER, as EVP wants it) or EdDSA (Ed25519). The key is read once; every iteration then verifies
 * MESSAGE (the signing input of a real benchmark token) and exits non-zero if it does not verify.
 *   full  (default) EVP_MD_CTX_new + EVP_DigestVerifyInit + EVP_DigestVerify + EVP_MD_CTX_free:
 *         the one-shot verification an application does per token
 *   copy  EVP_MD_CTX_copy_ex of a context initialised once, then EVP_DigestVerify: what is left
 *         when the per-key set-up is prepared ahead (informational)
 *   sha256 one EVP_Digest (SHA-256) of MESSAGE, no verification: what a DPoP proof's ath costs
 *         (RFC 9449: the SHA-256 of the access token), the key and signature read but unused
 * The benchmark runs it under callgrind with two iteration counts and takes the difference, so
 * start-up and key loading cancel out.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        goto done;
    }
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    *len = (size_t)n;
done:
    if (f != NULL) {
        fclose(f);
    }
    return buf;
}

static const EVP_MD *digest_of(const char *alg)
{
    if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0) {
        return EVP_sha256();
    }
    return NULL;  /* EdDSA: the algorithm hashes itself */
}

static int verify_full(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *sig, size_t sig_len,
                       const unsigned char *msg, size_t msg_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1
             && EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int digest_once(const unsigned char *msg, size_t msg_len)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int out_len = 0;
    return EVP_Digest(msg, msg_len, out, &out_len, EVP_sha256(), NULL) == 1 && out_len == 32;
}

static int verify_copy(const EVP_MD_CTX *base, const unsigned char *sig, size_t sig_len,
                       const unsigned char *msg, size_t msg_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_MD_CTX_copy_ex(ctx, base) == 1
             && EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 6 ? argv[6] : "full";
    unsigned char *msg, *sig;
    size_t msg_len = 0, sig_len = 0;
    const EVP_MD *md;
    EVP_MD_CTX *base = NULL;
    EVP_PKEY *pkey;
    FILE *f;
    long n;

    if (argc < 6 || (n = strtol(argv[5], NULL, 10)) < 0
        || (strcmp(mode, "full") != 0 && strcmp(mode, "copy") != 0 && strcmp(mode, "sha256") != 0)) {
        fprintf(stderr, "usage: %s RS256|ES256|EdDSA PUBKEY.pem MESSAGE SIGNATURE ITERATIONS [full|copy|sha256]\n",
                argv[0]);
        return 2;
    }
    md = digest_of(argv[1]);
    f = fopen(argv[2], "r");
    pkey = f != NULL ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (f != NULL) {
        fclose(f);
    }
    msg = read_file(argv[3], &msg_len);
    sig = read_file(argv[4], &sig_len);
    if (pkey == NULL || msg == NULL || sig == NULL) {
        fprintf(stderr, "bare_verify: cannot read the key, the message or the signature\n");
        return 2;
    }
    if (strcmp(mode, "copy") == 0) {
        base = EVP_MD_CTX_new();
        if (base == NULL || EVP_DigestVerifyInit(base, NULL, md, NULL, pkey) != 1) {
            fprintf(stderr, "bare_verify: EVP_DigestVerifyInit failed\n");
            return 2;
        }
    }
    for (long i = 0; i < n; i++) {
        int ok = strcmp(mode, "sha256") == 0 ? digest_once(msg, msg_len)
                 : base != NULL ? verify_copy(base, sig, sig_len, msg, msg_len)
                                : verify_full(pkey, md, sig, sig_len, msg, msg_len);
        if (!ok) {
            fprintf(stderr, "bare_verify: %s signature does not verify (iteration %ld)\n", argv[1], i);
            return 1;
        }
    }
    EVP_MD_CTX_free(base);
    EVP_PKEY_free(pkey);
    free(msg);
    free(sig);
    return 0;
}
