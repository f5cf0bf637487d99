/*
 * claims_jws.c - compact JWS parsing and signature verification; see claims_jws.h.
 */
#include "claims_jws.h"
#include "claims_b64url.h"
#include "claims_json.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <string.h>
#include <strings.h>

/* Decoded bytes as a JSON object (claims_json.h: duplicates, NUL, bad UTF-8, trailing data
 * and deep nesting refused), released with p. */
static json_t *parse_object(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    json_t *j = claims_json_object(p, buf, len);
    return j != NULL ? claims_json_pool(p, j) : NULL;
}

static claims_status_t check_header(claims_jws_t *jws)
{
    json_t *h = jws->header;
    json_t *alg = json_object_get(h, "alg");
    json_t *kid = json_object_get(h, "kid");
    json_t *typ = json_object_get(h, "typ");
    json_t *cty = json_object_get(h, "cty");
    const char *a;
    apr_size_t alen;

    if (!json_is_string(alg)) {
        return CLAIMS_ERR_ALG;
    }
    a = json_string_value(alg);
    alen = json_string_length(alg);
    if (alen == 4 && strncasecmp(a, "none", 4) == 0) {
        return CLAIMS_ERR_ALG_NONE;
    }
    jws->alg = claims_alg_from_name(a, alen);
    if (jws->alg == CLAIMS_ALG_UNKNOWN) {
        return CLAIMS_ERR_ALG;
    }
    /* RFC 8725: refuse what we do not implement rather than ignore it */
    if (json_object_get(h, "crit") != NULL) {
        return CLAIMS_ERR_CRIT;
    }
    if (json_object_get(h, "b64") != NULL || json_object_get(h, "enc") != NULL
        || json_object_get(h, "zip") != NULL) {
        return CLAIMS_ERR_HEADER_UNSUPPORTED;
    }
    if (cty != NULL) {
        const char *c;
        if (!json_is_string(cty)) {
            return CLAIMS_ERR_HEADER_JSON;
        }
        c = json_string_value(cty);
        if (strcasecmp(c, "JWT") == 0 || strcasecmp(c, "application/JWT") == 0) {
            return CLAIMS_ERR_HEADER_UNSUPPORTED;  /* nested JWT */
        }
    }
    if (kid != NULL) {
        if (!json_is_string(kid)) {
            return CLAIMS_ERR_HEADER_JSON;
        }
        jws->kid = json_string_value(kid);
        jws->kid_len = json_string_length(kid);
    }
    if (typ != NULL) {
        if (!json_is_string(typ)) {
            return CLAIMS_ERR_HEADER_JSON;
        }
        jws->typ = json_string_value(typ);
    }
    return CLAIMS_OK;
}

claims_status_t claims_jws_parse(apr_pool_t *p, const char *token, apr_size_t len, apr_size_t max_len,
                                 claims_jws_t **out)
{
    const char *dot1, *dot2, *sig;
    apr_size_t hlen, plen, slen;
    unsigned char *hbuf;
    apr_size_t hdec;
    claims_jws_t *jws;
    claims_status_t st;

    if (max_len == 0) {
        max_len = CLAIMS_DEFAULT_MAX_TOKEN;
    }
    if (len > max_len) {
        return CLAIMS_ERR_TOO_LARGE;
    }
    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return CLAIMS_ERR_FORMAT;
    }
    dot2 = memchr(dot1 + 1, '.', len - (apr_size_t)(dot1 + 1 - token));
    if (dot2 == NULL) {
        return CLAIMS_ERR_FORMAT;
    }
    sig = dot2 + 1;
    slen = len - (apr_size_t)(sig - token);
    if (memchr(sig, '.', slen) != NULL) {
        return CLAIMS_ERR_FORMAT;  /* JWE (5 segments) or garbage */
    }
    hlen = (apr_size_t)(dot1 - token);
    plen = (apr_size_t)(dot2 - dot1 - 1);
    if (hlen == 0 || slen == 0) {
        return CLAIMS_ERR_FORMAT;
    }

    jws = apr_pcalloc(p, sizeof(*jws));
    if (claims_b64url_decode(p, token, hlen, &hbuf, &hdec) != 0) {
        return CLAIMS_ERR_BASE64;
    }
    jws->header = parse_object(p, hbuf, hdec);
    if (jws->header == NULL) {
        return CLAIMS_ERR_HEADER_JSON;
    }
    if ((st = check_header(jws)) != CLAIMS_OK) {
        return st;
    }
    if (claims_b64url_decode(p, dot1 + 1, plen, &jws->payload, &jws->payload_len) != 0
        || claims_b64url_decode(p, sig, slen, &jws->sig, &jws->sig_len) != 0) {
        return CLAIMS_ERR_BASE64;
    }
    jws->signing_input = token;
    jws->signing_input_len = (apr_size_t)(dot2 - token);
    *out = jws;
    return CLAIMS_OK;
}

claims_status_t claims_jws_claims(apr_pool_t *p, const claims_jws_t *jws, json_t **claims)
{
    json_t *c = parse_object(p, jws->payload, jws->payload_len);
    if (c == NULL) {
        return CLAIMS_ERR_PAYLOAD_JSON;
    }
    *claims = c;
    return CLAIMS_OK;
}

claims_status_t claims_jws_verify(const claims_jws_t *jws, const claims_key_t *key)
{
    if (!claims_alg_accepts(key->alg, jws->alg)) {
        return CLAIMS_ERR_NO_KEY;
    }
    return claims_sig_verify(key, (const unsigned char *)jws->signing_input, jws->signing_input_len,
                             jws->sig, jws->sig_len);
}

