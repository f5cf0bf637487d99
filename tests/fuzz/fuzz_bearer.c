/*
 * fuzz_bearer.c - what a client sends before any token is parsed: the Authorization value
 * (claims_token_from_authorization, claims_token_is_b64token), a Cookie header
 * (claims_cookie_find, claims_cookie_without), a form body or query (claims_form_param),
 * strict base64url (claims_b64url_decode/_decode_to/_encode) and the log escaping of untrusted
 * bytes (CL-01..CL-09, CL-36, CL-59, CL-75, CL-83).
 *
 * Input: an Authorization or Cookie header value (as httpd hands it over: up to the first NUL);
 * the raw bytes are also a form body (NUL bytes included) and are given to the b64token check,
 * the base64url decoder and the log escaper.
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when: an extracted token does not lie
 * inside the value or is not a b64token; the scheme was not "Bearer"; decoding accepts a string
 * that is not the one canonical encoding of its bytes (CL-36), or does not give back what
 * encoding produced; a log rendering contains a control character, a quote or a backslash that
 * is not escaped, or exceeds its bound; a cookie value found does not lie inside the header or
 * holds a separator; removing a cookie leaves one of that name (the token would reach a
 * backend), or drops or changes another; a form value is longer than its encoding or holds a
 * NUL byte.
 */
#include "claims.h"
#include "claims_b64url.h"
#include "claims_jws.h"
#include "claims_token.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (!fz_poolguard_active(fz_global_pool())) {
        fprintf(stderr, "fuzz_bearer: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    return 0;
}

static void authorization(apr_pool_t *p, const char *value)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    claims_status_t st = claims_token_from_authorization(value, &tok, &len);
    const char *s = value;

    CHECK(st == CLAIMS_OK || st == CLAIMS_NO_TOKEN || st == CLAIMS_ERR_REQUEST);
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (st != CLAIMS_NO_TOKEN) {
        CHECK(strncasecmp(s, "bearer", 6) == 0);   /* only the Bearer scheme is ours */
    }
    if (st == CLAIMS_OK) {
        claims_jws_t *jws;
        int dots = 0;
        CHECK(tok > value && tok + len <= value + strlen(value) && len > 0);
        CHECK(memchr(tok, ' ', len) == NULL);
        for (apr_size_t i = 0; i < len; i++) {
            dots += tok[i] == '.';
        }
        /* a b64token, or the shape of a compact JWS, whose characters claims_verify_token
         * checks (claims_token.h) */
        CHECK(claims_token_is_b64token(tok, len) || dots == 2);
        /* the next step of a request */
        (void)claims_jws_parse(p, tok, len, 0, &jws);
    }
    CHECK(claims_token_from_authorization(NULL, &tok, &len) == CLAIMS_NO_TOKEN);
}

static void b64url(apr_pool_t *p, const char *in, size_t size)
{
    unsigned char *out = NULL, *buf;
    apr_size_t outlen = 0, outlen2 = 0;
    char *enc;

    if (claims_b64url_decode(p, in, size, &out, &outlen) == 0) {
        /* strict: the input is the one canonical encoding of what it decodes to */
        CHECK(size % 4 != 1 && outlen <= CLAIMS_B64URL_DECODED_MAX(size) && out[outlen] == '\0');
        enc = claims_b64url_encode(p, out, outlen);
        CHECK(strlen(enc) == size && memcmp(enc, in, size) == 0);
    }
    /* an exactly sized heap buffer: one byte too many written is caught */
    buf = malloc(CLAIMS_B64URL_DECODED_MAX(size));
    CHECK(buf != NULL);
    if (claims_b64url_decode_to(in, size, buf, &outlen2) == 0) {
        CHECK(out != NULL && outlen2 == outlen && memcmp(buf, out, outlen) == 0);
    }
    free(buf);
    /* and the other way round: arbitrary bytes encode to something that decodes back */
    enc = claims_b64url_encode(p, (const unsigned char *)in, size);
    CHECK(claims_b64url_decode(p, enc, strlen(enc), &out, &outlen) == 0);
    CHECK(outlen == size && memcmp(out, in, size) == 0);
}

static void log_escape(apr_pool_t *p, const char *in, size_t size)
{
    static const apr_size_t maxes[] = {0, 1, 16, 64, 4096};
    for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        char *e = claims_log_escape(p, in, size, maxes[m]);
        size_t n = strlen(e);
        CHECK(n <= 4 * (size < maxes[m] ? size : maxes[m]) + 3);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)e[i];
            CHECK(c >= 0x20 && c < 0x7f && c != '"');
            if (c == '\\') {
                CHECK(e[i + 1] == 'x');
                i += 3;
            }
        }
    }
}

static void cookie(apr_pool_t *p, const char *header)
{
    static const char *const names[] = {"at", "access_token", "a"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        const char *v = NULL, *w, *v2 = NULL;
        apr_size_t len = 0, len2 = 0;
        int found = claims_cookie_find(header, names[k], &v, &len);
        CHECK(found >= -1 && found <= 1);
        if (found == 1) {
            CHECK(v > header && v + len <= header + strlen(header));
            CHECK(memchr(v, ';', len) == NULL && memchr(v, ',', len) == NULL);
        }
        w = claims_cookie_without(p, header, names[k]);
        /* removal takes out every pair of the name, and only those */
        CHECK(claims_cookie_find(w, names[k], &v2, &len2) == 0);
        CHECK(w == NULL || strlen(w) <= 2 * strlen(header));
        if (found == 0 && w != NULL) {
            CHECK(claims_cookie_without(p, w, names[k]) != NULL
                  && strcmp(claims_cookie_without(p, w, names[k]), w) == 0);
        }
    }
}

static void form(apr_pool_t *p, const char *raw, size_t size)
{
    const char *v = NULL;
    int found = claims_form_param(p, raw, size, "access_token", &v);
    CHECK(found >= -1 && found <= 1);
    if (found == 1) {
        CHECK(strlen(v) + 13 <= size);   /* "access_token=" + at least as many bytes encoded */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *raw;

    apr_pool_create(&p, fz_global_pool());
    raw = size > 0 ? apr_pmemdup(p, data, size) : "";
    authorization(p, fz_cstr(p, data, size));
    cookie(p, fz_cstr(p, data, size));
    form(p, raw, size);
    (void)claims_token_is_b64token(raw, size);
    b64url(p, raw, size);
    log_escape(p, raw, size);
    apr_pool_destroy(p);
    return 0;
}
