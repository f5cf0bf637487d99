/*
 * claims_jwk.h - JWK and JWK Set documents (RFC 7517, RFC 7518 section 6, RFC 8037) read into
 * key material. What is done with a key afterwards - the algorithm it is bound to, its
 * strength, the options of one ClaimsKeyFile or remote set - is claims_keys' (claims_keys.h),
 * which calls this unit; this one knows nothing of it.
 *
 * Promises:
 *  - a document is strict JSON without duplicate members: a JWK, or a JWK Set ("keys": an
 *    array of at most CLAIMS_MAX_KEYS members);
 *  - a JWK is read member by member and refused on the first wrong one: "kty" a string; "kid"
 *    a string without NUL of at most 1024 bytes; "alg", when present, a JWS algorithm we
 *    verify; "use" "sig" and "key_ops" holding "verify" when present; no private members;
 *    RSA n and e minimal Base64urlUInt (no leading zero octet) with e at most 8 bytes; EC
 *    P-256/P-384/P-521 x and y of the curve's exact length and a point on it; OKP Ed25519 or
 *    Ed448 x of the exact length; the first "x5c" certificate, when present, holding the same
 *    key (CL-63); "oct" only when allowed, "k" non-empty base64url;
 *  - a key that is sound but not one to verify with is skipped instead of refused
 *    (claims_jwk_t.skip says why) where the caller asks (CLAIMS_JWK_SKIP_UNUSABLE: an encryption
 *    key by use, key_ops or JWE alg, a signature alg we do not verify, in a set a curve we do not
 *    verify with), and, in a set, always for an unknown kty (RFC 7517 section 5, CL-66);
 *  - a refusal comes with a message naming the key (label, index in the set, kid), never key
 *    material; every allocation and OpenSSL object belongs to the pool given.
 */
#ifndef CLAIMS_JWK_H
#define CLAIMS_JWK_H

#include "claims.h"
#include "claims_alg.h"

#include <jansson.h>
#include <openssl/evp.h>

/* Why a key is skipped rather than refused: a fixed text, safe to print, and the level of its
 * log line (WARNING: a signing key we could use once its algorithm is bound; INFO: a key that
 * is not for us). */
typedef struct claims_jwk_skip_t {
    const char *text;
    claims_log_level_t level;
} claims_jwk_skip_t;

/* Flags of claims_jwk_load. */
#define CLAIMS_JWK_SKIP_UNUSABLE   0x1  /* skip, not refuse, a key not for signatures (see above) */
#define CLAIMS_JWK_ALLOW_SYMMETRIC 0x2  /* read "oct" keys (never for ClaimsKeyFile) */

/* One key of a document as read: skipped (skip set), or exactly one of pkey and secret. */
typedef struct claims_jwk_t {
    const char *label;               /* printable: the document's label, " key #<i>" inside a set,
                                      * " (kid \"...\")" when it has a kid (escaped, bounded) */
    const char *kty;                 /* the JWK's "kty" as given: escape before printing */
    const char *kid;                 /* NULL, or the exact bytes (NUL-free, at most 1024) */
    apr_size_t kid_len;
    claims_alg_t alg;                /* the JWK's "alg"; CLAIMS_ALG_UNKNOWN when it has none */
    EVP_PKEY *pkey;                  /* RSA, EC or OKP public key; freed by a cleanup of the pool */
    const unsigned char *secret;     /* "oct": the bytes of "k" */
    apr_size_t secret_len;
    const claims_jwk_skip_t *skip;   /* NULL, or why this key is not loaded (no pkey, no secret) */
} claims_jwk_t;

/* A key of a JWK Set that was not loaded, and why (for the status page and logs). */
typedef struct claims_key_skipped_t {
    const char *kid;               /* the JWK's own "kid", exact bytes (NUL-free, at most 1024):
                                    * escape before printing as text; NULL when it has none */
    const char *kty;               /* the JWK's "kty", printable and bounded (claims_log_escape) */
    const char *reason;            /* fixed short text, safe to print, e.g. "encryption key (use enc)",
                                    * "no alg: RSA key usable with several algorithms" */
} claims_key_skipped_t;

/* Takes one key read from a document (the caller's policy: binding, strength; claims_keys):
 * CLAIMS_OK when it was added, or, with *skip set, when it is sound but skipped; a refusal
 * (with *err) refuses the document. */
typedef claims_status_t (*claims_jwk_add_fn)(void *baton, apr_pool_t *p, const claims_jwk_t *jwk,
                                             const claims_jwk_skip_t **skip, char **err);

typedef struct claims_jwk_load_t {
    int flags;                       /* CLAIMS_JWK_* */
    claims_jwk_add_fn add;
    void *baton;
    const claims_logger_t *log;      /* NULL, or told of each skipped key, at the reason's level */
    apr_array_header_t *skipped;     /* NULL, or one claims_key_skipped_t * appended (from p) per
                                      * skipped key, whether skipped here or by add */
} claims_jwk_load_t;

/* Reads a JWK or a JWK Set document (label names it in messages) and hands its keys, in the
 * document's order, to how->add. Refused (CLAIMS_ERR_KEY, *err set) at the first key that this
 * unit or add refuses, or when no key was added (every key skipped, or a set without keys: a
 * refresh must not publish an empty key set); what add took before a refusal stays the
 * caller's to undo. */
claims_status_t claims_jwk_load(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                const claims_jwk_load_t *how, char **err);

/* Reads one JWK given as a JSON object (a key a client sent, e.g. a DPoP proof's "jwk"), by
 * the same rules as a key of a document; never a JWK Set ("keys" is just another member here).
 * flags as for claims_jwk_load. CLAIMS_OK with *out filled (a key, or out->skip where flags
 * allow skipping), or CLAIMS_ERR_KEY with *err (may be NULL). */
claims_status_t claims_jwk_read(apr_pool_t *p, json_t *jwk, const char *label, int flags, claims_jwk_t *out,
                                char **err);

#endif
