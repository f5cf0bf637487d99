/*
 * claims_introspect.c - RFC 7662 introspection requests and answers, RFC 9701 JWT answers,
 * and the client credentials they use; see claims_introspect.h.
 */
#include "claims_introspect.h"
#include "claims_b64url.h"
#include "claims_json.h"
#include "claims_validate.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>
#include <strings.h>

#define INTROSPECTION_TYP "token-introspection+jwt"
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define JTI_BYTES 16

/* ------------------------------------------------------------------ form encoding */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
        || c == '_' || c == '~';
}

/* RFC 3986 unreserved bytes as they are, every other byte %XX; with plus, a space as '+'
 * (application/x-www-form-urlencoded, RFC 6749 appendix B). Never holds a NUL. */
static char *form_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len, int plus)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, len * 3 + 1), *o = out;
    for (apr_size_t i = 0; i < len; i++) {
        if (unreserved(in[i])) {
            *o++ = (char)in[i];
        }
        else if (plus && in[i] == ' ') {
            *o++ = '+';
        }
        else {
            *o++ = '%';
            *o++ = hex[in[i] >> 4];
            *o++ = hex[in[i] & 15];
        }
    }
    *o = '\0';
    return out;
}

static char *form_encode_str(apr_pool_t *p, const char *s, int plus)
{
    return form_encode(p, (const unsigned char *)s, strlen(s), plus);
}

/* "Basic " base64(form(id) ":" form(secret)), RFC 6749 section 2.3.1 */
static char *basic_value(apr_pool_t *p, const claims_introspect_client_t *c)
{
    char *pair = apr_pstrcat(p, form_encode_str(p, c->client_id, 1), ":",
                             form_encode(p, c->secret, c->secret_len, 1), NULL);
    apr_size_t n = strlen(pair);
    char *out = apr_palloc(p, 6 + (n + 2) / 3 * 4 + 1);
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)pair, (int)n);
    return out;
}

void claims_introspect_client_finish(apr_pool_t *p, claims_introspect_client_t *client)
{
    client->basic = NULL;
    if (client->method == CLAIMS_AUTH_CLIENT_SECRET_BASIC && client->client_id != NULL && client->secret != NULL) {
        client->basic = basic_value(p, client);
    }
}

/* ------------------------------------------------------------------ signing */

/* An ECDSA signature from DER to the JWS form: R and S, each coord bytes (RFC 7518 3.4). */
static unsigned char *ecdsa_jws_form(apr_pool_t *p, const unsigned char *der, size_t der_len, apr_size_t coord)
{
    const unsigned char *q = der;
    ECDSA_SIG *es = der_len <= LONG_MAX ? d2i_ECDSA_SIG(NULL, &q, (long)der_len) : NULL;
    unsigned char *out = apr_palloc(p, 2 * coord);
    int ok = es != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(es), out, (int)coord) == (int)coord
        && BN_bn2binpad(ECDSA_SIG_get0_s(es), out + coord, (int)coord) == (int)coord;
    ECDSA_SIG_free(es);
    return ok ? out : NULL;
}

/* The JWS signature of data with key under alg; NULL when OpenSSL refuses. */
static unsigned char *sign(apr_pool_t *p, EVP_PKEY *key, claims_alg_t alg, const char *data, apr_size_t len,
                           apr_size_t *sig_len)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    const EVP_MD *md = ai->digest != NULL ? EVP_get_digestbyname(ai->digest) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t n = 0;
    int ok = ctx != NULL && (ai->digest == NULL || md != NULL) && EVP_DigestSignInit(ctx, &pctx, md, NULL, key) == 1;

    if (ok && ai->family == CLAIMS_FAMILY_PSS) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)ai->hash_len) == 1;
    }
    ok = ok && EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)data, len) == 1;
    if (ok) {
        sig = apr_palloc(p, n);
        ok = EVP_DigestSign(ctx, sig, &n, (const unsigned char *)data, len) == 1;
    }
    EVP_MD_CTX_free(ctx);
    if (ok && ai->family == CLAIMS_FAMILY_EC) {
        *sig_len = 2 * ai->coord_len;
        sig = ecdsa_jws_form(p, sig, n, ai->coord_len);
    }
    else {
        *sig_len = n;
    }
    ERR_clear_error();
    return ok ? sig : NULL;
}

