/*
 * test_fetch.c - what the fetcher of identity provider documents decides without a network:
 * which URLs it would fetch (https only; plain http only when allowed and only to a literal
 * loopback host), the Cache-Control lifetime of a document, the jwks_uri of a metadata
 * document, and URLs redacted for logs (SECURITY.md CL-28).
 */
#include "test_util.h"

#include "claims_fetch.h"

#include <apr_strings.h>
#include <string.h>

/* ------------------------------------------------------------------ URL policy */

static const char *const https_urls[] = {
    "https://idp.example/jwks",
    "https://idp.example:8443/.well-known/jwks.json?v=2",
    "HTTPS://IDP.EXAMPLE/",
    "https://127.0.0.1/jwks",
    "https://[2001:db8::1]/jwks",
};

START_TEST(test_https_url_is_accepted_whether_or_not_http_is_allowed)
{
    ck_assert_ptr_null(claims_fetch_check_url(tu_p, https_urls[_i], 0));
    ck_assert_ptr_null(claims_fetch_check_url(tu_p, https_urls[_i], 1));
}
END_TEST

START_TEST(test_plain_http_is_refused_unless_allowed)
{
    static const char *const urls[] = {"http://127.0.0.1/jwks", "http://localhost/jwks", "http://[::1]/",
                                       "http://idp.example/jwks"};
    for (int i = 0; i < TU_COUNT(urls); i++) {
        const char *why = claims_fetch_check_url(tu_p, urls[i], 0);
        ck_assert_msg(why != NULL, "%s accepted", urls[i]);
        ck_assert_str_eq(why, "only https URLs are allowed");
    }
}
END_TEST

/* ClaimsAllowHTTP (tests only): plain http goes to a loopback host, and "loopback" is the host
 * curl connects to, read strictly: an IPv4 literal in 127.0.0.0/8, the IPv6 literal ::1 however
 * spelled, or exactly localhost. A host name that merely starts like one is anybody's. */
static const struct {
    const char *url;
    int ok;
} loopback[] = {
    {"http://127.0.0.1/jwks", 1},
    {"http://127.0.0.1:8080/jwks", 1},
    {"http://127.255.255.254/", 1},
    {"http://127.10.20.30:1/x?y#z", 1},
    {"http://[::1]/", 1},
    {"http://[::1]:8443/jwks", 1},
    {"http://[0:0:0:0:0:0:0:1]/", 1},
    {"http://[0000::0001]:80/", 1},
    {"http://localhost/jwks", 1},
    {"http://LocalHost:8080/", 1},
    {"http://127.attacker.example/", 0},
    {"http://127.0.0.1.nip.io/", 0},
    {"http://127.0.0.1.evil.example:8080/", 0},
    {"http://localhost.evil.example/", 0},
    {"http://localhost./", 0},
    {"http://localhostx/", 0},
    {"http://[::ffff:127.0.0.1]/", 0},          /* IPv4-mapped: not ::1 (claims_fetch.h) */
    {"http://[::127.0.0.1]/", 0},
    {"http://[::2]/", 0},
    {"http://[::]/", 0},
    {"http://0.0.0.0/", 0},
    {"http://128.0.0.1/", 0},
    {"http://10.0.0.1/", 0},
    {"http://idp.example/", 0},
    {"http://127.0.0.1@evil.example/", 0},      /* userinfo, then the real host */
    {"http://127.0.0.1:80@evil.example/", 0},
    {"http://localhost@evil.example/", 0},
    {"http://[::1]@evil.example/", 0},
    {"http://evil.example#@127.0.0.1/", 0},
    {"http://evil.example/127.0.0.1/", 0},
    {"http://evil.example?127.0.0.1", 0},
};

START_TEST(test_plain_http_is_allowed_only_to_a_literal_loopback_host)
{
    const char *why = claims_fetch_check_url(tu_p, loopback[_i].url, 1);
    if (loopback[_i].ok) {
        ck_assert_msg(why == NULL, "%s refused: %s", loopback[_i].url, why);
    }
    else {
        ck_assert_msg(why != NULL, "%s accepted", loopback[_i].url);
        ck_assert_str_eq(why, "plain http is only allowed to a loopback address");
    }
}
END_TEST

START_TEST(test_url_longer_than_the_limit_is_refused)
{
    const char *head = "https://idp.example/";
    apr_size_t n = strlen(head);
    char *url = apr_palloc(tu_p, CLAIMS_MAX_URL + 2);
    memcpy(url, head, n);
    memset(url + n, 'a', CLAIMS_MAX_URL - n);
    url[CLAIMS_MAX_URL] = '\0';
    ck_assert_ptr_null(claims_fetch_check_url(tu_p, url, 0));
    url[CLAIMS_MAX_URL] = 'a';
    url[CLAIMS_MAX_URL + 1] = '\0';
    ck_assert_ptr_nonnull(claims_fetch_check_url(tu_p, url, 0));
}
END_TEST

