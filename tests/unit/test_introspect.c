/*
 * test_introspect.c - opaque tokens (SECURITY.md CL-92, CL-93): the RFC 7662 request (the exact
 * form body, client_secret_basic / _post, private_key_jwt assertions verified with the public
 * key), the client credentials loaded at configuration time, and the answers: JSON (RFC 7662)
 * and signed JWT (RFC 9701, answers signed here with OpenSSL through test_util).
 */
#include "test_util.h"

#include "claims_b64url.h"
#include "claims_introspect.h"
#include "claims_validate.h"

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <string.h>
#include <unistd.h>

#define ISS "https://issuer.a"
#define CLIENT "rs-client"
#define ENDPOINT "https://issuer.a/oauth/introspect"
#define NOW 1750000000.0
#define HINT "&token_type_hint=access_token"

/* ------------------------------------------------------------------ helpers */

static claims_introspect_client_t secret_client(claims_client_auth_t method, const char *id, const char *secret)
{
    claims_introspect_client_t c;
    memset(&c, 0, sizeof(c));
    c.client_id = id;
    c.method = method;
    c.secret = (const unsigned char *)secret;
    c.secret_len = secret != NULL ? strlen(secret) : 0;
    return c;
}

static claims_introspect_client_t key_client(EVP_PKEY *key, claims_alg_t alg, const char *kid)
{
    claims_introspect_client_t c;
    memset(&c, 0, sizeof(c));
    c.client_id = CLIENT;
    c.method = CLAIMS_AUTH_PRIVATE_KEY_JWT;
    c.key = key;
    c.alg = alg;
    c.kid = kid;
    return c;
}

static claims_introspect_request_t request(const claims_introspect_client_t *c, const char *token, apr_size_t len)
{
    claims_introspect_request_t rq;
    ck_assert_int_eq(claims_introspect_request(tu_p, c, ENDPOINT, token, len, 0, NOW, &rq), CLAIMS_OK);
    ck_assert_uint_eq(rq.len, strlen(rq.body));
    return rq;
}

/* The value of parameter name in a form body (as sent, still encoded), or NULL. */
static const char *form_param(const char *body, const char *name)
{
    apr_size_t n = strlen(name);
    for (const char *s = body; s != NULL; s = strchr(s, '&') != NULL ? strchr(s, '&') + 1 : NULL) {
        if (strncmp(s, name, n) == 0 && s[n] == '=') {
            return apr_pstrndup(tu_p, s + n + 1, strcspn(s + n + 1, "&"));
        }
    }
    return NULL;
}

static char *decode_basic(const char *value)
{
    apr_size_t n;
    unsigned char *out;
    int len;
    ck_assert_int_eq(strncmp(value, "Basic ", 6), 0);
    n = strlen(value + 6);
    out = apr_pcalloc(tu_p, n + 1);
    len = EVP_DecodeBlock(out, (const unsigned char *)value + 6, (int)n);
    ck_assert_int_ge(len, 0);
    while (len > 0 && n > 0 && value[6 + n - 1] == '=') {  /* EVP_DecodeBlock counts padding */
        len--;
        n--;
    }
    return apr_pstrndup(tu_p, (char *)out, (apr_size_t)len);
}

static apr_status_t remove_file(void *path)
{
    unlink(path);
    return APR_SUCCESS;
}

/* A file holding len bytes, removed with the test's pool. */
static const char *write_file(const void *data, apr_size_t len)
{
    const char *dir = NULL;
    char *path;
    apr_file_t *f;
    apr_size_t written = 0;
    ck_assert_int_eq(apr_temp_dir_get(&dir, tu_p), APR_SUCCESS);
    path = apr_pstrcat(tu_p, dir, "/claims-introspect-XXXXXX", NULL);
    ck_assert_int_eq(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, tu_p),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_file_write_full(f, data, len, &written), APR_SUCCESS);
    ck_assert_int_eq(apr_file_close(f), APR_SUCCESS);
    apr_pool_cleanup_register(tu_p, path, remove_file, apr_pool_cleanup_null);
    return path;
}

static const char *write_text(const char *text)
{
    return write_file(text, strlen(text));
}

static char *pem_traditional(EVP_PKEY *key, const EVP_CIPHER *enc)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;
    ck_assert_int_eq(PEM_write_bio_PrivateKey_traditional(bio, key, enc, (unsigned char *)(enc ? "pass" : NULL),
                                                         enc ? 4 : 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    out = apr_pstrmemdup(tu_p, data, (apr_size_t)n);
    BIO_free(bio);
    return out;
}

static char *pem_pkcs8_encrypted(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;
    ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), "pass", 4, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    out = apr_pstrmemdup(tu_p, data, (apr_size_t)n);
    BIO_free(bio);
    return out;
}

/* ------------------------------------------------------------------ the request body (CL-92) */

/* the token is one parameter whatever it holds: '&', '=', '+', '%', blanks, CR LF, NUL,
 * non-ASCII all become %XX, RFC 3986 unreserved bytes stay */
static const struct {
    const char *token;
    apr_size_t len;
    const char *encoded;
} nasty_tokens[] = {
    {"2YotnFZFEjr1zCsicMWpAA", 22, "2YotnFZFEjr1zCsicMWpAA"},
    {"a&token_type_hint=refresh_token", 31, "a%26token_type_hint%3Drefresh_token"},
    {"a&client_id=evil&client_secret=x", 32, "a%26client_id%3Devil%26client_secret%3Dx"},
    {"x=y+z w", 7, "x%3Dy%2Bz%20w"},
    {"%41%", 4, "%2541%25"},
    {"AZaz09-._~", 10, "AZaz09-._~"},
    {"/?#[]@!$'()*,;:", 15, "%2F%3F%23%5B%5D%40%21%24%27%28%29%2A%2C%3B%3A"},
    {"a\0b\r\nc", 6, "a%00b%0D%0Ac"},
    {"\xc3\xa9t\xc3\xa9\xe2\x82\xac", 8, "%C3%A9t%C3%A9%E2%82%AC"},
    {"\x80\xff\x7f\x01", 4, "%80%FF%7F%01"},
    {"", 0, ""},
};

START_TEST(test_token_is_percent_encoded_so_no_parameter_can_be_injected)
{
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, CLIENT, "secret");
    claims_introspect_request_t rq = request(&c, nasty_tokens[_i].token, nasty_tokens[_i].len);
    ck_assert_str_eq(rq.body, apr_pstrcat(tu_p, "token=", nasty_tokens[_i].encoded, HINT, NULL));
}
END_TEST

START_TEST(test_every_byte_but_an_unreserved_one_is_percent_encoded)
{
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, CLIENT, "secret");
    for (int b = 0; b < 256; b++) {
        char tok = (char)b;
        claims_introspect_request_t rq = request(&c, &tok, 1);
        int keep = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-'
            || b == '.' || b == '_' || b == '~';
        const char *want = keep ? apr_psprintf(tu_p, "token=%c" HINT, b) : apr_psprintf(tu_p, "token=%%%02X" HINT, b);
        ck_assert_msg(strcmp(rq.body, want) == 0, "byte 0x%02x gave %s", b, rq.body);
    }
}
END_TEST

