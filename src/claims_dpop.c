/*
 * claims_dpop.c - DPoP proofs, RFC 7638 thumbprints, cnf binding, server nonces; see
 * claims_dpop.h. The URL normal form of htu is claims_dpop_url.c's; the token's cnf and client
 * certificates are claims_dpop_bind.c's.
 *
 * A proof is read by the token's own parser (claims_jws_parse: the header rules of CL-10 ..
 * CL-36 apply unchanged) and its jwk by the configured keys' own reader (claims_key_jwk), so
 * a proof is never held to looser rules than a token.
 */
#include "claims_dpop.h"
#include "claims_b64url.h"
#include "claims_jws.h"
#include "claims_keys.h"
#include "claims_validate.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ reasons */

/* Only characters an RFC 6750 error_description may hold (no '"', no '\'). */
static const char *const fail_text[CLAIMS_DPOP_FAIL_COUNT] = {
    [CLAIMS_DPOP_OK] = "DPoP proof is valid",
    [CLAIMS_DPOP_TOO_LARGE] = "DPoP proof is too large",
    [CLAIMS_DPOP_MALFORMED] = "DPoP proof is not a well-formed JWS",
    [CLAIMS_DPOP_TYP] = "DPoP proof typ is not dpop+jwt",
    [CLAIMS_DPOP_ALG] = "DPoP proof algorithm is not allowed",
    [CLAIMS_DPOP_JWK_MISSING] = "DPoP proof has no jwk header",
    [CLAIMS_DPOP_JWK_PRIVATE] = "DPoP proof jwk holds a private key",
    [CLAIMS_DPOP_JWK] = "DPoP proof jwk is not an acceptable key for its algorithm",
    [CLAIMS_DPOP_CLAIMS] = "DPoP proof payload is not a JSON object",
    [CLAIMS_DPOP_JTI] = "DPoP proof jti is missing or invalid",
    [CLAIMS_DPOP_HTM] = "DPoP proof htm does not match the request method",
    [CLAIMS_DPOP_HTU] = "DPoP proof htu does not match the request URL",
    [CLAIMS_DPOP_IAT] = "DPoP proof iat is missing or invalid",
    [CLAIMS_DPOP_IAT_OLD] = "DPoP proof is too old",
    [CLAIMS_DPOP_IAT_FUTURE] = "DPoP proof is issued in the future",
    [CLAIMS_DPOP_ATH_MISSING] = "DPoP proof has no ath for the access token",
    [CLAIMS_DPOP_ATH] = "DPoP proof ath does not match the access token",
    [CLAIMS_DPOP_SIGNATURE] = "DPoP proof signature is invalid",
    [CLAIMS_DPOP_NONCE_MISSING] = "DPoP proof has no nonce",
    [CLAIMS_DPOP_NONCE_STALE] = "DPoP proof nonce is invalid or stale",
};

const char *claims_dpop_fail_text(claims_dpop_fail_t f)
{
    if ((int)f < 0 || f >= CLAIMS_DPOP_FAIL_COUNT) {
        return "DPoP proof is invalid";
    }
    return fail_text[f];
}

/* ------------------------------------------------------------------ hashing */

/* base64url(SHA-256(data)): CLAIMS_JKT_LEN characters from p, or NULL when OpenSSL fails. */
static char *sha256_b64url(apr_pool_t *p, const void *data, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return NULL;
    }
    return claims_b64url_encode(p, md, mdlen);
}

/* Equal strings, compared in constant time once the lengths agree (lengths are not secret). */
static int same_text(const char *a, apr_size_t alen, const char *b, apr_size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* ------------------------------------------------------------------ RFC 7638 thumbprints */

/* A required member for the canonical text: a string of base64url characters (b64 set) or of
 * printable ASCII that JSON writes as it is. */
static const char *tp_member(const json_t *jwk, const char *name, int b64)
{
    json_t *v = json_object_get(jwk, name);
    const char *s;
    apr_size_t len;

    if (!json_is_string(v) || (len = json_string_length(v)) == 0) {
        return NULL;
    }
    s = json_string_value(v);
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = b64 ? ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
                        || c == '_')
                     : (c >= 0x20 && c < 0x7f && c != '"' && c != '\\');
        if (!ok) {
            return NULL;
        }
    }
    return s;
}

