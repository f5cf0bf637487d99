/*
 * claims_alg.h - the JWS algorithms mod_claims verifies (RFC 7518, RFC 8037, RFC 9864) and
 * what each needs: key family, digest, signature size.
 */
#ifndef CLAIMS_ALG_H
#define CLAIMS_ALG_H

#include "claims.h"

typedef enum claims_alg_t {
    CLAIMS_ALG_UNKNOWN = 0,
    CLAIMS_ALG_RS256, CLAIMS_ALG_RS384, CLAIMS_ALG_RS512,
    CLAIMS_ALG_PS256, CLAIMS_ALG_PS384, CLAIMS_ALG_PS512,
    CLAIMS_ALG_ES256, CLAIMS_ALG_ES384, CLAIMS_ALG_ES512,
    CLAIMS_ALG_ED25519, CLAIMS_ALG_ED448,
    CLAIMS_ALG_EDDSA,   /* header/config name only: matches an Ed25519 or Ed448 key */
    CLAIMS_ALG_HS256, CLAIMS_ALG_HS384, CLAIMS_ALG_HS512,
    CLAIMS_ALG_COUNT
} claims_alg_t;

typedef enum claims_alg_family_t {
    CLAIMS_FAMILY_NONE = 0,
    CLAIMS_FAMILY_RSA,    /* RSASSA-PKCS1-v1_5 */
    CLAIMS_FAMILY_PSS,    /* RSASSA-PSS, MGF1, salt = hash length */
    CLAIMS_FAMILY_EC,     /* ECDSA, r||s */
    CLAIMS_FAMILY_OKP,    /* EdDSA */
    CLAIMS_FAMILY_HMAC
} claims_alg_family_t;

typedef struct claims_alg_info_t {
    claims_alg_t alg;
    const char *name;          /* JWS name, case-sensitive */
    claims_alg_family_t family;
    const char *digest;        /* OpenSSL digest name, NULL for EdDSA */
    apr_size_t hash_len;       /* digest length: HMAC tag and minimum secret, PSS salt */
    const char *curve;         /* JWK crv ("P-256", "Ed25519"), NULL when none */
    apr_size_t coord_len;      /* EC coordinate / Ed key length in bytes */
} claims_alg_info_t;

/* Exact, case-sensitive lookup ("RS256", "EdDSA"); CLAIMS_ALG_UNKNOWN otherwise. */
claims_alg_t claims_alg_from_name(const char *name, apr_size_t len);
const claims_alg_info_t *claims_alg_info(claims_alg_t alg);
const char *claims_alg_name(claims_alg_t alg);

/* Whether a token whose header names header_alg may be verified by a key bound to key_alg:
 * equal, or header "EdDSA" with an Ed25519/Ed448 key. */
int claims_alg_accepts(claims_alg_t key_alg, claims_alg_t header_alg);

/* A set of algorithms (allow-lists); bit i is claims_alg_t i. 0 means "not restricted". */
typedef unsigned int claims_alg_set_t;
#define CLAIMS_ALG_BIT(a) (1u << (unsigned)(a))
int claims_alg_set_allows(claims_alg_set_t set, claims_alg_t key_alg, claims_alg_t header_alg);

#endif
