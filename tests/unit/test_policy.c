/*
 * test_policy.c - a location's trusted issuers and validation policy (claims_policy.h;
 * SECURITY.md CL-26, CL-44, CL-45, CL-72).
 */
#include "test_util.h"

#include "claims_policy.h"

static apr_array_header_t *words(const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(tu_p, 2, sizeof(const char *));
    if (a != NULL) {
        APR_ARRAY_PUSH(arr, const char *) = a;
    }
    if (b != NULL) {
        APR_ARRAY_PUSH(arr, const char *) = b;
    }
    return arr;
}

START_TEST(test_trust_is_by_exact_issuer_in_declaration_order)
{
    claims_issuer_t a = {"https://a.example", NULL, 0}, b = {"https://b.example", NULL, 0},
                    c = {"https://a.example/", NULL, 0};
    const claims_issuer_t *all[3] = {&a, &b, &c};
    const claims_issuer_t *out[3];

    ck_assert_int_eq(claims_policy_trusted(all, 3, NULL, out, 3), 3);
    ck_assert_ptr_eq(out[0], &a);
    ck_assert_int_eq(claims_policy_trusted(all, 3, words("https://b.example", "https://a.example"), out, 3), 2);
    ck_assert_ptr_eq(out[0], &a);
    ck_assert_ptr_eq(out[1], &b);
    ck_assert_int_eq(claims_policy_trusted(all, 3, words("https://A.example", "https://a.example/x"), out, 3), 0);
    ck_assert_int_eq(claims_policy_trusted(all, 3, NULL, out, 1), 1);
    ck_assert_int_eq(claims_policy_trusted(all, 3, words(NULL, NULL), out, 3), 0);
}
END_TEST

START_TEST(test_location_audience_replaces_the_issuers)
{
    claims_policy_t issuer = {0}, out;
    claims_audience_t here = {words("https://orders", NULL), 0, 1};
    issuer.issuer = "https://a.example";
    issuer.audiences = words("https://api", NULL);
    issuer.leeway = 30;
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, &here), CLAIMS_OK);
    ck_assert_str_eq(APR_ARRAY_IDX(out.audiences, 0, const char *), "https://orders");
    ck_assert_int_eq(out.leeway, 30);
    ck_assert_str_eq(out.issuer, "https://a.example");
    here.set = 0;
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, &here), CLAIMS_OK);
    ck_assert_str_eq(APR_ARRAY_IDX(out.audiences, 0, const char *), "https://api");
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_no_audience_anywhere_is_a_configuration_error_unless_opted_out)
{
    claims_policy_t issuer = {0}, out;
    claims_audience_t none = {NULL, 0, 0}, any = {NULL, 1, 1}, empty = {words(NULL, NULL), 0, 1};
    issuer.issuer = "https://a.example";
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, &none), CLAIMS_ERR_CONFIG);
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, &empty), CLAIMS_ERR_CONFIG);
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, &any), CLAIMS_OK);
    ck_assert(out.audience_any);
    issuer.audience_any = 1;
    ck_assert_int_eq(claims_policy_for_location(&out, &issuer, &none), CLAIMS_OK);
}
END_TEST

Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tu_tcase("location policy", 0);
    tcase_add_test(tc, test_trust_is_by_exact_issuer_in_declaration_order);
    tcase_add_test(tc, test_location_audience_replaces_the_issuers);
    tcase_add_test(tc, test_no_audience_anywhere_is_a_configuration_error_unless_opted_out);
    suite_add_tcase(s, tc);
    return s;
}