/* The required members of each key type in lexicographic order, "kty" among them. */
typedef struct tp_layout_t {
    const char *kty;
    const char *members[4];
    const char *why;
} tp_layout_t;

static const tp_layout_t tp_layouts[] = {
    {"EC", {"crv", "kty", "x", "y"}, "EC JWK needs string crv, x and y"},
    {"RSA", {"e", "kty", "n", NULL}, "RSA JWK needs string e and n"},
    {"OKP", {"crv", "kty", "x", NULL}, "OKP JWK needs string crv and x"},
};

/* The canonical JSON text of jwk under layout l, or NULL (*why set). */
static const char *tp_text(apr_pool_t *p, const json_t *jwk, const tp_layout_t *l, const char **why)
{
    const char *text = "{";
    for (int i = 0; i < 4 && l->members[i] != NULL; i++) {
        const char *name = l->members[i];
        const char *v = strcmp(name, "kty") == 0 ? l->kty : tp_member(jwk, name, strcmp(name, "crv") != 0);
        if (v == NULL) {
            *why = l->why;
            return NULL;
        }
        text = apr_pstrcat(p, text, i > 0 ? ",\"" : "\"", name, "\":\"", v, "\"", NULL);
    }
    return apr_pstrcat(p, text, "}", NULL);
}

claims_status_t claims_jwk_thumbprint(apr_pool_t *p, const json_t *jwk, char **b64url_sha256, const char **err)
{
    const char *kty = json_is_object(jwk) ? tp_member(jwk, "kty", 0) : NULL;
    const char *text = NULL, *why = "JWK kty is not EC, RSA or OKP";
    char *out = NULL;

    for (int i = 0; kty != NULL && i < (int)(sizeof(tp_layouts) / sizeof(tp_layouts[0])); i++) {
        if (strcmp(kty, tp_layouts[i].kty) == 0) {
            text = tp_text(p, jwk, &tp_layouts[i], &why);
        }
    }
    if (text == NULL || (out = sha256_b64url(p, text, strlen(text))) == NULL) {
        if (err != NULL) {
            *err = text == NULL ? why : "SHA-256 failed";
        }
        return CLAIMS_ERR_KEY;
    }
    *b64url_sha256 = out;
    return CLAIMS_OK;
}

/* ------------------------------------------------------------------ server nonces */

#define NONCE_TAG_LEN 16
#define NONCE_RAW_LEN (8 + NONCE_TAG_LEN)
#define NONCE_CHARS 32
static const char nonce_purpose[] = "mod_claims DPoP nonce v1";

static apr_uint64_t step_number(apr_time_t now, apr_interval_time_t step)
{
    if (step <= 0) {
        step = CLAIMS_DPOP_DEFAULT_NONCE_STEP;
    }
    return now > 0 ? (apr_uint64_t)now / (apr_uint64_t)step : 0;
}

char *claims_dpop_nonce_make(apr_pool_t *p, const claims_store_secret_t *s, apr_time_t now, apr_interval_time_t step)
{
    unsigned char raw[NONCE_RAW_LEN], tag[CLAIMS_STORE_MAC_LEN];
    apr_uint64_t n = step_number(now, step);

    for (int i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(n >> (56 - 8 * i));
    }
    if (s == NULL || claims_store_mac(s, nonce_purpose, raw, 8, tag) != 0) {
        return NULL;
    }
    memcpy(raw + 8, tag, NONCE_TAG_LEN);
    return claims_b64url_encode(p, raw, sizeof(raw));
}