START_TEST(test_request_asks_for_json_or_for_a_jwt_answer)
{
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, CLIENT, "secret");
    claims_introspect_request_t rq;
    ck_assert_int_eq(claims_introspect_request(tu_p, &c, ENDPOINT, "t", 1, 0, NOW, &rq), CLAIMS_OK);
    ck_assert_str_eq(rq.accept, "application/json");
    ck_assert_int_eq(claims_introspect_request(tu_p, &c, ENDPOINT, "t", 1, 1, NOW, &rq), CLAIMS_OK);
    ck_assert_str_eq(rq.accept, "application/token-introspection+jwt");
}
END_TEST

/* ------------------------------------------------------------------ client_secret_basic / _post */

/* RFC 6749 section 2.3.1: id and secret form-encoded (appendix B: a space is '+'), then base64 */
static const struct {
    const char *id, *secret, *pair;
} basic[] = {
    {"s6BhdRkqt3", "gX1fBat3bV", "s6BhdRkqt3:gX1fBat3bV"},
    {"client:1", "pa:ss", "client%3A1:pa%3Ass"},
    {"a%b", "100%", "a%25b:100%25"},
    {"a+b c", "x y+z", "a%2Bb+c:x+y%2Bz"},
    {"rs", " %&+\xc2\xa3\xe2\x82\xac", "rs:+%25%26%2B%C2%A3%E2%82%AC"},  /* appendix B's own example */
    {"\xc3\xa9mile", "\xe6\x97\xa5\xe6\x9c\xac", "%C3%A9mile:%E6%97%A5%E6%9C%AC"},
    {"id", "-._~", "id:-._~"},
};

START_TEST(test_client_secret_basic_encodes_id_and_secret_then_base64)
{
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, basic[_i].id, basic[_i].secret);
    claims_introspect_request_t rq = request(&c, "tok", 3);
    ck_assert_ptr_nonnull(rq.authorization);
    ck_assert_str_eq(decode_basic(rq.authorization), basic[_i].pair);
    ck_assert_str_eq(rq.body, "token=tok" HINT);
    /* made once by claims_introspect_client_finish: the very same value */
    claims_introspect_client_finish(tu_p, &c);
    ck_assert_ptr_nonnull(c.basic);
    ck_assert_str_eq(request(&c, "tok", 3).authorization, rq.authorization);
}
END_TEST

/* the RFC 6749 section 2.3.1 example, byte for byte */
START_TEST(test_client_secret_basic_matches_the_rfc_example)
{
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, "s6BhdRkqt3", "gX1fBat3bV");
    ck_assert_str_eq(request(&c, "t", 1).authorization, "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");
}
END_TEST

START_TEST(test_client_secret_post_puts_id_and_secret_in_the_body)
{
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_POST, "my client&x=1", "s3cr=t+ %");
    claims_introspect_request_t rq = request(&c, "tok&en", 6);
    ck_assert_ptr_null(rq.authorization);
    ck_assert_str_eq(rq.body, "token=tok%26en" HINT "&client_id=my%20client%26x%3D1&client_secret=s3cr%3Dt%2B%20%25");
}
END_TEST

START_TEST(test_secret_with_any_bytes_is_encoded_not_cut)
{
    static const unsigned char raw[] = {'a', 0, 'b', '\n', 0xff};
    claims_introspect_client_t c = secret_client(CLAIMS_AUTH_CLIENT_SECRET_POST, CLIENT, NULL);
    c.secret = raw;
    c.secret_len = sizeof(raw);
    ck_assert_str_eq(request(&c, "t", 1).body, "token=t" HINT "&client_id=rs-client&client_secret=a%00b%0A%FF");
}
END_TEST

START_TEST(test_unusable_client_record_is_refused)
{
    claims_introspect_client_t cases[11];
    claims_introspect_request_t rq;
    cases[0] = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, NULL, "s");
    cases[1] = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, "", "s");
    cases[2] = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, CLIENT, NULL);
    cases[3] = secret_client(CLAIMS_AUTH_CLIENT_SECRET_POST, CLIENT, "");
    cases[4] = secret_client((claims_client_auth_t)7, CLIENT, "s");
    cases[5] = key_client(NULL, CLAIMS_ALG_ES256, NULL);
    cases[6] = key_client(tu_keys.ec384, CLAIMS_ALG_ES256, NULL);   /* alg does not fit the key */
    cases[7] = key_client(tu_keys.rsa, CLAIMS_ALG_HS256, NULL);
    cases[8] = key_client(tu_keys.ec256, CLAIMS_ALG_ES256, "kid-\xff");  /* not UTF-8: no JSON string */
    cases[9] = key_client(tu_keys.ec256, CLAIMS_ALG_ES256, NULL);
    cases[9].client_id = "caf\xe9";
    cases[10] = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, CLIENT, "s");
    cases[10].secret_len = CLAIMS_INTROSPECT_MAX_SECRET + 1;
    for (int i = 0; i < TU_COUNT(cases); i++) {
        ck_assert_msg(claims_introspect_request(tu_p, &cases[i], ENDPOINT, "t", 1, 0, NOW, &rq) == CLAIMS_ERR_CONFIG,
                      "case %d accepted", i);
        ck_assert_ptr_null(rq.body);
    }
    ck_assert_int_eq(claims_introspect_request(tu_p, NULL, ENDPOINT, "t", 1, 0, NOW, &rq), CLAIMS_ERR_CONFIG);
    cases[0] = secret_client(CLAIMS_AUTH_CLIENT_SECRET_BASIC, CLIENT, "s");
    ck_assert_int_eq(claims_introspect_request(tu_p, &cases[0], NULL, "t", 1, 0, NOW, &rq), CLAIMS_ERR_CONFIG);
}
END_TEST

/* ------------------------------------------------------------------ private_key_jwt */

static const struct {
    const char *name;                  /* the header's alg */
    claims_alg_t alg;
    apr_size_t sig_len;                /* 0: any */
} assertion_algs[] = {
    {"ES256", CLAIMS_ALG_ES256, 64},   {"ES384", CLAIMS_ALG_ES384, 96},   {"ES512", CLAIMS_ALG_ES512, 132},
    {"RS256", CLAIMS_ALG_RS256, 256},  {"RS384", CLAIMS_ALG_RS384, 256},  {"RS512", CLAIMS_ALG_RS512, 256},
    {"PS256", CLAIMS_ALG_PS256, 256},  {"PS384", CLAIMS_ALG_PS384, 256},  {"PS512", CLAIMS_ALG_PS512, 256},
    {"EdDSA", CLAIMS_ALG_EDDSA, 64},   {"Ed25519", CLAIMS_ALG_ED25519, 64}, {"Ed448", CLAIMS_ALG_ED448, 114},
};

static EVP_PKEY *key_for(claims_alg_t alg)
{
    switch (alg) {
    case CLAIMS_ALG_ES256:
        return tu_keys.ec256;
    case CLAIMS_ALG_ES384:
        return tu_keys.ec384;
    case CLAIMS_ALG_ES512:
        return tu_keys.ec521;
    case CLAIMS_ALG_EDDSA:
    case CLAIMS_ALG_ED25519:
        return tu_keys.ed25519;
    case CLAIMS_ALG_ED448:
        return tu_keys.ed448;
    default:
        return tu_keys.rsa;
    }
}

/* The assertion of a private_key_jwt request, verified with key's public JWK by the core's
 * own verifier (issuer = the client id, as RFC 7523 makes it). */
