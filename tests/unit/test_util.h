/*
 * test_util.h - helpers shared by the Check unit tests of the mod_claims core.
 *
 * Every test gets a fresh APR pool (tu_p) from a checked fixture. Keys are generated once per
 * run by tu_keys_init() (in main, before any fork), so signing a test token costs little.
 * Tokens are built and signed here with OpenSSL directly, never with the code under test,
 * so a bug in the core cannot hide itself by being on both sides.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <check.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "claims.h"
#include "claims_alg.h"
#include "claims_keys.h"
#include "claims_verify.h"

/* ------------------------------------------------------------------ suites */

Suite *b64url_suite(void);
Suite *token_suite(void);
Suite *json_suite(void);
Suite *jws_suite(void);
Suite *verify_suite(void);
Suite *cache_suite(void);
Suite *shcache_suite(void);
Suite *keys_suite(void);
Suite *jwk_suite(void);
Suite *validate_suite(void);
Suite *path_match_suite(void);
Suite *export_suite(void);
Suite *store_suite(void);
Suite *ledger_suite(void);
Suite *keyset_suite(void);
Suite *policy_suite(void);
Suite *fetch_suite(void);
Suite *introspect_suite(void);
Suite *dpop_suite(void);
Suite *metadata_suite(void);
Suite *problem_suite(void);
Suite *vectors_suite(void);

/* ------------------------------------------------------------------ pools, test cases */

/* The pool of the running test, created and destroyed by the checked fixture of tu_tcase(). */
extern apr_pool_t *tu_p;

/* A test case with the per-test pool fixture and the given timeout in seconds (0: default). */
TCase *tu_tcase(const char *name, double timeout);

/* Number of elements of a static table. */
#define TU_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------ keys generated per run */

typedef struct tu_keyring_t {
    EVP_PKEY *rsa;        /* RSA 2048, issuer A */
    EVP_PKEY *rsa_b;      /* RSA 2048, issuer B / attacker */
    EVP_PKEY *rsa_1024;   /* too weak */
    EVP_PKEY *rsa_3072;   /* for the max_rsa_bits check */
    EVP_PKEY *ec256;
    EVP_PKEY *ec256_b;
    EVP_PKEY *ec384;
    EVP_PKEY *ec521;
    EVP_PKEY *ed25519;
    EVP_PKEY *ed448;
} tu_keyring_t;

extern tu_keyring_t tu_keys;

/* Generates tu_keys (call once, before running the suites) and frees them. */
void tu_keys_init(void);
void tu_keys_free(void);

/* A fresh EC key (cheap enough to make several inside one test); freed with the pool. */
EVP_PKEY *tu_gen_ec(apr_pool_t *p, const char *curve);

/* A 32..64-byte HMAC secret that is plainly not a public key. */
extern const unsigned char tu_secret[64];

/* ------------------------------------------------------------------ encodings */

/* Unpadded base64url of len bytes / of a C string (independent of claims_b64url_encode). */
char *tu_b64n(apr_pool_t *p, const void *buf, apr_size_t len);
char *tu_b64(apr_pool_t *p, const char *s);

/* Hex to bytes (ck_abort on odd length or a non-hex digit); *len set. */
unsigned char *tu_hex(apr_pool_t *p, const char *hex, apr_size_t *len);

/* "b64(header).b64(payload)" of two JSON texts (or any bytes given as C strings). */
char *tu_signing_input(apr_pool_t *p, const char *header, const char *payload);

/* input + "." + base64url(sig). */
char *tu_join(apr_pool_t *p, const char *input, const unsigned char *sig, apr_size_t sig_len);

/* ------------------------------------------------------------------ signing */

/* Signature of data with alg: RSA PKCS#1 v1.5, RSA-PSS (salt = pss_salt, or the hash length
 * when pss_salt < 0), ECDSA as r||s of the curve's coordinate size, EdDSA, or HMAC with
 * secret. The result is allocated from p. */
unsigned char *tu_sign(apr_pool_t *p, claims_alg_t alg, EVP_PKEY *key, const unsigned char *secret,
                       apr_size_t secret_len, const void *data, apr_size_t len, int pss_salt,
                       apr_size_t *sig_len);

