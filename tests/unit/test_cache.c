/*
 * test_cache.c - the verified-token cache (claims_cache.h) and verification through it
 * (claims_verify_token): entries bounded by exp, found by the exact token bytes and keyed on the
 * issuer record, refused where their issuer is not trusted, verified afresh once their key left
 * the set; the level shared by the children (claims_shcache.h) standing in for a signature only
 * where verification would use a key of the same material; signatures counted. SECURITY.md CL-67.
 */
#include "test_util.h"

#include "claims_cache.h"
#include "claims_export.h"
#include "claims_json.h"
#include "claims_verify.h"

#include <apr_strings.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

#define CACHE_NOW 1700000000.0
#define PAYLOAD_EXP_SOON "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"aud\":\"api\",\"exp\":1700000100}"
#define PAYLOAD_NO_EXP "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"aud\":\"api\"}"

static claims_status_t verify_cached_at(claims_cache_t *c, const char *tok, const claims_issuer_t *a,
                                        const claims_issuer_t *b, double now, const claims_cached_t **cached)
{
    const claims_issuer_t *trusted[2] = {a, b};
    claims_verifier_t v = {trusted, b != NULL ? 2 : 1, 0, NULL, NULL, c};
    claims_verified_t out;
    return claims_verify_token(&v, tu_p, tok, strlen(tok), now, &out, cached);
}

/* tok verified at CACHE_NOW through c where the n issuers of trusted are trusted */
static claims_status_t verify_in(claims_cache_t *c, const claims_issuer_t *const *trusted, int n, const char *tok,
                                 claims_verified_t *out, const claims_cached_t **cached)
{
    claims_verifier_t v = {trusted, n, 0, NULL, NULL, c};
    return claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, out, cached);
}

static apr_uint64_t cache_hits(claims_cache_t *c)
{
    claims_cache_stats_t st;
    claims_cache_get_stats(c, &st);
    return st.hits;
}

static apr_uint64_t signatures(claims_cache_t *c)
{
    claims_cache_stats_t st;
    claims_cache_get_stats(c, &st);
    return st.verifications;
}

/* ------------------------------------------------------------------ entries */

/* An entry is served until the token's exp and never at or after it; a token without exp is
 * cached for CLAIMS_CACHE_MAX_AGE at most. */