static claims_verified_t verified_assertion(const claims_introspect_request_t *rq, EVP_PKEY *key, const char *alg,
                                            const char *kid)
{
    claims_issuer_t *is = tu_issuer(CLIENT, 0);
    claims_verified_t v;
    const char *assertion = form_param(rq->body, "client_assertion");
    claims_status_t st;
    ck_assert_ptr_null(rq->authorization);
    ck_assert_str_eq(form_param(rq->body, "client_assertion_type"),
                     "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer");
    ck_assert_ptr_null(form_param(rq->body, "client_id"));
    ck_assert_ptr_null(form_param(rq->body, "client_secret"));
    ck_assert_ptr_nonnull(assertion);
    tu_issuer_jwk(is, key, alg, kid);
    st = tu_verify2(assertion, is, NULL, &v);
    ck_assert_msg(st == CLAIMS_OK, "%s assertion: %s", alg, claims_status_name(st));
    return v;
}

#define PREFIX "token=opaque" HINT "&client_assertion_type="

START_TEST(test_client_assertion_verifies_with_the_public_key)
{
    EVP_PKEY *key = key_for(assertion_algs[_i].alg);
    claims_introspect_client_t c = key_client(key, assertion_algs[_i].alg, "client-key-1");
    claims_introspect_request_t rq = request(&c, "opaque", 6);
    claims_verified_t v = verified_assertion(&rq, key, assertion_algs[_i].name, "client-key-1");
    json_t *h = v.jws->header;

    ck_assert_str_eq(json_string_value(json_object_get(h, "alg")), assertion_algs[_i].name);
    ck_assert_str_eq(json_string_value(json_object_get(h, "kid")), "client-key-1");
    ck_assert_ptr_null(json_object_get(h, "typ"));
    ck_assert_int_eq(json_object_size(h), 2);
    ck_assert_uint_eq(v.jws->sig_len, assertion_algs[_i].sig_len);
    ck_assert_int_eq(strncmp(rq.body, PREFIX, sizeof(PREFIX) - 1), 0);
}
END_TEST

START_TEST(test_client_assertion_has_the_rfc_7523_claims)
{
    claims_introspect_client_t c = key_client(tu_keys.ec256, CLAIMS_ALG_ES256, NULL);
    claims_introspect_request_t rq;
    claims_verified_t v;
    json_t *cl;
    unsigned char *jti;
    apr_size_t jti_len;

    ck_assert_int_eq(claims_introspect_request(tu_p, &c, ENDPOINT, "t", 1, 1, NOW + 0.75, &rq), CLAIMS_OK);
    v = verified_assertion(&rq, tu_keys.ec256, "ES256", NULL);
    cl = v.claims;
    ck_assert_ptr_null(json_object_get(v.jws->header, "kid"));
    ck_assert_str_eq(json_string_value(json_object_get(cl, "iss")), CLIENT);
    ck_assert_str_eq(json_string_value(json_object_get(cl, "sub")), CLIENT);
    ck_assert_str_eq(json_string_value(json_object_get(cl, "aud")), ENDPOINT);
    ck_assert(json_is_integer(json_object_get(cl, "iat")));
    ck_assert_int_eq(json_integer_value(json_object_get(cl, "iat")), 1750000000);
    ck_assert_int_eq(json_integer_value(json_object_get(cl, "exp")), 1750000000 + CLAIMS_CLIENT_ASSERTION_TTL);
    ck_assert_int_eq(claims_b64url_decode(tu_p, json_string_value(json_object_get(cl, "jti")),
                                          json_string_length(json_object_get(cl, "jti")), &jti, &jti_len), 0);
    ck_assert_uint_eq(jti_len, 16);
    ck_assert_int_eq(json_object_size(cl), 6);
}
END_TEST

START_TEST(test_client_assertion_has_a_fresh_jti_each_time)
{
    claims_introspect_client_t c = key_client(tu_keys.ed25519, CLAIMS_ALG_EDDSA, NULL);
    apr_hash_t *seen = apr_hash_make(tu_p);
    for (int i = 0; i < 64; i++) {
        claims_introspect_request_t rq = request(&c, "t", 1);
        claims_verified_t v = verified_assertion(&rq, tu_keys.ed25519, "EdDSA", NULL);
        const char *jti = json_string_value(json_object_get(v.claims, "jti"));
        ck_assert_ptr_nonnull(jti);
        ck_assert_msg(apr_hash_get(seen, jti, APR_HASH_KEY_STRING) == NULL, "jti %s repeated", jti);
        apr_hash_set(seen, apr_pstrdup(tu_p, jti), APR_HASH_KEY_STRING, "");
    }
}
END_TEST

/* an id or kid with JSON metacharacters is escaped, not spliced; aud can be configured */
START_TEST(test_client_assertion_escapes_the_client_id_and_takes_a_configured_audience)
{
    claims_introspect_client_t c = key_client(tu_keys.ec256, CLAIMS_ALG_ES256, "k\"}");
    claims_introspect_request_t rq;
    claims_issuer_t *is = tu_issuer("c\"li\\ent", 0);
    claims_verified_t v;
    c.client_id = "c\"li\\ent";
    c.audience = ISS;
    rq = request(&c, "t", 1);
    tu_issuer_jwk(is, tu_keys.ec256, "ES256", NULL);
    ck_assert_int_eq(tu_verify2(form_param(rq.body, "client_assertion"), is, NULL, &v), CLAIMS_OK);
    ck_assert_str_eq(json_string_value(json_object_get(v.claims, "sub")), "c\"li\\ent");
    ck_assert_str_eq(json_string_value(json_object_get(v.claims, "aud")), ISS);
    ck_assert_str_eq(json_string_value(json_object_get(v.jws->header, "kid")), "k\"}");
}
END_TEST

/* ------------------------------------------------------------------ the client key file */

#define EC_PARAMETERS "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

static claims_status_t load_key(const char *path, claims_alg_t alg, claims_alg_t *alg_out, char **err)
{
    EVP_PKEY *key = NULL;
    *err = NULL;
    *alg_out = CLAIMS_ALG_UNKNOWN;
    return claims_introspect_client_key_load(tu_p, path, alg, &key, alg_out, err);
}

START_TEST(test_client_key_is_read_from_pkcs8_or_traditional_pem_and_its_alg_inferred)
{
    static const struct {
        int key;                       /* index into the keys below */
        int traditional;
        claims_alg_t alg, want;
    } cases[] = {
        {0, 0, CLAIMS_ALG_UNKNOWN, CLAIMS_ALG_ES256}, {0, 1, CLAIMS_ALG_UNKNOWN, CLAIMS_ALG_ES256},
        {1, 0, CLAIMS_ALG_UNKNOWN, CLAIMS_ALG_ES384}, {2, 1, CLAIMS_ALG_UNKNOWN, CLAIMS_ALG_ES512},
        {3, 0, CLAIMS_ALG_UNKNOWN, CLAIMS_ALG_EDDSA}, {4, 0, CLAIMS_ALG_UNKNOWN, CLAIMS_ALG_EDDSA},
        {5, 0, CLAIMS_ALG_RS256, CLAIMS_ALG_RS256},   {5, 1, CLAIMS_ALG_PS512, CLAIMS_ALG_PS512},
        {0, 0, CLAIMS_ALG_ES256, CLAIMS_ALG_ES256},   {3, 0, CLAIMS_ALG_ED25519, CLAIMS_ALG_ED25519},
        {4, 0, CLAIMS_ALG_EDDSA, CLAIMS_ALG_EDDSA},
    };
    EVP_PKEY *keys[] = {tu_keys.ec256, tu_keys.ec384, tu_keys.ec521, tu_keys.ed25519, tu_keys.ed448, tu_keys.rsa};
    for (int i = 0; i < TU_COUNT(cases); i++) {
        EVP_PKEY *k = keys[cases[i].key];
        const char *pem = cases[i].traditional ? pem_traditional(k, NULL) : tu_pem_private(tu_p, k);
        EVP_PKEY *loaded = NULL;
        claims_alg_t alg = CLAIMS_ALG_UNKNOWN;
        char *err = NULL;
        claims_status_t st = claims_introspect_client_key_load(tu_p, write_text(pem), cases[i].alg, &loaded, &alg, &err);
        ck_assert_msg(st == CLAIMS_OK, "case %d: %s", i, err);
        ck_assert_int_eq(alg, cases[i].want);
        ck_assert_int_eq(EVP_PKEY_eq(loaded, k), 1);
    }
}
END_TEST

