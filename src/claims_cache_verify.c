/*
 * claims_cache_verify.c - verification through the caches (claims_verify_token): the
 * per-process level first, by exact bytes; on a miss, verification where the shared level
 * stands in for a signature it has seen verified under the same key material; what was
 * verified afresh goes to the shared level (or, without one, to this process's). See
 * claims_cache.h and claims_shcache.h.
 */
#include "claims_cache_int.h"
#include "claims_token.h"
#include "claims_validate.h"

#include <string.h>

/* The signature step of one verification through cache c (claims_sig_check_fn). */
typedef struct sig_step_t {
    claims_cache_t *c;
    claims_shcache_t *level;           /* NULL: none, or the token does not fit in it */
    const char *token;
    apr_size_t len;
    apr_uint64_t hash;                 /* the shared level's hash of the token */
    double now;
    int looked, found;                 /* the level was consulted; it holds the token */
    unsigned char found_id[CLAIMS_SHCACHE_KEY_ID_LEN];
    const claims_key_t *vouched;       /* the key the level's record stood in for */
} sig_step_t;

/* Whether the shared level holds the token verified under key's material (looked up once per
 * verification, on its first candidate key). */
static int level_vouches(sig_step_t *s, const claims_jws_t *jws, const claims_key_t *key)
{
    unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN];
    if (!s->looked) {
        claims_shcache_form_t form;
        claims_shcache_form(jws, &form);
        s->looked = 1;
        s->found = claims_shcache_find(s->level, s->hash, &form, s->now, s->found_id);
    }
    return s->found && claims_alg_accepts(key->alg, jws->alg) && claims_cache_key_id(s->c, key, id)
        && memcmp(id, s->found_id, CLAIMS_SHCACHE_KEY_ID_LEN) == 0;
}

static claims_status_t sig_step(void *baton, const claims_jws_t *jws, const claims_key_t *key)
{
    sig_step_t *s = baton;
    if (s->level != NULL && level_vouches(s, jws, key)) {
        s->vouched = key;
        return CLAIMS_OK;
    }
    if (!claims_alg_accepts(key->alg, jws->alg)) {
        return CLAIMS_ERR_NO_KEY;      /* as claims_jws_verify: no signature computed */
    }
    claims_cache_count_verification(s->c);
    return claims_jws_verify(jws, key);
}

/* A refusal of a token that is not a b64token is a malformed request (see claims_cache.h). */
static claims_status_t refusal(claims_status_t st, const char *token, apr_size_t len)
{
    return st != CLAIMS_OK && !claims_token_is_b64token(token, len) ? CLAIMS_ERR_REQUEST : st;
}

static int key_is_current(const apr_array_header_t *keys, const claims_key_t *key, apr_uint32_t serial)
{
    for (int i = 0; keys != NULL && i < keys->nelts; i++) {
        const claims_key_t *k = APR_ARRAY_IDX(keys, i, const claims_key_t *);
        if (k == key && k->serial == serial) {
            return 1;
        }
    }
    return 0;
}

/* The per-process level: CLAIMS_OK with out filled from a hit, CLAIMS_ERR_ISSUER for a token
 * cached where its iss is not trusted here, CLAIMS_NO_TOKEN for "verify it". */
static claims_status_t from_entry(const claims_verifier_t *v, apr_pool_t *p, apr_uint64_t hash, const char *token,
                                  apr_size_t len, double now, claims_verified_t *out, const claims_cached_t **cached)
{
    claims_cache_t *c = v->cache;
    json_t *tree;
    int untrusted;
    const claims_cached_t *e = claims_cache_lookup(c, p, hash, token, len, now, v->trusted, v->ntrusted, &tree,
                                                   &untrusted);
    if (e == NULL) {
        return CLAIMS_NO_TOKEN;
    }
    memset(out, 0, sizeof(*out));
    out->jws = &e->jws;
    if (untrusted) {
        return CLAIMS_ERR_ISSUER;      /* verified elsewhere, not trusted here (CL-67) */
    }
    if (key_is_current(claims_verifier_keys(v, p, e->issuer, 0), e->key, e->key_serial)) {
        out->claims = tree != NULL ? tree : claims_cache_entry_claims(c, e, p);
        if (out->claims != NULL) {
            out->issuer = e->issuer;
            out->key = e->key;
            *cached = e;
            return CLAIMS_OK;
        }
    }
    return CLAIMS_NO_TOKEN;            /* the key left the issuer's set: verify afresh */
}

/* Where a token verified afresh (or vouched for by the shared level) is kept. Without a shared
 * level: in this process's level. With one: a token verified afresh goes there (and is noted as
 * seen here); one the shared level vouched for goes into this process's level when this process
 * saw it before (claims_cache_seen_before), so that a child keeps the tokens it sees again, not
 * every token it sees once. A token the shared level cannot take is kept here at once. */
static void keep(const sig_step_t *s, apr_pool_t *p, apr_uint64_t hash, const claims_verified_t *out, double now,
                 const claims_cached_t **cached)
{
    double exp = 0;
    unsigned char id[CLAIMS_SHCACHE_KEY_ID_LEN];
    claims_shcache_form_t form;
    if (claims_numeric_date(out->claims, "exp", &exp) <= 0 || exp > now + CLAIMS_CACHE_MAX_AGE) {
        exp = now + CLAIMS_CACHE_MAX_AGE;
    }
    if (exp <= now) {
        return;
    }
    claims_shcache_form(out->jws, &form);
    if (s->level != NULL && s->vouched == NULL && claims_cache_key_id(s->c, out->key, id)
        && claims_shcache_add(s->level, s->hash, &form, id, exp)) {
        (void)claims_cache_seen_before(s->c, hash);
        return;
    }
    if (s->vouched != NULL && !claims_cache_seen_before(s->c, hash)) {
        return;
    }
    *cached = claims_cache_insert(s->c, p, hash, s->token, s->len, out, exp);
}

claims_status_t claims_verify_token(const claims_verifier_t *v, apr_pool_t *p, const char *token, apr_size_t len,
                                    double now, claims_verified_t *out, const claims_cached_t **cached)
{
    claims_cache_t *c = v->cache;
    sig_step_t s;
    claims_status_t st;
    apr_uint64_t hash;

    *cached = NULL;
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.token = token;
    s.len = len;
    s.now = now;
    if (c == NULL) {
        return refusal(claims_verify_uncached(v, p, token, len, out), token, len);
    }
    if (claims_cache_is_off(c) || len > (v->max_len != 0 ? v->max_len : CLAIMS_DEFAULT_MAX_TOKEN)) {
        return refusal(claims_verify_uncached_with(v, p, token, len, sig_step, &s, out), token, len);
    }
    hash = claims_cache_hash(c, token, len);
    st = from_entry(v, p, hash, token, len, now, out, cached);
    if (st != CLAIMS_NO_TOKEN) {
        return st;
    }
    s.level = len <= CLAIMS_SHCACHE_MAX_TOKEN ? claims_cache_shared_level(c) : NULL;
    s.hash = hash;                     /* claims_shcache_hash, when there is a level */
    st = claims_verify_uncached_with(v, p, token, len, sig_step, &s, out);
    if (s.looked) {
        claims_shcache_note(s.level, s.vouched != NULL && st == CLAIMS_OK);
    }
    if (st != CLAIMS_OK) {
        return refusal(st, token, len);
    }
    keep(&s, p, hash, out, now, cached);
    return CLAIMS_OK;
}
