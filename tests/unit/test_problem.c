/*
 * test_problem.c - RFC 9457 bodies for the module's refusals (claims_problem.h; SECURITY.md
 * CL-100): when a client asks for JSON, and that a body only repeats fixed texts.
 */
#include "test_util.h"

#include "claims_problem.h"
#include "claims_dpop.h"

#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

static const struct {
    const char *accept;
    int wanted;
} accepts[] = {
    {NULL, 0},
    {"", 0},
    {"*/*", 0},
    {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 0},  /* a browser */
    {"application/json", 1},
    {"application/problem+json", 1},
    {"Application/JSON", 1},
    {"application/json, text/event-stream", 1},                              /* an MCP client */
    {"text/html;q=0.9, application/json", 1},
    {"text/html, application/json;q=0.5", 0},
    {"text/html, application/json", 1},                                      /* a tie goes to JSON */
    {"application/json;q=0", 0},
    {"application/json; q=0.001", 1},
    {"application/json;q=1.0", 1},
    {"application/json;q=2", 0},                                             /* malformed q: refused */
    {"application/json;q=abc", 0},
    {"application/jsonx", 0},
    {"application/*", 0},
    {"application/json-seq", 0},
    {" application/json ; charset=utf-8 ; q=0.7 , text/html ; q=0.6", 1},
    {",,,application/json,,", 1},
};

START_TEST(test_accept_asks_for_json_only_when_it_names_it_above_html)
{
    ck_assert_msg(claims_problem_wanted(accepts[_i].accept) == accepts[_i].wanted, "Accept: %s",
                  accepts[_i].accept != NULL ? accepts[_i].accept : "(none)");
}
END_TEST

static json_t *body_of(int status, const char *challenge)
{
    claims_problem_t pb;
    json_error_t err;
    json_t *j;
    const char *text;
    claims_problem_from_challenge(tu_p, status, challenge, &pb);
    text = claims_problem_body(tu_p, &pb);
    ck_assert_ptr_nonnull(text);
    j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(j != NULL, "not JSON: %s", text);
    return claims_json_pool(tu_p, j);
}

static const char *member(json_t *j, const char *name)
{
    return json_string_value(json_object_get(j, name));
}

START_TEST(test_invalid_token_body_repeats_the_challenge)
{
    json_t *j = body_of(401, "Bearer realm=\"api\", error=\"invalid_token\", "
                             "error_description=\"token has expired\", resource_metadata=\"https://a.example/x\"");
    ck_assert_str_eq(member(j, "type"), "about:blank");
    ck_assert_str_eq(member(j, "title"), "Unauthorized");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 401);
    ck_assert_str_eq(member(j, "detail"), "token has expired");
    ck_assert_str_eq(member(j, "error"), "invalid_token");
    ck_assert_int_eq(json_object_size(j), 5);
}
END_TEST

START_TEST(test_insufficient_scope_body_carries_the_scope)
{
    json_t *j = body_of(403, "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"mcp:tools mcp:admin\"");
    ck_assert_str_eq(member(j, "title"), "Forbidden");
    ck_assert_str_eq(member(j, "error"), "insufficient_scope");
    ck_assert_str_eq(member(j, "scope"), "mcp:tools mcp:admin");
    ck_assert_str_eq(member(j, "detail"), "the token does not grant what this resource requires");
}
END_TEST

START_TEST(test_no_token_body_has_no_error_code)
{
    json_t *j = body_of(401, "Bearer realm=\"api\"");
    ck_assert_ptr_null(json_object_get(j, "error"));
    ck_assert_str_eq(member(j, "detail"), "no bearer token");
    j = body_of(400, "Bearer realm=\"api\", error=\"invalid_request\", error_description=\"more than one token in the request\"");
    ck_assert_str_eq(member(j, "title"), "Bad Request");
    ck_assert_str_eq(member(j, "detail"), "more than one token in the request");
}
END_TEST