/* "openssl ecparam -genkey" writes the curve first: that block is not a key */
START_TEST(test_client_key_file_may_start_with_ec_parameters)
{
    claims_alg_t alg;
    char *err;
    const char *path = write_text(apr_pstrcat(tu_p, EC_PARAMETERS, pem_traditional(tu_keys.ec256, NULL), NULL));
    ck_assert_int_eq(load_key(path, CLAIMS_ALG_UNKNOWN, &alg, &err), CLAIMS_OK);
    ck_assert_int_eq(alg, CLAIMS_ALG_ES256);
}
END_TEST

/* the key loaded from a file signs assertions its public key verifies */
START_TEST(test_loaded_client_key_signs_assertions_its_public_key_verifies)
{
    claims_introspect_client_t c = key_client(NULL, CLAIMS_ALG_UNKNOWN, "kid-1");
    char *err = NULL;
    claims_introspect_request_t rq;
    ck_assert_int_eq(claims_introspect_client_key_load(tu_p, write_text(tu_pem_private(tu_p, tu_keys.ec384)),
                                                       CLAIMS_ALG_UNKNOWN, &c.key, &c.alg, &err), CLAIMS_OK);
    rq = request(&c, "t", 1);
    verified_assertion(&rq, tu_keys.ec384, "ES384", "kid-1");
}
END_TEST

static const struct {
    const char *what;
    int kind;                          /* how the file is made, see refused_key_file() */
    claims_alg_t alg;
    const char *err;                   /* part of the message */
} refused_keys[] = {
    {"public key", 0, CLAIMS_ALG_ES256, "holds a public key or certificate"},
    {"certificate", 1, CLAIMS_ALG_ES256, "holds a public key or certificate"},
    {"RSA without alg", 2, CLAIMS_ALG_UNKNOWN, "an RSA key needs alg="},
    {"RSA 1024", 3, CLAIMS_ALG_RS256, "too weak"},
    {"HMAC alg", 4, CLAIMS_ALG_HS256, "HS256 is an HMAC algorithm"},
    {"ES384 for P-256", 4, CLAIMS_ALG_ES384, "does not fit this key"},
    {"RS256 for P-256", 4, CLAIMS_ALG_RS256, "does not fit this key"},
    {"EdDSA for RSA", 2, CLAIMS_ALG_EDDSA, "does not fit this key"},
    {"two keys", 5, CLAIMS_ALG_UNKNOWN, "more than one private key"},
    {"encrypted PKCS#8", 6, CLAIMS_ALG_UNKNOWN, "encrypted private key"},
    {"encrypted traditional", 7, CLAIMS_ALG_UNKNOWN, "encrypted private key"},
    {"not PEM", 8, CLAIMS_ALG_UNKNOWN, "not a PEM file"},
    {"empty", 9, CLAIMS_ALG_UNKNOWN, "not a PEM file"},
    {"broken DER", 10, CLAIMS_ALG_UNKNOWN, "cannot be decoded"},
    {"secp256k1", 11, CLAIMS_ALG_UNKNOWN, "curve not supported"},
    {"parameters only", 12, CLAIMS_ALG_UNKNOWN, "holds no private key"},
};

static const char *refused_key_file(int kind)
{
    switch (kind) {
    case 0:
        return write_text(tu_pem_spki(tu_p, tu_keys.ec256));
    case 1:
        return write_text(tu_cert_pem(tu_p, tu_keys.ec256, NULL, NULL));
    case 2:
        return write_text(tu_pem_private(tu_p, tu_keys.rsa));
    case 3:
        return write_text(tu_pem_private(tu_p, tu_keys.rsa_1024));
    case 4:
        return write_text(tu_pem_private(tu_p, tu_keys.ec256));
    case 5:
        return write_text(apr_pstrcat(tu_p, tu_pem_private(tu_p, tu_keys.ec256), tu_pem_private(tu_p, tu_keys.ec256_b),
                                      NULL));
    case 6:
        return write_text(pem_pkcs8_encrypted(tu_keys.ec256));
    case 7:
        return write_text(pem_traditional(tu_keys.ec256, EVP_aes_256_cbc()));
    case 8:
        return write_text("{\"kty\":\"EC\"}");
    case 9:
        return write_text("");
    case 10:
        return write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    case 11:
        return write_text(tu_pem_private(tu_p, tu_gen_ec(tu_p, "secp256k1")));
    default:
        return write_text(EC_PARAMETERS);
    }
}