START_TEST(test_cache_entry_never_outlives_the_token_exp)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    char *tok, *noexp;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), PAYLOAD_EXP_SOON);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW + 99.5, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(cache_hits(c), 1);
    /* at exp: not served from the cache, and not cached again */
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW + 100, &e), CLAIMS_OK);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW + 101, &e), CLAIMS_OK);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(cache_hits(c), 1);

    noexp = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), PAYLOAD_NO_EXP);
    ck_assert_int_eq(verify_cached_at(c, noexp, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(verify_cached_at(c, noexp, a, NULL, CACHE_NOW + CLAIMS_CACHE_MAX_AGE - 1, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(cache_hits(c), 2);
    ck_assert_int_eq(verify_cached_at(c, noexp, a, NULL, CACHE_NOW + CLAIMS_CACHE_MAX_AGE, &e), CLAIMS_OK);
    ck_assert_uint_eq(cache_hits(c), 2);
}
END_TEST

/* A miss caches no claims tree (one block per entry, see claims_cache.c); the first hit reads the
 * claims again from the entry's CLAIMS_JSON, also when that is not the payload's own bytes (a raw
 * tab), and later hits share that tree. */
START_TEST(test_cache_entry_reads_its_claims_on_the_first_hit_and_keeps_them)
{
    static const char *payloads[] = {
        "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"aud\":[\"api\",\"x\"],\"exp\":1700000100,"
        "\"n\":1.5,\"o\":{\"r\":[\"a\\u00e9\"]}}",
        "{\"iss\":\"https://issuer.a\",\t\"sub\":\"alice\",\"aud\":\"api\",\"exp\":1700000100}",
    };
    for (int i = 0; i < TU_COUNT(payloads); i++) {
        claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
        claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
        const claims_issuer_t *trusted[1] = {a};
        const claims_cached_t *e1 = NULL, *e2 = NULL, *e3 = NULL;
        claims_verified_t miss, hit1, hit2;
        char *tok;
        tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
        tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), payloads[i]);
        ck_assert_int_eq(verify_in(c, trusted, 1, tok, &miss, &e1), CLAIMS_OK);
        ck_assert_ptr_nonnull(e1);
        ck_assert_ptr_null(e1->claims);
        ck_assert_int_eq(verify_in(c, trusted, 1, tok, &hit1, &e2), CLAIMS_OK);
        ck_assert_ptr_eq(e2, e1);
        ck_assert_ptr_nonnull(hit1.claims);
        ck_assert(hit1.claims != miss.claims);
        ck_assert_msg(json_equal(hit1.claims, miss.claims), "payload %d: claims read again differ", i);
        ck_assert_int_eq(verify_in(c, trusted, 1, tok, &hit2, &e3), CLAIMS_OK);
        ck_assert_ptr_eq(hit2.claims, hit1.claims);
        ck_assert_uint_eq(cache_hits(c), 2);
    }
}
END_TEST

/* The key is the exact token: a token that differs from a cached one only in its signature (or
 * only in its payload) is verified on its own and refused. */
START_TEST(test_cache_is_keyed_on_the_exact_token_bytes)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    char *input = tu_signing_input(tu_p, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    apr_size_t n;
    unsigned char *sig = tu_sign(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, input, strlen(input), -1, &n);
    char *good = tu_join(tu_p, input, sig, n), *forged_payload, *bad_sig;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    ck_assert_int_eq(verify_cached_at(c, good, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(verify_cached_at(c, good, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_uint_eq(cache_hits(c), 1);

    sig[n / 2] ^= 0x01;
    bad_sig = tu_join(tu_p, input, sig, n);
    ck_assert_int_eq(verify_cached_at(c, bad_sig, a, NULL, CACHE_NOW, &e), CLAIMS_ERR_SIGNATURE);
    ck_assert_ptr_null(e);
    sig[n / 2] ^= 0x01;
    forged_payload = apr_pstrcat(tu_p, tu_signing_input(tu_p, tu_hdr("ES256", "k1"),
                                                        "{\"iss\":\"https://issuer.a\",\"sub\":\"admin\","
                                                        "\"aud\":\"api\",\"exp\":4102444800}"),
                                 strrchr(good, '.'), NULL);
    ck_assert_int_eq(verify_cached_at(c, forged_payload, a, NULL, CACHE_NOW, &e), CLAIMS_ERR_SIGNATURE);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(cache_hits(c), 1);
}
END_TEST

/* A token verified (and cached) where its issuer is trusted is refused where it is not. */
START_TEST(test_cache_hit_is_refused_where_its_issuer_is_not_trusted)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0), *b = tu_issuer("https://issuer.b", 0);
    const claims_cached_t *e = NULL;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tu_issuer_jwk(b, tu_keys.ec256_b, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(verify_cached_at(c, tok, a, b, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(verify_cached_at(c, tok, b, NULL, CACHE_NOW, &e), CLAIMS_ERR_ISSUER);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(cache_hits(c), 1);   /* it was a hit, and still refused */
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
}
END_TEST

/* Two virtual hosts may each declare the same issuer: two records with one "iss". A token
 * verified (and cached) at the first is verified afresh at the second, with the second's own
 * record and keys, instead of being refused as untrusted; each is served from the cache after. */
START_TEST(test_cache_hit_at_a_second_declaration_of_the_same_issuer_is_verified_there)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a1 = tu_issuer("https://issuer.a", 0), *a2 = tu_issuer("https://issuer.a", 0);
    claims_issuer_t *b = tu_issuer("https://issuer.b", 0);
    const claims_issuer_t *at_a1[1] = {a1}, *at_a2[2] = {b, a2}, *at_b[1] = {b};
    const claims_cached_t *e = NULL;
    claims_verified_t out;
    char *tok;
    tu_issuer_jwk(a1, tu_keys.ec256, "ES256", "k1");
    tu_issuer_jwk(a2, tu_keys.ec256, "ES256", "k1");
    tu_issuer_jwk(b, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);

    ck_assert_int_eq(verify_in(c, at_a1, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_ptr_eq(out.issuer, a1);
    ck_assert_ptr_nonnull(e);
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(verify_in(c, at_a2, 2, tok, &out, &e), CLAIMS_OK);
        ck_assert_ptr_eq(out.issuer, a2);
        ck_assert_ptr_eq(out.key, APR_ARRAY_IDX(a2->keys, 0, const claims_key_t *));
        ck_assert_ptr_nonnull(out.claims);
        ck_assert_ptr_nonnull(e);
        ck_assert_ptr_eq(e->issuer, a2);
        ck_assert_int_eq(verify_in(c, at_a1, 1, tok, &out, &e), CLAIMS_OK);
        ck_assert_ptr_eq(out.issuer, a1);
        ck_assert_ptr_eq(e->issuer, a1);
    }
    ck_assert_uint_eq(cache_hits(c), 3);   /* a2 verified once, then both served from the cache */
    /* where "https://issuer.a" is not declared at all, it is still refused */
    ck_assert_int_eq(verify_in(c, at_b, 1, tok, &out, &e), CLAIMS_ERR_ISSUER);
    ck_assert_ptr_null(e);
}
END_TEST

/* A cached token whose key has left the issuer's set (rotation) is verified afresh. */
START_TEST(test_cache_hit_is_verified_afresh_once_its_key_left_the_set)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    a->keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    tu_issuer_jwk(a, tu_keys.ec256_b, "ES256", "k2");
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_ERR_NO_KEY);
    ck_assert_ptr_null(e);
}
END_TEST

/* A key set refreshed with the same key (a new key object, as a JWKS refresh makes) verifies a
 * cached token afresh once, and the entry is then replaced: it names the current key, so later
 * requests are served from the cache instead of being verified again until the entry expires. */
START_TEST(test_cache_entry_is_replaced_once_verified_afresh_with_a_refreshed_key)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    const claims_key_t *old_key, *new_key;
    char *tok;
    old_key = tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_eq(e->key, old_key);
    a->keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    new_key = tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(e->key == new_key, "request %d served an entry of the old key", i);
    }
}
END_TEST

/* The CLAIM_* pairs of an entry are computed once, when it is added, without a logger: the
 * entry keeps what that reported, so the glue can log a collision on every request that uses
 * the cached pairs (and a token without one has no note). */
START_TEST(test_cache_entry_keeps_the_export_collision_report)
{
    static const char payload[] = "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"SUB\":\"admin\",\"aud\":\"api\","
                                  "\"exp\":4102444800,\"groups\":[\"user\"],\"Groups_0\":\"admin\"}";
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL, *again = NULL;
    tu_logsink_t sink;
    const char *expected;
    int n;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), payload);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);

    tu_logsink_init(&sink, tu_p);
    claims_export_pairs(tu_p, tu_json(payload), NULL, CLAIMS_DEFAULT_ENV_PREFIX, &sink.logger, &n);
    ck_assert_int_eq(sink.lines->nelts, 2);
    expected = apr_pstrcat(tu_p, APR_ARRAY_IDX(sink.lines, 0, const char *), "; ",
                           APR_ARRAY_IDX(sink.lines, 1, const char *), NULL);
    ck_assert_msg(e->export_note != NULL, "no note for a token with colliding claims");
    ck_assert_str_eq(e->export_note, expected);
    ck_assert_int_eq(e->nenv, n);
    for (int i = 0; i < e->nenv; i++) {
        ck_assert_str_ne(e->env[i].name, "CLAIM_SUB");
        ck_assert_str_ne(e->env[i].name, "CLAIM_GROUPS_0");
    }
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &again), CLAIMS_OK);
    ck_assert_ptr_eq(again, e);
    ck_assert_str_eq(again->export_note, expected);

    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(e->export_note);
}
END_TEST

