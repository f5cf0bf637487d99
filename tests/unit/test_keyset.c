/*
 * test_keyset.c - remote key set state, refresh schedule and documents (claims_keyset.h;
 * SECURITY.md CL-28, CL-66, CL-68).
 */
#include "test_util.h"

#include "claims_keyset.h"

#include <apr_strings.h>
#include <string.h>

#define S(x) apr_time_from_sec(x)

static const claims_keyset_schedule_t sch = {S(3600), S(60)};

static claims_keyset_state_t state(apr_time_t attempt, apr_time_t expires, int status, apr_time_t wanted)
{
    claims_keyset_state_t st;
    memset(&st, 0, sizeof(st));
    st.magic = CLAIMS_KEYSET_STATE_MAGIC;
    st.attempt_at = attempt;
    st.expires_at = expires;
    st.last_status = status;
    st.wanted_at = wanted;
    st.version = 1;
    return st;
}

static const struct {
    const char *what;
    int have;
    apr_time_t local_attempt;
    apr_time_t attempt, expires;
    int status;
    apr_time_t wanted;
    apr_time_t now;
    int due;
} due_cases[] = {
    {"first start", 0, 0, 0, 0, CLAIMS_OK, 0, S(1000), 1},
    {"nothing readable, retried within the interval", 0, S(990), 0, 0, CLAIMS_OK, 0, S(1000), 0},
    {"nothing readable, retry interval over", 0, S(940), 0, 0, CLAIMS_OK, 0, S(1000), 1},
    {"fresh set", 1, 0, S(900), S(4500), CLAIMS_OK, 0, S(1000), 0},
    {"set expired", 1, 0, S(900), S(999), CLAIMS_OK, 0, S(1000), 1},
    {"set expires exactly now", 1, 0, S(900), S(1000), CLAIMS_OK, 0, S(1000), 1},
    {"unknown kid asked after the attempt", 1, 0, S(990), S(4500), CLAIMS_OK, S(995), S(1000), 1},
    {"unknown kid asked before the attempt", 1, 0, S(990), S(4500), CLAIMS_OK, S(985), S(1000), 0},
    {"failing provider, within retry", 1, 0, S(990), 0, CLAIMS_ERR_IO, 0, S(1000), 0},
    {"failing provider, retry over", 1, 0, S(940), 0, CLAIMS_ERR_IO, 0, S(1000), 1},
};

START_TEST(test_refresh_is_due_when_the_schedule_says)
{
    claims_keyset_state_t st = state(due_cases[_i].attempt, due_cases[_i].expires, due_cases[_i].status,
                                     due_cases[_i].wanted);
    ck_assert_msg(claims_keyset_refresh_due(&st, due_cases[_i].have, due_cases[_i].local_attempt, &sch,
                                            due_cases[_i].now) == due_cases[_i].due, "%s", due_cases[_i].what);
}
END_TEST

START_TEST(test_unknown_kid_may_ask_once_per_retry_interval)
{
    claims_keyset_state_t st = state(S(1000), S(4600), CLAIMS_OK, 0);
    ck_assert(!claims_keyset_may_ask(&st, &sch, S(1059)));
    ck_assert(claims_keyset_may_ask(&st, &sch, S(1060)));
    st.wanted_at = S(1061);  /* asked already, not fetched yet */
    ck_assert(!claims_keyset_may_ask(&st, &sch, S(2000)));
}
END_TEST

static const struct {
    apr_int64_t max_age;
    apr_interval_time_t lifetime;
} lifetimes[] = {
    {-1, S(3600)},             /* no Cache-Control: the refresh interval */
    {600, S(600)},             /* max-age shortens it */
    {7200, S(3600)},           /* never lengthens it */
    {0, S(60)},                /* no-cache: floored at the retry interval, not every tick */
    {30, S(60)},
    {APR_INT64_C(99999999999), S(3600)},  /* beyond what apr_time_t holds: no bound */
};

START_TEST(test_lifetime_is_the_refresh_interval_bounded_by_max_age_and_floored_by_retry)
{
    ck_assert_int_eq(claims_keyset_lifetime(&sch, lifetimes[_i].max_age), lifetimes[_i].lifetime);
}
END_TEST

START_TEST(test_versions_only_grow)
{
    ck_assert_uint_eq(claims_keyset_next_version(0, S(1000)), (apr_uint64_t)S(1000));
    ck_assert_uint_eq(claims_keyset_next_version((apr_uint64_t)S(1000), S(1000)), (apr_uint64_t)S(1000) + 1);
    /* a clock that went back (or a server whose clock is behind) still publishes a newer one */
    ck_assert_uint_eq(claims_keyset_next_version((apr_uint64_t)S(5000), S(1000)), (apr_uint64_t)S(5000) + 1);
    ck_assert_uint_eq(claims_keyset_next_version(7, 0), 8);
}
END_TEST