START_TEST(test_client_key_file_is_refused_with_a_reason)
{
    const char *path = refused_key_file(refused_keys[_i].kind);
    claims_alg_t alg;
    char *err;
    ck_assert_int_eq(load_key(path, refused_keys[_i].alg, &alg, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strstr(err, refused_keys[_i].err) != NULL,
                  "%s: %s", refused_keys[_i].what, err);
    ck_assert_ptr_null(strstr(err, "BEGIN"));
}
END_TEST

START_TEST(test_missing_client_key_file_is_an_io_error)
{
    claims_alg_t alg;
    char *err;
    ck_assert_int_eq(load_key("/nonexistent/claims/client.pem", CLAIMS_ALG_ES256, &alg, &err), CLAIMS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
}
END_TEST

/* ------------------------------------------------------------------ the client secret file */

static claims_status_t load_secret(const void *data, apr_size_t n, const unsigned char **bytes, apr_size_t *len,
                                   char **err)
{
    *bytes = NULL;
    *len = 0;
    *err = NULL;
    return claims_introspect_secret_load(tu_p, write_file(data, n), bytes, len, err);
}

START_TEST(test_client_secret_file_drops_one_trailing_newline)
{
    static const struct {
        const char *file, *secret;
    } cases[] = {
        {"s3cret", "s3cret"}, {"s3cret\n", "s3cret"}, {"s3cret\r\n", "s3cret"}, {"s3cret\n\n", "s3cret\n"},
        {" spaced secret \t", " spaced secret \t"}, {"\xc3\xa9t\xc3\xa9\n", "\xc3\xa9t\xc3\xa9"}, {"x\r", "x\r"},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        const unsigned char *b;
        apr_size_t n;
        char *err;
        ck_assert_int_eq(load_secret(cases[i].file, strlen(cases[i].file), &b, &n, &err), CLAIMS_OK);
        ck_assert_uint_eq(n, strlen(cases[i].secret));
        ck_assert_int_eq(memcmp(b, cases[i].secret, n), 0);
        ck_assert_int_eq(b[n], '\0');
    }
}
END_TEST

START_TEST(test_client_secret_file_of_4_kib_is_the_longest_accepted)
{
    char *big = apr_palloc(tu_p, CLAIMS_INTROSPECT_MAX_SECRET + 2);
    const unsigned char *b;
    apr_size_t n;
    char *err;
    memset(big, 'x', CLAIMS_INTROSPECT_MAX_SECRET + 1);
    big[CLAIMS_INTROSPECT_MAX_SECRET + 1] = '\n';
    ck_assert_int_eq(load_secret(big, CLAIMS_INTROSPECT_MAX_SECRET, &b, &n, &err), CLAIMS_OK);
    ck_assert_uint_eq(n, CLAIMS_INTROSPECT_MAX_SECRET);
    big[CLAIMS_INTROSPECT_MAX_SECRET] = '\n';
    ck_assert_int_eq(load_secret(big, CLAIMS_INTROSPECT_MAX_SECRET + 1, &b, &n, &err), CLAIMS_OK);
    ck_assert_uint_eq(n, CLAIMS_INTROSPECT_MAX_SECRET);
    big[CLAIMS_INTROSPECT_MAX_SECRET] = '\r';
    ck_assert_int_eq(load_secret(big, CLAIMS_INTROSPECT_MAX_SECRET + 2, &b, &n, &err), CLAIMS_OK);
    ck_assert_uint_eq(n, CLAIMS_INTROSPECT_MAX_SECRET);
    big[CLAIMS_INTROSPECT_MAX_SECRET] = 'x';
    ck_assert_int_eq(load_secret(big, CLAIMS_INTROSPECT_MAX_SECRET + 1, &b, &n, &err), CLAIMS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err, "longer than 4096 bytes"));
    ck_assert_ptr_null(b);
}
END_TEST

#define PEM_AS_SECRET "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"

START_TEST(test_client_secret_file_is_refused_when_empty_binary_or_a_key)
{
    static const struct {
        const char *file;
        apr_size_t len;
        const char *err;
    } cases[] = {
        {"", 0, "is empty"}, {"\n", 1, "is empty"}, {"\r\n", 2, "is empty"},
        {"ab\0cd", 5, "NUL byte"},
        {PEM_AS_SECRET, sizeof(PEM_AS_SECRET) - 1, "PEM file"},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        const unsigned char *b;
        apr_size_t n;
        char *err;
        ck_assert_int_eq(load_secret(cases[i].file, cases[i].len, &b, &n, &err), CLAIMS_ERR_KEY);
        ck_assert_msg(strstr(err, cases[i].err) != NULL, "case %d: %s", i, err);
    }
    {
        const unsigned char *b;
        apr_size_t n;
        char *err = NULL;
        ck_assert_int_eq(claims_introspect_secret_load(tu_p, "/nonexistent/secret", &b, &n, &err), CLAIMS_ERR_IO);
    }
}
END_TEST

/* ------------------------------------------------------------------ JSON answers (CL-93) */

static claims_status_t parse_json(const char *answer, claims_introspection_t *out, const char **why)
{
    claims_status_t st;
    *why = "unset";
    st = claims_introspect_parse_json(tu_p, answer, strlen(answer), ISS, out, why);
    ck_assert_msg((st == CLAIMS_OK) == (*why == NULL), "%s: why %s", answer, *why);
    ck_assert_msg((st == CLAIMS_OK) == (out->claims != NULL) && (st == CLAIMS_OK) == (out->active == 1), "%s",
                  answer);
    return st;
}

START_TEST(test_active_answer_gives_its_members_but_active_as_claims)
{
    claims_introspection_t out;
    const char *why;
    ck_assert_int_eq(parse_json("{\"active\":true,\"iss\":\"" ISS "\",\"sub\":\"alice\",\"scope\":\"read write\","
                                "\"client_id\":\"app\",\"exp\":4102444800,\"token_type\":\"Bearer\"}", &out, &why),
                     CLAIMS_OK);
    ck_assert_ptr_null(json_object_get(out.claims, "active"));
    ck_assert_int_eq(json_object_size(out.claims), 6);
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "sub")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "iss")), ISS);
}
END_TEST

/* the issuer's own endpoint over verified TLS speaks for the issuer: iss is set to it */
START_TEST(test_active_answer_without_iss_is_taken_as_the_issuers)
{
    claims_introspection_t out;
    const char *why;
    ck_assert_int_eq(parse_json(" {\"active\" : true, \"sub\":\"bob\"}\n", &out, &why), CLAIMS_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "iss")), ISS);
    ck_assert_int_eq(json_object_size(out.claims), 2);
    ck_assert_int_eq(parse_json("{\"\\u0061ctive\":true}", &out, &why), CLAIMS_OK);  /* the same name, escaped */
}
END_TEST

/* what the answer holds is then validated as a JWT's claims (exp, nbf, aud, iss) */
START_TEST(test_active_answer_claims_are_validated_as_those_of_a_jwt)
{
    static const struct {
        const char *answer;
        claims_status_t st;
    } cases[] = {
        {"{\"active\":true,\"sub\":\"a\",\"aud\":\"api\",\"exp\":4102444800}", CLAIMS_OK},
        {"{\"active\":true,\"sub\":\"a\",\"aud\":\"api\",\"exp\":1700000000}", CLAIMS_ERR_EXPIRED},
        {"{\"active\":true,\"sub\":\"a\",\"aud\":\"api\",\"exp\":4102444800,\"nbf\":1760000000}", CLAIMS_ERR_NOT_YET_VALID},
        {"{\"active\":true,\"sub\":\"a\",\"aud\":[\"other\"],\"exp\":4102444800}", CLAIMS_ERR_AUDIENCE},
        {"{\"active\":true,\"sub\":\"a\",\"exp\":4102444800}", CLAIMS_ERR_AUDIENCE},
        {"{\"active\":true,\"sub\":\"a\",\"aud\":\"api\",\"exp\":\"4102444800\"}", CLAIMS_ERR_TIME_CLAIM},
    };
    apr_array_header_t *aud = apr_array_make(tu_p, 1, sizeof(const char *));
    claims_policy_t pol;
    *(const char **)apr_array_push(aud) = "api";
    memset(&pol, 0, sizeof(pol));
    pol.issuer = ISS;
    pol.audiences = aud;
    pol.leeway = 60;
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_introspection_t out;
        const char *why;
        ck_assert_int_eq(parse_json(cases[i].answer, &out, &why), CLAIMS_OK);
        ck_assert_msg(claims_validate(out.claims, NULL, &pol, NOW, NULL) == cases[i].st, "%s", cases[i].answer);
    }
}
END_TEST

/* only the JSON boolean true is active; anything else but false is a malformed answer: 503,
 * never 200 and never a cached "inactive" */
static const char *const not_boolean[] = {
    "{\"active\":\"true\"}", "{\"active\":\"false\"}", "{\"active\":1}", "{\"active\":0}", "{\"active\":null}",
    "{\"active\":[true]}", "{\"active\":{\"active\":true}}", "{\"active\":1.0}", "{}", "{\"Active\":true}",
    "{\"active \":true}", "{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"exp\":4102444800}",
};

START_TEST(test_active_must_be_the_json_boolean_true)
{
    claims_introspection_t out;
    const char *why;
    ck_assert_int_eq(parse_json(not_boolean[_i], &out, &why), CLAIMS_ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(why, "\"active\""));
    ck_assert_int_eq(claims_status_class(CLAIMS_ERR_UNAVAILABLE), CLAIMS_CLASS_UNAVAILABLE);
}
END_TEST

