/*
 * claims_dpop.h - sender-constrained tokens: DPoP proofs (RFC 9449), JWK thumbprints
 * (RFC 7638), the token's "cnf" binding (RFC 9449 section 6, RFC 8705 section 3), client
 * certificate thumbprints (RFC 8705, RFC 9440 Client-Cert) and stateless server nonces
 * (SECURITY.md CL-95 .. CL-99). Implemented by src/claims_dpop.c (proofs, thumbprints, nonces,
 * the key cache), claims_dpop_url.c (htu) and claims_dpop_bind.c (cnf, client certificates).
 *
 * What the core does and what it leaves to the glue:
 *  - the core checks one proof against what the caller expects (method, URL, time, token,
 *    nonce) and says who made it (the jwk's thumbprint); it keeps no state: remembering jti
 *    values (replay, CL-97) is the glue's, with an atomic insert, and only after CLAIMS_OK;
 *  - the expected URL is built from what httpd itself knows (canonical scheme, name, port and
 *    the request-line path), never from client headers such as Host or X-Forwarded-*;
 *  - every refusal of a proof is CLAIMS_ERR_DPOP with a fixed reason (claims_dpop_fail_t) whose
 *    text is safe for a log line and an RFC 6750 error_description; a missing or stale nonce
 *    is told apart (use_nonce) so that the glue can answer error="use_dpop_nonce" with a fresh
 *    DPoP-Nonce (RFC 9449 section 8).
 *
 * Decisions (see README and the unit tests):
 *  - typ: "dpop+jwt" compared ASCII case-insensitively (a media type, RFC 7515 section 4.1.9,
 *    RFC 2045), also with the "application/" prefix RFC 7515 says a recipient must assume; the
 *    same rule as a token's typ (claims_validate.h). Nothing else.
 *  - iat: accepted in [now - window, now + leeway]; defaults 60 s and 5 s. A proof is thus
 *    usable for at most window + leeway seconds after it was first seen: result.expires says
 *    until when its jti must be remembered.
 *  - jti: a string of 1 .. CLAIMS_DPOP_MAX_JTI (256) bytes; RFC 9449 asks for 96 bits of
 *    randomness, which is not checkable: the length bounds the replay store's records.
 *  - algorithms: every asymmetric JWS algorithm the core verifies (RS256/384/512,
 *    PS256/384/512, ES256/384/512, EdDSA, Ed25519, Ed448) unless restricted; HMAC and "none"
 *    never, whatever the allow-list says. RSA keys are allowed, with the strength rules of
 *    configured keys (2048 .. CLAIMS_DEFAULT_MAX_RSA_BITS bits, odd e >= 3).
 *  - the jwk is imported by claims_key_jwk() (claims_keys.h): one public JWK, read by the same
 *    code as a configured JWK (claims_jwk.h: exact coordinate lengths, point on the curve,
 *    minimal RSA integers, Ed25519 small-order points refused), bound to the header's alg
 *    (an ES256 proof needs a P-256 key, EdDSA an Ed25519 or Ed448 key, RS* and PS* an RSA key;
 *    a jwk "alg" member must agree).
 */
#ifndef CLAIMS_DPOP_H
#define CLAIMS_DPOP_H

#include "claims.h"
#include "claims_alg.h"
#include "claims_store.h"

#include <apr_time.h>
#include <jansson.h>

#define CLAIMS_DPOP_DEFAULT_WINDOW  60      /* seconds a proof's iat may lie in the past */
#define CLAIMS_DPOP_DEFAULT_LEEWAY  5       /* seconds it may lie in the future (clock skew) */
#define CLAIMS_DPOP_DEFAULT_MAX     8192    /* bytes of a compact proof (an RSA-8192 jwk fits) */
#define CLAIMS_DPOP_MAX_JTI         256     /* bytes of a proof's jti */
#define CLAIMS_DPOP_MAX_URL         8192    /* bytes of an htu or an expected URL */
#define CLAIMS_JKT_LEN              43      /* characters of a base64url SHA-256 thumbprint */
#define CLAIMS_DPOP_DEFAULT_NONCE_STEP apr_time_from_sec(60)