START_TEST(test_next_attempt_and_staleness)
{
    claims_keyset_state_t ok = state(S(1000), S(4600), CLAIMS_OK, 0);
    claims_keyset_state_t failed = state(S(1000), S(4600), CLAIMS_ERR_IO, 0);
    ck_assert_int_eq(claims_keyset_next_at(&ok, &sch), S(4600));
    ck_assert_int_eq(claims_keyset_next_at(&failed, &sch), S(1060));
    /* stale counts from when a refresh was due */
    ck_assert(!claims_keyset_is_stale(S(4600), S(86400), S(4600) + S(86400)));
    ck_assert(claims_keyset_is_stale(S(4600), S(86400), S(4600) + S(86400) + 1));
}
END_TEST

START_TEST(test_state_records_decode_only_when_whole_and_marked)
{
    claims_keyset_state_t st = state(S(1), S(2), CLAIMS_OK, 0), out;
    memset(st.last_error, 'x', sizeof(st.last_error));  /* unterminated: terminated on decode */
    ck_assert(claims_keyset_state_decode(&st, sizeof(st), &out));
    ck_assert_uint_eq(strlen(out.last_error), sizeof(out.last_error) - 1);
    ck_assert(!claims_keyset_state_decode(&st, sizeof(st) - 1, &out));
    ck_assert_int_eq(out.version, 0);
    ck_assert(!claims_keyset_state_decode(NULL, 0, &out));
    st.magic ^= 1;
    ck_assert(!claims_keyset_state_decode(&st, sizeof(st), &out));
}
END_TEST

static const char *jwk_of(EVP_PKEY *k, const char *kid, const char *alg)
{
    return tu_jwk(tu_p, k, alg != NULL ? apr_psprintf(tu_p, "\"kid\":\"%s\",\"alg\":\"%s\"", kid, alg)
                                       : apr_psprintf(tu_p, "\"kid\":\"%s\"", kid));
}

START_TEST(test_document_keeps_local_keys_and_skips_what_it_cannot_use)
{
    claims_keyset_rules_t rules = {0, NULL};
    apr_array_header_t *local = apr_array_make(tu_p, 1, sizeof(claims_key_t *));
    apr_array_header_t *keys = NULL, *skipped = apr_array_make(tu_p, 2, sizeof(claims_key_skipped_t *));
    char *err = NULL;
    const char *doc = apr_psprintf(tu_p, "{\"keys\":[%s,%s]}", jwk_of(tu_keys.ec256, "ec", "ES256"),
                                   jwk_of(tu_keys.rsa, "no-alg", NULL));
    const char *local_jwk = jwk_of(tu_keys.ec384, "local", "ES384");
    claims_key_opts_t opts = {0};
    ck_assert_int_eq(claims_keys_parse(tu_p, local_jwk, strlen(local_jwk), "local", &opts, local, &err), CLAIMS_OK);
    rules.local = local;
    ck_assert_int_eq(claims_keyset_parse(tu_p, &rules, doc, strlen(doc), "remote", skipped, NULL, &keys, &err),
                     CLAIMS_OK);
    ck_assert_int_eq(keys->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, claims_key_t *)->kid, "local");
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 1, claims_key_t *)->kid, "ec");
    ck_assert_int_eq(skipped->nelts, 1);
}
END_TEST

START_TEST(test_document_with_an_hmac_key_or_no_usable_key_is_refused)
{
    claims_keyset_rules_t rules = {0, NULL};
    apr_array_header_t *keys = NULL;
    char *err = NULL;
    const char *oct = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\","
                      "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}";
    const char *only_rsa = apr_psprintf(tu_p, "{\"keys\":[%s]}", jwk_of(tu_keys.rsa, "no-alg", NULL));
    ck_assert_int_ne(claims_keyset_parse(tu_p, &rules, oct, strlen(oct), "remote", NULL, NULL, &keys, &err), CLAIMS_OK);
    ck_assert_int_ne(claims_keyset_parse(tu_p, &rules, only_rsa, strlen(only_rsa), "remote", NULL, NULL, &keys, &err),
                     CLAIMS_OK);
    ck_assert_ptr_nonnull(err);
}
END_TEST

Suite *keyset_suite(void)
{
    Suite *s = suite_create("keyset");
    TCase *tc = tu_tcase("remote key sets", 0);
    tcase_add_loop_test(tc, test_refresh_is_due_when_the_schedule_says, 0, TU_COUNT(due_cases));
    tcase_add_test(tc, test_unknown_kid_may_ask_once_per_retry_interval);
    tcase_add_loop_test(tc, test_lifetime_is_the_refresh_interval_bounded_by_max_age_and_floored_by_retry, 0,
                        TU_COUNT(lifetimes));
    tcase_add_test(tc, test_versions_only_grow);
    tcase_add_test(tc, test_next_attempt_and_staleness);
    tcase_add_test(tc, test_state_records_decode_only_when_whole_and_marked);
    tcase_add_test(tc, test_document_keeps_local_keys_and_skips_what_it_cannot_use);
    tcase_add_test(tc, test_document_with_an_hmac_key_or_no_usable_key_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
