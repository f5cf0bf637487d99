/*
 * claims_jwk.c - JWK and JWK Set documents read into key material; see claims_jwk.h.
 *
 * A JWK is read in the order read_key() gives: the members every key has (kty, kid,
 * alg), its usage (use, key_ops), then by type: "oct" (read_oct), or RSA, EC and OKP
 * (read_public, one function per type). The first wrong member refuses the key.
 */
#include "claims_jwk.h"
#include "claims_b64url.h"

#include <apr_strings.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <string.h>

/* Why a key is skipped on its members (claims_keys adds those of the algorithm binding). */
static const claims_jwk_skip_t SKIP_UNKNOWN_ALG = {"unsupported algorithm", CLAIMS_LOG_INFO};
static const claims_jwk_skip_t SKIP_JWE_ALG = {"encryption key (JWE alg)", CLAIMS_LOG_INFO};
static const claims_jwk_skip_t SKIP_USE_ENC = {"encryption key (use enc)", CLAIMS_LOG_INFO};
static const claims_jwk_skip_t SKIP_USE_OTHER = {"use is not sig", CLAIMS_LOG_INFO};
static const claims_jwk_skip_t SKIP_KEY_OPS = {"key_ops without verify", CLAIMS_LOG_INFO};
static const claims_jwk_skip_t SKIP_CURVE = {"unsupported curve", CLAIMS_LOG_INFO};
static const claims_jwk_skip_t SKIP_KTY = {"unknown key type", CLAIMS_LOG_INFO};

/* A parsed key document; its JSON is released with the pool it was parsed into. */
typedef struct jwk_doc_t {
    const char *label;
    json_t *root;                    /* the document */
    json_t *set;                     /* its "keys" array, or NULL when it is one JWK */
} jwk_doc_t;

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ members */

typedef struct jwk_ctx_t {
    apr_pool_t *p;
    const char *label;
    char **err;
} jwk_ctx_t;

