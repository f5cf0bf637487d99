/*
 * fuzz_dpop.c - what a DPoP client sends (CL-96, CL-98, CL-99, CL-75): proofs
 * (claims_dpop_verify, with and without the key cache, with and without a required nonce), the
 * htu normal form, a token's cnf, server nonces and RFC 9440 Client-Cert values.
 *
 * Input, by its first byte:
 *   '#'   "#" header-JSON "\n" payload-JSON: in the header "$J" becomes the public jwk of the
 *         key that signs (the test key of the header's alg), "$K" another test key's jwk; in the
 *         payload "$A" becomes the ath of the harness's token, "$N" the current nonce, "$P" the
 *         previous step's; then it is signed (HS* with the test secret; an alg the harness has
 *         no key for gets a garbage signature) and checked as a proof;
 *   other a proof as it came (also read as a Client-Cert value, a nonce, an htu).
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when:
 *  - a proof is accepted whose jkt is not the thumbprint (computed here, from jansson) of one of
 *    the harness's test keys, or whose signature OpenSSL, called here directly with that key
 *    and the header's alg, does not verify: only the harness holds private keys, so nothing
 *    else may pass (the proof was signed by its jwk, never by "$K" or a forged one);
 *  - an accepted proof's header (read by jansson) lacks typ dpop+jwt, names a symmetric alg, or
 *    its jwk holds a private member; or its payload lacks htm "POST", a jti of 1..256 bytes, an
 *    iat in the window, the token's ath, an htu equal to the expected URL after
 *    normalisation, or (when required) a nonce made for this or the previous step;
 *  - the results with the key cache (a miss, then a hit) differ from those without it;
 *  - a refusal is not CLAIMS_ERR_DPOP with a fixed printable reason, or says use_nonce for a
 *    reason other than the nonce;
 *  - the htu normal form is not stable (normalising it again changes it) or not an http(s) URL;
 *  - claims_cnf_check accepts a cnf with a member other than jkt and x5t#S256, or one whose
 *    value is not exactly what was presented;
 *  - a nonce is accepted that is not the one made for this or the previous step;
 *  - a Client-Cert value is accepted that is not ":" + the canonical base64 of its DER + ":".
 */
#include "claims.h"
#include "claims_b64url.h"
#include "claims_dpop.h"
#include "claims_store.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

#define NOW ((apr_time_t)FZ_NOW * APR_USEC_PER_SEC)
#define JKT_A "fuzz-jkt-presented-with-the-proof-000000000"
#define X5T_B "fuzz-x5t-of-the-connection-certificate-0000"

static const fz_keys_t *keys;
static claims_store_secret_t *nonce_secret;
static claims_dpop_keys_t *key_cache;
static char *expected_htu, *ath, *nonce_now, *nonce_prev;

typedef struct test_key_t {
    EVP_PKEY *pkey;
    char *jwk;                     /* public JWK text */
    char *jkt;                     /* its RFC 7638 thumbprint, computed here */
} test_key_t;

static test_key_t tkeys[6];

/* ------------------------------------------------------------------ independent computations */

static char *sha256_b64(apr_pool_t *p, const void *data, size_t len)
{
    unsigned char md[32];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1) {
        fz_die("SHA-256");
    }
    return fz_b64url(p, md, n);
}

/* RFC 7638 from the JWK text, with jansson and no code of the core. */
static char *thumbprint_here(apr_pool_t *p, const char *jwk_text)
{
    json_t *j = json_loads(jwk_text, 0, NULL);
    const char *kty = json_string_value(json_object_get(j, "kty"));
    const char *canon;
#define M(n) json_string_value(json_object_get(j, n))
    if (strcmp(kty, "RSA") == 0) {
        canon = apr_psprintf(p, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", M("e"), M("n"));
    }
    else if (strcmp(kty, "EC") == 0) {
        canon = apr_psprintf(p, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", M("crv"), M("x"), M("y"));
    }
    else {
        canon = apr_psprintf(p, "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", M("crv"), M("x"));
    }
#undef M
    json_decref(j);
    return sha256_b64(p, canon, strlen(canon));
}

/* OpenSSL alone: sig over input with key under alg (ECDSA r||s, PSS salt = hash length). */
static int verify_here(EVP_PKEY *key, claims_alg_t alg, const char *input, size_t ilen, const unsigned char *sig,
                       size_t slen)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    const EVP_MD *md = ai->digest != NULL ? EVP_get_digestbyname(ai->digest) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[200], *q = der;
    int ok;

    if (ai->family == CLAIMS_FAMILY_EC) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        if (slen != 2 * ai->coord_len) {
            ECDSA_SIG_free(es);
            EVP_MD_CTX_free(ctx);
            return 0;
        }
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)ai->coord_len, NULL), BN_bin2bn(sig + ai->coord_len, (int)ai->coord_len, NULL));
        slen = (size_t)i2d_ECDSA_SIG(es, &q);
        sig = der;
        ECDSA_SIG_free(es);
    }
    ok = EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) == 1;
    if (ok && ai->family == CLAIMS_FAMILY_PSS) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)ai->hash_len) == 1;
    }
    ok = ok && EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)input, ilen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ------------------------------------------------------------------ set-up */

