/*
 * claims_jws.h - compact JWS (RFC 7515) parsing and signature verification.
 *
 * Promises: the size cap is checked before any work; exactly three segments, each strict
 * base64url, non-empty header and signature; the header is a JSON object parsed from the decoded
 * bytes with duplicate members refused, with a string "alg" naming a supported algorithm
 * ("none" in any case refused), and without "crit", "b64", "enc", "zip" or cty "JWT"; key
 * material in the header (jwk, jku, x5u, x5c, x5t) is never read. Verification runs the
 * algorithm bound to the key, after checking that the header alg is the key's.
 */
#ifndef CLAIMS_JWS_H
#define CLAIMS_JWS_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_keys.h"

#include <jansson.h>

typedef struct claims_jws_t {
    const char *signing_input;       /* header "." payload, pointing into the token */
    apr_size_t signing_input_len;
    json_t *header;                  /* owned by the parse pool */
    claims_alg_t alg;                /* from the header */
    const char *kid;                 /* NULL when absent */
    apr_size_t kid_len;
    const char *typ;                 /* NULL when absent */
    unsigned char *payload;          /* decoded bytes, NUL-terminated */
    apr_size_t payload_len;
    unsigned char *sig;
    apr_size_t sig_len;
} claims_jws_t;

/* Parses a compact JWS of len bytes (no NUL needed); max_len 0 means the default cap. */
claims_status_t claims_jws_parse(apr_pool_t *p, const char *token, apr_size_t len, apr_size_t max_len,
                                 claims_jws_t **out);

/* The payload as a JWT claims set: a JSON object, duplicates refused, from the decoded bytes.
 * The object is released by a cleanup of p. */
claims_status_t claims_jws_claims(apr_pool_t *p, const claims_jws_t *jws, json_t **claims);

/* Verifies the JWS with key: CLAIMS_ERR_NO_KEY when the key is bound to another algorithm,
 * CLAIMS_ERR_SIGNATURE when the signature does not verify. */
claims_status_t claims_jws_verify(const claims_jws_t *jws, const claims_key_t *key);

/* The primitive layer: verifies sig over data with the key's algorithm (exact signature sizes:
 * RSA = modulus length, ECDSA = 2 x coordinate length r||s, HMAC = hash length). */
claims_status_t claims_sig_verify(const claims_key_t *key, const unsigned char *data, apr_size_t len,
                                  const unsigned char *sig, apr_size_t sig_len);

#endif
