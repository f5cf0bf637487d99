/*
 * fuzz_common.h - what the fuzz harnesses and the seed generator share: a fixed set of test keys
 * derived deterministically at start-up (so committed seed tokens stay valid), their public forms
 * (JWK, PEM, DER), signing, and the names of the test issuers and kids.
 *
 * Nothing here is part of mod_claims; the keys are test keys derived from public labels.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "claims.h"
#include "claims_alg.h"

#include <apr_pools.h>
#include <openssl/evp.h>
#include <stddef.h>

/* Issuers the token harness trusts (see fuzz_jws.c). */
/* A harness invariant (a SECURITY.md promise, not just "no crash"): abort with where it broke,
 * so libFuzzer keeps the input. */
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s: invariant failed at line %d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

#define FZ_ISS_PUBLIC     "https://issuer.example"      /* RSA, EC, Ed keys */
#define FZ_ISS_HMAC       "https://hmac.example"        /* HS256/384/512 secrets */
#define FZ_ISS_RESTRICTED "https://restricted.example"  /* allow-list PS256 + EdDSA only */
#define FZ_AUDIENCE       "api://fuzz"
#define FZ_NOW            1750000000.0                 /* the fixed "now" of claims_validate */
/* What a DPoP proof must match in fuzz_dpop.c (seeds: gen_seeds.c). */
#define FZ_DPOP_HTM       "POST"
#define FZ_DPOP_HTU       "https://rs.example/api/items"
#define FZ_DPOP_TOKEN     "fuzz-access-token.eyJzdWIiOiJhbGljZSJ9.c2ln"

typedef struct fz_keys_t {
    EVP_PKEY *rsa;                 /* RSA-2048, e = 65537 */
    EVP_PKEY *p256, *p384, *p521;  /* EC */
    EVP_PKEY *ed25519, *ed448;
    unsigned char hs256[32], hs384[48], hs512[64];
} fz_keys_t;

/* Fails hard (abort with a message) on any error: a harness without its keys is useless. */
void fz_die(const char *what);

/* apr_initialize() once, plus a process-lifetime pool. */
apr_pool_t *fz_global_pool(void);

/* The test keys, derived on first use (about 0.2 s: two 1024-bit primes are searched). */
const fz_keys_t *fz_keys(void);

/* The key that signs alg (HS*: NULL, use fz_secret), and the HMAC secret for HS*. */
EVP_PKEY *fz_key_for(const fz_keys_t *k, claims_alg_t alg);
const unsigned char *fz_secret(const fz_keys_t *k, claims_alg_t alg, size_t *len);

/* Unpadded base64url, allocated from p. */
char *fz_b64url(apr_pool_t *p, const unsigned char *in, size_t len);

/* Signature of data for alg in JWS form (r||s for ECDSA); 0 on success. sig needs 1024 bytes. */
int fz_sign(const fz_keys_t *k, claims_alg_t alg, const void *data, size_t len,
            unsigned char *sig, size_t *sig_len);

/* header_json "." payload_json as a signed compact JWS. */
char *fz_token(apr_pool_t *p, const fz_keys_t *k, claims_alg_t alg, const char *header_json,
               const char *payload_json);

/* Public JWK of pkey: members kty/crv/n/e/x/y, then kid and alg when not NULL, then extra
 * (raw JSON members without the leading comma, or NULL). */
char *fz_jwk(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, const char *alg, const char *extra);
/* oct JWK of a secret. */
char *fz_jwk_oct(apr_pool_t *p, const unsigned char *secret, size_t len, const char *kid, const char *alg);

/* SubjectPublicKeyInfo as PEM text / DER bytes; PKCS#1 RSAPublicKey PEM; a self-signed
 * certificate (PEM or DER) holding pkey, signed by the Ed25519 test key (deterministic). */
char *fz_pem_spki(apr_pool_t *p, EVP_PKEY *pkey);
unsigned char *fz_der_spki(apr_pool_t *p, EVP_PKEY *pkey, size_t *len);
char *fz_pem_rsa_pkcs1(apr_pool_t *p, EVP_PKEY *rsa);
unsigned char *fz_cert(apr_pool_t *p, const fz_keys_t *k, EVP_PKEY *pkey, int pem, size_t *len);

/* A NUL-terminated copy of data (stops at the first NUL byte, as a C string would). */
char *fz_cstr(apr_pool_t *p, const unsigned char *data, size_t size);

#endif