static int jwe_alg_name(const char *a)
{
    static const char *const names[] = {
        "RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512", "A128KW", "A192KW",
        "A256KW", "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
        "A128GCMKW", "A192GCMKW", "A256GCMKW", "PBES2-HS256+A128KW", "PBES2-HS384+A192KW",
        "PBES2-HS512+A256KW", "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256",
        "A192CBC-HS384", "A256CBC-HS512", NULL};
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(a, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Optional string member: 0 absent, 1 present (*out set), -1 wrong type. */
static int opt_string(json_t *o, const char *name, const char **out, apr_size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    *out = json_string_value(v);
    if (len != NULL) {
        *len = json_string_length(v);
    }
    return 1;
}

/* A required base64url member decoded; exact: exact length required (0 = any length > 0). */
static int b64_member(const jwk_ctx_t *c, json_t *o, const char *name, apr_size_t exact,
                      unsigned char **out, apr_size_t *outlen)
{
    const char *s;
    apr_size_t slen;
    if (opt_string(o, name, &s, &slen) != 1) {
        *c->err = apr_psprintf(c->p, "%s: member \"%s\" missing or not a string", c->label, name);
        return -1;
    }
    if (claims_b64url_decode(c->p, s, slen, out, outlen) != 0) {
        *c->err = apr_psprintf(c->p, "%s: member \"%s\" is not base64url", c->label, name);
        return -1;
    }
    if ((exact != 0 && *outlen != exact) || *outlen == 0) {
        *c->err = apr_psprintf(c->p, "%s: member \"%s\" has the wrong length", c->label, name);
        return -1;
    }
    return 0;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            pkey = NULL;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *jwk_rsa(const jwk_ctx_t *c, json_t *jwk)
{
    unsigned char *n, *e;
    apr_size_t nlen, elen;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;

    if (b64_member(c, jwk, "n", 0, &n, &nlen) != 0 || b64_member(c, jwk, "e", 0, &e, &elen) != 0) {
        return NULL;
    }
    /* Base64urlUInt is minimal: no leading zero octet (RFC 7518 section 2, CL-63) */
    if (n[0] == 0 || e[0] == 0) {
        *c->err = apr_psprintf(c->p, "%s: RSA n or e has leading zero octets", c->label);
        return NULL;
    }
    if (elen > 8) {
        *c->err = apr_psprintf(c->p, "%s: RSA exponent is unreasonably large", c->label);
        return NULL;
    }
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n != NULL && bn_e != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
        pkey = pkey_fromdata("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (pkey == NULL) {
        *c->err = apr_psprintf(c->p, "%s: RSA key could not be built", c->label);
    }
    return pkey;
}

static EVP_PKEY *jwk_ec(const jwk_ctx_t *c, json_t *jwk)
{
    const char *crv;
    apr_size_t coord = 0;
    const char *group = NULL;
    unsigned char *x, *y, *pt;
    apr_size_t xlen, ylen;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;

    if (opt_string(jwk, "crv", &crv, NULL) != 1) {
        *c->err = apr_psprintf(c->p, "%s: EC key without a string \"crv\"", c->label);
        return NULL;
    }
    if (strcmp(crv, "P-256") == 0) {
        coord = 32, group = "prime256v1";
    }
    else if (strcmp(crv, "P-384") == 0) {
        coord = 48, group = "secp384r1";
    }
    else if (strcmp(crv, "P-521") == 0) {
        coord = 66, group = "secp521r1";
    }
    else {
        *c->err = apr_psprintf(c->p, "%s: EC curve \"%s\" not supported", c->label,
                               claims_log_escape(c->p, crv, strlen(crv), 32));
        return NULL;
    }
    if (b64_member(c, jwk, "x", coord, &x, &xlen) != 0 || b64_member(c, jwk, "y", coord, &y, &ylen) != 0) {
        return NULL;
    }
    pt = apr_palloc(c->p, 1 + 2 * coord);
    pt[0] = 0x04;
    memcpy(pt + 1, x, coord);
    memcpy(pt + 1 + coord, y, coord);
    bld = OSSL_PARAM_BLD_new();
    if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * coord) == 1) {
        pkey = pkey_fromdata("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    if (pkey == NULL) {
        *c->err = apr_psprintf(c->p, "%s: EC point is not on curve %s", c->label, crv);
    }
    return pkey;
}

static EVP_PKEY *jwk_okp(const jwk_ctx_t *c, json_t *jwk)
{
    const char *crv;
    unsigned char *x;
    apr_size_t xlen;
    int type;
    apr_size_t len;
    EVP_PKEY *pkey;

    if (opt_string(jwk, "crv", &crv, NULL) != 1) {
        *c->err = apr_psprintf(c->p, "%s: OKP key without a string \"crv\"", c->label);
        return NULL;
    }
    if (strcmp(crv, "Ed25519") == 0) {
        type = EVP_PKEY_ED25519, len = 32;
    }
    else if (strcmp(crv, "Ed448") == 0) {
        type = EVP_PKEY_ED448, len = 57;
    }
    else {
        *c->err = apr_psprintf(c->p, "%s: OKP curve \"%s\" is not a signature curve (Ed25519, Ed448)",
                               c->label, claims_log_escape(c->p, crv, strlen(crv), 32));
        return NULL;
    }
    if (b64_member(c, jwk, "x", len, &x, &xlen) != 0) {
        return NULL;
    }
    pkey = EVP_PKEY_new_raw_public_key(type, NULL, x, xlen);
    if (pkey == NULL) {
        *c->err = apr_psprintf(c->p, "%s: Ed key could not be built", c->label);
    }
    return pkey;
}

/* The first x5c certificate, when present, must hold the same key (CL-63). */
static int x5c_matches(const jwk_ctx_t *c, json_t *jwk, EVP_PKEY *pkey)
{
    json_t *x5c = json_object_get(jwk, "x5c");
    json_t *first;
    const char *b64;
    apr_size_t blen;
    unsigned char *der;
    const unsigned char *q;
    int n, ok = 0;
    X509 *x;

    if (x5c == NULL) {
        return 1;
    }
    first = json_array_get(x5c, 0);
    if (!json_is_array(x5c) || !json_is_string(first)) {
        *c->err = apr_psprintf(c->p, "%s: \"x5c\" is not an array of strings", c->label);
        return 0;
    }
    b64 = json_string_value(first);
    blen = json_string_length(first);
    if (blen == 0 || blen % 4 != 0 || blen > INT_MAX) {
        *c->err = apr_psprintf(c->p, "%s: \"x5c\" certificate is not base64", c->label);
        return 0;
    }
    der = apr_palloc(c->p, blen / 4 * 3 + 1);
    n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)blen);
    if (n > 0) {
        /* EVP_DecodeBlock counts padding bytes as data */
        if (b64[blen - 1] == '=') {
            n--;
        }
        if (b64[blen - 2] == '=') {
            n--;
        }
        q = der;
        x = d2i_X509(NULL, &q, n);
        if (x != NULL) {
            ok = EVP_PKEY_eq(X509_get0_pubkey(x), pkey) == 1;
            X509_free(x);
        }
    }
    if (!ok) {
        *c->err = apr_psprintf(c->p, "%s: \"x5c\" certificate does not hold this key", c->label);
    }
    return ok;
}

