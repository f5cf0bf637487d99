/*
 * claims_keys.h - trusted verification keys: import, algorithm binding, strength checks, lookup.
 *
 * Promises:
 *  - keys come from PEM SubjectPublicKeyInfo, PEM PKCS#1 RSA public keys, X.509 certificates
 *    (PEM or DER), a JWK or a JWK Set (auto-detected), or, for HMAC only, a secret given
 *    through claims_key_secret(); a PEM or JWK public key is never usable as an HMAC secret;
 *  - every key is bound to exactly one JWS algorithm: the configured one, else the JWK "alg",
 *    else the only algorithm its type allows (EC curve, Ed curve, or the one algorithm of the
 *    key's family in the issuer's allow-list); an ambiguous RSA key without alg is refused, or
 *    skipped in a remote set (the other keys of the set are kept);
 *  - strength: RSA 2048..max bits with an odd e >= 3, EC points on the named curve with exact
 *    coordinate lengths, HMAC secrets at least the hash length, JWK use/key_ops must allow
 *    verification, JWK Sets without duplicate kids or mixed symmetric/asymmetric keys;
 *  - a refusal comes with a message naming the key (file, index, kid), never key material;
 *  - a key of a set that is skipped rather than loaded is reported (opts->skipped) with its kid,
 *    kty and a fixed reason.
 * Keys are immutable once loaded; OpenSSL objects are freed by a cleanup of the load pool.
 */
#ifndef CLAIMS_KEYS_H
#define CLAIMS_KEYS_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_jwk.h"   /* JWK / JWK Set reading; claims_key_skipped_t */

#include <openssl/evp.h>

typedef struct claims_key_t {
    const char *kid;               /* NULL when the key has none */
    apr_size_t kid_len;
    claims_alg_t alg;              /* the one algorithm this key verifies */
    EVP_PKEY *pkey;                /* asymmetric keys; NULL for HMAC */
    const EVP_MD *md;              /* digest prepared once (NULL for EdDSA) */
    EVP_MD_CTX *verify_proto;      /* verification context set up once, copied per token */
    const unsigned char *secret;   /* HMAC keys only */
    apr_size_t secret_len;
    int bits;                      /* key size in bits (RSA modulus, EC/Ed curve, HMAC secret) */
    apr_uint32_t serial;           /* unique per key object in this process (cache identity) */
    const char *label;             /* where it came from, for messages */
} claims_key_t;

typedef struct claims_key_opts_t {
    const char *kid;               /* bind this kid (ClaimsKeyFile kid=); NULL keeps the key's own */
    claims_alg_t alg;              /* bind this alg (ClaimsKeyFile alg=); UNKNOWN: see above */
    claims_alg_set_t allowed;      /* the issuer's allow-list (0 = any), used to bind and check */
    int max_rsa_bits;              /* 0 = CLAIMS_DEFAULT_MAX_RSA_BITS */
    int allow_symmetric;           /* accept "oct" JWKs (never from ClaimsKeyFile) */
    int skip_unusable;             /* remote sets: skip a sound key that is not for signatures
                                    * (use, key_ops, JWE alg), has no algorithm to bind (RSA without
                                    * alg), an alg we do not verify or outside allowed, or a curve we
                                    * do not verify with, instead of refusing the set. A key that
                                    * fails only its algorithm binding is still decoded and checked
                                    * first (a weak or malformed one refuses the set); a set left
                                    * with no key is refused. */
    apr_array_header_t *skipped;   /* NULL, or an array of claims_key_skipped_t *: one is appended
                                    * (allocated from the parse pool) per key skipped, whether for
                                    * skip_unusable or an unknown kty in a set; nothing stays
                                    * appended when the document is refused */
    const claims_logger_t *log;    /* NULL, or told of each skipped key: WARNING for a signing key
                                    * we could use once its algorithm is bound (RSA without alg),
                                    * INFO for the others (encryption keys, unknown kty, curves or
                                    * algorithms we do not verify, algorithms outside allowed) */
} claims_key_opts_t;

/* Parses key material (auto-detected) and appends claims_key_t* to keys. */
claims_status_t claims_keys_parse(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                  const claims_key_opts_t *opts, apr_array_header_t *keys, char **err);

/* One public key a client sent as a JWK object (a DPoP proof's "jwk"): read by claims_jwk_read
 * (no "oct", no private members, no JWK Set), then bound and checked as a configured key is
 * (opts->alg: the header's alg the key must fit; opts->allowed; strength). label names it in
 * *err (may be NULL). CLAIMS_OK with *out from p, else CLAIMS_ERR_KEY. */
claims_status_t claims_key_jwk(apr_pool_t *p, json_t *jwk, const char *label, const claims_key_opts_t *opts,
                               claims_key_t **out, char **err);

/* Reads a file (at most CLAIMS_MAX_KEY_FILE bytes) and parses it as above. */
claims_status_t claims_keys_load_file(apr_pool_t *p, const char *path, const claims_key_opts_t *opts,
                                      apr_array_header_t *keys, char **err);

/* An HMAC key from raw secret bytes (at least the hash length of alg, which must be HS*). */
claims_status_t claims_key_secret(apr_pool_t *p, const unsigned char *secret, apr_size_t len,
                                  claims_alg_t alg, const char *kid, const char *label,
                                  claims_key_t **out, char **err);

/* Reads a secret file: its raw bytes, one trailing newline (LF or CRLF) dropped. */
claims_status_t claims_key_secret_file(apr_pool_t *p, const char *path, claims_alg_t alg, const char *kid,
                                       claims_key_t **out, char **err);

/* Checks that keys (claims_key_t*) can live together in one issuer's set: no duplicate kid,
 * not both symmetric and asymmetric keys. */
claims_status_t claims_keys_check_set(apr_pool_t *p, const apr_array_header_t *keys, char **err);

/* Selects the keys that may verify a token: with a kid, the key with exactly that kid (byte
 * comparison) whose algorithm accepts header_alg, else the kid-less keys bound to it; without a
 * kid, the keys bound to header_alg. At most max (<= CLAIMS_MAX_KID_CANDIDATES) are returned. */
int claims_keys_select(const apr_array_header_t *keys, const char *kid, apr_size_t kid_len,
                       claims_alg_t header_alg, const claims_key_t **out, int max);

#endif