/* Every asymmetric algorithm the core verifies: the default allow-list of proofs. */
#define CLAIMS_DPOP_ALGS                                                                           \
    (CLAIMS_ALG_BIT(CLAIMS_ALG_RS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_RS384) | CLAIMS_ALG_BIT(CLAIMS_ALG_RS512) \
     | CLAIMS_ALG_BIT(CLAIMS_ALG_PS256) | CLAIMS_ALG_BIT(CLAIMS_ALG_PS384) | CLAIMS_ALG_BIT(CLAIMS_ALG_PS512) \
     | CLAIMS_ALG_BIT(CLAIMS_ALG_ES256) | CLAIMS_ALG_BIT(CLAIMS_ALG_ES384) | CLAIMS_ALG_BIT(CLAIMS_ALG_ES512) \
     | CLAIMS_ALG_BIT(CLAIMS_ALG_ED25519) | CLAIMS_ALG_BIT(CLAIMS_ALG_ED448) | CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA))

/* ------------------------------------------------------------------ RFC 7638 thumbprints */

/* The RFC 7638 thumbprint of a public JWK: base64url(SHA-256) of its required members only,
 * in lexicographic order, without whitespace: EC {"crv","kty","x","y"}, RSA {"e","kty","n"},
 * OKP {"crv","kty","x"}. Other members (alg, kid, use, ...) do not count. Refused
 * (CLAIMS_ERR_KEY, *err a fixed text) when jwk is not an object, kty is not one of those three,
 * a required member is missing or not a string, x/y/n/e hold a character outside the base64url
 * alphabet or are empty, or crv holds a character that JSON would escape (so the canonical
 * text is the members' bytes as they are). It does not check that the key is sound: a jwk a
 * proof was verified with was (claims_dpop_verify). *b64url_sha256: CLAIMS_JKT_LEN characters
 * from p. err may be NULL. */
claims_status_t claims_jwk_thumbprint(apr_pool_t *p, const json_t *jwk, char **b64url_sha256, const char **err);

/* ------------------------------------------------------------------ htu (RFC 9449 4.3, RFC 3986 6.2) */

/* The URL of this request as the server knows it: scheme "://" host [":" port] path, in the
 * normal form of claims_dpop_htu_normalize. scheme: "http" or "https" (any case); host: the
 * server's canonical name (a name, an IPv4 address, or an IPv6 address with or without its
 * brackets); port <= 0 or the scheme's default: none written; path: the path of the request
 * line as the client sent it, still percent-encoded (e.g. r->parsed_uri.path, not the decoded
 * r->uri), NULL or "" meaning "/"; anything from a '?' or '#' on is dropped.
 * CLAIMS_ERR_REQUEST when these do not make an http(s) URL this unit accepts (an odd path or
 * name): a proof cannot be checked for that request. */
claims_status_t claims_dpop_htu(apr_pool_t *p, const char *scheme, const char *host, int port, const char *path,
                                char **out);

/* The normal form used to compare htu values (RFC 3986 sections 6.2.2 and 6.2.3):
 *  - an absolute "http://" or "https://" URL only, scheme in any case, written lowercase;
 *  - authority: no userinfo ('@' refused); host a reg-name of [A-Za-z0-9-._~] (no percent
 *    escapes), written lowercase, a trailing dot kept ("host." differs from "host"); or an IPv6
 *    literal "[...]" of hex digits, ':' and '.' (no zone id, no IPvFuture), lowercase, compared
 *    as text; port decimal 1..65535 (at most 5 digits), dropped when it is the scheme's
 *    default (80, 443) or empty ("host:");
 *  - path: empty becomes "/"; percent escapes must be '%' and two hex digits: an escaped
 *    unreserved character (ALPHA DIGIT - . _ ~) is decoded, any other escape written with
 *    uppercase hex ("%2f" -> "%2F", which stays escaped); dot segments removed (RFC 3986
 *    section 5.2.4, after decoding, so "%2E%2E" counts); empty segments kept ("a//b");
 *  - query and fragment: dropped (RFC 9449 section 4.3, check 9), after the same character check;
 *  - refused: more than CLAIMS_DPOP_MAX_URL bytes, any byte outside the URI characters of
 *    RFC 3986 (controls, space, non-ASCII, '"', '<', '>', '\\', '^', '`', '{', '|', '}'), '['
 *    or ']' outside an IPv6 literal, a second '#'.
 * Returns CLAIMS_OK with *out from p, or CLAIMS_ERR_REQUEST. */