START_TEST(test_inactive_answer_is_inactive_whatever_else_it_says)
{
    static const char *const inactive[] = {
        "{\"active\":false}",
        "{\"active\":false,\"iss\":\"https://evil.example\"}",
        "{\"sub\":\"alice\",\"exp\":4102444800,\"active\":false,\"scope\":\"admin\"}",
        "{\"active\":false,\"token_type\":\"refresh_token\"}",
    };
    for (int i = 0; i < TU_COUNT(inactive); i++) {
        claims_introspection_t out;
        const char *why;
        ck_assert_int_eq(parse_json(inactive[i], &out, &why), CLAIMS_ERR_INACTIVE);
        ck_assert_str_eq(why, "the issuer says the token is not active");
    }
    ck_assert_int_eq(claims_status_class(CLAIMS_ERR_INACTIVE), CLAIMS_CLASS_INVALID_TOKEN);
}
END_TEST

static const char *const other_iss[] = {
    "\"https://issuer.b\"", "\"https://issuer.a/\"", "\"HTTPS://issuer.a\"", "\"https://issuer.\"", "\"\"",
    "null", "42", "[\"" ISS "\"]", "{\"iss\":\"" ISS "\"}", "true",
};

START_TEST(test_active_answer_naming_another_issuer_is_refused)
{
    claims_introspection_t out;
    const char *why;
    const char *answer = apr_psprintf(tu_p, "{\"active\":true,\"sub\":\"a\",\"iss\":%s}", other_iss[_i]);
    ck_assert_int_eq(parse_json(answer, &out, &why), CLAIMS_ERR_ISSUER);
    ck_assert_str_eq(why, "the answer names another issuer");
}
END_TEST

/* token_type_hint is a hint: an endpoint may answer for a refresh token, which is no access token */
START_TEST(test_active_refresh_token_is_refused)
{
    static const struct {
        const char *type;
        claims_status_t st;
    } cases[] = {
        {"\"refresh_token\"", CLAIMS_ERR_TYPE}, {"\"Refresh_Token\"", CLAIMS_ERR_TYPE}, {"\"Bearer\"", CLAIMS_OK},
        {"\"access_token\"", CLAIMS_OK}, {"\"DPoP\"", CLAIMS_OK}, {"7", CLAIMS_OK},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_introspection_t out;
        const char *why;
        const char *answer = apr_psprintf(tu_p, "{\"active\":true,\"token_type\":%s}", cases[i].type);
        ck_assert_msg(parse_json(answer, &out, &why) == cases[i].st, "%s", answer);
    }
}
END_TEST

static const char *const not_one_object[] = {
    "", " ", "null", "[]", "true", "\"active\"", "[{\"active\":true}]", "{\"active\":true} {}",
    "{\"active\":true}x", "{\"active\":true", "{\"active\":tru}", "<html><body>active</body></html>",
    "{\"active\":true,\"active\":true}", "{\"active\":false,\"active\":true}", "{\"active\":true,\"sub\":\"\xff\"}",
    "{\"active\":true,\"sub\":\"a\\u0000\"}", "{'active':true}", "{\"active\":true,}",
};

START_TEST(test_answer_that_is_not_one_json_object_is_unavailable)
{
    claims_introspection_t out;
    const char *why;
    ck_assert_int_eq(parse_json(not_one_object[_i], &out, &why), CLAIMS_ERR_UNAVAILABLE);
    ck_assert_str_eq(why, "the answer is not one JSON object (or repeats a member)");
}
END_TEST

START_TEST(test_absurdly_nested_or_oversized_answer_is_unavailable)
{
    claims_introspection_t out;
    const char *why;
    apr_size_t depth = 3000, n = 0;
    char *deep = apr_palloc(tu_p, 2 * depth + 64);
    char *big;

    n += (apr_size_t)sprintf(deep, "{\"active\":true,\"x\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}");
    ck_assert_int_eq(parse_json(deep, &out, &why), CLAIMS_ERR_UNAVAILABLE);

    big = apr_palloc(tu_p, CLAIMS_INTROSPECT_MAX_ANSWER + 2);
    memset(big, ' ', CLAIMS_INTROSPECT_MAX_ANSWER + 1);
    memcpy(big, "{\"active\":true}", 15);
    big[CLAIMS_INTROSPECT_MAX_ANSWER + 1] = '\0';
    ck_assert_int_eq(claims_introspect_parse_json(tu_p, big, CLAIMS_INTROSPECT_MAX_ANSWER, ISS, &out, &why), CLAIMS_OK);
    ck_assert_int_eq(claims_introspect_parse_json(tu_p, big, CLAIMS_INTROSPECT_MAX_ANSWER + 1, ISS, &out, &why),
                     CLAIMS_ERR_UNAVAILABLE);
    ck_assert_str_eq(why, "the answer is too large");
}
END_TEST

/* nothing of an answer goes into the reason (CL-59, CL-74) */
START_TEST(test_reason_never_echoes_the_answer)
{
    static const char *const answers[] = {
        "{\"active\":\"%s%n<script>\"}", "{\"active\":true,\"iss\":\"%s%n<script>\"}", "%s%n<script>",
        "{\"active\":false,\"why\":\"%s%n<script>\"}",
    };
    for (int i = 0; i < TU_COUNT(answers); i++) {
        claims_introspection_t out;
        const char *why;
        ck_assert_int_ne(parse_json(answers[i], &out, &why), CLAIMS_OK);
        ck_assert_ptr_null(strstr(why, "script"));
        ck_assert_ptr_null(strchr(why, '%'));
    }
}
END_TEST

/* ------------------------------------------------------------------ JWT answers (RFC 9701) */

#define HDR "{\"alg\":\"ES256\",\"kid\":\"as-1\",\"typ\":\"token-introspection+jwt\"}"
#define TI "{\"active\":true,\"iss\":\"" ISS "\",\"sub\":\"alice\",\"scope\":\"read\",\"exp\":4102444800}"
#define ENVELOPE(aud, iat, ti) "{\"iss\":\"" ISS "\",\"aud\":" aud ",\"iat\":" iat ",\"token_introspection\":" ti "}"
#define GOOD ENVELOPE("\"" CLIENT "\"", "1750000000", TI)

static claims_issuer_t *as_issuer(void)
{
    claims_issuer_t *is = tu_issuer(ISS, 0);
    tu_issuer_jwk(is, tu_keys.ec256, "ES256", "as-1");
    return is;
}

static char *answer_jwt(const char *header, const char *payload)
{
    return tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256, NULL, 0, header, payload);
}

static claims_status_t parse_jwt_with(const claims_issuer_t *is, const char *body, claims_introspection_t *out,
                                      const char **why)
{
    claims_status_t st;
    *why = "unset";
    st = claims_introspect_parse_jwt(tu_p, body, strlen(body), is, NULL, NULL, CLIENT, NOW, 60, out, why);
    ck_assert_msg((st == CLAIMS_OK) == (*why == NULL), "why %s", *why);
    ck_assert((st == CLAIMS_OK) == (out->claims != NULL));
    return st;
}

static claims_status_t parse_jwt(const char *body, claims_introspection_t *out, const char **why)
{
    return parse_jwt_with(as_issuer(), body, out, why);
}

