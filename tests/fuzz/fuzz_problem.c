/*
 * fuzz_problem.c - what a client sends to the RFC 9728 / RFC 9457 code: an Accept header
 * (claims_problem_wanted), and, standing in for the challenge the glue reads back, any text as
 * a WWW-Authenticate value (claims_problem_from_challenge, claims_problem_body); the same text
 * as a resource identifier (claims_resource_check, the well-known path rule, the document).
 * SECURITY.md CL-57, CL-100.
 *
 * Input: a header value (as httpd hands it over: up to the first NUL).
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when: a body is not one JSON object
 * of the members type, title, status, detail, error and scope; its detail is not one of the
 * module's fixed texts; its error is not a known code; its scope holds a byte outside %x20-7E
 * or a quote or backslash; a resource the check accepts is not written byte for byte into its
 * document, or its metadata URL does not start with its origin and the well-known path.
 */
#include "claims.h"
#include "claims_metadata.h"
#include "claims_problem.h"
#include "fuzz_common.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (!fz_poolguard_active(fz_global_pool())) {
        fprintf(stderr, "fuzz_problem: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    return 0;
}

static int is_fixed_text(const char *d)
{
    static const char *const defaults[] = {
        "the token does not grant what this resource requires", "the token is not accepted", NULL
    };
    for (int st = 0; st < CLAIMS_STATUS_COUNT; st++) {
        if (strcmp(d, claims_status_text((claims_status_t)st)) == 0) {
            return 1;
        }
    }
    for (int i = 0; defaults[i] != NULL; i++) {
        if (strcmp(d, defaults[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int known_code(const char *e)
{
    return strcmp(e, "invalid_request") == 0 || strcmp(e, "invalid_token") == 0
        || strcmp(e, "insufficient_scope") == 0 || strcmp(e, "invalid_dpop_proof") == 0
        || strcmp(e, "use_dpop_nonce") == 0;
}

static void check_body(apr_pool_t *p, int status, const char *challenge)
{
    claims_problem_t pb;
    const char *body, *key;
    json_t *j, *v;
    json_error_t err;

    claims_problem_from_challenge(p, status, challenge, &pb);
    body = claims_problem_body(p, &pb);
    CHECK(body != NULL);
    j = json_loads(body, JSON_REJECT_DUPLICATES, &err);
    CHECK(j != NULL && json_is_object(j));
    json_object_foreach(j, key, v) {
        if (strcmp(key, "detail") == 0) {
            CHECK(is_fixed_text(json_string_value(v)));
        }
        else if (strcmp(key, "error") == 0) {
            CHECK(known_code(json_string_value(v)));
        }
        else if (strcmp(key, "scope") == 0) {
            for (const char *c = json_string_value(v); *c; c++) {
                CHECK(*c >= 0x20 && *c <= 0x7e && *c != '"' && *c != '\\');
            }
        }
        else {
            CHECK(strcmp(key, "type") == 0 || strcmp(key, "title") == 0 || strcmp(key, "status") == 0);
        }
    }
    json_decref(j);
}

static void check_resource(apr_pool_t *p, const char *uri)
{
    claims_resource_meta_t m;
    const char *doc, *url, *origin, *path;
    json_t *j;
    json_error_t err;

    if (claims_resource_check(uri) != NULL) {
        return;
    }
    origin = claims_resource_origin(p, uri);
    path = claims_metadata_path(p, uri);
    url = claims_metadata_url(p, uri);
    CHECK(strncmp(uri, origin, strlen(origin)) == 0);
    CHECK(strncmp(path, CLAIMS_WELL_KNOWN_PRM, strlen(CLAIMS_WELL_KNOWN_PRM)) == 0);
    CHECK(strlen(url) == strlen(origin) + strlen(path) && strncmp(url, origin, strlen(origin)) == 0);
    CHECK(strchr(url, '"') == NULL && strchr(url, '\\') == NULL && strchr(url, '#') == NULL);
    claims_resource_meta_init(&m, uri);
    doc = claims_metadata_document(p, &m);
    CHECK(doc != NULL);
    j = json_loads(doc, JSON_REJECT_DUPLICATES, &err);
    CHECK(j != NULL && strcmp(json_string_value(json_object_get(j, "resource")), uri) == 0);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *text;
    int wanted;

    apr_pool_create(&p, fz_global_pool());
    text = fz_cstr(p, data, size);
    wanted = claims_problem_wanted(text);
    CHECK(wanted == 0 || wanted == 1);
    check_body(p, 400, text);
    check_body(p, 401, text);
    check_body(p, 403, text);
    check_resource(p, text);
    apr_pool_destroy(p);
    return 0;
}