claims_status_t claims_dpop_htu_normalize(apr_pool_t *p, const char *url, apr_size_t len, char **out);

/* 1 when proof_htu and expected are both accepted by claims_dpop_htu_normalize and have the
 * same normal form, else 0. */
int claims_dpop_htu_match(apr_pool_t *p, const char *proof_htu, const char *expected);

/* ------------------------------------------------------------------ stateless server nonces */

/* claims_dpop_nonce_check answers, and the convention of a nonce callback: */
#define CLAIMS_DPOP_NONCE_BAD      0   /* not ours, garbage, or stale */
#define CLAIMS_DPOP_NONCE_CURRENT  1   /* made in the current time step */
#define CLAIMS_DPOP_NONCE_PREVIOUS 2   /* made in the previous step: accepted, send a fresh one */

/* A server nonce: base64url(counter || tag) of 8 + 16 bytes (32 characters), where counter is
 * now / step as a 64-bit big-endian number and tag the first 16 bytes of HMAC-SHA-256 over a
 * fixed label and the counter, keyed by claims_store_mac() with the secret every server of the
 * fleet shares (ClaimsDPoPNonceSecret; claims_store_secret_random() for one server). Every
 * client gets the same nonce within one step; without the secret the next one cannot be made.
 * step <= 0: CLAIMS_DPOP_DEFAULT_NONCE_STEP. NULL only when OpenSSL fails. */
char *claims_dpop_nonce_make(apr_pool_t *p, const claims_store_secret_t *s, apr_time_t now, apr_interval_time_t step);

/* Whether nonce (len bytes) was made by claims_dpop_nonce_make with the same secret and step,
 * in the step of now (CLAIMS_DPOP_NONCE_CURRENT) or the one before (CLAIMS_DPOP_NONCE_PREVIOUS):
 * a nonce lives between one and two steps. Anything else, including a nonce from a later step,
 * another secret or not exactly 32 strict base64url characters, is CLAIMS_DPOP_NONCE_BAD. The
 * tag is compared in constant time. */
int claims_dpop_nonce_check(const claims_store_secret_t *s, const char *nonce, apr_size_t len, apr_time_t now,
                            apr_interval_time_t step);

/* ------------------------------------------------------------------ proofs (RFC 9449 section 4.3) */

/* The keys of recent proofs, for one process: a client signs every proof with the same key and
 * sends the same header, and importing its jwk (decoding, curve and strength checks, binding)
 * costs more than verifying the signature. An entry is found by the SHA-256 of the proof's
 * exact header segment (identical bytes: the same typ, alg and jwk, so the same import), and
 * holds the imported public key and its thumbprint; the allow-list and the signature are
 * checked on every proof all the same. Only keys that import passed are kept. Bounded (slots
 * entries, a newer key replaces the one in its slot); safe for concurrent threads: a key in use
 * by one request stays valid while another replaces it. Freed by a cleanup of p. */
typedef struct claims_dpop_keys_t claims_dpop_keys_t;

#define CLAIMS_DPOP_KEYS_DEFAULT_SLOTS 1024

