/*
 * test_validate.c - registered-claim checks (RFC 7519 section 4.1, RFC 8725, RFC 9068;
 * SECURITY.md CL-40..CL-47, CL-50, CL-69).
 */
#include "test_util.h"

#include "claims_validate.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000.0
#define ISS "https://issuer.example"

static json_t *claims_of(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
    claims_json_pool(tu_p, j);
    return j;
}

static apr_array_header_t *strings(const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(tu_p, 2, sizeof(const char *));
    if (a != NULL) {
        *(const char **)apr_array_push(arr) = a;
    }
    if (b != NULL) {
        *(const char **)apr_array_push(arr) = b;
    }
    return arr;
}

static claims_policy_t policy(void)
{
    claims_policy_t pol;
    memset(&pol, 0, sizeof(pol));
    pol.issuer = ISS;
    pol.audiences = strings("https://api.example", "orders");
    pol.leeway = 60;
    return pol;
}

/* A valid claim set with one member replaced or added: member is "name":value text, or "" */
static const char *with(const char *member)
{
    return apr_psprintf(tu_p, "{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"aud\":\"https://api.example\","
                              "\"exp\":1700000600,\"iat\":1699999990%s%s}",
                        *member ? "," : "", member);
}

/* claims without the named registered claims, plus member */
static const char *without(const char *drop, const char *member)
{
    json_t *c = json_deep_copy(claims_of(with("")));
    char *text, *out;
    json_object_del(c, drop);
    text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    out = apr_pstrdup(tu_p, text);
    free(text);
    if (*member) {
        out[strlen(out) - 1] = '\0';
        out = apr_pstrcat(tu_p, out, ",", member, "}", NULL);
    }
    return out;
}

static claims_status_t run(const char *claims, const claims_policy_t *pol, const char *typ, const char **what)
{
    return claims_validate(claims_of(claims), typ, pol, NOW, what);
}

START_TEST(test_valid_claims_pass)
{
    claims_policy_t pol = policy();
    const char *what = "x";
    ck_assert_int_eq(run(with(""), &pol, NULL, &what), CLAIMS_OK);
    ck_assert_ptr_null(what);
}
END_TEST

START_TEST(test_unknown_claims_are_ignored)
{
    claims_policy_t pol = policy();
    ck_assert_int_eq(run(with("\"x-custom\":{\"exp\":\"never\"},\"nonce\":1,\"cnf\":[]"), &pol, NULL, NULL), CLAIMS_OK);
}
END_TEST

/* ------------------------------------------------------------------ NumericDate (CL-40, CL-41) */

static const char *const time_values_bad[] = {
    "\"1700000600\"", "null", "true", "false", "[1700000600]", "{}", "\"\"",
    "1e300", "-1", "-0.5", "-1700000600", "253402300800", "253402300799.5", "9223372036854775807",
    "9223372036854775808.0", "1.8446744073709552e19", "1e19", "-9223372036854775808",
};

static void time_claim_refused(const char *name, int i)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    const char *c = without(name, apr_psprintf(tu_p, "\"%s\":%s", name, time_values_bad[i]));
    claims_status_t st = run(c, &pol, NULL, &what);
    ck_assert_msg(st == CLAIMS_ERR_TIME_CLAIM, "%s=%s: got %s", name, time_values_bad[i], claims_status_name(st));
    ck_assert_str_eq(what, name);
}

START_TEST(test_malformed_exp_is_refused_never_treated_as_absent)
{
    time_claim_refused("exp", _i);
}
END_TEST

START_TEST(test_malformed_nbf_is_refused_never_treated_as_absent)
{
    time_claim_refused("nbf", _i);
}
END_TEST

START_TEST(test_malformed_iat_is_refused_never_treated_as_absent)
{
    time_claim_refused("iat", _i);
}
END_TEST

START_TEST(test_malformed_exp_is_refused_even_when_exp_is_optional)
{
    claims_policy_t pol = policy();
    pol.exp_optional = 1;
    ck_assert_int_eq(run(without("exp", "\"exp\":\"tomorrow\""), &pol, NULL, NULL), CLAIMS_ERR_TIME_CLAIM);
    ck_assert_int_eq(run(without("exp", "\"exp\":null"), &pol, NULL, NULL), CLAIMS_ERR_TIME_CLAIM);
}
END_TEST