/* ------------------------------------------------------------------ primitives */

static claims_status_t verify_hmac(const claims_key_t *key, const unsigned char *data, apr_size_t len,
                                   const unsigned char *sig, apr_size_t sig_len)
{
    unsigned char tag[EVP_MAX_MD_SIZE];
    unsigned int tag_len = 0;
    const claims_alg_info_t *ai = claims_alg_info(key->alg);
    int ok;

    if (sig_len != ai->hash_len) {
        return CLAIMS_ERR_SIGNATURE;  /* truncated or extended tag (CL-33) */
    }
    if (HMAC(key->md, key->secret, (int)key->secret_len, data, len, tag, &tag_len) == NULL
        || tag_len != ai->hash_len) {
        ERR_clear_error();
        return CLAIMS_ERR_INTERNAL;
    }
    ok = CRYPTO_memcmp(tag, sig, sig_len) == 0;
    OPENSSL_cleanse(tag, sizeof(tag));
    return ok ? CLAIMS_OK : CLAIMS_ERR_SIGNATURE;
}

/* One DER INTEGER of a big-endian unsigned value; 0 when the value is zero (refused). */
static apr_size_t der_integer(unsigned char *out, const unsigned char *v, apr_size_t n)
{
    apr_size_t pad;
    while (n > 0 && *v == 0) {
        v++;
        n--;
    }
    if (n == 0) {
        return 0;
    }
    pad = (v[0] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (unsigned char)(n + pad);  /* at most 67 content bytes (P-521): short form */
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

/* r||s of exactly 2 x coord bytes as a DER ECDSA-Sig-Value, written directly (no BIGNUMs),
 * refusing r or s of zero; OpenSSL's verification refuses r or s >= n. */
static int ecdsa_der(const unsigned char *sig, apr_size_t coord, unsigned char *der, int *der_len, int cap)
{
    unsigned char body[2 * (3 + 66)];
    apr_size_t rl, sl, hdr;
    if (coord > 66 || cap < (int)(sizeof(body) + 3)) {
        return 0;
    }
    rl = der_integer(body, sig, coord);
    sl = rl != 0 ? der_integer(body + rl, sig + coord, coord) : 0;
    if (rl == 0 || sl == 0) {
        return 0;
    }
    der[0] = 0x30;
    if (rl + sl < 128) {
        der[1] = (unsigned char)(rl + sl);
        hdr = 2;
    }
    else {
        der[1] = 0x81;
        der[2] = (unsigned char)(rl + sl);
        hdr = 3;
    }
    memcpy(der + hdr, body, rl + sl);
    *der_len = (int)(hdr + rl + sl);
    return 1;
}

claims_status_t claims_sig_verify(const claims_key_t *key, const unsigned char *data, apr_size_t len,
                                  const unsigned char *sig, apr_size_t sig_len)
{
    const claims_alg_info_t *ai = claims_alg_info(key->alg);
    EVP_MD_CTX *ctx;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[160];
    int der_len = 0, rc;

    if (ai->family == CLAIMS_FAMILY_HMAC) {
        return key->secret != NULL ? verify_hmac(key, data, len, sig, sig_len) : CLAIMS_ERR_NO_KEY;
    }
    if (key->pkey == NULL || ai->family == CLAIMS_FAMILY_NONE) {
        return CLAIMS_ERR_NO_KEY;
    }
    switch (ai->family) {
    case CLAIMS_FAMILY_RSA:
    case CLAIMS_FAMILY_PSS:
        if ((int)sig_len != EVP_PKEY_get_size(key->pkey)) {
            return CLAIMS_ERR_SIGNATURE;
        }
        break;
    case CLAIMS_FAMILY_EC:
        if (sig_len != 2 * ai->coord_len || !ecdsa_der(sig, ai->coord_len, der, &der_len, (int)sizeof(der))) {
            return CLAIMS_ERR_SIGNATURE;
        }
        sig = der;
        sig_len = (apr_size_t)der_len;
        break;
    case CLAIMS_FAMILY_OKP:
        if (sig_len != (key->alg == CLAIMS_ALG_ED448 ? 114u : 64u)) {
            return CLAIMS_ERR_SIGNATURE;
        }
        break;
    default:
        return CLAIMS_ERR_NO_KEY;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return CLAIMS_ERR_INTERNAL;
    }
    if (key->verify_proto != NULL) {
        /* digest, padding and PSS salt length were set once, when the key was loaded */
        rc = EVP_MD_CTX_copy_ex(ctx, key->verify_proto);
    }
    else {
        rc = EVP_DigestVerifyInit(ctx, &pctx, key->md, NULL, key->pkey);
        if (rc == 1 && ai->family == CLAIMS_FAMILY_PSS) {
            /* salt length = hash length, set explicitly: the verify default is "auto" (CL-32) */
            rc = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, key->md) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)ai->hash_len) == 1;
        }
    }
    if (rc == 1) {
        rc = EVP_DigestVerify(ctx, sig, sig_len, data, len);
    }
    EVP_MD_CTX_free(ctx);
    if (rc != 1) {
        ERR_clear_error();  /* a refused signature leaves OpenSSL's reasons queued */
    }
    return rc == 1 ? CLAIMS_OK : CLAIMS_ERR_SIGNATURE;
}