/* slots 0: CLAIMS_DPOP_KEYS_DEFAULT_SLOTS. NULL when a mutex cannot be made. */
claims_dpop_keys_t *claims_dpop_keys_create(apr_pool_t *p, apr_size_t slots);

/* Hits and misses so far (either may be NULL). */
void claims_dpop_keys_stats(claims_dpop_keys_t *k, apr_uint64_t *hits, apr_uint64_t *misses);

/* A nonce check of the caller's: returns one of CLAIMS_DPOP_NONCE_* for nonce (len bytes). */
typedef int (*claims_dpop_nonce_fn)(void *baton, const char *nonce, apr_size_t len);

/* What the request says a proof must match. claims_dpop_expect_init sets the defaults. */
typedef struct claims_dpop_expect_t {
    const char *htm;                 /* the request method, compared exactly (case-sensitive) */
    const char *htu;                 /* the request URL (claims_dpop_htu) */
    apr_time_t now;
    int window;                      /* seconds iat may lie in the past; <= 0: the default */
    int leeway;                      /* seconds iat may lie in the future, as given (>= 0) */
    claims_alg_set_t algs;           /* allow-list; 0: CLAIMS_DPOP_ALGS. Intersected with
                                      * CLAIMS_DPOP_ALGS: HS* bits never allow anything */
    const char *token;               /* the access token presented with the proof, or NULL: then
                                      * a proof with "ath" is refused */
    apr_size_t token_len;
    int nonce_required;              /* ClaimsDPoPNonce On: a proof needs a valid nonce */
    claims_dpop_nonce_fn nonce_check;/* checks the nonce when set ... */
    void *nonce_baton;
    const claims_store_secret_t *nonce_secret;  /* ... else claims_dpop_nonce_check with this */
    apr_interval_time_t nonce_step;  /* <= 0: CLAIMS_DPOP_DEFAULT_NONCE_STEP */
    apr_size_t max_len;              /* bytes of the proof; 0: CLAIMS_DPOP_DEFAULT_MAX */
    claims_dpop_keys_t *keys;        /* NULL, or the process's cache of proof keys */
} claims_dpop_expect_t;

/* Zeroes e, then sets window, leeway, algs, max_len and nonce_step to their defaults. */
void claims_dpop_expect_init(claims_dpop_expect_t *e);

/* Why a proof was refused; the text (claims_dpop_fail_text) is fixed and printable. */
typedef enum claims_dpop_fail_t {
    CLAIMS_DPOP_OK = 0,
    CLAIMS_DPOP_TOO_LARGE,           /* longer than max_len */
    CLAIMS_DPOP_MALFORMED,           /* not one compact JWS with strict base64url and JSON, or a
                                      * header rule of tokens broken (crit, b64, zip, ...) */
    CLAIMS_DPOP_TYP,                 /* typ is not dpop+jwt */
    CLAIMS_DPOP_ALG,                 /* alg none, symmetric, unknown or not in the allow-list */
    CLAIMS_DPOP_JWK_MISSING,         /* no jwk header member, or not an object */
    CLAIMS_DPOP_JWK_PRIVATE,         /* the jwk holds d, p, q, dp, dq, qi, oth or k */
    CLAIMS_DPOP_JWK,                 /* the jwk is malformed, weak, or does not fit alg */
    CLAIMS_DPOP_CLAIMS,              /* the payload is not a JSON object */
    CLAIMS_DPOP_JTI,                 /* jti missing, not a string, empty or too long */
    CLAIMS_DPOP_HTM,                 /* htm missing or not the request method */
    CLAIMS_DPOP_HTU,                 /* htu missing, malformed or not this request's URL */
    CLAIMS_DPOP_IAT,                 /* iat missing or not a NumericDate */
    CLAIMS_DPOP_IAT_OLD,             /* iat before now - window */
    CLAIMS_DPOP_IAT_FUTURE,          /* iat after now + leeway */
    CLAIMS_DPOP_ATH_MISSING,         /* a token was presented, the proof has no ath */
    CLAIMS_DPOP_ATH,                 /* ath not a string, not the token's hash, or no token */
    CLAIMS_DPOP_SIGNATURE,           /* the signature was not made by the jwk */
    CLAIMS_DPOP_NONCE_MISSING,       /* a nonce is required and the proof has none: use_nonce */
    CLAIMS_DPOP_NONCE_STALE,         /* the nonce is not (or no longer) valid: use_nonce */
    CLAIMS_DPOP_FAIL_COUNT
} claims_dpop_fail_t;