int claims_dpop_nonce_check(const claims_store_secret_t *s, const char *nonce, apr_size_t len, apr_time_t now,
                            apr_interval_time_t step)
{
    unsigned char raw[CLAIMS_B64URL_DECODED_MAX(NONCE_CHARS)], tag[CLAIMS_STORE_MAC_LEN];
    apr_size_t n = 0;
    apr_uint64_t got = 0, cur = step_number(now, step);

    if (s == NULL || nonce == NULL || len != NONCE_CHARS || claims_b64url_decode_to(nonce, len, raw, &n) != 0
        || n != NONCE_RAW_LEN) {
        return CLAIMS_DPOP_NONCE_BAD;
    }
    for (int i = 0; i < 8; i++) {
        got = got << 8 | raw[i];
    }
    if (got != cur && (cur == 0 || got != cur - 1)) {
        return CLAIMS_DPOP_NONCE_BAD;  /* stale, or from the future */
    }
    if (claims_store_mac(s, nonce_purpose, raw, 8, tag) != 0
        || CRYPTO_memcmp(tag, raw + 8, NONCE_TAG_LEN) != 0) {
        return CLAIMS_DPOP_NONCE_BAD;
    }
    return got == cur ? CLAIMS_DPOP_NONCE_CURRENT : CLAIMS_DPOP_NONCE_PREVIOUS;
}

/* ------------------------------------------------------------------ proof keys of one process */

typedef struct keyslot_t {
    unsigned char digest[32];        /* SHA-256 of the proof's header segment */
    EVP_PKEY *pkey;                  /* the cache's own reference; NULL: empty */
    claims_alg_t alg;                /* the algorithm the key was bound to */
    char jkt[CLAIMS_JKT_LEN + 1];
} keyslot_t;

struct claims_dpop_keys_t {
    keyslot_t *slots;
    apr_size_t nslots;
    apr_uint64_t hits, misses;
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
};

static void keys_lock(claims_dpop_keys_t *k)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(k->mutex);
#else
    (void)k;
#endif
}

static void keys_unlock(claims_dpop_keys_t *k)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(k->mutex);
#else
    (void)k;
#endif
}

static apr_status_t keys_cleanup(void *data)
{
    claims_dpop_keys_t *k = data;
    for (apr_size_t i = 0; i < k->nslots; i++) {
        EVP_PKEY_free(k->slots[i].pkey);
        k->slots[i].pkey = NULL;
    }
    return APR_SUCCESS;
}

claims_dpop_keys_t *claims_dpop_keys_create(apr_pool_t *p, apr_size_t slots)
{
    claims_dpop_keys_t *k = apr_pcalloc(p, sizeof(*k));
    k->nslots = slots > 0 ? slots : CLAIMS_DPOP_KEYS_DEFAULT_SLOTS;
    k->slots = apr_pcalloc(p, k->nslots * sizeof(keyslot_t));
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&k->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
#endif
    apr_pool_cleanup_register(p, k, keys_cleanup, apr_pool_cleanup_null);
    return k;
}

void claims_dpop_keys_stats(claims_dpop_keys_t *k, apr_uint64_t *hits, apr_uint64_t *misses)
{
    keys_lock(k);
    if (hits != NULL) {
        *hits = k->hits;
    }
    if (misses != NULL) {
        *misses = k->misses;
    }
    keys_unlock(k);
}

static keyslot_t *keys_slot(claims_dpop_keys_t *k, const unsigned char digest[32])
{
    apr_uint64_t h = 0;
    for (int i = 0; i < 8; i++) {
        h = h << 8 | digest[i];
    }
    return &k->slots[h % k->nslots];
}