START_TEST(test_numeric_date_reads_integers_and_fractions)
{
    double d = -1;
    json_t *c = claims_of("{\"a\":1700000000,\"b\":1700000000.25,\"c\":0,\"d\":253402300799,\"e\":\"1\"}");
    ck_assert_int_eq(claims_numeric_date(c, "a", &d), 1);
    ck_assert_double_eq(d, 1700000000.0);
    ck_assert_int_eq(claims_numeric_date(c, "b", &d), 1);
    ck_assert_double_eq(d, 1700000000.25);
    ck_assert_int_eq(claims_numeric_date(c, "c", &d), 1);
    ck_assert_double_eq(d, 0.0);
    ck_assert_int_eq(claims_numeric_date(c, "d", &d), 1);
    ck_assert_int_eq(claims_numeric_date(c, "e", &d), -1);
    ck_assert_int_eq(claims_numeric_date(c, "missing", &d), 0);
}
END_TEST

START_TEST(test_fractional_exp_is_compared_exactly)
{
    claims_policy_t pol = policy();
    pol.leeway = 0;
    ck_assert_int_eq(run(without("exp", "\"exp\":1700000000.5"), &pol, NULL, NULL), CLAIMS_OK);
    ck_assert_int_eq(run(without("exp", "\"exp\":1699999999.5"), &pol, NULL, NULL), CLAIMS_ERR_EXPIRED);
}
END_TEST

START_TEST(test_largest_numeric_date_is_accepted)
{
    claims_policy_t pol = policy();
    ck_assert_int_eq(run(without("exp", "\"exp\":253402300799"), &pol, NULL, NULL), CLAIMS_OK);
}
END_TEST

/* ------------------------------------------------------------------ exp / nbf / iat with leeway */

static const struct {
    const char *drop;
    const char *member;
    int leeway;
    claims_status_t want;
} times[] = {
    {"exp", "\"exp\":1700000000", 0, CLAIMS_ERR_EXPIRED},        /* now == exp */
    {"exp", "\"exp\":1700000001", 0, CLAIMS_OK},
    {"exp", "\"exp\":1699999941", 60, CLAIMS_OK},                /* 59 s past, within leeway */
    {"exp", "\"exp\":1699999940", 60, CLAIMS_ERR_EXPIRED},       /* exactly exp + leeway */
    {"exp", "\"exp\":1699999000", 60, CLAIMS_ERR_EXPIRED},
    {"exp", "\"exp\":0", 60, CLAIMS_ERR_EXPIRED},
    {"nbf", "\"nbf\":1700000000", 0, CLAIMS_OK},
    {"nbf", "\"nbf\":1700000001", 0, CLAIMS_ERR_NOT_YET_VALID},
    {"nbf", "\"nbf\":1700000060", 60, CLAIMS_OK},
    {"nbf", "\"nbf\":1700000061", 60, CLAIMS_ERR_NOT_YET_VALID},
    {"nbf", "\"nbf\":0", 60, CLAIMS_OK},
    {"iat", "\"iat\":1700000000", 0, CLAIMS_OK},
    {"iat", "\"iat\":1700000001", 0, CLAIMS_ERR_IAT_FUTURE},
    {"iat", "\"iat\":1700000060", 60, CLAIMS_OK},
    {"iat", "\"iat\":1700000061", 60, CLAIMS_ERR_IAT_FUTURE},
    {"iat", "\"iat\":1700000000.5", 0, CLAIMS_ERR_IAT_FUTURE},
    {"iat", "\"iat\":1", 0, CLAIMS_OK},
};

START_TEST(test_time_claims_apply_the_same_leeway)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    claims_status_t st;
    pol.leeway = times[_i].leeway;
    st = run(without(times[_i].drop, times[_i].member), &pol, NULL, &what);
    ck_assert_msg(st == times[_i].want, "%s leeway %d: got %s", times[_i].member, times[_i].leeway,
                  claims_status_name(st));
    if (st != CLAIMS_OK) {
        ck_assert_str_eq(what, times[_i].drop);
    }
}
END_TEST