static void self_test(apr_pool_t *gp);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *gp = fz_global_pool();
    static const unsigned char secret[40] = "fuzz_dpop nonce secret, forty bytes long";
    EVP_PKEY *all[6];

    keys = fz_keys();
    all[0] = keys->p256, all[1] = keys->p384, all[2] = keys->p521;
    all[3] = keys->rsa, all[4] = keys->ed25519, all[5] = keys->ed448;
    for (int i = 0; i < 6; i++) {
        tkeys[i].pkey = all[i];
        tkeys[i].jwk = fz_jwk(gp, all[i], NULL, NULL, NULL);
        tkeys[i].jkt = thumbprint_here(gp, tkeys[i].jwk);
    }
    if (claims_store_secret_from(gp, secret, sizeof(secret), &nonce_secret) != CLAIMS_OK) {
        fz_die("nonce secret");
    }
    key_cache = claims_dpop_keys_create(gp, 4);
    expected_htu = FZ_DPOP_HTU;
    ath = sha256_b64(gp, FZ_DPOP_TOKEN, strlen(FZ_DPOP_TOKEN));
    nonce_now = claims_dpop_nonce_make(gp, nonce_secret, NOW, 0);
    nonce_prev = claims_dpop_nonce_make(gp, nonce_secret, NOW - CLAIMS_DPOP_DEFAULT_NONCE_STEP, 0);
    if (key_cache == NULL || nonce_now == NULL || nonce_prev == NULL) {
        fz_die("set-up");
    }
    if (!fz_poolguard_active(gp)) {
        fprintf(stderr, "fuzz_dpop: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    self_test(gp);
    return 0;
}

/* ------------------------------------------------------------------ proofs */

static const test_key_t *key_of_jkt(const char *jkt)
{
    for (int i = 0; i < 6; i++) {
        if (strcmp(tkeys[i].jkt, jkt) == 0) {
            return &tkeys[i];
        }
    }
    return NULL;
}

/* A segment of an accepted proof, decoded and read by jansson. */
static json_t *segment_json(apr_pool_t *p, const char *seg, size_t len)
{
    unsigned char *buf;
    apr_size_t n;
    CHECK(claims_b64url_decode(p, seg, len, &buf, &n) == 0);
    return json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
}

static void check_header(const json_t *h)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL};
    const char *typ = json_string_value(json_object_get(h, "typ"));
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const json_t *jwk = json_object_get(h, "jwk");

    CHECK(typ != NULL && (strcasecmp(typ, "dpop+jwt") == 0 || strcasecmp(typ, "application/dpop+jwt") == 0));
    CHECK(alg != NULL && alg[0] != 'H' && strcasecmp(alg, "none") != 0);
    CHECK(json_is_object(jwk));
    for (int i = 0; priv[i] != NULL; i++) {
        CHECK(json_object_get(jwk, priv[i]) == NULL);
    }
}