/* use / key_ops must allow verification; 1 ok, 0 refuse (malformed), -1 not for signatures
 * (*why says why: skippable). *c->err is set for 0 and -1. */
static int jwk_usage(const jwk_ctx_t *c, json_t *jwk, const claims_jwk_skip_t **why)
{
    const char *use;
    json_t *ops = json_object_get(jwk, "key_ops");
    int r = opt_string(jwk, "use", &use, NULL);
    if (r < 0) {
        *c->err = apr_psprintf(c->p, "%s: \"use\" is not a string", c->label);
        return 0;
    }
    if (r == 1 && strcmp(use, "sig") != 0) {
        *c->err = apr_psprintf(c->p, "%s: \"use\" is \"%s\", not \"sig\"", c->label,
                               claims_log_escape(c->p, use, strlen(use), 16));
        *why = strcmp(use, "enc") == 0 ? &SKIP_USE_ENC : &SKIP_USE_OTHER;
        return -1;
    }
    if (ops != NULL) {
        size_t i;
        json_t *op;
        int verify = 0;
        if (!json_is_array(ops)) {
            *c->err = apr_psprintf(c->p, "%s: \"key_ops\" is not an array", c->label);
            return 0;
        }
        json_array_foreach(ops, i, op) {
            if (!json_is_string(op)) {
                *c->err = apr_psprintf(c->p, "%s: \"key_ops\" holds a non-string", c->label);
                return 0;
            }
            if (strcmp(json_string_value(op), "verify") == 0) {
                verify = 1;
            }
        }
        if (!verify) {
            *c->err = apr_psprintf(c->p, "%s: \"key_ops\" does not allow \"verify\"", c->label);
            *why = &SKIP_KEY_OPS;
            return -1;
        }
    }
    return 1;
}