static apr_status_t pkey_release(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* The entry of digest copied to *hit, with a reference of its key that p releases. */
static int keys_find(claims_dpop_keys_t *k, apr_pool_t *p, const unsigned char digest[32], keyslot_t *hit)
{
    keyslot_t *s;
    int found;

    keys_lock(k);
    s = keys_slot(k, digest);
    found = s->pkey != NULL && memcmp(s->digest, digest, 32) == 0 && EVP_PKEY_up_ref(s->pkey) == 1;
    if (found) {
        *hit = *s;
        k->hits++;
    }
    else {
        k->misses++;
    }
    keys_unlock(k);
    if (found) {
        apr_pool_cleanup_register(p, hit->pkey, pkey_release, apr_pool_cleanup_null);
    }
    return found;
}

static void keys_put(claims_dpop_keys_t *k, const unsigned char digest[32], const claims_key_t *key, const char *jkt)
{
    EVP_PKEY *old;
    keyslot_t *s;

    if (EVP_PKEY_up_ref(key->pkey) != 1) {
        return;
    }
    keys_lock(k);
    s = keys_slot(k, digest);
    old = s->pkey;
    memcpy(s->digest, digest, 32);
    s->pkey = key->pkey;
    s->alg = key->alg;
    memcpy(s->jkt, jkt, CLAIMS_JKT_LEN + 1);
    keys_unlock(k);
    EVP_PKEY_free(old);  /* a request still using it holds its own reference */
}

/* A key for claims_sig_verify around a cached public key (its context is set up per proof). */
static claims_key_t *key_of_slot(apr_pool_t *p, const keyslot_t *s)
{
    claims_key_t *key = apr_pcalloc(p, sizeof(*key));
    const char *digest = claims_alg_info(s->alg)->digest;
    key->alg = s->alg;
    key->pkey = s->pkey;
    key->md = digest != NULL ? EVP_get_digestbyname(digest) : NULL;
    key->label = "DPoP proof jwk";
    return key;
}

/* ------------------------------------------------------------------ proofs */

void claims_dpop_expect_init(claims_dpop_expect_t *e)
{
    memset(e, 0, sizeof(*e));
    e->window = CLAIMS_DPOP_DEFAULT_WINDOW;
    e->leeway = CLAIMS_DPOP_DEFAULT_LEEWAY;
    e->algs = CLAIMS_DPOP_ALGS;
    e->max_len = CLAIMS_DPOP_DEFAULT_MAX;
    e->nonce_step = CLAIMS_DPOP_DEFAULT_NONCE_STEP;
}

/* One proof being checked. */
typedef struct proof_t {
    apr_pool_t *p;
    const claims_dpop_expect_t *e;
    claims_dpop_result_t *out;
    claims_alg_set_t algs;           /* e->algs within CLAIMS_DPOP_ALGS */
    claims_jws_t *jws;
    json_t *jwk;
    json_t *claims;
    const char *jkt;                 /* the jwk's thumbprint, once its key is known */
    int internal;                    /* a hash could not be computed */
} proof_t;

/* Whether the header's alg may be tried under the allow-list; the key's bound alg is checked
 * again once the jwk is read ("EdDSA" then names Ed25519 or Ed448). */
static int header_alg_allowed(claims_alg_set_t set, claims_alg_t a)
{
    const claims_alg_info_t *ai = claims_alg_info(a);
    const claims_alg_set_t ed = CLAIMS_ALG_BIT(CLAIMS_ALG_ED25519) | CLAIMS_ALG_BIT(CLAIMS_ALG_ED448);

    if (ai->family == CLAIMS_FAMILY_NONE || ai->family == CLAIMS_FAMILY_HMAC) {
        return 0;
    }
    if (set & CLAIMS_ALG_BIT(a)) {
        return 1;
    }
    if (a == CLAIMS_ALG_EDDSA) {
        return (set & ed) != 0;
    }
    return (CLAIMS_ALG_BIT(a) & ed) != 0 && (set & CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA)) != 0;
}