static void check_payload(apr_pool_t *p, const json_t *c, int nonce_required)
{
    const json_t *jti = json_object_get(c, "jti"), *iat = json_object_get(c, "iat");
    const char *htm = json_string_value(json_object_get(c, "htm"));
    const char *htu = json_string_value(json_object_get(c, "htu"));
    const char *a = json_string_value(json_object_get(c, "ath"));
    const char *nonce = json_string_value(json_object_get(c, "nonce"));
    char *n1 = NULL, *n2 = NULL;

    CHECK(json_is_string(jti) && json_string_length(jti) >= 1 && json_string_length(jti) <= CLAIMS_DPOP_MAX_JTI);
    CHECK(htm != NULL && strcmp(htm, FZ_DPOP_HTM) == 0);
    CHECK(json_is_number(iat) && json_number_value(iat) >= FZ_NOW - CLAIMS_DPOP_DEFAULT_WINDOW
          && json_number_value(iat) <= FZ_NOW + CLAIMS_DPOP_DEFAULT_LEEWAY);
    CHECK(a != NULL && strcmp(a, ath) == 0);
    CHECK(htu != NULL && claims_dpop_htu_normalize(p, htu, strlen(htu), &n1) == CLAIMS_OK
          && claims_dpop_htu_normalize(p, expected_htu, strlen(expected_htu), &n2) == CLAIMS_OK
          && strcmp(n1, n2) == 0);
    if (nonce_required) {
        CHECK(nonce != NULL && (strcmp(nonce, nonce_now) == 0 || strcmp(nonce, nonce_prev) == 0));
    }
}