/* The look-up compares the exact bytes: a token that differs from a cached one only in its last
 * byte (the end of the signature, which picks the bucket) or only in its header, with the very
 * same signature (the same bucket), is not served from the cache, and is refused. */
START_TEST(test_cache_lookup_compares_the_exact_bytes_of_look_alike_tokens)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    char *tok, *last, *other_header;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
    ck_assert_uint_eq(cache_hits(c), 1);
    last = apr_pstrdup(tu_p, tok);
    last[strlen(last) - 1] = last[strlen(last) - 1] == 'A' ? 'Q' : 'A';   /* 86 chars: 4 spare bits */
    other_header = apr_pstrcat(tu_p, tu_b64(tu_p, "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"),
                               strchr(tok, '.'), NULL);
    ck_assert_int_eq(verify_cached_at(c, last, a, NULL, CACHE_NOW, &e), CLAIMS_ERR_SIGNATURE);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(verify_cached_at(c, other_header, a, NULL, CACHE_NOW, &e), CLAIMS_ERR_SIGNATURE);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(cache_hits(c), 1);
    ck_assert_uint_eq(signatures(c), 3);
}
END_TEST

/* A token that is not a b64token is a malformed request (claims_token.h), whatever else is
 * wrong with it; a cached token needs no such check (it is byte for byte one that verified). */