static const char *const not_fetchable[] = {
    "",
    "idp.example/jwks",
    "/jwks",
    "//idp.example/jwks",
    "https://",
    "https:idp.example",
    "https://a@b@idp.example/",
    "https://idp.example:99999/",
    "https://idp example/",
    "ftp://idp.example/jwks",
    "file:///etc/passwd",
    "ldap://idp.example/",
    "gopher://127.0.0.1/",
};

START_TEST(test_url_that_is_not_an_absolute_https_url_is_refused)
{
    ck_assert_msg(claims_fetch_check_url(tu_p, not_fetchable[_i], 1) != NULL, "[%s] accepted", not_fetchable[_i]);
}
END_TEST

START_TEST(test_null_url_is_refused)
{
    ck_assert_ptr_nonnull(claims_fetch_check_url(tu_p, NULL, 1));
}
END_TEST

/* ------------------------------------------------------------------ redaction */

/* A URL in a log line or on the status page keeps no password: userinfo goes, the rest stays as
 * written; what curl cannot parse is not shown at all (it might be a secret pasted wrongly). */
static const struct {
    const char *url;
    const char *shown;
} redacted[] = {
    {"https://user:pw@idp.example/x", "https://idp.example/x"},
    {"https://user@idp.example/x", "https://idp.example/x"},
    {"https://:pw@idp.example/x", "https://idp.example/x"},
    {"https://@idp.example/x", "https://idp.example/x"},
    {"https://u%40x:p%3Aw@idp.example:8443/a/../b?q=1#f", "https://idp.example:8443/a/../b?q=1#f"},
    {"HTTPS://user:pw@IdP.Example", "HTTPS://IdP.Example"},
    {"http://127.0.0.1:80@evil.example/", "http://evil.example/"},
    {"https://u:pw@[::1]:8443/jwks", "https://[::1]:8443/jwks"},
    {"https:/user:pw@idp.example/x", "https:/idp.example/x"},
    {"ftp://user:pw@files.example/k.pem", "ftp://files.example/k.pem"},
    {"https://idp.example/x", "https://idp.example/x"},
    {"https://idp.example", "https://idp.example"},
    {"HTTPS://IdP.Example:443/a/./b/../c?x=%41#y", "HTTPS://IdP.Example:443/a/./b/../c?x=%41#y"},
    {"https://idp.example/a@b", "https://idp.example/a@b"},
    {"https://idp.example#u:pw@x", "https://idp.example#u:pw@x"},
    {"", "(unparsable URL)"},
    {"not a url", "(unparsable URL)"},
    {"idp.example/x", "(unparsable URL)"},
    {"user:pw@idp.example/x", "(unparsable URL)"},
    {"https://user:p@ss@idp.example/x", "(unparsable URL)"},
    {"https://user:pw@/x", "(unparsable URL)"},
    {"https://user:pw@idp example/x", "(unparsable URL)"},
    {"https://user:pw@idp.example/x\ny", "(unparsable URL)"},
    {"https://user:pw@idp.example:99999/x", "(unparsable URL)"},
};

START_TEST(test_redacted_url_has_no_userinfo_and_the_rest_as_written)
{
    const char *shown = claims_fetch_redact_url(tu_p, redacted[_i].url);
    ck_assert_msg(shown != NULL && strcmp(shown, redacted[_i].shown) == 0, "[%s] shown as [%s]", redacted[_i].url,
                  shown);
}
END_TEST

START_TEST(test_redacting_null_gives_null)
{
    ck_assert_ptr_null(claims_fetch_redact_url(tu_p, NULL));
}
END_TEST

/* ------------------------------------------------------------------ Cache-Control */

static const struct {
    const char *value;
    apr_int64_t max_age;
} cache_control[] = {
    {"max-age=300", 300},
    {"public, max-age=60", 60},
    {"max-age=60, public", 60},
    {"MAX-AGE=7", 7},
    {"  max-age=0", 0},
    {"max-age=\"120\"", 120},
    {"no-cache", 0},
    {"No-Store", 0},
    {"private, no-cache", 0},
    {"", -1},
    {"public", -1},
    {"s-maxage=600", -1},
    {"x-max-age=600", -1},
    {"max-age", -1},
    {"max-age=", -1},
    {"max-age=abc", -1},
    {"max-age=-5", -1},
    {"max-age=\"\"", -1},
};