/* An accepted proof, read again without the code under test. */
static void check_accepted(apr_pool_t *p, const char *proof, size_t len, const claims_dpop_result_t *out,
                           int nonce_required)
{
    const char *dot1 = memchr(proof, '.', len), *dot2 = NULL;
    const test_key_t *k = key_of_jkt(out->jkt);
    unsigned char *sig;
    apr_size_t slen;
    json_t *h, *c;

    for (size_t i = len; i > 0 && dot2 == NULL; i--) {
        dot2 = proof[i - 1] == '.' ? proof + i - 1 : NULL;
    }
    CHECK(k != NULL);
    CHECK(dot1 != NULL && dot2 != NULL && dot2 > dot1);
    CHECK(claims_b64url_decode(p, dot2 + 1, len - (size_t)(dot2 + 1 - proof), &sig, &slen) == 0);
    CHECK(verify_here(k->pkey, out->alg, proof, (size_t)(dot2 - proof), sig, slen));
    h = segment_json(p, proof, (size_t)(dot1 - proof));
    c = segment_json(p, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    CHECK(json_is_object(h) && json_is_object(c));
    check_header(h);
    check_payload(p, c, nonce_required);
    CHECK(out->jti != NULL && out->jti_len >= 1 && out->why == NULL && out->use_nonce == 0);
    json_decref(h);
    json_decref(c);
}

static void check_refused(claims_status_t st, const claims_dpop_result_t *out)
{
    CHECK(st == CLAIMS_ERR_DPOP);
    CHECK(out->fail > CLAIMS_DPOP_OK && out->fail < CLAIMS_DPOP_FAIL_COUNT);
    CHECK(out->why != NULL && strcmp(out->why, claims_dpop_fail_text(out->fail)) == 0);
    CHECK(out->jkt == NULL);
    CHECK(out->use_nonce == (out->fail == CLAIMS_DPOP_NONCE_MISSING || out->fail == CLAIMS_DPOP_NONCE_STALE));
    for (const char *c = out->why; *c != '\0'; c++) {
        CHECK(*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\');
    }
}

static void same_result(claims_status_t a, const claims_dpop_result_t *ra, claims_status_t b,
                        const claims_dpop_result_t *rb)
{
    CHECK(a == b && ra->fail == rb->fail);
    if (a == CLAIMS_OK) {
        CHECK(strcmp(ra->jkt, rb->jkt) == 0 && ra->jti_len == rb->jti_len && ra->iat == rb->iat);
        CHECK(memcmp(ra->jti, rb->jti, ra->jti_len) == 0 && ra->nonce_renew == rb->nonce_renew);
    }
}

static claims_status_t check_proof(apr_pool_t *p, const char *proof, size_t len, int nonce_required)
{
    claims_dpop_expect_t e;
    claims_dpop_result_t r1, r2, r3;
    claims_status_t s1, s2, s3;

    claims_dpop_expect_init(&e);
    e.htm = FZ_DPOP_HTM;
    e.htu = expected_htu;
    e.now = NOW;
    e.token = FZ_DPOP_TOKEN;
    e.token_len = strlen(FZ_DPOP_TOKEN);
    e.nonce_required = nonce_required;
    e.nonce_secret = nonce_secret;
    s1 = claims_dpop_verify(p, proof, len, &e, &r1);
    e.keys = key_cache;
    s2 = claims_dpop_verify(p, proof, len, &e, &r2);
    s3 = claims_dpop_verify(p, proof, len, &e, &r3);
    same_result(s1, &r1, s2, &r2);
    same_result(s1, &r1, s3, &r3);
    if (s1 == CLAIMS_OK) {
        check_accepted(p, proof, len, &r1, nonce_required);
    }
    else {
        check_refused(s1, &r1);
    }
    return s1;
}

/* ------------------------------------------------------------------ the other readers */

static void check_htu(apr_pool_t *p, const char *s, size_t len)
{
    char *n1 = NULL, *n2 = NULL;
    if (claims_dpop_htu_normalize(p, s, len, &n1) != CLAIMS_OK) {
        return;
    }
    CHECK(strncmp(n1, "http://", 7) == 0 || strncmp(n1, "https://", 8) == 0);
    CHECK(strchr(n1, '?') == NULL && strchr(n1, '#') == NULL);
    {
        const char *auth = strstr(n1, "://") + 3, *path = strchr(auth, '/');
        size_t plen = path != NULL ? strlen(path) : 0;
        CHECK(path != NULL && memchr(auth, '@', (size_t)(path - auth)) == NULL);   /* '@' is a path character */
        CHECK(strstr(path, "/./") == NULL && strstr(path, "/../") == NULL);
        CHECK(!(plen >= 2 && strcmp(path + plen - 2, "/.") == 0) && !(plen >= 3 && strcmp(path + plen - 3, "/..") == 0));
    }
    CHECK(claims_dpop_htu_normalize(p, n1, strlen(n1), &n2) == CLAIMS_OK && strcmp(n1, n2) == 0);
    CHECK(memchr(s, '\0', len) != NULL || claims_dpop_htu_match(p, apr_pstrmemdup(p, s, len), n1) == 1);
}

static void check_cnf(apr_pool_t *p, const char *s, size_t len)
{
    json_t *claims = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *cnf = json_object_get(claims, "cnf");
    int kind = -1;
    (void)p;
    if (claims != NULL && claims_cnf_check(claims, JKT_A, X5T_B, &kind) == CLAIMS_OK && cnf != NULL) {
        const char *name;
        json_t *v;
        CHECK(json_is_object(cnf) && json_object_size(cnf) > 0 && kind != CLAIMS_CNF_NONE);
        json_object_foreach((json_t *)cnf, name, v) {
            const char *want = strcmp(name, "jkt") == 0 ? JKT_A : strcmp(name, "x5t#S256") == 0 ? X5T_B : NULL;
            CHECK(want != NULL && json_is_string(v) && strlen(want) == json_string_length(v)
                  && strcmp(json_string_value(v), want) == 0);
        }
    }
    json_decref(claims);
}

static void check_nonce_and_cert(apr_pool_t *p, const char *s, size_t len)
{
    unsigned char *der = NULL;
    apr_size_t der_len = 0;
    int r = claims_dpop_nonce_check(nonce_secret, s, len, NOW, 0);

    if (r != CLAIMS_DPOP_NONCE_BAD) {
        CHECK(len == strlen(r == CLAIMS_DPOP_NONCE_CURRENT ? nonce_now : nonce_prev));
        CHECK(memcmp(s, r == CLAIMS_DPOP_NONCE_CURRENT ? nonce_now : nonce_prev, len) == 0);
    }
    if (claims_client_cert_parse(p, s, len, &der, &der_len) == CLAIMS_OK) {
        char *b64 = apr_palloc(p, (der_len + 2) / 3 * 4 + 1);
        const char *in = s, *end = s + len;
        EVP_EncodeBlock((unsigned char *)b64, der, (int)der_len);
        while (in < end && *in == ' ') {
            in++;
        }
        while (end > in && end[-1] == ' ') {
            end--;
        }
        CHECK((size_t)(end - in) == strlen(b64) + 2 && memcmp(in + 1, b64, strlen(b64)) == 0);
        CHECK(claims_x5t_s256(p, der, der_len) != NULL);
    }
}

/* ------------------------------------------------------------------ "#header\npayload" */

static char *substitute(apr_pool_t *p, const char *s, const char *jwk, const char *other)
{
    char *out = "";
    const char *start = s;
    for (const char *c = s; *c != '\0'; c++) {
        const char *rep = NULL;
        if (c[0] == '$') {
            rep = c[1] == 'J' ? jwk : c[1] == 'K' ? other : c[1] == 'A' ? ath : c[1] == 'N' ? nonce_now
                : c[1] == 'P' ? nonce_prev : NULL;
        }
        if (rep != NULL) {
            out = apr_pstrcat(p, out, apr_pstrmemdup(p, start, (apr_size_t)(c - start)), rep, NULL);
            start = c + 2;
            c++;
        }
    }
    return apr_pstrcat(p, out, start, NULL);
}

static char *signed_input(apr_pool_t *p, const char *s, size_t size)
{
    const char *nl = memchr(s, '\n', size);
    char *header = apr_pstrmemdup(p, s + 1, nl != NULL ? (size_t)(nl - s - 1) : size - 1);
    char *payload = nl != NULL ? apr_pstrmemdup(p, nl + 1, size - (size_t)(nl + 1 - s)) : "";
    char *alg_name = NULL;
    claims_alg_t a;
    EVP_PKEY *signer;
    json_t *h;

    /* the alg first (with a placeholder jwk), so that "$J" can be the key that signs */
    h = json_loads(substitute(p, header, "{}", "{}"), 0, NULL);
    if (json_is_string(json_object_get(h, "alg"))) {
        alg_name = apr_pstrdup(p, json_string_value(json_object_get(h, "alg")));
    }
    json_decref(h);
    a = alg_name != NULL ? claims_alg_from_name(alg_name, strlen(alg_name)) : CLAIMS_ALG_UNKNOWN;
    signer = fz_key_for(keys, a);
    if (signer == NULL) {
        signer = keys->p256;   /* HS* (signed with the test secret) or an alg without a key */
    }
    header = substitute(p, header, fz_jwk(p, signer, NULL, NULL, NULL),
                        signer == keys->p256 ? tkeys[4].jwk : tkeys[0].jwk);
    payload = substitute(p, payload, NULL, NULL);
    if (a == CLAIMS_ALG_UNKNOWN) {
        return apr_pstrcat(p, fz_b64url(p, (const unsigned char *)header, strlen(header)), ".",
                           fz_b64url(p, (const unsigned char *)payload, strlen(payload)), ".AAAA", NULL);
    }
    return fz_token(p, keys, a, header, payload);
}

static void self_test(apr_pool_t *gp)
{
    static const char *const algs[] = {"ES256", "ES384", "ES512", "RS256", "PS512", "EdDSA", "Ed448"};
    for (int i = 0; i < 7; i++) {
        const char *in = apr_psprintf(gp, "#{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":$J}\n{\"jti\":\"j\","
                                      "\"htm\":\"POST\",\"htu\":\"" FZ_DPOP_HTU "\",\"iat\":%.0f,\"ath\":\"$A\","
                                      "\"nonce\":\"$N\"}", algs[i], FZ_NOW);
        char *proof = signed_input(gp, in, strlen(in));
        if (check_proof(gp, proof, strlen(proof), 1) != CLAIMS_OK) {
            fprintf(stderr, "self test: %s\n", algs[i]);
            fz_die("a valid proof is refused");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *s;

    apr_pool_create(&p, fz_global_pool());
    s = size > 0 ? apr_pmemdup(p, data, size) : "";
    if (size > 0 && s[0] == '#') {
        char *proof = signed_input(p, s, size);
        check_proof(p, proof, strlen(proof), 0);
        check_proof(p, proof, strlen(proof), 1);
        {
            const char *nl = memchr(s, '\n', size);
            if (nl != NULL) {
                check_cnf(p, nl + 1, size - (size_t)(nl + 1 - s));
            }
        }
    }
    else {
        check_proof(p, s, size, (size & 1) != 0);
        check_htu(p, s, size);
        check_cnf(p, s, size);
        check_nonce_and_cert(p, s, size);
    }
    apr_pool_destroy(p);
    return 0;
}