START_TEST(test_verify_token_refuses_a_token_outside_b64token_as_a_malformed_request)
{
    static const char *bad[] = {"a@b.c.d", "a.b.c\t", "eyJ.e30.x y", "a.b.=c", "\xc3\xa9.a.b"};
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    for (int i = 0; i < TU_COUNT(bad); i++) {
        ck_assert_msg(verify_cached_at(c, bad[i], a, NULL, CACHE_NOW, &e) == CLAIMS_ERR_REQUEST, "%s", bad[i]);
        ck_assert_msg(verify_cached_at(NULL, bad[i], a, NULL, CACHE_NOW, &e) == CLAIMS_ERR_REQUEST, "%s", bad[i]);
    }
    /* a well-formed token that fails keeps its own reason */
    ck_assert_int_eq(verify_cached_at(c, "e30.e30.c2ln", a, NULL, CACHE_NOW, &e), CLAIMS_ERR_ALG);
    ck_assert_int_eq(verify_cached_at(c, "a.b.c=", a, NULL, CACHE_NOW, &e), CLAIMS_ERR_BASE64);
}
END_TEST

/* ------------------------------------------------------------------ the shared level */

/* Two children: caches of their own, the level shared, and each its own key objects of the
 * same issuer's key (as two processes that loaded the same configuration have). */
typedef struct children_t {
    claims_shcache_t *level;
    claims_cache_t *c1, *c2;
    claims_issuer_t *a1, *a2;
    const claims_issuer_t *at1[1], *at2[1];
} children_t;

static void two_children(children_t *k, apr_size_t level_size)
{
    k->level = claims_shcache_create(tu_p, apr_pcalloc(tu_p, level_size), level_size);
    ck_assert_ptr_nonnull(k->level);
    k->c1 = claims_cache_create(tu_p, 16, 1 << 20);
    k->c2 = claims_cache_create(tu_p, 16, 1 << 20);
    claims_cache_attach_shared(k->c1, k->level);
    claims_cache_attach_shared(k->c2, k->level);
    k->a1 = tu_issuer("https://issuer.a", 0);
    k->a2 = tu_issuer("https://issuer.a", 0);
    tu_issuer_jwk(k->a1, tu_keys.ec256, "ES256", "k1");
    tu_issuer_jwk(k->a2, tu_keys.ec256, "ES256", "k1");
    k->at1[0] = k->a1;
    k->at2[0] = k->a2;
}

static claims_shcache_stats_t level_stats(claims_shcache_t *sh)
{
    claims_shcache_stats_t st;
    claims_shcache_get_stats(sh, &st);
    return st;
}

/* A token verified in one child is not verified again in another: the shared level stands in
 * for the signature, and everything else is the second child's own (its issuer record, its key
 * object). A token verified afresh goes to the shared level only; a child keeps it in its own
 * level from the second time it sees it, and serves it from there after. */