/* Whether alg can sign with key at all: the family, and for ECDSA the curve size. */
static int alg_fits_key(claims_alg_t alg, EVP_PKEY *key)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    switch (ai->family) {
    case CLAIMS_FAMILY_RSA:
    case CLAIMS_FAMILY_PSS:
        return EVP_PKEY_is_a(key, "RSA");
    case CLAIMS_FAMILY_EC:
        return EVP_PKEY_is_a(key, "EC") && (apr_size_t)(EVP_PKEY_get_bits(key) + 7) / 8 == ai->coord_len;
    case CLAIMS_FAMILY_OKP:
        return (alg != CLAIMS_ALG_ED448 && EVP_PKEY_is_a(key, "ED25519"))
            || (alg != CLAIMS_ALG_ED25519 && EVP_PKEY_is_a(key, "ED448"));
    default:
        return 0;
    }
}

/* jansson's compact text of j (released here), copied into p; NULL when j is NULL. */
static char *json_text(apr_pool_t *p, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    char *out = s != NULL ? apr_pstrdup(p, s) : NULL;
    free(s);
    json_decref(j);
    return out;
}

static char *b64url_text(apr_pool_t *p, const char *s)
{
    return claims_b64url_encode(p, (const unsigned char *)s, strlen(s));
}

/* The private_key_jwt client assertion (RFC 7523 section 2.2), or NULL. */
static char *client_assertion(apr_pool_t *p, const claims_introspect_client_t *c, const char *aud, double now)
{
    unsigned char jti[JTI_BYTES], *sig;
    apr_size_t sig_len = 0;
    json_int_t iat = (json_int_t)now;
    json_t *h = json_pack("{s:s}", "alg", claims_alg_name(c->alg));
    char *header, *payload, *input;

    if (h != NULL && c->kid != NULL && json_object_set_new(h, "kid", json_string(c->kid)) != 0) {
        json_decref(h);
        return NULL;
    }
    if (RAND_bytes(jti, sizeof(jti)) != 1) {
        json_decref(h);
        return NULL;
    }
    header = json_text(p, h);
    payload = json_text(p, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", c->client_id, "sub", c->client_id,
                                     "aud", aud, "jti", claims_b64url_encode(p, jti, sizeof(jti)), "iat", iat,
                                     "exp", iat + CLAIMS_CLIENT_ASSERTION_TTL));
    if (header == NULL || payload == NULL) {
        return NULL;
    }
    input = apr_pstrcat(p, b64url_text(p, header), ".", b64url_text(p, payload), NULL);
    sig = sign(p, c->key, c->alg, input, strlen(input), &sig_len);
    return sig != NULL ? apr_pstrcat(p, input, ".", claims_b64url_encode(p, sig, sig_len), NULL) : NULL;
}

/* ------------------------------------------------------------------ the request */

/* Whether s (NULL: absent) can be a JSON string: the assertion's members must be UTF-8. */
static int json_text_ok(const char *s)
{
    json_t *j = s != NULL ? json_string(s) : NULL;
    int ok = s == NULL || j != NULL;
    json_decref(j);
    return ok;
}

static int client_usable(const claims_introspect_client_t *c, const char *endpoint)
{
    if (c == NULL || c->client_id == NULL || c->client_id[0] == '\0' || endpoint == NULL) {
        return 0;
    }
    switch (c->method) {
    case CLAIMS_AUTH_CLIENT_SECRET_BASIC:
    case CLAIMS_AUTH_CLIENT_SECRET_POST:
        return c->secret != NULL && c->secret_len > 0 && c->secret_len <= CLAIMS_INTROSPECT_MAX_SECRET;
    case CLAIMS_AUTH_PRIVATE_KEY_JWT:
        return c->key != NULL && alg_fits_key(c->alg, c->key) && json_text_ok(c->client_id) && json_text_ok(c->kid)
            && json_text_ok(c->audience != NULL ? c->audience : endpoint);
    default:
        return 0;
    }
}