START_TEST(test_missing_exp_is_refused_by_default)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    ck_assert_int_eq(run(without("exp", ""), &pol, NULL, &what), CLAIMS_ERR_EXP_MISSING);
    ck_assert_str_eq(what, "exp");
}
END_TEST

START_TEST(test_missing_exp_is_accepted_when_optional)
{
    claims_policy_t pol = policy();
    pol.exp_optional = 1;
    ck_assert_int_eq(run(without("exp", ""), &pol, NULL, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_expired_token_is_refused_even_when_exp_is_optional)
{
    claims_policy_t pol = policy();
    pol.exp_optional = 1;
    ck_assert_int_eq(run(without("exp", "\"exp\":1600000000"), &pol, NULL, NULL), CLAIMS_ERR_EXPIRED);
}
END_TEST

/* ------------------------------------------------------------------ iss (CL-44) */

static const char *const iss_bad[] = {
    "\"https://issuer.example/\"",
    "\"https://ISSUER.example\"",
    "\"HTTPS://issuer.example\"",
    "\"https://issuer.exampl\"",
    "\"https://issuer.example.evil\"",
    "\"https://issuer.example#\"",
    "\"https://issuer.example \"",
    "\" https://issuer.example\"",
    "\"issuer.example\"",
    "\"\"",
    "null",
    "1",
    "[\"https://issuer.example\"]",
    "{\"iss\":\"https://issuer.example\"}",
};

START_TEST(test_issuer_must_match_byte_for_byte)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    claims_status_t st = run(without("iss", apr_psprintf(tu_p, "\"iss\":%s", iss_bad[_i])), &pol, NULL, &what);
    ck_assert_msg(st == CLAIMS_ERR_ISSUER, "iss %s: got %s", iss_bad[_i], claims_status_name(st));
    ck_assert_str_eq(what, "iss");
}
END_TEST

START_TEST(test_missing_issuer_is_refused)
{
    claims_policy_t pol = policy();
    ck_assert_int_eq(run(without("iss", ""), &pol, NULL, NULL), CLAIMS_ERR_ISSUER);
}
END_TEST

/* ------------------------------------------------------------------ aud (CL-45) */

static const char *const aud_ok[] = {
    "\"https://api.example\"",
    "\"orders\"",
    "[\"https://api.example\"]",
    "[\"someone-else\",\"orders\"]",
    "[\"orders\",\"https://api.example\"]",
};

START_TEST(test_audience_string_or_array_element_matches)
{
    claims_policy_t pol = policy();
    claims_status_t st = run(without("aud", apr_psprintf(tu_p, "\"aud\":%s", aud_ok[_i])), &pol, NULL, NULL);
    ck_assert_msg(st == CLAIMS_OK, "aud %s: got %s", aud_ok[_i], claims_status_name(st));
}
END_TEST

static const char *const aud_bad[] = {
    "[]",
    "[\"\"]",
    "\"\"",
    "[\"orders\",\"\"]",
    "[\"orders\",1]",
    "[\"orders\",null]",
    "[\"orders\",[\"orders\"]]",
    "[[\"orders\"]]",
    "{\"aud\":\"orders\"}",
    "null",
    "1",
    "true",
    "\"Orders\"",
    "\"ORDERS\"",
    "\"https://api.example/\"",
    "\"https://API.example\"",
    "\"https://api.exampl\"",
    "\"https://api.example.evil\"",
    "\"order\"",
    "\"orders \"",
    "\"orders,https://api.example\"",
    "\"orders https://api.example\"",
    "[\"someone-else\"]",
};

START_TEST(test_malformed_or_foreign_audience_is_refused)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    claims_status_t st = run(without("aud", apr_psprintf(tu_p, "\"aud\":%s", aud_bad[_i])), &pol, NULL, &what);
    ck_assert_msg(st == CLAIMS_ERR_AUDIENCE, "aud %s: got %s", aud_bad[_i], claims_status_name(st));
    ck_assert_str_eq(what, "aud");
}
END_TEST

