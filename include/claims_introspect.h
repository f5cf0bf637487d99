/*
 * claims_introspect.h - opaque (reference) tokens: the RFC 7662 introspection request a
 * resource server sends to its issuer, and the answer, as JSON (RFC 7662) or as a signed JWT
 * (RFC 9701); the client credentials the glue loads for it at configuration time.
 *
 * Promises:
 *  - the request: POST application/x-www-form-urlencoded (claims_fetch_post) with
 *    token=<the token, percent-encoded: every byte but RFC 3986 unreserved ones (A-Z a-z 0-9
 *    - . _ ~) as %XX, so no parameter can be injected and the body holds no NUL>
 *    &token_type_hint=access_token; the client authenticates with
 *      client_secret_basic: Authorization "Basic " base64(id ":" secret), id and secret
 *        form-encoded first (RFC 6749 section 2.3.1 and appendix B: unreserved bytes kept, a
 *        space as '+', every other byte %XX);
 *      client_secret_post: &client_id=...&client_secret=... in the body, encoded as the token;
 *      private_key_jwt (RFC 7523 section 2.2, OpenID Connect Core section 9):
 *        &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer
 *        &client_assertion=<a compact JWS, header {"alg", "kid" when known} (no typ), payload
 *        {"iss": id, "sub": id, "aud": the endpoint (or client->audience), "jti": 128 random
 *        bits base64url, "iat": now, "exp": now + CLAIMS_CLIENT_ASSERTION_TTL}, signed with the
 *        client's key: ECDSA as R||S (RFC 7518 section 3.4), RSA PKCS#1 v1.5, RSA-PSS (salt =
 *        hash length), EdDSA>, a fresh one for every request;
 *    it asks (Accept) for application/json, or for application/token-introspection+jwt;
 *  - the answer is active only when "active" is the JSON boolean true (CL-93); "active" missing
 *    or of another type (the string "true", 1, null) makes the answer malformed
 *    (CLAIMS_ERR_UNAVAILABLE: the endpoint is at fault, not the token; nothing is cached);
 *    false is CLAIMS_ERR_INACTIVE whatever else the answer says;
 *  - an active answer must name the issuer in "iss" when it has that member at all (any other
 *    value, a non-string included, is CLAIMS_ERR_ISSUER); an answer without "iss" came from the
 *    issuer's own endpoint over verified TLS and is taken as the issuer's: "iss" is then set to
 *    the issuer in the claims, so that claims_validate and CLAIMS_ISSUER see it;
 *  - an active answer whose "token_type" is "refresh_token" (any case) is CLAIMS_ERR_TYPE: the
 *    endpoint also introspects refresh tokens (token_type_hint is only a hint), and a refresh
 *    token is no access token;
 *  - its members, "active" left out, are the token's claims, to be validated by the caller as
 *    those of a JWT (claims_validate: exp, nbf, aud, ...; header typ NULL). RFC 7662 makes
 *    "exp" optional: whether an answer without it passes is the caller's policy (exp_optional);
 *  - answers are read with the core's strict reader (claims_json.h: one JSON object, duplicate
 *    members refused, so {"active":false,"active":true} has no second meaning; nesting bounded
 *    by CLAIMS_JSON_MAX_DEPTH) and at most CLAIMS_INTROSPECT_MAX_ANSWER bytes long;
 *  - an RFC 9701 answer is a compact JWS verified with the issuer's keys (claims_verify.h: its
 *    allow-list, kid selection, refresh of a remote set; "alg":"none" never), whose header typ
 *    is token-introspection+jwt (case-insensitive, "application/" prefix allowed), whose "iss"
 *    is the issuer, whose "aud" (string or array) names this client, with "iat" present, not
 *    after now + leeway and not before now - leeway - CLAIMS_INTROSPECT_JWT_MAX_AGE (RFC 9701
 *    has no "exp": the bound keeps a recorded answer from being replayed for long; "exp" and
 *    "nbf" are checked when present); its "token_introspection" member, a JSON object, is then
 *    read as a JSON answer is. Encrypted (JWE) answers are not supported;
 *  - a malformed or unverifiable answer is CLAIMS_ERR_UNAVAILABLE (the endpoint cannot be
 *    relied on: 503), an inactive one CLAIMS_ERR_INACTIVE (401 invalid_token); *why names the
 *    problem as a fixed text: nothing of an answer is ever echoed (CL-59, CL-74);
 *  - the token, the secret and the key never appear in a message.
 * OpenSSL and jansson objects are released by cleanups of the pool they were made in.
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
#define CLAIMS_INTROSPECT_MAX_ANSWER (256 * 1024) /* bytes of an answer the parsers read */
#define CLAIMS_INTROSPECT_JWT_MAX_AGE 300   /* seconds (beyond leeway) a JWT answer's iat may lie
                                             * in the past */
#define CLAIMS_INTROSPECT_MAX_SECRET 4096   /* bytes of a client secret */

typedef enum claims_client_auth_t {
    CLAIMS_AUTH_CLIENT_SECRET_BASIC = 0,
    CLAIMS_AUTH_CLIENT_SECRET_POST,
    CLAIMS_AUTH_PRIVATE_KEY_JWT
} claims_client_auth_t;

/* How this resource server authenticates to the introspection endpoint (configuration). */
typedef struct claims_introspect_client_t {
    const char *client_id;             /* non-empty */
    claims_client_auth_t method;
    const unsigned char *secret;       /* client_secret_basic / _post: any bytes, non-empty */
    apr_size_t secret_len;
    EVP_PKEY *key;                     /* private_key_jwt: the client's private key */
    claims_alg_t alg;                  /* its algorithm, as claims_introspect_client_key_load
                                        * gives it (the header's name: EdDSA or Ed25519 alike) */
    const char *kid;                   /* its kid, or NULL */
    const char *audience;              /* the assertion's aud; NULL: the endpoint URL */
    const char *basic;                 /* client_secret_basic: the Authorization value, made once
                                        * by claims_introspect_client_finish; NULL: made per request */
} claims_introspect_client_t;