claims_status_t claims_introspect_request(apr_pool_t *p, const claims_introspect_client_t *client,
                                          const char *endpoint, const char *token, apr_size_t len, int jwt,
                                          double now, claims_introspect_request_t *out)
{
    const char *auth = "";
    char *assertion;

    memset(out, 0, sizeof(*out));
    if (!client_usable(client, endpoint) || (token == NULL && len > 0)) {
        return CLAIMS_ERR_CONFIG;
    }
    if (client->method == CLAIMS_AUTH_CLIENT_SECRET_BASIC) {
        out->authorization = client->basic != NULL ? client->basic : basic_value(p, client);
    }
    else if (client->method == CLAIMS_AUTH_CLIENT_SECRET_POST) {
        auth = apr_pstrcat(p, "&client_id=", form_encode_str(p, client->client_id, 0), "&client_secret=",
                           form_encode(p, client->secret, client->secret_len, 0), NULL);
    }
    else {
        assertion = client_assertion(p, client, client->audience != NULL ? client->audience : endpoint, now);
        if (assertion == NULL) {
            return CLAIMS_ERR_INTERNAL;
        }
        auth = apr_pstrcat(p, "&client_assertion_type=", form_encode_str(p, JWT_BEARER, 0), "&client_assertion=",
                           assertion, NULL);
    }
    out->body = apr_pstrcat(p, "token=", form_encode(p, (const unsigned char *)(token != NULL ? token : ""), len, 0),
                            "&token_type_hint=access_token", auth, NULL);
    out->len = strlen(out->body);
    out->accept = jwt ? CLAIMS_INTROSPECT_JWT : CLAIMS_INTROSPECT_JSON;
    return CLAIMS_OK;
}

/* ------------------------------------------------------------------ answers */

static int string_is(const json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) && strcmp(json_string_value(v), want) == 0;
}

/* The verdict of an answer object (a JSON answer, or a JWT answer's token_introspection),
 * which the caller's pool owns; an active one becomes the claims. */
static claims_status_t read_answer(json_t *obj, const char *issuer, claims_introspection_t *out, const char **why)
{
    json_t *active = json_object_get(obj, "active");
    json_t *iss = json_object_get(obj, "iss");
    json_t *type = json_object_get(obj, "token_type");

    if (!json_is_boolean(active)) {
        *why = active == NULL ? "the answer has no \"active\" member" : "\"active\" is not a JSON boolean";
        return CLAIMS_ERR_UNAVAILABLE;
    }
    if (!json_is_true(active)) {
        *why = "the issuer says the token is not active";
        return CLAIMS_ERR_INACTIVE;
    }
    if (iss != NULL && !string_is(iss, issuer)) {
        *why = "the answer names another issuer";
        return CLAIMS_ERR_ISSUER;
    }
    if (json_is_string(type) && strcasecmp(json_string_value(type), "refresh_token") == 0) {
        *why = "the token is a refresh token";
        return CLAIMS_ERR_TYPE;
    }
    if (json_object_del(obj, "active") != 0
        || (iss == NULL && json_object_set_new_nocheck(obj, "iss", json_string_nocheck(issuer)) != 0)) {
        *why = "out of memory";
        return CLAIMS_ERR_INTERNAL;
    }
    out->active = 1;
    out->claims = obj;
    *why = NULL;
    return CLAIMS_OK;
}

claims_status_t claims_introspect_parse_json(apr_pool_t *p, const char *body, apr_size_t len, const char *issuer,
                                             claims_introspection_t *out, const char **why)
{
    json_t *obj;

    memset(out, 0, sizeof(*out));
    if (issuer == NULL || (body == NULL && len > 0)) {
        *why = "no issuer or no answer";
        return CLAIMS_ERR_INTERNAL;
    }
    if (len > CLAIMS_INTROSPECT_MAX_ANSWER) {
        *why = "the answer is too large";
        return CLAIMS_ERR_UNAVAILABLE;
    }
    obj = claims_json_pool(p, claims_json_object(p, (const unsigned char *)(body != NULL ? body : ""), len));
    if (obj == NULL) {
        *why = "the answer is not one JSON object (or repeats a member)";
        return CLAIMS_ERR_UNAVAILABLE;
    }
    return read_answer(obj, issuer, out, why);
}

/* Why a JWT answer failed claims_verify (fixed texts). */
static const char *verify_why(claims_status_t st)
{
    switch (st) {
    case CLAIMS_ERR_ALG_NONE:
        return "the JWT answer is unsigned (alg none)";
    case CLAIMS_ERR_SIGNATURE:
        return "the JWT answer's signature does not verify with the issuer's keys";
    case CLAIMS_ERR_NO_KEY:
        return "no key of the issuer fits the JWT answer (kid, alg)";
    case CLAIMS_ERR_ALG_NOT_ALLOWED:
        return "the JWT answer's algorithm is not allowed for the issuer";
    case CLAIMS_ERR_ISSUER:
        return "the JWT answer's iss is not the issuer";
    case CLAIMS_ERR_TOO_LARGE:
        return "the answer is too large";
    case CLAIMS_ERR_PAYLOAD_JSON:
        return "the JWT answer's payload is not one JSON object";
    default:
        return "the answer is not a compact JWS the core reads";
    }
}

