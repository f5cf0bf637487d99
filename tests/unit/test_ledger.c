/*
 * test_ledger.c - live records of a store of fixed capacity (the DPoP replay store, CL-97).
 */
#include "test_util.h"

#include "claims_ledger.h"

#define T0 1800000000

static claims_ledger_t *ledger(apr_uint64_t capacity)
{
    return claims_ledger_init(apr_palloc(tu_p, claims_ledger_size()), capacity);
}

START_TEST(test_full_ledger_refuses_until_a_record_expires)
{
    claims_ledger_t *l = ledger(3);
    ck_assert_int_eq(claims_ledger_admit(l, T0, 10), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 1, 10), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 2, 10), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 3, 10), 0);
    ck_assert_int_eq(claims_ledger_live(l), 3);
    /* the first record lives until T0 + 10 exactly, not a second less */
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 9, 10), 0);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 10, 10), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 10, 10), 0);
    ck_assert_int_eq(claims_ledger_live(l), 3);
}
END_TEST

START_TEST(test_refused_records_are_not_counted)
{
    claims_ledger_t *l = ledger(1);
    ck_assert_int_eq(claims_ledger_admit(l, T0, 5), 1);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(claims_ledger_admit(l, T0 + 1, 5), 0);
    }
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 5, 5), 1);
    ck_assert_int_eq(claims_ledger_live(l), 1);
}
END_TEST

START_TEST(test_records_of_different_lifetimes_expire_each_at_its_second)
{
    claims_ledger_t *l = ledger(100);
    for (int ttl = 1; ttl <= 60; ttl++) {
        ck_assert_int_eq(claims_ledger_admit(l, T0, ttl), 1);
    }
    ck_assert_int_eq(claims_ledger_live(l), 60);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 30, 1), 1);   /* 30 expired, 30 + 1 live */
    ck_assert_int_eq(claims_ledger_live(l), 31);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 61, 1), 1);   /* all expired, 1 live */
    ck_assert_int_eq(claims_ledger_live(l), 1);
}
END_TEST

START_TEST(test_a_long_idle_time_empties_the_ledger)
{
    claims_ledger_t *l = ledger(1);
    ck_assert_int_eq(claims_ledger_admit(l, T0, CLAIMS_LEDGER_SPAN - 1), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 100, 3), 0);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + CLAIMS_LEDGER_SPAN - 1, 3), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 10 * CLAIMS_LEDGER_SPAN, 3), 1);
    ck_assert_int_eq(claims_ledger_live(l), 1);
}
END_TEST

START_TEST(test_ttl_beyond_the_span_is_kept_for_the_span)
{
    claims_ledger_t *l = ledger(1);
    ck_assert_int_eq(claims_ledger_admit(l, T0, 1000000), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + CLAIMS_LEDGER_SPAN - 2, 1), 0);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + CLAIMS_LEDGER_SPAN - 1, 1), 1);
    /* a ttl of 0 or less still counts for one second */
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 2 * CLAIMS_LEDGER_SPAN, 0), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 2 * CLAIMS_LEDGER_SPAN, 0), 0);
}
END_TEST

START_TEST(test_clock_going_back_forgets_nothing_early)
{
    claims_ledger_t *l = ledger(2);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 100, 10), 1);
    ck_assert_int_eq(claims_ledger_admit(l, T0, 10), 1);        /* counted as at T0 + 100 */
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 105, 10), 0);
    ck_assert_int_eq(claims_ledger_admit(l, T0 + 110, 10), 1);  /* both expired at T0 + 110 */
    ck_assert_int_eq(claims_ledger_live(l), 1);
}
END_TEST

Suite *ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tu_tcase("live records", 0);
    tcase_add_test(tc, test_full_ledger_refuses_until_a_record_expires);
    tcase_add_test(tc, test_refused_records_are_not_counted);
    tcase_add_test(tc, test_records_of_different_lifetimes_expire_each_at_its_second);
    tcase_add_test(tc, test_a_long_idle_time_empties_the_ledger);
    tcase_add_test(tc, test_ttl_beyond_the_span_is_kept_for_the_span);
    tcase_add_test(tc, test_clock_going_back_forgets_nothing_early);
    suite_add_tcase(s, tc);
    return s;
}