/* no-store and no-cache win wherever they stand; a max-age that is not exactly delta-seconds,
 * or that only appears inside another directive's quoted value, is no max-age */
static const struct {
    const char *value;
    apr_int64_t max_age;
} cache_control_order[] = {
    {"max-age=300, no-store", 0},
    {"max-age=300,no-cache", 0},
    {"public, max-age=300, private, no-cache=\"set-cookie\"", 0},
    {"max-age=60abc", -1},
    {"max-age=6 0", -1},
    {"max-age=\"60", -1},
    {"max-age=\"60\"x", -1},
    {"max-age=60\"", -1},
    {"community=\"x, max-age=99\"", -1},
    {"community=\"x, no-store\", max-age=99", 99},
    {"max-age=60 , public", 60},
    {"max-age=1, max-age=2", 1},
};

START_TEST(test_cache_control_gives_max_age_or_zero_for_no_cache)
{
    ck_assert_msg(claims_cache_control_max_age(cache_control[_i].value) == cache_control[_i].max_age,
                  "[%s]: %" APR_INT64_T_FMT, cache_control[_i].value,
                  claims_cache_control_max_age(cache_control[_i].value));
}
END_TEST

START_TEST(test_cache_control_no_store_wins_and_max_age_is_read_strictly)
{
    ck_assert_msg(claims_cache_control_max_age(cache_control_order[_i].value) == cache_control_order[_i].max_age,
                  "[%s]: %" APR_INT64_T_FMT, cache_control_order[_i].value,
                  claims_cache_control_max_age(cache_control_order[_i].value));
}
END_TEST

START_TEST(test_cache_control_absent_is_minus_one)
{
    ck_assert_int_eq(claims_cache_control_max_age(NULL), -1);
}
END_TEST

/* a lifetime beyond any integer saturates at 10^9 s instead of wrapping (RFC 9111 section
 * 1.2.2); up to there it is exact */
START_TEST(test_cache_control_huge_max_age_saturates)
{
    static const struct {
        const char *value;
        apr_int64_t max_age;
    } huge[] = {
        {"max-age=999999999", 999999999},
        {"max-age=1000000000", 1000000000},
        {"max-age=1000000001", 1000000000},
        {"max-age=2147483648", 1000000000},
        {"max-age=99999999999999999999999999999999999999", 1000000000},
        {"max-age=\"18446744073709551617\"", 1000000000},
        {"max-age=99999999999999999999x", -1},
    };
    for (int i = 0; i < TU_COUNT(huge); i++) {
        apr_int64_t v = claims_cache_control_max_age(huge[i].value);
        ck_assert_msg(v == huge[i].max_age, "[%s]: %" APR_INT64_T_FMT, huge[i].value, v);
    }
}
END_TEST

/* ------------------------------------------------------------------ discovery metadata */

#define ISSUER "https://idp.example/realms/a"

static claims_status_t jwks_uri_of(const char *doc, int allow_http, const char **uri)
{
    const char *err = NULL;
    claims_status_t st;
    *uri = NULL;
    st = claims_discovery_jwks_uri(tu_p, doc, strlen(doc), ISSUER, allow_http, uri, &err);
    ck_assert_msg((st == CLAIMS_OK) == (err == NULL), "%s: status %d, err %s", doc, st, err);
    return st;
}

START_TEST(test_discovery_gives_the_jwks_uri_of_the_exact_issuer)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of("{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/certs\"}", 0, &uri),
                     CLAIMS_OK);
    ck_assert_str_eq(uri, "https://idp.example/certs");
    ck_assert_int_eq(jwks_uri_of("{\"jwks_uri\":\"http://127.0.0.1:8080/certs\",\"issuer\":\"" ISSUER "\"}", 1, &uri),
                     CLAIMS_OK);
    ck_assert_str_eq(uri, "http://127.0.0.1:8080/certs");
}
END_TEST

static const char *const other_issuer[] = {
    "{\"issuer\":\"" ISSUER "/\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"https://IDP.example/realms/a\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"https://idp.example/realms\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"https://idp.example/realms/ab\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":\"\",\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":null,\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":42,\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":[\"" ISSUER "\"],\"jwks_uri\":\"https://idp.example/certs\"}",
    "{\"issuer\":{\"id\":\"" ISSUER "\"},\"jwks_uri\":\"https://idp.example/certs\"}",
};