/* Why a JWT answer failed claims_validate, by the claim it names (fixed texts). */
static const char *validate_why(const char *what)
{
    static const char *const whys[][2] = {
        {"typ", "the JWT answer's typ is not token-introspection+jwt"},
        {"aud", "the JWT answer is not addressed to this client (aud)"},
        {"iat", "the JWT answer's iat is malformed or in the future"},
        {"exp", "the JWT answer has expired or its exp is malformed"},
        {"nbf", "the JWT answer is not valid yet or its nbf is malformed"},
    };
    for (size_t i = 0; what != NULL && i < sizeof(whys) / sizeof(whys[0]); i++) {
        if (strcmp(what, whys[i][0]) == 0) {
            return whys[i][1];
        }
    }
    return "the JWT answer's iss is not the issuer";
}

/* The RFC 9701 envelope: typ, iss, aud = client_id, iat present and recent, exp and nbf when
 * present; NULL or why not. */
static const char *check_envelope(apr_pool_t *p, const claims_verified_t *v, const claims_issuer_t *issuer,
                                  const char *client_id, double now, apr_int64_t leeway)
{
    claims_policy_t pol;
    apr_array_header_t *aud = apr_array_make(p, 1, sizeof(const char *));
    const char *what = NULL;
    double iat = 0;

    *(const char **)apr_array_push(aud) = client_id;
    memset(&pol, 0, sizeof(pol));
    pol.issuer = issuer->iss;
    pol.audiences = aud;
    pol.exp_optional = 1;
    pol.leeway = leeway;
    pol.typ = INTROSPECTION_TYP;
    if (claims_validate(v->claims, v->jws->typ, &pol, now, &what) != CLAIMS_OK) {
        return validate_why(what);
    }
    if (claims_numeric_date(v->claims, "iat", &iat) != 1) {
        return "the JWT answer has no iat";
    }
    if (iat < now - (double)leeway - CLAIMS_INTROSPECT_JWT_MAX_AGE) {
        return "the JWT answer was issued too long ago (iat)";
    }
    return NULL;
}

claims_status_t claims_introspect_parse_jwt(apr_pool_t *p, const char *body, apr_size_t len,
                                            const claims_issuer_t *issuer, claims_keys_fn get_keys, void *baton,
                                            const char *client_id, double now, apr_int64_t leeway,
                                            claims_introspection_t *out, const char **why)
{
    const claims_issuer_t *trusted[1] = {issuer};
    claims_verifier_t v = {trusted, 1, CLAIMS_INTROSPECT_MAX_ANSWER, get_keys, baton, NULL};
    claims_verified_t ver;
    claims_status_t st;
    json_t *ti;

    memset(out, 0, sizeof(*out));
    if (issuer == NULL || issuer->iss == NULL || client_id == NULL || body == NULL) {
        *why = "no issuer, client id or answer";
        return CLAIMS_ERR_INTERNAL;
    }
    if (len > 0 && body[len - 1] == '\n') {
        len -= len > 1 && body[len - 2] == '\r' ? 2 : 1;
    }
    if ((st = claims_verify_uncached(&v, p, body, len, &ver)) != CLAIMS_OK) {
        *why = verify_why(st);
        return CLAIMS_ERR_UNAVAILABLE;
    }
    if ((*why = check_envelope(p, &ver, issuer, client_id, now, leeway)) != NULL) {
        return CLAIMS_ERR_UNAVAILABLE;
    }
    ti = json_object_get(ver.claims, "token_introspection");
    if (!json_is_object(ti)) {
        *why = ti == NULL ? "the JWT answer has no token_introspection member"
                          : "the JWT answer's token_introspection is not a JSON object";
        return CLAIMS_ERR_UNAVAILABLE;
    }
    return read_answer(claims_json_pool(p, json_incref(ti)), issuer->iss, out, why);
}

/* ------------------------------------------------------------------ credentials */

static claims_status_t key_fail(apr_pool_t *p, char **err, const char *path, const char *what)
{
    *err = apr_pstrcat(p, path, ": ", what, NULL);
    ERR_clear_error();
    return CLAIMS_ERR_KEY;
}

