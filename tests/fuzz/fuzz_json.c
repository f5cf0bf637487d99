/*
 * fuzz_json.c - differential: the token JSON reader (claims_json.h) against jansson's
 * json_loadb(JSON_REJECT_DUPLICATES), the reader it replaces on the request path.
 *
 * Aborts when one accepts an object the other refuses, or when both accept and the trees are not
 * json_equal or their members not in the same order (CL-12, CL-18: the same duplicates, depth,
 * UTF-8, escape and number rules), or when the writer's text of what was read (claims_json_text)
 * is not json_dumps'. One difference is by design: a NUL byte (see below). The
 * input is handed over in an exact-size buffer, so a read past its end is an ASan report.
 */
#include "claims.h"
#include "claims_json.h"
#include "fuzz_common.h"

#include <apr_pools.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* the reader's scratch buffer is pool memory: the guard lets ASan see its bounds */
    if (!fz_poolguard_active(fz_global_pool())) {
        fprintf(stderr, "fuzz_json: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    json_t *ours, *ref;
    if (apr_pool_create(&p, fz_global_pool()) != APR_SUCCESS) {
        fz_die("apr_pool_create");
    }
    ours = claims_json_object(p, data, size);
    ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (ref != NULL && !json_is_object(ref)) {
        json_decref(ref);
        ref = NULL;
    }
    if (ours == NULL && ref != NULL && memchr(data, 0, size) != NULL) {
        /* jansson 2.14 drops one NUL byte right after a number or true/false/null (lost in its
         * look-ahead); the reader refuses every NUL. Without those bytes the two must agree. */
        unsigned char *stripped = malloc(size);
        size_t n = 0;
        json_t *again;
        CHECK(stripped != NULL);
        for (size_t i = 0; i < size; i++) {
            if (!(data[i] == 0 && i > 0 && ((data[i - 1] >= '0' && data[i - 1] <= '9') || (data[i - 1] >= 'a' && data[i - 1] <= 'z')))) {
                stripped[n++] = data[i];
            }
        }
        again = claims_json_object(p, stripped, n);
        CHECK(again != NULL && json_equal(again, ref));
        json_decref(again);
        free(stripped);
        json_decref(ref);
        apr_pool_destroy(p);
        return 0;
    }
    CHECK((ours != NULL) == (ref != NULL));
    CHECK(ours == NULL || json_equal(ours, ref));
    /* member order too: the reader keeps the token's order, as jansson does */
    if (ours != NULL) {
        void *a = json_object_iter(ours), *b = json_object_iter(ref);
        while (a != NULL && b != NULL) {
            CHECK(json_object_iter_key_len(a) == json_object_iter_key_len(b));
            CHECK(memcmp(json_object_iter_key(a), json_object_iter_key(b), json_object_iter_key_len(a)) == 0);
            a = json_object_iter_next(ours, a);
            b = json_object_iter_next(ref, b);
        }
        CHECK(a == NULL && b == NULL);
        /* and the writer gives jansson's compact text of what was read (claims_json_text) */
        {
            char *want = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY), *got = claims_json_text(p, ours);
            CHECK(want != NULL && got != NULL && strcmp(want, got) == 0);
            free(want);
        }
    }
    json_decref(ours);
    json_decref(ref);
    apr_pool_destroy(p);
    return 0;
}