/* CL-100: whatever a challenge holds besides the module's own codes and texts stays out */
static const char *const hostile[] = {
    "Bearer realm=\"<script>\", error=\"<script>alert(1)</script>\", error_description=\"<img src=x>\"",
    "Bearer error=\"invalid_token\", error_description=\"token has expired, and also \"",
    "Bearer error=invalid_token, error_description=\"kid 'evil' unknown\"",
    "Bearer error=\"invalid_token\", scope=\"a\\\"b\"",
    "Bearer scope=\"a  b\", error=\"server_error\"",
    "Bearer realm=\"x",
    "Basic realm=\"x\"",
    "Bearer ,,,=,=\"\"",
    "",
    NULL,
};

START_TEST(test_body_never_holds_anything_but_fixed_texts)
{
    claims_problem_t pb;
    const char *text;
    claims_problem_from_challenge(tu_p, 401, hostile[_i], &pb);
    text = claims_problem_body(tu_p, &pb);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strchr(text, '<'));
    ck_assert_ptr_null(strstr(text, "evil"));
    ck_assert_ptr_null(strstr(text, "also"));
    ck_assert_ptr_null(strstr(text, "server_error"));
    ck_assert_ptr_null(strstr(text, "\"scope\""));
}
END_TEST

START_TEST(test_body_refuses_a_detail_that_is_not_a_fixed_text)
{
    claims_problem_t pb = {401, "invalid_token", "echo of a claim", NULL};
    const char *text = claims_problem_body(tu_p, &pb);
    ck_assert_ptr_null(strstr(text, "echo"));
    pb.detail = "token signature is invalid";
    ck_assert_ptr_nonnull(strstr(claims_problem_body(tu_p, &pb), "token signature is invalid"));
    pb.error = "made_up";
    ck_assert_ptr_null(strstr(claims_problem_body(tu_p, &pb), "made_up"));
}
END_TEST

/* DPoP refusals (RFC 9449): the error is on the DPoP challenge, the detail one of the proof's or
 * the binding's fixed texts, each within the error_description charset (CL-56). */
START_TEST(test_dpop_refusals_keep_their_fixed_texts)
{
    for (int f = CLAIMS_DPOP_OK + 1; f < CLAIMS_DPOP_FAIL_COUNT + CLAIMS_BIND_COUNT; f++) {
        const char *text = f < CLAIMS_DPOP_FAIL_COUNT ? claims_dpop_fail_text((claims_dpop_fail_t)f)
                                                      : claims_binding_text((claims_binding_why_t)(f - CLAIMS_DPOP_FAIL_COUNT));
        const char *error = f < CLAIMS_DPOP_FAIL_COUNT ? "invalid_dpop_proof" : "invalid_token";
        json_t *j = body_of(401, apr_psprintf(tu_p, "DPoP realm=\"api\", algs=\"ES256 EdDSA\", error=\"%s\", "
                                                    "error_description=\"%s\"", error, text));
        ck_assert_ptr_nonnull(text);
        for (const char *c = text; *c; c++) {
            ck_assert_msg(*c >= 0x20 && *c <= 0x7e && *c != '"' && *c != '\\', "text %d: %s", f, text);
        }
        ck_assert_str_eq(member(j, "error"), error);
        ck_assert_str_eq(member(j, "detail"), text);
    }
    ck_assert_str_eq(member(body_of(401, "DPoP realm=\"api\", algs=\"ES256\", error=\"use_dpop_nonce\", "
                                         "error_description=\"a nonce is required\""), "error"), "use_dpop_nonce");
}
END_TEST

Suite *problem_suite(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tu_tcase("problem details", 0);
    tcase_add_loop_test(tc, test_accept_asks_for_json_only_when_it_names_it_above_html, 0,
                        (int)(sizeof(accepts) / sizeof(accepts[0])));
    tcase_add_test(tc, test_invalid_token_body_repeats_the_challenge);
    tcase_add_test(tc, test_insufficient_scope_body_carries_the_scope);
    tcase_add_test(tc, test_no_token_body_has_no_error_code);
    tcase_add_loop_test(tc, test_body_never_holds_anything_but_fixed_texts, 0,
                        (int)(sizeof(hostile) / sizeof(hostile[0])));
    tcase_add_test(tc, test_body_refuses_a_detail_that_is_not_a_fixed_text);
    tcase_add_test(tc, test_dpop_refusals_keep_their_fixed_texts);
    suite_add_tcase(s, tc);
    return s;
}