START_TEST(test_shared_level_saves_the_signature_in_another_child)
{
    children_t k;
    claims_verified_t out;
    const claims_cached_t *e = (const claims_cached_t *)&k;
    char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    two_children(&k, 1 << 20);
    ck_assert_int_eq(verify_in(k.c1, k.at1, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_ptr_null(e);                         /* in the shared level, not in c1's */
    ck_assert_uint_eq(signatures(k.c1), 1);
    ck_assert_uint_eq(level_stats(k.level).stores, 1);

    ck_assert_int_eq(verify_in(k.c2, k.at2, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_uint_eq(signatures(k.c2), 0);
    ck_assert_ptr_eq(out.issuer, k.a2);
    ck_assert_ptr_eq(out.key, APR_ARRAY_IDX(k.a2->keys, 0, const claims_key_t *));
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "sub")), "alice");
    ck_assert_ptr_null(e);                         /* c2 sees it for the first time */
    ck_assert_uint_eq(level_stats(k.level).hits, 1);
    ck_assert_int_eq(verify_in(k.c2, k.at2, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);                      /* the second time: into c2's own level */
    ck_assert_int_eq(verify_in(k.c2, k.at2, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_uint_eq(cache_hits(k.c2), 1);

    ck_assert_int_eq(verify_in(k.c1, k.at1, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);                      /* c1 verified it: its second sighting */
    ck_assert_uint_eq(signatures(k.c1) + signatures(k.c2), 1);
    ck_assert_uint_eq(level_stats(k.level).hits, 3);
}
END_TEST

/* A record of the shared level is refused where the token's issuer is not trusted, as
 * verification refuses it, without a signature computed. */
START_TEST(test_shared_level_record_is_refused_where_its_issuer_is_not_trusted)
{
    children_t k;
    claims_verified_t out;
    const claims_cached_t *e = NULL;
    claims_issuer_t *b = tu_issuer("https://issuer.b", 0);
    const claims_issuer_t *at_b[1] = {b};
    char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    two_children(&k, 1 << 20);
    tu_issuer_jwk(b, tu_keys.ec256, "ES256", "k1");
    ck_assert_int_eq(verify_in(k.c1, k.at1, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_int_eq(verify_in(k.c2, at_b, 1, tok, &out, &e), CLAIMS_ERR_ISSUER);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(signatures(k.c2), 0);
}
END_TEST

/* The shared level stands in only for a key of the same material: where the issuer's key with
 * that kid is another key (another virtual host's declaration, or a rotated set), the token is
 * verified with it, and refused. */
START_TEST(test_shared_level_stands_in_only_for_a_key_of_the_same_material)
{
    children_t k;
    claims_verified_t out;
    const claims_cached_t *e = NULL;
    char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    two_children(&k, 1 << 20);
    k.a2->keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    tu_issuer_jwk(k.a2, tu_keys.ec256_b, "ES256", "k1");
    ck_assert_int_eq(verify_in(k.c1, k.at1, 1, tok, &out, &e), CLAIMS_OK);
    ck_assert_int_eq(verify_in(k.c2, k.at2, 1, tok, &out, &e), CLAIMS_ERR_SIGNATURE);
    ck_assert_uint_eq(signatures(k.c2), 1);
    ck_assert_uint_eq(level_stats(k.level).hits, 0);
    ck_assert_uint_eq(level_stats(k.level).misses, 2);   /* c1's first look, and c2's */
}
END_TEST

/* A record of the shared level never outlives the token's exp: at exp another child verifies
 * the token itself (and refusing it is the caller's validation). */
START_TEST(test_shared_level_record_never_outlives_the_token_exp)
{
    children_t k;
    claims_verified_t out;
    const claims_cached_t *e = NULL;
    char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), PAYLOAD_EXP_SOON);
    claims_verifier_t v2;
    two_children(&k, 1 << 20);
    ck_assert_int_eq(verify_in(k.c1, k.at1, 1, tok, &out, &e), CLAIMS_OK);
    v2 = (claims_verifier_t){k.at2, 1, 0, NULL, NULL, k.c2};
    ck_assert_int_eq(claims_verify_token(&v2, tu_p, tok, strlen(tok), CACHE_NOW + 99, &out, &e), CLAIMS_OK);
    ck_assert_uint_eq(signatures(k.c2), 0);
    ck_assert_int_eq(claims_verify_token(&v2, tu_p, tok, strlen(tok), CACHE_NOW + 100, &out, &e), CLAIMS_OK);
    ck_assert_uint_eq(signatures(k.c2) >= 1, 1);
}
END_TEST

/* A token the shared level cannot take (larger than an eighth of it) is kept in the child's
 * own level at once, so that it is not verified on every request. */
START_TEST(test_token_too_large_for_the_shared_level_is_kept_by_the_child)
{
    children_t k;
    claims_verified_t out;
    const claims_cached_t *e = NULL;
    char *payload = apr_psprintf(tu_p, "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"aud\":\"api\","
                                 "\"exp\":4102444800,\"pad\":\"%0*d\"}", 9000, 0);
    char *tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), payload);
    claims_verifier_t v;
    two_children(&k, CLAIMS_SHCACHE_MIN_SIZE);
    v = (claims_verifier_t){k.at1, 1, 16384, NULL, NULL, k.c1};
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(level_stats(k.level).dropped, 1);
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_OK);
    ck_assert_uint_eq(signatures(k.c1), 1);
}
END_TEST

/* A cache that keeps nothing (ClaimsCache Off) verifies every time and counts every signature,
 * also in the figures shared between processes. */
START_TEST(test_cache_off_verifies_every_time_and_counts_the_signatures)
{
    claims_cache_t *c = claims_cache_create_off(tu_p);
    claims_cache_counters_t shared;
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_cached_t *e = NULL;
    char *tok;
    memset(&shared, 0, sizeof(shared));
    claims_cache_share_counters(c, &shared);
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(verify_cached_at(c, tok, a, NULL, CACHE_NOW, &e), CLAIMS_OK);
        ck_assert_ptr_null(e);
    }
    ck_assert_uint_eq(signatures(c), 3);
    ck_assert_uint_eq(shared.verifications, 3);
    ck_assert_uint_eq(shared.hits + shared.misses + shared.entries, 0);
}
END_TEST

/* ------------------------------------------------------------------ claims_verify_token */

/* Without a cache, claims_verify_token is claims_verify_uncached: nothing cached, *cached NULL. */
START_TEST(test_verify_token_without_a_cache_verifies_every_time)
{
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    claims_verifier_t v = {trusted, 1, 0, NULL, NULL, NULL};
    const claims_cached_t *e = (const claims_cached_t *)&v;
    claims_verified_t out;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_OK);
        ck_assert_ptr_null(e);
        ck_assert_ptr_eq(out.issuer, a);
        ck_assert_str_eq(json_string_value(json_object_get(out.claims, "sub")), "alice");
    }
}
END_TEST