/* A regular file of at most max bytes, NUL-terminated. */
static claims_status_t read_file(apr_pool_t *p, const char *path, apr_size_t max, char **data, apr_size_t *len,
                                 char **err)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char ebuf[128];
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p);

    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: cannot open: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return CLAIMS_ERR_IO;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv != APR_SUCCESS || fi.filetype != APR_REG || fi.size < 0 || (apr_size_t)fi.size > max) {
        apr_file_close(f);
        *err = rv != APR_SUCCESS || fi.filetype != APR_REG
                   ? apr_psprintf(p, "%s: not a regular file", path)
                   : apr_psprintf(p, "%s: larger than %" APR_SIZE_T_FMT " bytes", path, max);
        return CLAIMS_ERR_IO;
    }
    *data = apr_palloc(p, (apr_size_t)fi.size + 1);
    *len = 0;
    rv = fi.size > 0 ? apr_file_read_full(f, *data, (apr_size_t)fi.size, len) : APR_SUCCESS;
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: read error: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return CLAIMS_ERR_IO;
    }
    (*data)[*len] = '\0';
    return CLAIMS_OK;
}

claims_status_t claims_introspect_secret_load(apr_pool_t *p, const char *path, const unsigned char **bytes,
                                              apr_size_t *len, char **err)
{
    char *data;
    apr_size_t n = 0;
    claims_status_t st = read_file(p, path, CLAIMS_MAX_KEY_FILE, &data, &n, err);

    if (st != CLAIMS_OK) {
        return st;
    }
    if (n > 0 && data[n - 1] == '\n') {
        n -= n > 1 && data[n - 2] == '\r' ? 2 : 1;
        data[n] = '\0';
    }
    if (n == 0) {
        return key_fail(p, err, path, "the client secret is empty");
    }
    if (n > CLAIMS_INTROSPECT_MAX_SECRET) {
        return key_fail(p, err, path, apr_psprintf(p, "the client secret is longer than %d bytes",
                                                  CLAIMS_INTROSPECT_MAX_SECRET));
    }
    if (memchr(data, '\0', n) != NULL) {
        return key_fail(p, err, path, "the client secret holds a NUL byte");
    }
    if (n >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
        return key_fail(p, err, path, "a PEM file is no client secret (private_key_jwt takes key=)");
    }
    *bytes = (const unsigned char *)data;
    *len = n;
    return CLAIMS_OK;
}

/* ------------------------------------------------------------------ the client key */

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* What a PEM file holds: its one private key (decoded as soon as it is read, so its DER never
 * outlives the loop), and how many blocks of each kind. */
typedef struct pem_scan_t {
    EVP_PKEY *key;
    int blocks, private_keys, encrypted, public_keys;
} pem_scan_t;

static void scan_block(pem_scan_t *s, const char *name, const char *header, const unsigned char *der, long n)
{
    apr_size_t nl = strlen(name);
    const unsigned char *q = der;

    s->blocks++;
    if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 || strstr(header, "ENCRYPTED") != NULL) {
        s->encrypted++;
    }
    else if (nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0) {
        EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &q, n);
        if (k != NULL && q != der + n) {
            EVP_PKEY_free(k);
            k = NULL;
        }
        if (s->private_keys++ > 0 || k == NULL) {
            EVP_PKEY_free(k);
            k = NULL;                  /* two keys are none: which would be the client's? */
        }
        EVP_PKEY_free(s->key);
        s->key = k;
    }
    else if (strstr(name, "PUBLIC KEY") != NULL || strstr(name, "CERTIFICATE") != NULL) {
        s->public_keys++;
    }
}

static void scan_pem(const char *data, apr_size_t len, pem_scan_t *s)
{
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(data, (int)len) : NULL;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long n = 0;

    memset(s, 0, sizeof(*s));
    while (bio != NULL && PEM_read_bio(bio, &name, &header, &der, &n) == 1) {
        scan_block(s, name, header, der, n);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(der, n > 0 ? (size_t)n : 0);
    }
    BIO_free(bio);
    ERR_clear_error();
}

/* Why a scanned file gives no key, or NULL. */
static const char *scan_why(const pem_scan_t *s)
{
    if (s->blocks == 0) {
        return "not a PEM file";
    }
    if (s->encrypted > 0) {
        return "holds an encrypted private key: store it unencrypted, readable by the server only";
    }
    if (s->private_keys > 1) {
        return "holds more than one private key";
    }
    if (s->private_keys == 0) {
        return s->public_keys > 0 ? "holds a public key or certificate: private_key_jwt needs the client's private key"
                                  : "holds no private key";
    }
    return s->key == NULL ? "the private key cannot be decoded" : NULL;
}