/* Once the record is complete (configuration): what every request of it sends the same, made
 * now rather than per request (the Basic value of client_secret_basic). */
void claims_introspect_client_finish(apr_pool_t *p, claims_introspect_client_t *client);

/* One request to send with claims_fetch_post. */
typedef struct claims_introspect_request_t {
    const char *body;                  /* application/x-www-form-urlencoded, NUL-terminated */
    apr_size_t len;
    const char *authorization;         /* the Authorization header value, or NULL */
    const char *accept;                /* CLAIMS_INTROSPECT_JSON or CLAIMS_INTROSPECT_JWT */
} claims_introspect_request_t;

/* Builds the request for token (len bytes, any bytes) to endpoint; jwt: ask for an RFC 9701
 * answer; now: seconds since the epoch (for a client assertion). CLAIMS_ERR_CONFIG when the
 * client record cannot be used (no client id; an unknown method; for client_secret_*, no secret
 * or one over CLAIMS_INTROSPECT_MAX_SECRET bytes; for private_key_jwt, no key, an algorithm that
 * does not fit it, or a client id, kid or audience that is not UTF-8 and so cannot be a JSON
 * string) or there is no endpoint; CLAIMS_ERR_INTERNAL when the random generator or signing
 * fails. */
claims_status_t claims_introspect_request(apr_pool_t *p, const claims_introspect_client_t *client,
                                          const char *endpoint, const char *token, apr_size_t len, int jwt,
                                          double now, claims_introspect_request_t *out);

/* What an answer says. */
typedef struct claims_introspection_t {
    int active;
    json_t *claims;                    /* active: the members but "active", released with the pool */
} claims_introspection_t;

/* Reads an RFC 7662 JSON answer of issuer's endpoint (issuer: the exact identifier).
 * CLAIMS_OK (active), CLAIMS_ERR_INACTIVE, CLAIMS_ERR_ISSUER (an active answer naming another
 * issuer), CLAIMS_ERR_TYPE (an active refresh token) or CLAIMS_ERR_UNAVAILABLE (too large, not
 * one JSON object, "active" missing or not a boolean); *why names the problem (fixed text,
 * NULL with CLAIMS_OK). out->claims is NULL unless CLAIMS_OK. */
claims_status_t claims_introspect_parse_json(apr_pool_t *p, const char *body, apr_size_t len, const char *issuer,
                                             claims_introspection_t *out, const char **why);

/* Reads an RFC 9701 answer (one trailing newline, LF or CRLF, ignored): verified with the keys
 * get_keys gives for issuer (NULL: issuer->keys; as claims_verify does), typ
 * token-introspection+jwt, iss = issuer->iss, aud naming client_id, iat within the bounds
 * above (now and leeway as for claims_validate); then its token_introspection member as
 * claims_introspect_parse_json reads a JSON answer. Every failure of the JWT itself is
 * CLAIMS_ERR_UNAVAILABLE; the member gives the results of claims_introspect_parse_json. */
claims_status_t claims_introspect_parse_jwt(apr_pool_t *p, const char *body, apr_size_t len,
                                            const claims_issuer_t *issuer, claims_keys_fn get_keys, void *baton,
                                            const char *client_id, double now, apr_int64_t leeway,
                                            claims_introspection_t *out, const char **why);

/* Configuration time (ClaimsIntrospectionClient key=FILE [alg=]): reads the client's private
 * key from a PEM file (PKCS#8 "PRIVATE KEY", or traditional "RSA PRIVATE KEY" / "EC PRIVATE
 * KEY"; exactly one private key; other blocks such as "EC PARAMETERS" ignored). Refused, with
 * *err naming the file and the reason (never key material): a file that is not PEM, holds no
 * private key (a public key or certificate only), an encrypted one or two of them; a key type
 * other than RSA, EC P-256/P-384/P-521, Ed25519 or Ed448; a key the core would refuse to verify
 * with (claims_keys.h strength rules: RSA 2048..8192 bits, valid EC point, no weak Ed25519
 * point); an HMAC algorithm (HS*: client_secret_jwt is not supported); an algorithm that does
 * not fit the key; a key that does not verify its own signature. alg UNKNOWN is inferred: an
 * EC key's curve gives ES256/ES384/ES512, an Ed25519 or Ed448 key EdDSA; an RSA key needs alg.
 * *out is freed by a cleanup of p; *alg_out is the algorithm to sign with. CLAIMS_ERR_IO when
 * the file cannot be read, CLAIMS_ERR_KEY otherwise. */
claims_status_t claims_introspect_client_key_load(apr_pool_t *p, const char *path, claims_alg_t alg,
                                                  EVP_PKEY **out, claims_alg_t *alg_out, char **err);

/* Configuration time (ClaimsIntrospectionClient secret=FILE): the file's bytes, one trailing
 * newline (LF or CRLF) dropped; refused when that leaves nothing, more than
 * CLAIMS_INTROSPECT_MAX_SECRET bytes, a NUL byte (a client secret is a string), or a PEM file
 * (a key given as a secret). *bytes is NUL-terminated (not counted in *len). CLAIMS_ERR_IO when
 * the file cannot be read, CLAIMS_ERR_KEY otherwise. */
claims_status_t claims_introspect_secret_load(apr_pool_t *p, const char *path, const unsigned char **bytes,
                                              apr_size_t *len, char **err);

#endif