/* A token over the verifier's cap is refused before the cache is consulted. */
START_TEST(test_verify_token_over_the_cap_never_reaches_the_cache)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    claims_verifier_t v = {trusted, 1, 0, NULL, NULL, c};
    const claims_cached_t *e = NULL;
    claims_cache_stats_t st;
    claims_verified_t out;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    v.max_len = strlen(tok) - 1;
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_ERR_TOO_LARGE);
    ck_assert_ptr_null(e);
    claims_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 0);
    ck_assert_uint_eq(st.misses, 1);
}
END_TEST

/* The keys a hit is checked against are the verifier's supplier's (first look, no refresh):
 * once it no longer holds the entry's key, the token is verified afresh against what it holds. */
typedef struct current_keys_t {
    const apr_array_header_t *keys;
    int looks, refreshes;
} current_keys_t;

static const apr_array_header_t *current(void *baton, apr_pool_t *p, const claims_issuer_t *issuer, int refresh)
{
    current_keys_t *k = baton;
    (void)p;
    (void)issuer;
    k->looks++;
    k->refreshes += refresh;
    return k->keys;
}

START_TEST(test_cache_hit_checks_its_key_against_the_verifiers_supplier)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    current_keys_t k = {NULL, 0, 0};
    claims_verifier_t v = {trusted, 1, 0, current, &k, c};
    const claims_cached_t *e = NULL;
    claims_verified_t out;
    char *tok;
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    k.keys = a->keys;
    tok = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, tu_hdr("ES256", "k1"), TU_PAYLOAD_A);
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_OK);
    ck_assert_int_eq(k.looks, 1);
    k.looks = 0;
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(k.looks, 1);                 /* the hit's check, nothing else */
    ck_assert_int_eq(k.refreshes, 0);
    ck_assert_uint_eq(cache_hits(c), 1);
    k.keys = apr_array_make(tu_p, 1, sizeof(claims_key_t *));   /* a->keys unchanged */
    k.looks = 0;
    ck_assert_int_eq(claims_verify_token(&v, tu_p, tok, strlen(tok), CACHE_NOW, &out, &e), CLAIMS_ERR_NO_KEY);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(k.looks, 3);                 /* the hit's check, then a miss and its refresh */
    ck_assert_int_eq(k.refreshes, 1);
}
END_TEST