START_TEST(test_discovery_refuses_metadata_of_another_issuer)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of(other_issuer[_i], 1, &uri), CLAIMS_ERR_ISSUER);
    ck_assert_ptr_null(uri);
}
END_TEST

/* the jwks_uri goes through the same URL policy as a configured one */
static const struct {
    const char *jwks_uri;
    int allow_http;
} bad_jwks_uri[] = {
    {"\"http://idp.example/certs\"", 0},
    {"\"http://idp.example/certs\"", 1},
    {"\"http://127.0.0.1/certs\"", 0},
    {"\"http://127.attacker.example/certs\"", 1},
    {"\"http://127.0.0.1@evil.example/certs\"", 1},
    {"\"file:///etc/passwd\"", 1},
    {"\"/certs\"", 1},
    {"\"\"", 1},
    {"null", 1},
    {"42", 1},
    {"[\"https://idp.example/certs\"]", 1},
    {"{\"uri\":\"https://idp.example/certs\"}", 1},
};

START_TEST(test_discovery_refuses_a_jwks_uri_the_url_policy_refuses)
{
    const char *uri;
    const char *doc = apr_psprintf(tu_p, "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":%s}", bad_jwks_uri[_i].jwks_uri);
    ck_assert_int_eq(jwks_uri_of(doc, bad_jwks_uri[_i].allow_http, &uri), CLAIMS_ERR_CONFIG);
    ck_assert_ptr_null(uri);
}
END_TEST

START_TEST(test_discovery_refuses_metadata_without_a_jwks_uri)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of("{\"issuer\":\"" ISSUER "\"}", 0, &uri), CLAIMS_ERR_CONFIG);
}
END_TEST

static const char *const not_metadata[] = {
    "",
    "null",
    "[]",
    "\"" ISSUER "\"",
    "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/certs\"",
    "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/a\",\"jwks_uri\":\"https://idp.example/b\"}",
    "{\"issuer\":\"https://evil.example\",\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example/certs\"}",
};

START_TEST(test_discovery_refuses_a_document_that_is_not_one_json_object)
{
    const char *uri;
    ck_assert_int_eq(jwks_uri_of(not_metadata[_i], 1, &uri), CLAIMS_ERR_CONFIG);
    ck_assert_ptr_null(uri);
}
END_TEST

Suite *fetch_suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *tc = tu_tcase("url policy", 0);
    tcase_add_loop_test(tc, test_https_url_is_accepted_whether_or_not_http_is_allowed, 0, TU_COUNT(https_urls));
    tcase_add_test(tc, test_plain_http_is_refused_unless_allowed);
    tcase_add_loop_test(tc, test_plain_http_is_allowed_only_to_a_literal_loopback_host, 0, TU_COUNT(loopback));
    tcase_add_test(tc, test_url_longer_than_the_limit_is_refused);
    tcase_add_loop_test(tc, test_url_that_is_not_an_absolute_https_url_is_refused, 0, TU_COUNT(not_fetchable));
    tcase_add_test(tc, test_null_url_is_refused);
    suite_add_tcase(s, tc);

    tc = tu_tcase("redaction", 0);
    tcase_add_loop_test(tc, test_redacted_url_has_no_userinfo_and_the_rest_as_written, 0, TU_COUNT(redacted));
    tcase_add_test(tc, test_redacting_null_gives_null);
    suite_add_tcase(s, tc);

    tc = tu_tcase("cache-control", 0);
    tcase_add_loop_test(tc, test_cache_control_gives_max_age_or_zero_for_no_cache, 0, TU_COUNT(cache_control));
    tcase_add_loop_test(tc, test_cache_control_no_store_wins_and_max_age_is_read_strictly, 0,
                        TU_COUNT(cache_control_order));
    tcase_add_test(tc, test_cache_control_absent_is_minus_one);
    tcase_add_test(tc, test_cache_control_huge_max_age_saturates);
    suite_add_tcase(s, tc);

    tc = tu_tcase("discovery", 0);
    tcase_add_test(tc, test_discovery_gives_the_jwks_uri_of_the_exact_issuer);
    tcase_add_loop_test(tc, test_discovery_refuses_metadata_of_another_issuer, 0, TU_COUNT(other_issuer));
    tcase_add_loop_test(tc, test_discovery_refuses_a_jwks_uri_the_url_policy_refuses, 0, TU_COUNT(bad_jwks_uri));
    tcase_add_test(tc, test_discovery_refuses_metadata_without_a_jwks_uri);
    tcase_add_loop_test(tc, test_discovery_refuses_a_document_that_is_not_one_json_object, 0,
                        TU_COUNT(not_metadata));
    suite_add_tcase(s, tc);
    return s;
}