START_TEST(test_jwt_answer_gives_its_token_introspection_claims)
{
    static const char *const tails[] = {"", "\n", "\r\n"};
    for (int i = 0; i < TU_COUNT(tails); i++) {
        claims_introspection_t out;
        const char *why;
        ck_assert_int_eq(parse_jwt(apr_pstrcat(tu_p, answer_jwt(HDR, GOOD), tails[i], NULL), &out, &why), CLAIMS_OK);
        ck_assert_ptr_null(json_object_get(out.claims, "active"));
        ck_assert_ptr_null(json_object_get(out.claims, "token_introspection"));
        ck_assert_str_eq(json_string_value(json_object_get(out.claims, "sub")), "alice");
        ck_assert_str_eq(json_string_value(json_object_get(out.claims, "iss")), ISS);
        ck_assert_int_eq(json_object_size(out.claims), 4);
    }
}
END_TEST

/* typ as claims_validate reads it; aud a string or an array naming this client */
START_TEST(test_jwt_answer_typ_and_aud_in_every_allowed_form)
{
    static const struct {
        const char *header, *payload;
    } ok[] = {
        {"{\"alg\":\"ES256\",\"typ\":\"application/token-introspection+jwt\"}", GOOD},
        {"{\"alg\":\"ES256\",\"typ\":\"Token-Introspection+JWT\"}", GOOD},
        {HDR, ENVELOPE("[\"other\",\"" CLIENT "\"]", "1750000000", TI)},
        {HDR, ENVELOPE("\"" CLIENT "\"", "1750000060", TI)},                   /* iat: now + leeway */
        {HDR, ENVELOPE("\"" CLIENT "\"", "1749999640", TI)},                   /* now - leeway - 300 s */
        {HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"iat\":1750000000,\"exp\":1750000100,"
              "\"token_introspection\":" TI "}"},
    };
    for (int i = 0; i < TU_COUNT(ok); i++) {
        claims_introspection_t out;
        const char *why;
        ck_assert_msg(parse_jwt(answer_jwt(ok[i].header, ok[i].payload), &out, &why) == CLAIMS_OK, "case %d: %s", i,
                      why);
    }
}
END_TEST

static const struct {
    const char *what;
    const char *header, *payload;
    const char *why;
} bad_envelope[] = {
    {"no typ", "{\"alg\":\"ES256\"}", GOOD, "typ"},
    {"typ JWT", "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", GOOD, "typ"},
    {"typ at+jwt", "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", GOOD, "typ"},
    {"typ prefix", "{\"alg\":\"ES256\",\"typ\":\"token-introspection+jwt2\"}", GOOD, "typ"},
    {"typ JSON", "{\"alg\":\"ES256\",\"typ\":\"application/token-introspection+json\"}", GOOD, "typ"},
    {"other aud", HDR, ENVELOPE("\"other-client\"", "1750000000", TI), "aud"},
    {"aud array without us", HDR, ENVELOPE("[\"a\",\"b\"]", "1750000000", TI), "aud"},
    {"aud as a prefix", HDR, ENVELOPE("\"rs-clien\"", "1750000000", TI), "aud"},
    {"empty aud", HDR, ENVELOPE("[]", "1750000000", TI), "aud"},
    {"no aud", HDR, "{\"iss\":\"" ISS "\",\"iat\":1750000000,\"token_introspection\":" TI "}", "aud"},
    {"other iss", HDR, "{\"iss\":\"https://issuer.b\",\"aud\":\"" CLIENT "\",\"iat\":1750000000,"
                       "\"token_introspection\":" TI "}", "iss"},
    {"no iss", HDR, "{\"aud\":\"" CLIENT "\",\"iat\":1750000000,\"token_introspection\":" TI "}", "iss"},
    {"no iat", HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"token_introspection\":" TI "}", "no iat"},
    {"iat in the future", HDR, ENVELOPE("\"" CLIENT "\"", "1750000061", TI), "iat"},
    {"iat too old", HDR, ENVELOPE("\"" CLIENT "\"", "1749999639", TI), "too long ago"},
    {"iat a string", HDR, ENVELOPE("\"" CLIENT "\"", "\"1750000000\"", TI), "iat"},
    {"expired", HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"iat\":1750000000,\"exp\":1749999000,"
                     "\"token_introspection\":" TI "}", "expired"},
    {"no token_introspection", HDR, "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"iat\":1750000000,"
                                    "\"active\":true,\"sub\":\"alice\"}", "no token_introspection"},
    {"token_introspection a string", HDR, ENVELOPE("\"" CLIENT "\"", "1750000000", "\"{\\\"active\\\":true}\""),
     "not a JSON object"},
    {"token_introspection an array", HDR, ENVELOPE("\"" CLIENT "\"", "1750000000", "[" TI "]"), "not a JSON object"},
    {"token_introspection true", HDR, ENVELOPE("\"" CLIENT "\"", "1750000000", "true"), "not a JSON object"},
    {"token_introspection null", HDR, ENVELOPE("\"" CLIENT "\"", "1750000000", "null"), "not a JSON object"},
    {"unknown kid", "{\"alg\":\"ES256\",\"kid\":\"as-2\",\"typ\":\"token-introspection+jwt\"}", GOOD, "no key"},
    {"crit", "{\"alg\":\"ES256\",\"crit\":[\"x\"],\"x\":1,\"typ\":\"token-introspection+jwt\"}", GOOD,
     "not a compact JWS"},
};

START_TEST(test_jwt_answer_with_a_bad_envelope_is_unavailable)
{
    claims_introspection_t out;
    const char *why;
    ck_assert_int_eq(parse_jwt(answer_jwt(bad_envelope[_i].header, bad_envelope[_i].payload), &out, &why),
                     CLAIMS_ERR_UNAVAILABLE);
    ck_assert_msg(strstr(why, bad_envelope[_i].why) != NULL, "%s: %s", bad_envelope[_i].what, why);
}
END_TEST

/* a forged or unsigned answer never counts */
START_TEST(test_jwt_answer_that_does_not_verify_is_unavailable)
{
    char *tok = answer_jwt(HDR, GOOD);
    char *flipped = apr_pstrdup(tu_p, tok);
    char *other_key = tu_jws(tu_p, CLAIMS_ALG_ES256, tu_keys.ec256_b, NULL, 0, HDR, GOOD);
    char *hs = tu_jws(tu_p, CLAIMS_ALG_HS256, NULL, tu_secret, 32, "{\"alg\":\"HS256\",\"kid\":\"as-1\","
                      "\"typ\":\"token-introspection+jwt\"}", GOOD);
    char *none = apr_pstrcat(tu_p, tu_signing_input(tu_p, "{\"alg\":\"none\",\"typ\":\"token-introspection+jwt\"}",
                                                    GOOD), ".", NULL);
    char *none_sig = apr_pstrcat(tu_p, tu_signing_input(tu_p, "{\"alg\":\"none\"}", GOOD), ".AAAA", NULL);
    const struct {
        const char *body, *why;
    } cases[] = {
        {flipped, "signature"}, {other_key, "signature"}, {hs, "no key"}, {none, "not a compact JWS"},
        {none_sig, "unsigned"}, {GOOD, "not a compact JWS"}, {"", "not a compact JWS"},
        {"a.b", "not a compact JWS"}, {"a.b.c.d.e", "not a compact JWS"},
    };
    flipped[strlen(flipped) - 5] = flipped[strlen(flipped) - 5] == 'A' ? 'B' : 'A';
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_introspection_t out;
        const char *why;
        ck_assert_int_eq(parse_jwt(cases[i].body, &out, &why), CLAIMS_ERR_UNAVAILABLE);
        ck_assert_msg(strstr(why, cases[i].why) != NULL, "case %d: %s", i, why);
    }
}
END_TEST

