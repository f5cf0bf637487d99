/*
 * fuzz_discovery.c - what an identity provider's answers feed into: the OpenID Connect /
 * RFC 8414 metadata document (claims_discovery_jwks_uri) and the Cache-Control header value
 * (claims_cache_control_max_age) (CL-28, CL-75).
 *
 * Input: a metadata document body; the same bytes, up to the first NUL, are also parsed as a
 * Cache-Control value (libFuzzer finds inputs that matter to either).
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when a jwks_uri is accepted from a
 * document whose "issuer" is not exactly the configured one, when the accepted jwks_uri would be
 * refused by claims_fetch_check_url, when plain http passes without the loopback test switch,
 * or when a max-age comes out below -1 or above the parser's cap.
 */
#include "claims.h"
#include "claims_fetch.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

static const char *const issuers[] = {FZ_ISS_PUBLIC, "http://127.0.0.1:8080/realms/test", ""};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *gp = fz_global_pool();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fz_die("curl_global_init");
    }
    if (!fz_poolguard_active(gp)) {
        fprintf(stderr, "fuzz_discovery: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    return 0;
}

static void discovery(apr_pool_t *p, const char *body, size_t size, const char *issuer, int loopback)
{
    const char *uri = NULL, *err = NULL;
    claims_status_t st = claims_discovery_jwks_uri(p, body, size, issuer, loopback, &uri, &err);
    CHECK((int)st >= 0 && st < CLAIMS_STATUS_COUNT);
    if (st != CLAIMS_OK) {
        CHECK(err != NULL && uri == NULL);
        return;
    }
    /* the document said exactly this issuer, and the URI passes the fetch policy */
    {
        json_t *doc = json_loadb(body, size, 0, NULL);
        json_t *iss = json_object_get(doc, "issuer");
        CHECK(json_is_string(iss) && json_string_length(iss) == strlen(issuer)
              && memcmp(json_string_value(iss), issuer, strlen(issuer)) == 0);
        json_decref(doc);
    }
    CHECK(uri != NULL && claims_fetch_check_url(p, uri, loopback) == NULL);
    if (!loopback) {
        CHECK(strncasecmp(uri, "https:", 6) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *body;
    char *value;
    apr_int64_t age;

    apr_pool_create(&p, fz_global_pool());
    body = size > 0 ? apr_pmemdup(p, data, size) : "";
    for (size_t i = 0; i < sizeof(issuers) / sizeof(issuers[0]); i++) {
        discovery(p, body, size, issuers[i], 0);
        discovery(p, body, size, issuers[i], 1);
    }
    value = fz_cstr(p, data, size);
    age = claims_cache_control_max_age(value);
    CHECK(age >= -1 && age <= 1000000000);
    CHECK(claims_cache_control_max_age(NULL) == -1);
    apr_pool_destroy(p);
    return 0;
}