/* A complete compact JWS of header and payload (JSON texts) signed with key or secret. */
char *tu_jws(apr_pool_t *p, claims_alg_t alg, EVP_PKEY *key, const unsigned char *secret,
             apr_size_t secret_len, const char *header, const char *payload);

/* ------------------------------------------------------------------ key export */

char *tu_pem_spki(apr_pool_t *p, EVP_PKEY *key);
char *tu_pem_pkcs1(apr_pool_t *p, EVP_PKEY *key);      /* "RSA PUBLIC KEY" */
char *tu_pem_private(apr_pool_t *p, EVP_PKEY *key);    /* "PRIVATE KEY" */
unsigned char *tu_der_spki(apr_pool_t *p, EVP_PKEY *key, apr_size_t *len);
/* A self-signed certificate for key: PEM text, and DER when der != NULL. */
char *tu_cert_pem(apr_pool_t *p, EVP_PKEY *key, unsigned char **der, apr_size_t *der_len);
/* Standard base64 (with padding) of the certificate's DER, as in a JWK "x5c". */
char *tu_cert_x5c(apr_pool_t *p, EVP_PKEY *key);

/* The public JWK of key as JSON text; extra (may be NULL) is appended inside the object,
 * e.g. tu_jwk(p, k, "\"alg\":\"RS256\",\"kid\":\"a\""). */
char *tu_jwk(apr_pool_t *p, EVP_PKEY *key, const char *extra);
/* Base64url of the RSA modulus (minimal big-endian). */
char *tu_rsa_n(apr_pool_t *p, EVP_PKEY *key);

/* ------------------------------------------------------------------ loading keys through the core */

/* claims_keys_parse of a C string into a new array. */
claims_status_t tu_parse(apr_pool_t *p, const char *text, const claims_key_opts_t *opts,
                         apr_array_header_t **keys, char **err);
/* Same, asserting success; returns the first key. */
claims_key_t *tu_key(apr_pool_t *p, const char *text, const claims_key_opts_t *opts);
/* Options binding alg (everything else default). */
claims_key_opts_t tu_opts(claims_alg_t alg);

/* ------------------------------------------------------------------ issuers and tokens to verify */

/* Payloads of issuers "https://issuer.a" and "https://issuer.b", expiring in 2100. */
#define TU_PAYLOAD_A "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"aud\":\"api\",\"exp\":4102444800}"
#define TU_PAYLOAD_B "{\"iss\":\"https://issuer.b\",\"sub\":\"bob\",\"aud\":\"api\",\"exp\":4102444800}"

/* A trusted issuer record with an allow-list (0: any) and no keys yet, in the test's pool. */
claims_issuer_t *tu_issuer(const char *iss, claims_alg_set_t algs);
/* Loads the public JWK of key (alg and optional kid bound in the JWK) into the issuer. */
claims_key_t *tu_issuer_jwk(claims_issuer_t *is, EVP_PKEY *key, const char *alg, const char *kid);
/* A JWS header naming alg, and kid unless NULL. */
char *tu_hdr(const char *alg, const char *kid);
/* claims_verify of tok where issuer a (and b unless NULL) are trusted; out may be NULL. */
claims_status_t tu_verify2(const char *tok, const claims_issuer_t *a, const claims_issuer_t *b,
                           claims_verified_t *out);

/* ------------------------------------------------------------------ conformance vectors */

/* $CLAIMS_VECTORS, else $CLAIMS_SRC_DIR/../shared/vectors, else relative to this source file. */
/* A JSON value parsed from text (duplicates refused), released with the test's pool. */
json_t *tu_json(const char *text);

const char *tu_vectors_dir(void);
int tu_vectors_present(void);
/* Loads dir/relpath as JSON; ck_abort when missing or unparsable. The caller json_decref()s. */
json_t *tu_vector_json(const char *relpath);

/* ------------------------------------------------------------------ logging */

/* A logger that appends every message (copied) to an array of char * in pool p. */
typedef struct tu_logsink_t {
    claims_logger_t logger;
    apr_array_header_t *lines;
    apr_pool_t *p;
} tu_logsink_t;

void tu_logsink_init(tu_logsink_t *sink, apr_pool_t *p);

#endif