const char *claims_dpop_fail_text(claims_dpop_fail_t f);

/* What a proof said. On CLAIMS_OK every field is set (nonce may be NULL); on a refusal only
 * fail, why and use_nonce are meaningful. Strings are from p. */
typedef struct claims_dpop_result_t {
    claims_dpop_fail_t fail;
    const char *why;                 /* claims_dpop_fail_text(fail); NULL on CLAIMS_OK */
    int use_nonce;                   /* NONCE_MISSING or NONCE_STALE, and nothing else wrong:
                                      * answer error="use_dpop_nonce" with a fresh DPoP-Nonce */
    int nonce_renew;                 /* the nonce was of the previous step: send a fresh one */
    claims_alg_t alg;                /* the header alg */
    const char *jkt;                 /* RFC 7638 thumbprint of the jwk (CLAIMS_JKT_LEN chars) */
    const char *jti;                 /* exact bytes, NUL-free */
    apr_size_t jti_len;
    apr_time_t iat;
    apr_time_t expires;              /* iat + window: after this the proof is refused anyway, so
                                      * its jti needs remembering until then (key the replay
                                      * record by jkt and jti, e.g. claims_store_id) */
    const char *nonce;               /* the proof's nonce, NULL when it has none */
} claims_dpop_result_t;

/* Checks one DPoP proof (len bytes, no NUL needed) per RFC 9449 section 4.3, in this order:
 * size; one compact JWS under the header rules of tokens (claims_jws.h: strict base64url,
 * strict JSON without duplicate members, no crit/b64/enc/zip/nested JWT, alg not none); typ;
 * alg asymmetric and allowed; jwk an object without private members; the payload a JSON
 * object with jti, htm (exact), htu (claims_dpop_htu_match), iat (a NumericDate inside the
 * window), ath (exactly base64url(SHA-256(token)) when a token is given, absent otherwise);
 * the jwk imported as a public key bound to alg (claims_key_jwk, or found in e->keys); the
 * signature verified with it; the nonce when required; then the jwk's thumbprint. Members jku, x5u, x5c, kid of the
 * header are never used. A nonce present but not required is reported, not checked.
 * Returns CLAIMS_OK (out filled), CLAIMS_ERR_DPOP (out->fail, out->why), CLAIMS_ERR_CONFIG
 * when e lacks htm or htu, has a negative leeway, or requires a nonce with no way to check
 * it, or CLAIMS_ERR_INTERNAL when a hash cannot be computed. */
claims_status_t claims_dpop_verify(apr_pool_t *p, const char *proof, apr_size_t len, const claims_dpop_expect_t *e,
                                   claims_dpop_result_t *out);

/* ------------------------------------------------------------------ token binding (cnf) */

#define CLAIMS_CNF_NONE 0            /* the token has no cnf: a bearer token */
#define CLAIMS_CNF_JKT  1            /* bound to a DPoP key (cnf.jkt) */
#define CLAIMS_CNF_X5T  2            /* bound to a client certificate (cnf["x5t#S256"]) */