/* The algorithm a key without alg= signs with: its EC curve's, or EdDSA; UNKNOWN otherwise. */
static claims_alg_t infer_alg(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "EC")) {
        int bits = EVP_PKEY_get_bits(key);
        return bits == 256 ? CLAIMS_ALG_ES256 : bits == 384 ? CLAIMS_ALG_ES384 : bits == 521 ? CLAIMS_ALG_ES512
                                                                                          : CLAIMS_ALG_UNKNOWN;
    }
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
        return CLAIMS_ALG_EDDSA;
    }
    return CLAIMS_ALG_UNKNOWN;
}

/* The public half through the core's own key rules (claims_keys.h: type, curve, strength, the
 * algorithm bound to it), then one signature it must verify: what the issuer will do with it. */
static claims_status_t check_key(apr_pool_t *p, const char *path, EVP_PKEY *key, claims_alg_t alg, char **err)
{
    static const char probe[] = "mod_claims private_key_jwt self-test";
    unsigned char *der = NULL, *sig;
    int n = i2d_PUBKEY(key, &der);
    apr_array_header_t *keys = apr_array_make(p, 1, sizeof(claims_key_t *));
    claims_key_opts_t opts;
    claims_status_t st;
    apr_size_t sig_len = 0;

    if (n <= 0) {
        return key_fail(p, err, path, "the public half of the key cannot be encoded");
    }
    memset(&opts, 0, sizeof(opts));
    opts.alg = alg;
    st = claims_keys_parse(p, (const char *)der, (apr_size_t)n, path, &opts, keys, err);
    OPENSSL_free(der);
    if (st != CLAIMS_OK) {
        return st;
    }
    sig = sign(p, key, alg, probe, sizeof(probe) - 1, &sig_len);
    if (sig == NULL || claims_sig_verify(APR_ARRAY_IDX(keys, 0, claims_key_t *), (const unsigned char *)probe,
                                         sizeof(probe) - 1, sig, sig_len) != CLAIMS_OK) {
        return key_fail(p, err, path, apr_psprintf(p, "the key cannot sign with %s", claims_alg_name(alg)));
    }
    return CLAIMS_OK;
}

claims_status_t claims_introspect_client_key_load(apr_pool_t *p, const char *path, claims_alg_t alg,
                                                  EVP_PKEY **out, claims_alg_t *alg_out, char **err)
{
    const claims_alg_info_t *ai = claims_alg_info(alg);
    char *data;
    apr_size_t len = 0;
    pem_scan_t scan;
    const char *why;
    claims_status_t st;

    if (ai->family == CLAIMS_FAMILY_HMAC) {
        return key_fail(p, err, path, apr_psprintf(p, "%s is an HMAC algorithm: private_key_jwt signs with the "
                                                      "client's private key (client_secret_jwt is not supported)",
                                                   ai->name));
    }
    if (alg != CLAIMS_ALG_UNKNOWN && ai->family == CLAIMS_FAMILY_NONE) {
        return key_fail(p, err, path, "unknown algorithm");
    }
    if ((st = read_file(p, path, CLAIMS_MAX_KEY_FILE, &data, &len, err)) != CLAIMS_OK) {
        return st;
    }
    scan_pem(data, len, &scan);
    memset(data, 0, len);              /* the key's text, in a pool that lives on */
    if ((why = scan_why(&scan)) != NULL) {
        EVP_PKEY_free(scan.key);
        return key_fail(p, err, path, why);
    }
    apr_pool_cleanup_register(p, scan.key, pkey_cleanup, apr_pool_cleanup_null);
    if (alg == CLAIMS_ALG_UNKNOWN && (alg = infer_alg(scan.key)) == CLAIMS_ALG_UNKNOWN) {
        return key_fail(p, err, path, EVP_PKEY_is_a(scan.key, "RSA")
                                          ? "an RSA key needs alg= (RS256, RS384, RS512, PS256, PS384, PS512)"
                                          : "key type not supported (RSA, EC P-256/P-384/P-521, Ed25519, Ed448)");
    }
    if ((st = check_key(p, path, scan.key, alg, err)) != CLAIMS_OK) {
        return st;
    }
    *out = scan.key;
    *alg_out = alg;
    return CLAIMS_OK;
}
