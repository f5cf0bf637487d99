/*
 * claims_dpop_bind.c - what a sender-constrained token is bound to (RFC 9449 section 6,
 * RFC 8705 section 3): the token's cnf against this request's proof key and client
 * certificate, and the certificate's x5t#S256 from DER, PEM (mod_ssl) or an RFC 9440
 * Client-Cert header; see claims_dpop.h.
 */
#include "claims_dpop.h"
#include "claims_b64url.h"

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

/* Equal strings, compared in constant time once the lengths agree (lengths are not secret). */
static int same_text(const char *a, apr_size_t alen, const char *b, apr_size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* ------------------------------------------------------------------ token binding (cnf) */

/* A cnf member's value against what this request presented (NULL: nothing). */
static int cnf_member_ok(const json_t *v, const char *presented)
{
    return presented != NULL && json_is_string(v) && json_string_length(v) > 0
        && same_text(json_string_value(v), json_string_length(v), presented, strlen(presented));
}

static const char *const binding_texts[CLAIMS_BIND_COUNT] = {
    [CLAIMS_BIND_NO_PROOF] = "no DPoP proof",
    [CLAIMS_BIND_TWO_PROOFS] = "more than one DPoP proof",
    [CLAIMS_BIND_URL] = "the URL of this request cannot be matched",
    [CLAIMS_BIND_REPLAYED] = "the DPoP proof was used before",
    [CLAIMS_BIND_CNF_UNKNOWN] = "the token's cnf is not understood here",
    [CLAIMS_BIND_NEEDS_PROOF] = "a DPoP-bound token needs the DPoP scheme and a proof",
    [CLAIMS_BIND_NEEDS_CERT] = "a certificate-bound token needs the client certificate",
    [CLAIMS_BIND_OTHER_KEY] = "the token is bound to another key or certificate",
    [CLAIMS_BIND_OTHER_CERT] = "the token is bound to another certificate",
    [CLAIMS_BIND_UNBOUND] = "a token sent with a DPoP proof must be DPoP-bound",
    [CLAIMS_BIND_REQUIRED] = "only DPoP-bound tokens are accepted here (ClaimsDPoP Required)",
};

const char *claims_binding_text(claims_binding_why_t w)
{
    return (unsigned)w < CLAIMS_BIND_COUNT ? binding_texts[w] : "the token's binding is not satisfied";
}

claims_status_t claims_cnf_check(const json_t *claims, const char *jkt, const char *x5t, int *kind)
{
    json_t *cnf = claims != NULL ? json_object_get(claims, "cnf") : NULL;
    const char *name;
    size_t name_len;
    json_t *v;
    int found = CLAIMS_CNF_NONE, ok = 1;

    if (kind != NULL) {
        *kind = CLAIMS_CNF_NONE;
    }
    if (cnf == NULL) {
        return CLAIMS_OK;
    }
    if (!json_is_object(cnf) || json_object_size(cnf) == 0) {
        return CLAIMS_ERR_BINDING;
    }
    json_object_keylen_foreach(cnf, name, name_len, v) {
        if (name_len == 3 && memcmp(name, "jkt", 3) == 0) {
            found |= CLAIMS_CNF_JKT;
            ok &= cnf_member_ok(v, jkt);
        }
        else if (name_len == 8 && memcmp(name, "x5t#S256", 8) == 0) {
            found |= CLAIMS_CNF_X5T;
            ok &= cnf_member_ok(v, x5t);
        }
        else {
            ok = 0;  /* a confirmation method we do not understand (CL-95) */
        }
    }
    if (kind != NULL) {
        *kind = found;
    }
    return ok ? CLAIMS_OK : CLAIMS_ERR_BINDING;
}

/* ------------------------------------------------------------------ client certificates */

char *claims_x5t_s256(apr_pool_t *p, const unsigned char *der, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return NULL;
    }
    return claims_b64url_encode(p, md, mdlen);
}

/* Whether der[0..len) is exactly one X.509 certificate. */
static int one_certificate(const unsigned char *der, apr_size_t len)
{
    const unsigned char *q = der;
    X509 *x = len > 0 && len <= CLAIMS_CLIENT_CERT_MAX ? d2i_X509(NULL, &q, (long)len) : NULL;
    int ok = x != NULL && q == der + len;
    X509_free(x);
    ERR_clear_error();
    return ok;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

claims_status_t claims_x5t_s256_pem(apr_pool_t *p, const char *pem, apr_size_t len, char **out)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    apr_size_t i = 0;
    BIO *bio;
    char *name = NULL, *header = NULL, rest[64];
    unsigned char *der = NULL;
    long der_len = 0;
    int n, ok;

    while (i < len && is_space(pem[i])) {
        i++;
    }
    if (len - i < sizeof(begin) - 1 || len > 4 * CLAIMS_CLIENT_CERT_MAX || memcmp(pem + i, begin, sizeof(begin) - 1) != 0
        || (bio = BIO_new_mem_buf(pem + i, (int)(len - i))) == NULL) {
        return CLAIMS_ERR_REQUEST;
    }
    ok = PEM_read_bio(bio, &name, &header, &der, &der_len) == 1 && strcmp(name, "CERTIFICATE") == 0
         && header[0] == '\0' && one_certificate(der, (apr_size_t)der_len);
    while (ok && (n = BIO_read(bio, rest, (int)sizeof(rest))) > 0) {
        for (int k = 0; k < n; k++) {
            ok &= is_space(rest[k]);  /* one certificate, not a chain */
        }
    }
    BIO_free(bio);
    *out = ok ? claims_x5t_s256(p, der, (apr_size_t)der_len) : NULL;
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    ERR_clear_error();
    return *out != NULL ? CLAIMS_OK : CLAIMS_ERR_REQUEST;
}

/* Standard base64 with its padding, as strict base64url after the alphabet is translated. */
static int base64_std_decode(apr_pool_t *p, const char *in, apr_size_t len, unsigned char **out, apr_size_t *outlen)
{
    char *t;
    apr_size_t pad = 0;

    if (len == 0 || len % 4 != 0) {
        return -1;
    }
    while (pad < 2 && in[len - 1 - pad] == '=') {
        pad++;
    }
    t = apr_pstrmemdup(p, in, len - pad);
    for (apr_size_t i = 0; i < len - pad; i++) {
        if (t[i] == '-' || t[i] == '_') {
            return -1;  /* base64url is not the Byte Sequence alphabet */
        }
        t[i] = t[i] == '+' ? '-' : t[i] == '/' ? '_' : t[i];
    }
    /* '=' left inside, a wrong number of '=', or non-zero unused bits: refused here */
    return claims_b64url_decode(p, t, len - pad, out, outlen);
}

claims_status_t claims_client_cert_parse(apr_pool_t *p, const char *value, apr_size_t len, unsigned char **der,
                                         apr_size_t *der_len)
{
    apr_size_t b = 0, e = len;

    if (value == NULL || len > CLAIMS_CLIENT_CERT_MAX) {
        return CLAIMS_ERR_REQUEST;
    }
    while (b < e && value[b] == ' ') {
        b++;
    }
    while (e > b && value[e - 1] == ' ') {
        e--;
    }
    /* RFC 8941 3.3.5: ":" base64 ":"; a parameter (";...") or anything else is refused */
    if (e - b < 2 || value[b] != ':' || value[e - 1] != ':'
        || base64_std_decode(p, value + b + 1, e - b - 2, der, der_len) != 0 || !one_certificate(*der, *der_len)) {
        return CLAIMS_ERR_REQUEST;
    }
    return CLAIMS_OK;
}