/* ------------------------------------------------------------------ answers (introspection) */

#define ANSWER "{\"iss\":\"https://issuer.a\",\"sub\":\"alice\",\"scope\":\"read\",\"exp\":1700000100}"

static json_t *answer_claims(void)
{
    json_t *j = claims_json_pool(tu_p, json_loads(ANSWER, 0, NULL));   /* released with the pool */
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *env_value(const claims_cached_t *e, const char *name)
{
    for (int i = 0; i < e->nenv; i++) {
        if (strcmp(e->env[i].name, name) == 0) {
            return e->env[i].value;
        }
    }
    return NULL;
}

/* An answer is found by the token's exact bytes under the issuer record it was put under, with
 * its claims, CLAIMS_JSON, CLAIM_* pairs and attachment (copied), and under nothing else. */
START_TEST(test_answer_is_found_by_exact_bytes_under_its_issuer_record)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0), *a2 = tu_issuer("https://issuer.a", 0);
    claims_issuer_t *b = tu_issuer("https://issuer.b", 0);
    char *attachment = apr_pstrdup(tu_p, "signed.answer.jwt");
    const char *tok = "opaque-token-0123456789";
    const claims_cached_t *put, *got;
    json_t *claims = NULL;

    put = claims_cache_put_answer(c, tu_p, tok, strlen(tok), a, answer_claims(), attachment, CACHE_NOW + 100);
    ck_assert_ptr_nonnull(put);
    attachment[0] = 'X';                          /* the entry has its own copy */
    got = claims_cache_get_answer(c, tu_p, tok, strlen(tok), CACHE_NOW, a, &claims);
    ck_assert_ptr_eq(got, put);
    ck_assert_ptr_nonnull(claims);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "alice");
    ck_assert_str_eq(got->attachment, "signed.answer.jwt");
    ck_assert_str_eq(env_value(got, "CLAIM_SUB"), "alice");
    ck_assert_str_eq(env_value(got, "CLAIM_SCOPE"), "read");
    ck_assert_ptr_nonnull(strstr(got->claims_json, "\"sub\":\"alice\""));
    ck_assert_ptr_null(got->key);
    /* the second hit has the tree kept by the first */
    ck_assert_ptr_eq(claims_cache_get_answer(c, tu_p, tok, strlen(tok), CACHE_NOW, a, &claims), put);
    ck_assert_ptr_eq(claims, put->claims);

    ck_assert_ptr_null(claims_cache_get_answer(c, tu_p, "opaque-token-0123456788", 23, CACHE_NOW, a, &claims));
    ck_assert_ptr_null(claims);
    ck_assert_ptr_null(claims_cache_get_answer(c, tu_p, tok, strlen(tok) - 1, CACHE_NOW, a, &claims));
    ck_assert_ptr_null(claims_cache_get_answer(c, tu_p, tok, strlen(tok), CACHE_NOW, a2, &claims));
    ck_assert_ptr_null(claims_cache_get_answer(c, tu_p, tok, strlen(tok), CACHE_NOW, b, &claims));
    ck_assert_ptr_null(claims);
}
END_TEST

