/*
 * test_main.c - runs every unit-test suite of the mod_claims core.
 *
 * Verbosity comes from CK_VERBOSITY (CK_ENV; "normal" when unset) and fork mode from CK_FORK
 * (the valgrind target sets CK_FORK=no). The conformance vectors suite is only added when the
 * vectors folder exists; otherwise a SKIPPED line says where it was looked for, so a missing
 * folder never shows up as passing tests.
 */
#include "test_util.h"

#include <apr_general.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    SRunner *sr;
    int failed, vectors;

    /* line-buffered, so that output of forked tests is not duplicated or reordered */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return EXIT_FAILURE;
    }
    vectors = tu_vectors_present();
    tu_keys_init();

    sr = srunner_create(b64url_suite());
    srunner_add_suite(sr, token_suite());
    srunner_add_suite(sr, json_suite());
    srunner_add_suite(sr, jws_suite());
    srunner_add_suite(sr, verify_suite());
    srunner_add_suite(sr, cache_suite());
    srunner_add_suite(sr, shcache_suite());
    srunner_add_suite(sr, keys_suite());
    srunner_add_suite(sr, jwk_suite());
    srunner_add_suite(sr, validate_suite());
    srunner_add_suite(sr, path_match_suite());
    srunner_add_suite(sr, export_suite());
    srunner_add_suite(sr, store_suite());
    srunner_add_suite(sr, ledger_suite());
    srunner_add_suite(sr, keyset_suite());
    srunner_add_suite(sr, policy_suite());
    srunner_add_suite(sr, fetch_suite());
    srunner_add_suite(sr, introspect_suite());
    srunner_add_suite(sr, dpop_suite());
    srunner_add_suite(sr, metadata_suite());
    srunner_add_suite(sr, problem_suite());
    if (vectors) {
        printf("conformance vectors: %s\n", tu_vectors_dir());
        srunner_add_suite(sr, vectors_suite());
    }
    else {
        printf("vectors not found at %s: SKIPPED (set CLAIMS_VECTORS)\n", tu_vectors_dir());
    }
    fflush(stdout);

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (!vectors) {
        printf("vectors not found at %s: SKIPPED - conformance tests did not run\n", tu_vectors_dir());
    }

    tu_keys_free();
    apr_terminate();
    OPENSSL_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
