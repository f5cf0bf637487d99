/*
 * claims_introspect.h - opaque (reference) tokens: the RFC 7662 introspection request a
 * resource server sends to its issuer, and the answer, as JSON (RFC 7662) or as a signed JWT
 * (RFC 9701).
 *
 * Promises:
 *  - the request: POST application/x-www-form-urlencoded with token=<the token, percent-
 *    encoded: no parameter can be injected> and token_type_hint=access_token; the client
 *    authenticates with client_secret_basic (RFC 6749 2.3.1: id and secret form-encoded, then
 *    base64), client_secret_post, or private_key_jwt (RFC 7523: a fresh JWS signed with the
 *    client's key: iss = sub = client id, aud = the endpoint, a random jti, a lifetime of 60 s);
 *    it asks for JSON, or for application/token-introspection+jwt;
 *  - the answer is active only when "active" is the JSON boolean true (CL-93); an active answer
 *    must name the issuer in "iss" when it names one at all (an answer without "iss" came from
 *    the issuer's own endpoint over verified TLS and is taken as the issuer's); its members,
 *    "active" left out, are the token's claims, validated by the caller as those of a JWT
 *    (exp, nbf, aud, ...);
 *  - an RFC 9701 answer is a JWS verified with the issuer's keys (by the rules of
 *    claims_verify.h), whose header typ is token-introspection+jwt, whose "iss" is the issuer
 *    and whose "aud" names this client; the claims are its "token_introspection" member;
 *  - a malformed answer is CLAIMS_ERR_UNAVAILABLE (the endpoint cannot be relied on: 503), an
 *    inactive one CLAIMS_ERR_INACTIVE (401 invalid_token); nothing in an answer is echoed
 *    into a message but fixed texts and escaped, bounded names.
 */
#ifndef CLAIMS_INTROSPECT_H
#define CLAIMS_INTROSPECT_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_verify.h"

#include <jansson.h>
#include <openssl/evp.h>

#define CLAIMS_INTROSPECT_JSON "application/json"
#define CLAIMS_INTROSPECT_JWT "application/token-introspection+jwt"
#define CLAIMS_CLIENT_ASSERTION_TTL 60      /* seconds a private_key_jwt assertion lives */

typedef enum claims_client_auth_t {
    CLAIMS_AUTH_CLIENT_SECRET_BASIC = 0,
    CLAIMS_AUTH_CLIENT_SECRET_POST,
    CLAIMS_AUTH_PRIVATE_KEY_JWT
} claims_client_auth_t;

/* How this resource server authenticates to the introspection endpoint (configuration). */
typedef struct claims_introspect_client_t {
    const char *client_id;
    claims_client_auth_t method;
    const unsigned char *secret;       /* client_secret_basic / _post */
    apr_size_t secret_len;
    EVP_PKEY *key;                     /* private_key_jwt: the client's private key */
    claims_alg_t alg;                  /* its algorithm */
    const char *kid;                   /* its kid, or NULL */
} claims_introspect_client_t;

/* One request to send. */
typedef struct claims_introspect_request_t {
    const char *body;                  /* application/x-www-form-urlencoded */
    apr_size_t len;
    const char *authorization;         /* the Authorization header value, or NULL */
    const char *accept;                /* CLAIMS_INTROSPECT_JSON or CLAIMS_INTROSPECT_JWT */
} claims_introspect_request_t;

/* Builds the request for token (len bytes) to endpoint; jwt: ask for an RFC 9701 answer; now:
 * seconds since the epoch (for a client assertion). CLAIMS_ERR_INTERNAL when signing fails. */
claims_status_t claims_introspect_request(apr_pool_t *p, const claims_introspect_client_t *client,
                                          const char *endpoint, const char *token, apr_size_t len, int jwt,
                                          double now, claims_introspect_request_t *out);

/* What an answer says. */
typedef struct claims_introspection_t {
    int active;
    json_t *claims;                    /* active: the members but "active", released with the pool */
} claims_introspection_t;

/* Reads an RFC 7662 JSON answer of issuer's endpoint. CLAIMS_OK (active), CLAIMS_ERR_INACTIVE,
 * CLAIMS_ERR_ISSUER (an active answer naming another issuer) or CLAIMS_ERR_UNAVAILABLE (not a
 * JSON object, "active" missing or not a boolean); *why names the problem (fixed text). */
claims_status_t claims_introspect_parse_json(apr_pool_t *p, const char *body, apr_size_t len, const char *issuer,
                                             claims_introspection_t *out, const char **why);

/* Reads an RFC 9701 answer: verified with the keys get_keys gives for issuer (as claims_verify
 * does), typ token-introspection+jwt, iss = issuer->iss, aud naming client_id, iat not in the
 * future beyond leeway; then its token_introspection member as claims_introspect_parse_json
 * reads a JSON answer. */
claims_status_t claims_introspect_parse_jwt(apr_pool_t *p, const char *body, apr_size_t len,
                                            const claims_issuer_t *issuer, claims_keys_fn get_keys, void *baton,
                                            const char *client_id, double now, apr_int64_t leeway,
                                            claims_introspection_t *out, const char **why);

#endif