START_TEST(test_jwt_answer_algorithm_outside_the_issuers_allow_list_is_unavailable)
{
    claims_issuer_t *is = tu_issuer(ISS, CLAIMS_ALG_BIT(CLAIMS_ALG_RS256));
    claims_introspection_t out;
    const char *why;
    *(claims_key_t **)apr_array_push(is->keys) = APR_ARRAY_IDX(as_issuer()->keys, 0, claims_key_t *);
    ck_assert_int_eq(parse_jwt_with(is, answer_jwt(HDR, GOOD), &out, &why), CLAIMS_ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(why, "not allowed"));
}
END_TEST

/* token_introspection is read exactly as a JSON answer */
START_TEST(test_jwt_answer_member_follows_the_json_answer_rules)
{
    static const struct {
        const char *ti;
        claims_status_t st;
    } cases[] = {
        {"{\"active\":false}", CLAIMS_ERR_INACTIVE},
        {"{\"active\":\"true\",\"sub\":\"alice\"}", CLAIMS_ERR_UNAVAILABLE},
        {"{\"active\":1}", CLAIMS_ERR_UNAVAILABLE},
        {"{\"sub\":\"alice\"}", CLAIMS_ERR_UNAVAILABLE},
        {"{\"active\":true,\"iss\":\"https://issuer.b\"}", CLAIMS_ERR_ISSUER},
        {"{\"active\":true,\"token_type\":\"refresh_token\"}", CLAIMS_ERR_TYPE},
        {"{\"active\":true,\"sub\":\"alice\"}", CLAIMS_OK},
    };
    for (int i = 0; i < TU_COUNT(cases); i++) {
        claims_introspection_t out;
        const char *why;
        const char *payload = apr_psprintf(tu_p, "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"iat\":1750000000,"
                                                 "\"token_introspection\":%s}", cases[i].ti);
        ck_assert_msg(parse_jwt(answer_jwt(HDR, payload), &out, &why) == cases[i].st, "%s: %s", cases[i].ti, why);
        if (cases[i].st == CLAIMS_OK) {
            ck_assert_str_eq(json_string_value(json_object_get(out.claims, "iss")), ISS);
        }
    }
}
END_TEST

/* the issuer's keys come from its supplier, with a refresh when none fits (a rotated set) */
static const apr_array_header_t *rotated_keys(void *baton, apr_pool_t *p, const claims_issuer_t *issuer, int refresh)
{
    int *calls = baton;
    (void)p;
    calls[refresh]++;
    return refresh ? issuer->keys : NULL;
}

START_TEST(test_jwt_answer_keys_come_from_the_key_supplier)
{
    int calls[2] = {0, 0};
    claims_introspection_t out;
    const char *why = NULL;
    char *tok = answer_jwt(HDR, GOOD);
    ck_assert_int_eq(claims_introspect_parse_jwt(tu_p, tok, strlen(tok), as_issuer(), rotated_keys, calls, CLIENT, NOW,
                                                 60, &out, &why), CLAIMS_OK);
    ck_assert_int_eq(calls[0], 1);
    ck_assert_int_eq(calls[1], 1);
}
END_TEST

Suite *introspect_suite(void)
{
    Suite *s = suite_create("introspect");
    TCase *tc = tu_tcase("request", 0);
    tcase_add_loop_test(tc, test_token_is_percent_encoded_so_no_parameter_can_be_injected, 0, TU_COUNT(nasty_tokens));
    tcase_add_test(tc, test_every_byte_but_an_unreserved_one_is_percent_encoded);
    tcase_add_test(tc, test_request_asks_for_json_or_for_a_jwt_answer);
    tcase_add_loop_test(tc, test_client_secret_basic_encodes_id_and_secret_then_base64, 0, TU_COUNT(basic));
    tcase_add_test(tc, test_client_secret_basic_matches_the_rfc_example);
    tcase_add_test(tc, test_client_secret_post_puts_id_and_secret_in_the_body);
    tcase_add_test(tc, test_secret_with_any_bytes_is_encoded_not_cut);
    tcase_add_test(tc, test_unusable_client_record_is_refused);
    suite_add_tcase(s, tc);

    tc = tu_tcase("private_key_jwt", 30);
    tcase_add_loop_test(tc, test_client_assertion_verifies_with_the_public_key, 0, TU_COUNT(assertion_algs));
    tcase_add_test(tc, test_client_assertion_has_the_rfc_7523_claims);
    tcase_add_test(tc, test_client_assertion_has_a_fresh_jti_each_time);
    tcase_add_test(tc, test_client_assertion_escapes_the_client_id_and_takes_a_configured_audience);
    suite_add_tcase(s, tc);

    tc = tu_tcase("credentials", 30);
    tcase_add_test(tc, test_client_key_is_read_from_pkcs8_or_traditional_pem_and_its_alg_inferred);
    tcase_add_test(tc, test_client_key_file_may_start_with_ec_parameters);
    tcase_add_test(tc, test_loaded_client_key_signs_assertions_its_public_key_verifies);
    tcase_add_loop_test(tc, test_client_key_file_is_refused_with_a_reason, 0, TU_COUNT(refused_keys));
    tcase_add_test(tc, test_missing_client_key_file_is_an_io_error);
    tcase_add_test(tc, test_client_secret_file_drops_one_trailing_newline);
    tcase_add_test(tc, test_client_secret_file_of_4_kib_is_the_longest_accepted);
    tcase_add_test(tc, test_client_secret_file_is_refused_when_empty_binary_or_a_key);
    suite_add_tcase(s, tc);

    tc = tu_tcase("json answer", 0);
    tcase_add_test(tc, test_active_answer_gives_its_members_but_active_as_claims);
    tcase_add_test(tc, test_active_answer_without_iss_is_taken_as_the_issuers);
    tcase_add_test(tc, test_active_answer_claims_are_validated_as_those_of_a_jwt);
    tcase_add_loop_test(tc, test_active_must_be_the_json_boolean_true, 0, TU_COUNT(not_boolean));
    tcase_add_test(tc, test_inactive_answer_is_inactive_whatever_else_it_says);
    tcase_add_loop_test(tc, test_active_answer_naming_another_issuer_is_refused, 0, TU_COUNT(other_iss));
    tcase_add_test(tc, test_active_refresh_token_is_refused);
    tcase_add_loop_test(tc, test_answer_that_is_not_one_json_object_is_unavailable, 0, TU_COUNT(not_one_object));
    tcase_add_test(tc, test_absurdly_nested_or_oversized_answer_is_unavailable);
    tcase_add_test(tc, test_reason_never_echoes_the_answer);
    suite_add_tcase(s, tc);

    tc = tu_tcase("jwt answer", 0);
    tcase_add_test(tc, test_jwt_answer_gives_its_token_introspection_claims);
    tcase_add_test(tc, test_jwt_answer_typ_and_aud_in_every_allowed_form);
    tcase_add_loop_test(tc, test_jwt_answer_with_a_bad_envelope_is_unavailable, 0, TU_COUNT(bad_envelope));
    tcase_add_test(tc, test_jwt_answer_that_does_not_verify_is_unavailable);
    tcase_add_test(tc, test_jwt_answer_algorithm_outside_the_issuers_allow_list_is_unavailable);
    tcase_add_test(tc, test_jwt_answer_member_follows_the_json_answer_rules);
    tcase_add_test(tc, test_jwt_answer_keys_come_from_the_key_supplier);
    suite_add_tcase(s, tc);
    return s;
}