/* typ as a media type: case-insensitive, "application/" optional (RFC 7515 section 4.1.9). */
static int typ_is_dpop(const char *typ)
{
    if (typ == NULL) {
        return 0;
    }
    if (strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    return strcasecmp(typ, "dpop+jwt") == 0;
}

static int jwk_has_private(const json_t *jwk)
{
    static const char *const names[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL};
    for (int i = 0; names[i] != NULL; i++) {
        if (json_object_get(jwk, names[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* The compact JWS and its header: typ, alg, jwk. */
static claims_dpop_fail_t read_header(proof_t *pr, const char *proof, apr_size_t len, apr_size_t max)
{
    claims_status_t st = claims_jws_parse(pr->p, proof, len, max, &pr->jws);

    if (st == CLAIMS_ERR_TOO_LARGE) {
        return CLAIMS_DPOP_TOO_LARGE;
    }
    if (st == CLAIMS_ERR_ALG || st == CLAIMS_ERR_ALG_NONE) {
        return CLAIMS_DPOP_ALG;
    }
    if (st != CLAIMS_OK) {
        return CLAIMS_DPOP_MALFORMED;
    }
    pr->out->alg = pr->jws->alg;
    if (!typ_is_dpop(pr->jws->typ)) {
        return CLAIMS_DPOP_TYP;
    }
    if (!header_alg_allowed(pr->algs, pr->jws->alg)) {
        return CLAIMS_DPOP_ALG;
    }
    pr->jwk = json_object_get(pr->jws->header, "jwk");
    if (!json_is_object(pr->jwk)) {
        return CLAIMS_DPOP_JWK_MISSING;
    }
    return jwk_has_private(pr->jwk) ? CLAIMS_DPOP_JWK_PRIVATE : CLAIMS_DPOP_OK;
}

static claims_dpop_fail_t check_jti_htm_htu(proof_t *pr)
{
    json_t *jti = json_object_get(pr->claims, "jti");
    json_t *htm = json_object_get(pr->claims, "htm");
    json_t *htu = json_object_get(pr->claims, "htu");

    if (!json_is_string(jti) || json_string_length(jti) == 0 || json_string_length(jti) > CLAIMS_DPOP_MAX_JTI) {
        return CLAIMS_DPOP_JTI;
    }
    pr->out->jti = json_string_value(jti);
    pr->out->jti_len = json_string_length(jti);
    if (!json_is_string(htm) || json_string_length(htm) != strlen(pr->e->htm)
        || memcmp(json_string_value(htm), pr->e->htm, json_string_length(htm)) != 0) {
        return CLAIMS_DPOP_HTM;
    }
    if (!json_is_string(htu) || !claims_dpop_htu_match(pr->p, json_string_value(htu), pr->e->htu)) {
        return CLAIMS_DPOP_HTU;
    }
    return CLAIMS_DPOP_OK;
}

static claims_dpop_fail_t check_iat(proof_t *pr)
{
    double iat = 0, now = (double)pr->e->now / (double)APR_USEC_PER_SEC;
    int window = pr->e->window > 0 ? pr->e->window : CLAIMS_DPOP_DEFAULT_WINDOW;

    if (claims_numeric_date(pr->claims, "iat", &iat) != 1) {
        return CLAIMS_DPOP_IAT;
    }
    if (iat < now - window) {
        return CLAIMS_DPOP_IAT_OLD;
    }
    if (iat > now + pr->e->leeway) {
        return CLAIMS_DPOP_IAT_FUTURE;
    }
    /* a NumericDate is in [0, 253402300799] (claims_numeric_date): truncation is floor, and the
     * module needs no libm */
    pr->out->iat = (apr_time_t)(iat * (double)APR_USEC_PER_SEC);
    pr->out->expires = pr->out->iat + apr_time_from_sec(window);
    return CLAIMS_DPOP_OK;
}

/* ath = base64url(SHA-256(the access token's ASCII)), RFC 9449 section 4.2. */
static claims_dpop_fail_t check_ath(proof_t *pr)
{
    json_t *ath = json_object_get(pr->claims, "ath");
    const char *want;

    if (pr->e->token == NULL) {
        return ath == NULL ? CLAIMS_DPOP_OK : CLAIMS_DPOP_ATH;
    }
    if (ath == NULL) {
        return CLAIMS_DPOP_ATH_MISSING;
    }
    if ((want = sha256_b64url(pr->p, pr->e->token, pr->e->token_len)) == NULL) {
        pr->internal = 1;
        return CLAIMS_DPOP_ATH;
    }
    if (!json_is_string(ath) || !same_text(json_string_value(ath), json_string_length(ath), want, CLAIMS_JKT_LEN)) {
        return CLAIMS_DPOP_ATH;
    }
    return CLAIMS_DPOP_OK;
}

static claims_dpop_fail_t read_claims(proof_t *pr)
{
    claims_dpop_fail_t f;
    json_t *nonce;

    if (claims_jws_claims(pr->p, pr->jws, &pr->claims) != CLAIMS_OK) {
        return CLAIMS_DPOP_CLAIMS;
    }
    if ((f = check_jti_htm_htu(pr)) != CLAIMS_DPOP_OK || (f = check_iat(pr)) != CLAIMS_DPOP_OK
        || (f = check_ath(pr)) != CLAIMS_DPOP_OK) {
        return f;
    }
    nonce = json_object_get(pr->claims, "nonce");
    if (nonce != NULL && !json_is_string(nonce)) {
        return pr->e->nonce_required ? CLAIMS_DPOP_NONCE_STALE : CLAIMS_DPOP_CLAIMS;
    }
    pr->out->nonce = nonce != NULL ? json_string_value(nonce) : NULL;
    return CLAIMS_DPOP_OK;
}

/* The jwk as a public key bound to the header's alg, and its thumbprint: from the process's
 * cache when this header was seen before, else imported (and then cached). */
static claims_dpop_fail_t proof_key(proof_t *pr, claims_key_t **key)
{
    claims_dpop_keys_t *cache = pr->e->keys;
    const char *hdr = pr->jws->signing_input;
    apr_size_t hlen = (apr_size_t)((const char *)memchr(hdr, '.', pr->jws->signing_input_len) - hdr);
    unsigned char digest[32];
    unsigned int dlen = 0;
    claims_key_opts_t opts;
    char *jkt = NULL;
    keyslot_t hit;

    if (cache != NULL && EVP_Digest(hdr, hlen, digest, &dlen, EVP_sha256(), NULL) != 1) {
        cache = NULL;
    }
    if (cache != NULL && keys_find(cache, pr->p, digest, &hit)) {
        *key = key_of_slot(pr->p, &hit);
        pr->jkt = apr_pstrdup(pr->p, hit.jkt);
        return CLAIMS_DPOP_OK;
    }
    memset(&opts, 0, sizeof(opts));
    opts.alg = pr->jws->alg;
    opts.allowed = pr->algs;
    if (claims_key_jwk(pr->p, pr->jwk, "DPoP proof jwk", &opts, key, NULL) != CLAIMS_OK
        || claims_jwk_thumbprint(pr->p, pr->jwk, &jkt, NULL) != CLAIMS_OK) {
        return CLAIMS_DPOP_JWK;
    }
    pr->jkt = jkt;
    if (cache != NULL) {
        keys_put(cache, digest, *key, jkt);
    }
    return CLAIMS_DPOP_OK;
}

/* The signature, made by the jwk's key, with an algorithm of the allow-list. */
static claims_dpop_fail_t check_signature(proof_t *pr)
{
    claims_key_t *key = NULL;
    claims_dpop_fail_t f = proof_key(pr, &key);

    if (f != CLAIMS_DPOP_OK) {
        return f;
    }
    /* the import limited the binding to the allow-list already; a cached key was imported
     * under another location's list, so it is checked here ("EdDSA" and Ed25519/Ed448) */
    if (!claims_alg_set_allows(pr->algs, key->alg, pr->jws->alg)) {
        return CLAIMS_DPOP_JWK;
    }
    return claims_jws_verify(pr->jws, key) == CLAIMS_OK ? CLAIMS_DPOP_OK : CLAIMS_DPOP_SIGNATURE;
}

static claims_dpop_fail_t check_nonce(proof_t *pr)
{
    const claims_dpop_expect_t *e = pr->e;
    const char *n = pr->out->nonce;
    int r;

    if (!e->nonce_required) {
        return CLAIMS_DPOP_OK;
    }
    if (n == NULL) {
        return CLAIMS_DPOP_NONCE_MISSING;
    }
    r = e->nonce_check != NULL ? e->nonce_check(e->nonce_baton, n, strlen(n))
                               : claims_dpop_nonce_check(e->nonce_secret, n, strlen(n), e->now, e->nonce_step);
    if (r != CLAIMS_DPOP_NONCE_CURRENT && r != CLAIMS_DPOP_NONCE_PREVIOUS) {
        return CLAIMS_DPOP_NONCE_STALE;
    }
    pr->out->nonce_renew = r == CLAIMS_DPOP_NONCE_PREVIOUS;
    return CLAIMS_DPOP_OK;
}

static claims_status_t refuse(claims_dpop_result_t *out, claims_dpop_fail_t f)
{
    apr_time_t keep_alg = out->alg;
    memset(out, 0, sizeof(*out));
    out->alg = keep_alg;
    out->fail = f;
    out->why = claims_dpop_fail_text(f);
    out->use_nonce = f == CLAIMS_DPOP_NONCE_MISSING || f == CLAIMS_DPOP_NONCE_STALE;
    return CLAIMS_ERR_DPOP;
}

/* What the caller must give: a method, a URL, a leeway of its own and a way to check nonces. */
static int expect_usable(const claims_dpop_expect_t *e)
{
    return e != NULL && e->htm != NULL && e->htu != NULL && e->leeway >= 0
        && (!e->nonce_required || e->nonce_check != NULL || e->nonce_secret != NULL);
}

claims_status_t claims_dpop_verify(apr_pool_t *p, const char *proof, apr_size_t len, const claims_dpop_expect_t *e,
                                   claims_dpop_result_t *out)
{
    proof_t pr;
    claims_dpop_fail_t f;
    apr_size_t max;

    memset(out, 0, sizeof(*out));
    if (!expect_usable(e)) {
        return CLAIMS_ERR_CONFIG;
    }
    memset(&pr, 0, sizeof(pr));
    pr.p = p;
    pr.e = e;
    pr.out = out;
    pr.algs = (e->algs != 0 ? e->algs : CLAIMS_DPOP_ALGS) & CLAIMS_DPOP_ALGS;
    max = e->max_len != 0 ? e->max_len : CLAIMS_DPOP_DEFAULT_MAX;
    if (proof == NULL) {
        return refuse(out, CLAIMS_DPOP_MALFORMED);
    }
    if (len > max) {
        return refuse(out, CLAIMS_DPOP_TOO_LARGE);
    }
    f = read_header(&pr, proof, len, max);
    if (f == CLAIMS_DPOP_OK) {
        f = read_claims(&pr);
    }
    if (f == CLAIMS_DPOP_OK) {
        f = check_signature(&pr);
    }
    if (f == CLAIMS_DPOP_OK) {
        f = check_nonce(&pr);
    }
    if (pr.internal) {
        memset(out, 0, sizeof(*out));
        return CLAIMS_ERR_INTERNAL;
    }
    if (f != CLAIMS_DPOP_OK) {
        return refuse(out, f);
    }
    out->jkt = pr.jkt;
    return CLAIMS_OK;
}