/* Checks a verified token's (or an introspection answer's) cnf against what this request
 * presented: jkt, the thumbprint of a DPoP proof verified for this request (NULL when the token
 * came without one, e.g. as Bearer: RFC 9449 section 7.2); x5t, the x5t#S256 thumbprint of
 * this connection's client certificate (NULL when there is none).
 *  - no cnf: CLAIMS_OK, *kind = CLAIMS_CNF_NONE (whether an unbound token may come with a
 *    proof is the caller's policy: ClaimsDPoP Required);
 *  - cnf must be a non-empty object whose members are only "jkt" and "x5t#S256", each a
 *    string; every member present must be satisfied (both: the proof and the certificate);
 *    equality is byte-exact, compared in constant time;
 *  - anything else (a cnf that is not an object, an empty object, a member the module does not
 *    understand, a member that is not a string, a binding without its proof or certificate, a
 *    different thumbprint): CLAIMS_ERR_BINDING (CL-95, CL-99).
 * *kind (may be NULL): CLAIMS_CNF_* bits of the members found, set also on a refusal. */
claims_status_t claims_cnf_check(const json_t *claims, const char *jkt, const char *x5t, int *kind);

/* Why a request's sender constraint was refused beyond the checks of a proof itself (those
 * are claims_dpop_fail_t): fixed printable texts for a log line, an RFC 6750
 * error_description and an RFC 9457 detail. */
typedef enum claims_binding_why_t {
    CLAIMS_BIND_NO_PROOF = 0,         /* Authorization: DPoP without a DPoP header */
    CLAIMS_BIND_TWO_PROOFS,           /* more than one DPoP header (RFC 9449 4.3 check 1) */
    CLAIMS_BIND_URL,                  /* this request's URL makes no htu */
    CLAIMS_BIND_REPLAYED,             /* the proof's jti was seen within its window */
    CLAIMS_BIND_CNF_UNKNOWN,          /* a cnf this module does not understand */
    CLAIMS_BIND_NEEDS_PROOF,          /* a cnf.jkt token without the DPoP scheme and a proof */
    CLAIMS_BIND_NEEDS_CERT,           /* a cnf x5t#S256 token without a client certificate */
    CLAIMS_BIND_OTHER_KEY,            /* bound to another key (or key and certificate) */
    CLAIMS_BIND_OTHER_CERT,           /* bound to another certificate */
    CLAIMS_BIND_UNBOUND,              /* a proof came with a token that is not DPoP-bound */
    CLAIMS_BIND_REQUIRED,             /* ClaimsDPoP Required and the token is not DPoP-bound */
    CLAIMS_BIND_COUNT
} claims_binding_why_t;

const char *claims_binding_text(claims_binding_why_t w);

/* ------------------------------------------------------------------ client certificates (RFC 8705, RFC 9440) */

/* x5t#S256 of a certificate: base64url(SHA-256(der)), CLAIMS_JKT_LEN characters. The bytes are
 * hashed as given (the caller holds a certificate: mod_ssl's, or claims_client_cert_parse's).
 * NULL only when OpenSSL fails. */
char *claims_x5t_s256(apr_pool_t *p, const unsigned char *der, apr_size_t len);

/* The same from PEM text (mod_ssl's SSL_CLIENT_CERT): exactly one "CERTIFICATE" block whose
 * content is one DER certificate and nothing else, optional whitespace around it.
 * CLAIMS_OK with *out, or CLAIMS_ERR_REQUEST. */
claims_status_t claims_x5t_s256_pem(apr_pool_t *p, const char *pem, apr_size_t len, char **out);

#define CLAIMS_CLIENT_CERT_MAX 16384  /* bytes of a Client-Cert header value */

/* The certificate of an RFC 9440 Client-Cert header value: an RFC 8941 Byte Sequence, ':'
 * standard base64 (with its '=' padding, unused bits zero) ':', optional spaces around it,
 * no parameters; the bytes must be exactly one DER X.509 certificate. At most
 * CLAIMS_CLIENT_CERT_MAX bytes. CLAIMS_OK with *der (from p), or CLAIMS_ERR_REQUEST. Whether
 * the header may be believed (it came from a configured proxy) is the caller's. */
claims_status_t claims_client_cert_parse(apr_pool_t *p, const char *value, apr_size_t len, unsigned char **der,
                                         apr_size_t *der_len);

#endif