START_TEST(test_missing_audience_is_refused_by_default)
{
    claims_policy_t pol = policy();
    ck_assert_int_eq(run(without("aud", ""), &pol, NULL, NULL), CLAIMS_ERR_AUDIENCE);
}
END_TEST

START_TEST(test_policy_without_audiences_refuses_unless_opted_out)
{
    claims_policy_t pol = policy();
    pol.audiences = NULL;
    ck_assert_int_eq(run(with(""), &pol, NULL, NULL), CLAIMS_ERR_AUDIENCE);
    pol.audiences = strings(NULL, NULL);
    ck_assert_int_eq(run(with(""), &pol, NULL, NULL), CLAIMS_ERR_AUDIENCE);
}
END_TEST

START_TEST(test_audience_any_skips_the_audience_check)
{
    claims_policy_t pol = policy();
    pol.audience_any = 1;
    pol.audiences = NULL;
    ck_assert_int_eq(run(without("aud", ""), &pol, NULL, NULL), CLAIMS_OK);
    ck_assert_int_eq(run(without("aud", "\"aud\":\"anything\""), &pol, NULL, NULL), CLAIMS_OK);
}
END_TEST

/* ------------------------------------------------------------------ typ (CL-47) */

static const char *const typ_ok[] = {"at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT",
                                     "APPLICATION/at+jwt"};

START_TEST(test_required_typ_matches_case_insensitively_with_optional_application_prefix)
{
    claims_policy_t pol = policy();
    pol.typ = "at+jwt";
    ck_assert_msg(run(with(""), &pol, typ_ok[_i], NULL) == CLAIMS_OK, "typ %s refused", typ_ok[_i]);
    pol.typ = "application/at+jwt";
    ck_assert_msg(run(with(""), &pol, typ_ok[_i], NULL) == CLAIMS_OK, "typ %s refused (prefixed policy)", typ_ok[_i]);
}
END_TEST

static const char *const typ_bad[] = {"JWT", "jwt", "application/jwt", "at+jwt ", " at+jwt", "at+jw", "at+jwtx",
                                      "application/", "application/application/at+jwt", "", "text/at+jwt"};

START_TEST(test_wrong_typ_is_refused_when_one_is_required)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    pol.typ = "at+jwt";
    ck_assert_msg(run(with(""), &pol, typ_bad[_i], &what) == CLAIMS_ERR_TYPE, "typ \"%s\" accepted", typ_bad[_i]);
    ck_assert_str_eq(what, "typ");
}
END_TEST

START_TEST(test_missing_typ_is_refused_when_one_is_required)
{
    claims_policy_t pol = policy();
    pol.typ = "at+jwt";
    ck_assert_int_eq(run(with(""), &pol, NULL, NULL), CLAIMS_ERR_TYPE);
}
END_TEST

START_TEST(test_any_typ_is_accepted_when_none_is_required)
{
    claims_policy_t pol = policy();
    ck_assert_int_eq(run(with(""), &pol, "JWT", NULL), CLAIMS_OK);
    ck_assert_int_eq(run(with(""), &pol, NULL, NULL), CLAIMS_OK);
}
END_TEST

START_TEST(test_id_token_is_refused_by_an_access_token_profile)
{
    claims_policy_t pol = policy();
    pol.typ = "at+jwt";
    pol.required = strings("client_id", "jti");
    ck_assert_int_eq(run(with("\"nonce\":\"n-0S6_WzA2Mj\",\"client_id\":\"c\",\"jti\":\"j\""), &pol, "JWT", NULL),
                     CLAIMS_ERR_TYPE);
}
END_TEST

/* ------------------------------------------------------------------ required claims (CL-46) */

START_TEST(test_required_claims_present_pass)
{
    claims_policy_t pol = policy();
    pol.required = strings("sub", "client_id");
    ck_assert_int_eq(run(with("\"client_id\":\"app\""), &pol, NULL, NULL), CLAIMS_OK);
    ck_assert_int_eq(run(with("\"client_id\":0"), &pol, NULL, NULL), CLAIMS_OK);
    ck_assert_int_eq(run(with("\"client_id\":false"), &pol, NULL, NULL), CLAIMS_OK);
}
END_TEST