/* Whether an EC/OKP JWK names a curve we verify with (other key types: yes). */
static int supported_curve(const char *kty, json_t *jwk)
{
    static const char *const curves[] = {"P-256", "P-384", "P-521", "Ed25519", "Ed448", NULL};
    const char *crv = NULL;
    if (strcmp(kty, "EC") != 0 && strcmp(kty, "OKP") != 0) {
        return 1;
    }
    if (opt_string(jwk, "crv", &crv, NULL) != 1) {
        return 1;  /* malformed: let the loader say why */
    }
    for (int i = 0; curves[i] != NULL; i++) {
        if (strcmp(crv, curves[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int jwk_has_private(json_t *jwk)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", NULL};
    for (int i = 0; priv[i] != NULL; i++) {
        if (json_object_get(jwk, priv[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* A refusal of the key being read: "<label>: what". */
static claims_status_t jwk_fail(const jwk_ctx_t *c, const char *what)
{
    if (c->err != NULL) {
        *c->err = apr_pstrcat(c->p, c->label, ": ", what, NULL);
    }
    ERR_clear_error();
    return CLAIMS_ERR_KEY;
}

/* ------------------------------------------------------------------ reading one key */

/* kty, kid (which joins the label) and alg: the members every JWK is read by. An alg that is
 * no JWS algorithm we verify is a skip when flags allow it. */
static claims_status_t read_common(jwk_ctx_t *c, json_t *jwk, int flags, claims_jwk_t *out)
{
    const char *alg_name = NULL;
    apr_size_t alg_len = 0;

    if (!json_is_object(jwk)) {
        return jwk_fail(c, "JWK is not a JSON object");
    }
    if (opt_string(jwk, "kty", &out->kty, NULL) != 1) {
        return jwk_fail(c, "JWK \"kty\" missing or not a string");
    }
    if (opt_string(jwk, "kid", &out->kid, &out->kid_len) < 0) {
        return jwk_fail(c, "JWK \"kid\" is not a string");
    }
    if (out->kid != NULL) {
        if (strlen(out->kid) != out->kid_len || out->kid_len > 1024) {
            return jwk_fail(c, "JWK \"kid\" is too long or holds NUL");
        }
        c->label = apr_psprintf(c->p, "%s (kid \"%s\")", c->label,
                                claims_log_escape(c->p, out->kid, out->kid_len, 64));
    }
    if (opt_string(jwk, "alg", &alg_name, &alg_len) < 0) {
        return jwk_fail(c, "JWK \"alg\" is not a string");
    }
    if (alg_name != NULL) {
        out->alg = claims_alg_from_name(alg_name, alg_len);
        if (out->alg == CLAIMS_ALG_UNKNOWN) {
            /* an encryption key, or a signature algorithm we do not verify (ES256K) */
            if (flags & CLAIMS_JWK_SKIP_UNUSABLE) {
                out->skip = jwe_alg_name(alg_name) ? &SKIP_JWE_ALG : &SKIP_UNKNOWN_ALG;
                return CLAIMS_OK;
            }
            return jwk_fail(c, apr_psprintf(c->p, "JWK \"alg\" \"%s\" is not a JWS signature algorithm",
                                            claims_log_escape(c->p, alg_name, alg_len, 32)));
        }
    }
    return CLAIMS_OK;
}

/* use / key_ops: a key not for signatures is a skip when flags allow it, else a refusal. The
 * message is written only for a refusal (a skipped key leaves *err alone). */
static claims_status_t read_usage(const jwk_ctx_t *c, json_t *jwk, int flags, claims_jwk_t *out)
{
    char *uerr = NULL;
    jwk_ctx_t uc = {c->p, c->label, &uerr};
    const claims_jwk_skip_t *why = NULL;
    int usage = jwk_usage(&uc, jwk, &why);

    if (usage > 0) {
        return CLAIMS_OK;
    }
    if (usage < 0 && (flags & CLAIMS_JWK_SKIP_UNUSABLE)) {
        out->skip = why;
        return CLAIMS_OK;
    }
    if (c->err != NULL) {
        *c->err = uerr;
    }
    ERR_clear_error();
    return CLAIMS_ERR_KEY;
}

/* A symmetric key: its "k" bytes (binding an HMAC algorithm to them is the caller's). */
static claims_status_t read_oct(const jwk_ctx_t *c, json_t *jwk, int flags, claims_jwk_t *out)
{
    const char *s;
    apr_size_t slen;
    unsigned char *k;
    apr_size_t klen;

    if (!(flags & CLAIMS_JWK_ALLOW_SYMMETRIC)) {
        return jwk_fail(c, "symmetric (oct) keys are only accepted from ClaimsSecretFile");
    }
    if (opt_string(jwk, "k", &s, &slen) != 1 || slen == 0) {
        return jwk_fail(c, "oct JWK \"k\" missing, empty or not a string");
    }
    if (claims_b64url_decode(c->p, s, slen, &k, &klen) != 0) {
        return jwk_fail(c, "oct JWK \"k\" is not base64url");
    }
    out->secret = k;
    out->secret_len = klen;
    return CLAIMS_OK;
}

/* An RSA, EC or OKP public key, its x5c certificate checked; an unknown kty is a skip inside a
 * set, a curve we do not verify with one where flags allow it. */
static claims_status_t read_public(const jwk_ctx_t *c, json_t *jwk, int in_set, int flags, claims_jwk_t *out)
{
    EVP_PKEY *pkey;

    if (jwk_has_private(jwk)) {
        return jwk_fail(c, "JWK holds private key members: configure the public key only");
    }
    if (in_set && (flags & CLAIMS_JWK_SKIP_UNUSABLE) && !supported_curve(out->kty, jwk)) {
        /* e.g. secp256k1 or X25519 beside the signing keys of a remote set */
        out->skip = &SKIP_CURVE;
        return CLAIMS_OK;
    }
    if (strcmp(out->kty, "RSA") == 0) {
        pkey = jwk_rsa(c, jwk);
    }
    else if (strcmp(out->kty, "EC") == 0) {
        pkey = jwk_ec(c, jwk);
    }
    else if (strcmp(out->kty, "OKP") == 0) {
        pkey = jwk_okp(c, jwk);
    }
    else if (in_set) {
        /* RFC 7517 section 5: ignore keys of unknown type (CL-66) */
        out->skip = &SKIP_KTY;
        return CLAIMS_OK;
    }
    else {
        return jwk_fail(c, apr_psprintf(c->p, "JWK \"kty\" \"%s\" is not supported",
                                        claims_log_escape(c->p, out->kty, strlen(out->kty), 16)));
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return CLAIMS_ERR_KEY;
    }
    if (!x5c_matches(c, jwk, pkey)) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return CLAIMS_ERR_KEY;
    }
    apr_pool_cleanup_register(c->p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    out->pkey = pkey;
    return CLAIMS_OK;
}

/* Key i of doc: CLAIMS_OK with *out filled (a key, or out->skip), or a refusal. */
static claims_status_t read_key(apr_pool_t *p, const jwk_doc_t *doc, apr_size_t i, int flags, claims_jwk_t *out,
                                char **err)
{
    int in_set = doc->set != NULL;
    json_t *jwk = in_set ? json_array_get(doc->set, i) : doc->root;
    jwk_ctx_t c = {p, doc->label, err};
    char *ignored;
    claims_status_t st;

    if (err == NULL) {
        c.err = &ignored;  /* the readers of the members write their message unconditionally */
    }
    memset(out, 0, sizeof(*out));
    out->alg = CLAIMS_ALG_UNKNOWN;
    if (in_set) {
        c.label = apr_psprintf(p, "%s key #%" APR_SIZE_T_FMT, doc->label, i);
    }
    st = read_common(&c, jwk, flags, out);
    if (st == CLAIMS_OK && out->skip == NULL) {
        st = read_usage(&c, jwk, flags, out);
    }
    if (st == CLAIMS_OK && out->skip == NULL) {
        st = strcmp(out->kty, "oct") == 0 ? read_oct(&c, jwk, flags, out) : read_public(&c, jwk, in_set, flags, out);
    }
    out->label = c.label;
    return st;
}

claims_status_t claims_jwk_read(apr_pool_t *p, json_t *jwk, const char *label, int flags, claims_jwk_t *out,
                                char **err)
{
    jwk_doc_t doc = {label, jwk, NULL};
    return read_key(p, &doc, 0, flags, out, err);
}

/* ------------------------------------------------------------------ documents */

static claims_status_t parse_doc(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                 jwk_doc_t *doc, char **err)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    jwk_ctx_t c = {p, label, err};

    memset(doc, 0, sizeof(*doc));
    doc->label = label;
    if (root == NULL) {
        return jwk_fail(&c, apr_psprintf(p, "invalid JSON at line %d: %s", jerr.line,
                                         claims_log_escape(p, jerr.text, strlen(jerr.text), 80)));
    }
    claims_json_pool(p, root);
    if (!json_is_object(root)) {
        return jwk_fail(&c, "JSON key file is not an object");
    }
    doc->root = root;
    doc->set = json_object_get(root, "keys");
    if (doc->set != NULL && !json_is_array(doc->set)) {
        return jwk_fail(&c, "JWK Set \"keys\" is not an array");
    }
    if (doc->set != NULL && json_array_size(doc->set) > CLAIMS_MAX_KEYS) {
        return jwk_fail(&c, apr_psprintf(p, "JWK Set holds more than %d keys", CLAIMS_MAX_KEYS));
    }
    return CLAIMS_OK;
}

/* Notes a key of the document that is not loaded: a log line, and a claims_key_skipped_t for
 * the caller when it asked (how->skipped). */
static void note_skipped(apr_pool_t *p, const claims_jwk_load_t *how, const claims_jwk_t *jwk,
                         const claims_jwk_skip_t *why)
{
    if (how->log != NULL) {
        claims_log(how->log, why->level, apr_pstrcat(p, jwk->label, ": key skipped: ", why->text, NULL));
    }
    if (how->skipped != NULL) {
        claims_key_skipped_t *sk = apr_pcalloc(p, sizeof(*sk));
        sk->kid = jwk->kid != NULL ? apr_pstrdup(p, jwk->kid) : NULL;
        sk->kty = claims_log_escape(p, jwk->kty, strlen(jwk->kty), 16);
        sk->reason = why->text;
        APR_ARRAY_PUSH(how->skipped, const claims_key_skipped_t *) = sk;
    }
}

/* The refusal of a document whose keys were all skipped (or a set without keys). */
static claims_status_t fail_no_key(apr_pool_t *p, char **err, const jwk_doc_t *doc, int skipped,
                                   apr_size_t first_at, const char *first)
{
    jwk_ctx_t c = {p, doc->label, err};
    if (first == NULL) {
        return jwk_fail(&c, "JWK Set holds no usable signature key");
    }
    if (doc->set == NULL) {
        return jwk_fail(&c, apr_pstrcat(p, "JWK holds no usable signature key: ", first, NULL));
    }
    return jwk_fail(&c, apr_psprintf(p, "JWK Set holds no usable signature key (%d skipped; key #%"
                                     APR_SIZE_T_FMT ": %s)", skipped, first_at, first));
}

claims_status_t claims_jwk_load(apr_pool_t *p, const char *data, apr_size_t len, const char *label,
                                const claims_jwk_load_t *how, char **err)
{
    int added = 0, skipped = 0;
    const char *first = NULL;
    apr_size_t first_at = 0, n;
    jwk_doc_t doc;
    claims_jwk_t jwk;
    claims_status_t st = parse_doc(p, data, len, label, &doc, err);

    if (st != CLAIMS_OK) {
        return st;
    }
    n = doc.set != NULL ? (apr_size_t)json_array_size(doc.set) : 1;
    for (apr_size_t i = 0; i < n; i++) {
        const claims_jwk_skip_t *why = NULL;
        st = read_key(p, &doc, i, how->flags, &jwk, err);
        if (st == CLAIMS_OK) {
            why = jwk.skip;
            if (why == NULL) {
                st = how->add(how->baton, p, &jwk, &why, err);
            }
        }
        if (st != CLAIMS_OK) {
            return st;
        }
        if (why == NULL) {
            added++;
            continue;
        }
        note_skipped(p, how, &jwk, why);
        if (skipped++ == 0) {
            first = why->text;
            first_at = i;
        }
    }
    return added > 0 ? CLAIMS_OK : fail_no_key(p, err, &doc, skipped, first_at, first);
}