/* An answer is served until its expiry and never at or after it; put twice, the first entry
 * stays; a cache that keeps nothing keeps no answer. */
START_TEST(test_answer_never_outlives_its_expiry)
{
    claims_cache_t *c = claims_cache_create(tu_p, 16, 1 << 20), *off = claims_cache_create_off(tu_p);
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const char *tok = "opaque-token-expiring";
    const claims_cached_t *put;
    claims_cache_stats_t st;
    json_t *claims = NULL;

    put = claims_cache_put_answer(c, tu_p, tok, strlen(tok), a, answer_claims(), NULL, CACHE_NOW + 10);
    ck_assert_ptr_nonnull(put);
    ck_assert_ptr_null(put->attachment);
    ck_assert_ptr_eq(claims_cache_put_answer(c, tu_p, tok, strlen(tok), a, answer_claims(), NULL, CACHE_NOW + 50),
                     put);
    ck_assert_ptr_eq(claims_cache_get_answer(c, tu_p, tok, strlen(tok), CACHE_NOW + 9.9, a, &claims), put);
    ck_assert_ptr_null(claims_cache_get_answer(c, tu_p, tok, strlen(tok), CACHE_NOW + 10, a, &claims));
    claims_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 0);             /* unlinked when met expired */

    ck_assert_ptr_null(claims_cache_put_answer(off, tu_p, tok, strlen(tok), a, answer_claims(), NULL, CACHE_NOW + 10));
    ck_assert_ptr_null(claims_cache_get_answer(off, tu_p, tok, strlen(tok), CACHE_NOW, a, &claims));
}
END_TEST

Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tu_tcase("cache", 30);
    tcase_add_test(tc, test_cache_entry_never_outlives_the_token_exp);
    tcase_add_test(tc, test_cache_entry_reads_its_claims_on_the_first_hit_and_keeps_them);
    tcase_add_test(tc, test_cache_is_keyed_on_the_exact_token_bytes);
    tcase_add_test(tc, test_cache_hit_is_refused_where_its_issuer_is_not_trusted);
    tcase_add_test(tc, test_cache_hit_at_a_second_declaration_of_the_same_issuer_is_verified_there);
    tcase_add_test(tc, test_cache_hit_is_verified_afresh_once_its_key_left_the_set);
    tcase_add_test(tc, test_cache_entry_is_replaced_once_verified_afresh_with_a_refreshed_key);
    tcase_add_test(tc, test_cache_entry_keeps_the_export_collision_report);
    tcase_add_test(tc, test_cache_lookup_compares_the_exact_bytes_of_look_alike_tokens);
    tcase_add_test(tc, test_verify_token_refuses_a_token_outside_b64token_as_a_malformed_request);
    suite_add_tcase(s, tc);

    tc = tu_tcase("shared level", 30);
    tcase_add_test(tc, test_shared_level_saves_the_signature_in_another_child);
    tcase_add_test(tc, test_shared_level_record_is_refused_where_its_issuer_is_not_trusted);
    tcase_add_test(tc, test_shared_level_stands_in_only_for_a_key_of_the_same_material);
    tcase_add_test(tc, test_shared_level_record_never_outlives_the_token_exp);
    tcase_add_test(tc, test_token_too_large_for_the_shared_level_is_kept_by_the_child);
    tcase_add_test(tc, test_cache_off_verifies_every_time_and_counts_the_signatures);
    suite_add_tcase(s, tc);

    tc = tu_tcase("verify_token", 30);
    tcase_add_test(tc, test_verify_token_without_a_cache_verifies_every_time);
    tcase_add_test(tc, test_verify_token_over_the_cap_never_reaches_the_cache);
    tcase_add_test(tc, test_cache_hit_checks_its_key_against_the_verifiers_supplier);
    suite_add_tcase(s, tc);

    tc = tu_tcase("answers", 30);
    tcase_add_test(tc, test_answer_is_found_by_exact_bytes_under_its_issuer_record);
    tcase_add_test(tc, test_answer_never_outlives_its_expiry);
    suite_add_tcase(s, tc);
    return s;
}