static const char *const required_bad[] = {"", "\"client_id\":null", "\"client_id\":\"\"", "\"Client_id\":\"app\"",
                                           "\"client_id \":\"app\""};

START_TEST(test_missing_null_or_empty_required_claim_is_refused)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    pol.required = strings("sub", "client_id");
    ck_assert_int_eq(run(with(required_bad[_i]), &pol, NULL, &what), CLAIMS_ERR_MISSING_CLAIM);
    ck_assert_str_eq(what, "client_id");
}
END_TEST

START_TEST(test_empty_sub_is_refused_when_sub_is_required)
{
    claims_policy_t pol = policy();
    const char *what = NULL;
    pol.required = strings("sub", NULL);
    ck_assert_int_eq(run(without("sub", "\"sub\":\"\""), &pol, NULL, &what), CLAIMS_ERR_MISSING_CLAIM);
    ck_assert_str_eq(what, "sub");
    ck_assert_int_eq(run(without("sub", ""), &pol, NULL, &what), CLAIMS_ERR_MISSING_CLAIM);
}
END_TEST

Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tu_tcase("times", 0);
    tcase_add_test(tc, test_valid_claims_pass);
    tcase_add_test(tc, test_unknown_claims_are_ignored);
    tcase_add_loop_test(tc, test_malformed_exp_is_refused_never_treated_as_absent, 0, TU_COUNT(time_values_bad));
    tcase_add_loop_test(tc, test_malformed_nbf_is_refused_never_treated_as_absent, 0, TU_COUNT(time_values_bad));
    tcase_add_loop_test(tc, test_malformed_iat_is_refused_never_treated_as_absent, 0, TU_COUNT(time_values_bad));
    tcase_add_test(tc, test_malformed_exp_is_refused_even_when_exp_is_optional);
    tcase_add_test(tc, test_numeric_date_reads_integers_and_fractions);
    tcase_add_test(tc, test_fractional_exp_is_compared_exactly);
    tcase_add_test(tc, test_largest_numeric_date_is_accepted);
    tcase_add_loop_test(tc, test_time_claims_apply_the_same_leeway, 0, TU_COUNT(times));
    tcase_add_test(tc, test_missing_exp_is_refused_by_default);
    tcase_add_test(tc, test_missing_exp_is_accepted_when_optional);
    tcase_add_test(tc, test_expired_token_is_refused_even_when_exp_is_optional);
    suite_add_tcase(s, tc);

    tc = tu_tcase("issuer and audience", 0);
    tcase_add_loop_test(tc, test_issuer_must_match_byte_for_byte, 0, TU_COUNT(iss_bad));
    tcase_add_test(tc, test_missing_issuer_is_refused);
    tcase_add_loop_test(tc, test_audience_string_or_array_element_matches, 0, TU_COUNT(aud_ok));
    tcase_add_loop_test(tc, test_malformed_or_foreign_audience_is_refused, 0, TU_COUNT(aud_bad));
    tcase_add_test(tc, test_missing_audience_is_refused_by_default);
    tcase_add_test(tc, test_policy_without_audiences_refuses_unless_opted_out);
    tcase_add_test(tc, test_audience_any_skips_the_audience_check);
    suite_add_tcase(s, tc);

    tc = tu_tcase("type and required claims", 0);
    tcase_add_loop_test(tc, test_required_typ_matches_case_insensitively_with_optional_application_prefix, 0,
                        TU_COUNT(typ_ok));
    tcase_add_loop_test(tc, test_wrong_typ_is_refused_when_one_is_required, 0, TU_COUNT(typ_bad));
    tcase_add_test(tc, test_missing_typ_is_refused_when_one_is_required);
    tcase_add_test(tc, test_any_typ_is_accepted_when_none_is_required);
    tcase_add_test(tc, test_id_token_is_refused_by_an_access_token_profile);
    tcase_add_test(tc, test_required_claims_present_pass);
    tcase_add_loop_test(tc, test_missing_null_or_empty_required_claim_is_refused, 0, TU_COUNT(required_bad));
    tcase_add_test(tc, test_empty_sub_is_refused_when_sub_is_required);
    suite_add_tcase(s, tc);
    return s;
}
