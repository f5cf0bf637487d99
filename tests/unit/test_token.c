/*
 * test_token.c - the bearer token in an Authorization value (RFC 6750 section 2.1;
 * SECURITY.md CL-02, CL-03, CL-04), in a cookie, a form body or a query (CL-06, CL-83).
 */
#include "test_util.h"

#include "claims_cache.h"
#include "claims_token.h"

#include <string.h>

START_TEST(test_bearer_token_is_found)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(claims_token_from_authorization("Bearer abc.def.ghi", &tok, &len), CLAIMS_OK);
    ck_assert_uint_eq(len, 11);
    ck_assert_mem_eq(tok, "abc.def.ghi", 11);
}
END_TEST

/* CL-04: the scheme is case-insensitive; spacing around the token is tolerated. */
static const struct {
    const char *value;
    const char *token;
} accepted[] = {
    {"bearer x", "x"},
    {"BEARER x", "x"},
    {"bEaReR x", "x"},
    {"Bearer   x", "x"},
    {"Bearer x  ", "x"},
    {"Bearer abc=", "abc="},
    {"Bearer abc==", "abc=="},
    {"Bearer a-b.c_d~e+f/g", "a-b.c_d~e+f/g"},
    {"Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"},
};

START_TEST(test_well_formed_bearer_values_yield_the_token)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    ck_assert_msg(claims_token_from_authorization(accepted[_i].value, &tok, &len) == CLAIMS_OK,
                  "refused: \"%s\"", accepted[_i].value);
    ck_assert_uint_eq(len, strlen(accepted[_i].token));
    ck_assert_mem_eq(tok, accepted[_i].token, len);
}
END_TEST

/* CL-02: another scheme is "no credentials for us", not an error. */
static const char *const other_scheme[] = {
    "Basic dXNlcjpwYXNz",
    "Digest username=\"u\"",
    "Bearerx abc",
    "Token abc",
    "Bear abc",
};

START_TEST(test_other_schemes_are_no_token)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    ck_assert_msg(claims_token_from_authorization(other_scheme[_i], &tok, &len) == CLAIMS_NO_TOKEN,
                  "\"%s\" is not NO_TOKEN", other_scheme[_i]);
}
END_TEST

START_TEST(test_missing_header_is_no_token)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(claims_token_from_authorization(NULL, &tok, &len), CLAIMS_NO_TOKEN);
}
END_TEST

/* CL-03: "Bearer" with no token or with two is refused as the header is read. */
static const char *const not_one_token[] = {
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Bearer a b",
    "Bearer a.b.c d.e.f",
    "Bearer abc def  ",
    "Bearer abc\t def",
};

START_TEST(test_bearer_without_exactly_one_token_is_invalid_request)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    ck_assert_msg(claims_token_from_authorization(not_one_token[_i], &tok, &len) == CLAIMS_ERR_REQUEST,
                  "\"%s\" is not ERR_REQUEST", not_one_token[_i]);
}
END_TEST

/* CL-03: "Bearer" with no token, two tokens, or a value outside b64token is a bad request:
 * refused as the header is read, or, with the shape of a compact JWS (two dots), delimited
 * there and refused as a malformed request by claims_verify_token, which checks the characters
 * of a token it has not verified before (claims_token.h), with a cache, without, and with a
 * cache that keeps nothing. */
static const char *const malformed[] = {
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Bearer a b",
    "Bearer a.b.c d.e.f",
    "Bearer {",
    "Bearer {\"alg\":\"none\"}",
    "Bearer \"abc\"",
    "Bearer a\"b",
    "Bearer a,b",
    "Bearer abc,",
    "Bearer =abc",
    "Bearer ab=c",
    "Bearer a=b=",
    "Bearer ==",
    "Bearer a;b",
    "Bearer a%2Eb",
    "Bearer a:b",
    "Bearer a\\b",
    "Bearer a\x01" "b",
    "Bearer a\x7f",
    "Bearer \xc3\xa9",
    "Bearer\tabc",
    "Bearer \tabc",
    "Bearer abc\t",
};

START_TEST(test_malformed_bearer_values_are_invalid_request)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    claims_issuer_t *a = tu_issuer("https://issuer.a", 0);
    const claims_issuer_t *trusted[1] = {a};
    claims_verifier_t plain = {trusted, 1, 0, NULL, NULL, NULL};
    claims_verifier_t cached = {trusted, 1, 0, NULL, NULL, claims_cache_create(tu_p, 16, 1 << 20)};
    claims_verifier_t off = {trusted, 1, 0, NULL, NULL, claims_cache_create_off(tu_p)};
    const claims_verifier_t *verifiers[3] = {&plain, &cached, &off};
    claims_status_t st = claims_token_from_authorization(malformed[_i], &tok, &len);
    tu_issuer_jwk(a, tu_keys.ec256, "ES256", "k1");
    ck_assert_msg(st == CLAIMS_ERR_REQUEST || st == CLAIMS_OK, "\"%s\": %d", malformed[_i], st);
    for (int i = 0; st == CLAIMS_OK && i < 3; i++) {
        claims_verified_t out;
        const claims_cached_t *e = NULL;
        ck_assert_msg(claims_verify_token(verifiers[i], tu_p, tok, len, 1700000000.0, &out, &e) == CLAIMS_ERR_REQUEST,
                      "\"%s\" is not ERR_REQUEST (verifier %d)", malformed[_i], i);
    }
}
END_TEST

/* Only a token with exactly two dots is left to claims_verify_token's check; one of any other
 * shape (an opaque token, which may go to introspection instead) is checked as it is read. */
static const struct {
    const char *value;
    claims_status_t st;
} shapes[] = {
    {"Bearer a@b", CLAIMS_ERR_REQUEST},
    {"Bearer a@b.c", CLAIMS_ERR_REQUEST},
    {"Bearer a.b.c.d@", CLAIMS_ERR_REQUEST},
    {"Bearer a@b.c.d", CLAIMS_OK},
    {"Bearer a\tb.c.d  ", CLAIMS_OK},
    {"Bearer a.b.c", CLAIMS_OK},
    {"Bearer abc", CLAIMS_OK},
};

START_TEST(test_only_jws_shaped_tokens_leave_their_check_to_verification)
{
    const char *tok = NULL;
    apr_size_t len = 0;
    ck_assert_msg(claims_token_from_authorization(shapes[_i].value, &tok, &len) == shapes[_i].st,
                  "\"%s\"", shapes[_i].value);
    if (shapes[_i].st == CLAIMS_OK) {
        ck_assert(memchr(tok, ' ', len) == NULL && len > 0);
    }
}
END_TEST

START_TEST(test_malformed_request_maps_to_the_invalid_request_class)
{
    ck_assert_int_eq(claims_status_class(CLAIMS_ERR_REQUEST), CLAIMS_CLASS_INVALID_REQUEST);
    ck_assert_int_eq(claims_status_class(CLAIMS_ERR_TWO_TOKENS), CLAIMS_CLASS_INVALID_REQUEST);
    ck_assert_int_eq(claims_status_class(CLAIMS_NO_TOKEN), CLAIMS_CLASS_NO_TOKEN);
    ck_assert_int_eq(claims_status_class(CLAIMS_ERR_TOO_LARGE), CLAIMS_CLASS_INVALID_TOKEN);
}
END_TEST

START_TEST(test_b64token_charset_is_exact)
{
    char c[2] = {0, 0};
    for (int i = 1; i < 256; i++) {
        int want;
        c[0] = (char)i;
        want = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') || (i >= '0' && i <= '9') || i == '-'
            || i == '.' || i == '_' || i == '~' || i == '+' || i == '/';
        ck_assert_msg(claims_token_is_b64token(c, 1) == want, "byte 0x%02x", (unsigned)i);
    }
}
END_TEST

START_TEST(test_b64token_allows_equals_only_at_the_end)
{
    ck_assert_int_eq(claims_token_is_b64token("ab==", 4), 1);
    ck_assert_int_eq(claims_token_is_b64token("a=b", 3), 0);
    ck_assert_int_eq(claims_token_is_b64token("=", 1), 0);
    ck_assert_int_eq(claims_token_is_b64token("", 0), 0);
}
END_TEST

/* Status texts end up in error_description: RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E (CL-56). */
START_TEST(test_status_texts_are_valid_error_descriptions)
{
    for (int st = 0; st < CLAIMS_STATUS_COUNT; st++) {
        const char *t = claims_status_text((claims_status_t)st);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_nonnull(claims_status_name((claims_status_t)st));
        for (const char *c = t; *c; c++) {
            unsigned char u = (unsigned char)*c;
            ck_assert_msg(u >= 0x20 && u <= 0x7e && u != '"' && u != '\\', "status %d text has 0x%02x", st, u);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ cookies */

typedef struct cookie_case_t {
    const char *header;
    int found;
    const char *value;      /* when found */
    const char *without;    /* claims_cookie_without(header, "at"), NULL: no header left */
} cookie_case_t;

static const cookie_case_t cookies[] = {
    { "at=abc", 1, "abc", NULL },
    { "theme=dark; at=abc; lang=en", 1, "abc", "theme=dark; lang=en" },
    { "theme=dark, at=abc", 1, "abc", "theme=dark" },          /* two Cookie headers joined */
    { "theme=dark,at=abc ;lang=en", 1, "abc", "theme=dark; lang=en" },
    { " \tat=abc \t", 1, "abc", NULL },
    { "at=", 1, "", NULL },                                    /* empty: found, then refused as no b64token */
    { "at", 0, NULL, "at" },
    { "xat=abc; atx=def; AT=ghi", 0, NULL, "xat=abc; atx=def; AT=ghi" },
    { "at=abc; at=def", -1, NULL, NULL },
    { "at=abc, at=abc", -1, NULL, NULL },
    { "", 0, NULL, NULL },
    { ";;, ;", 0, NULL, NULL },
    { "a=1;;b=2", 0, NULL, "a=1; b=2" },
    { "at=a=b", 1, "a=b", NULL },
};

/* Python's http.cookies, Go's net/http and Node's cookie read "at =x" as the cookie at: so does
 * the module, or a forged second token hides behind a blank (the two-token rule, CL-06). Blanks
 * after '=' are not part of the value either (Python and Node; see claims_token.h). */
static const cookie_case_t blank_cookies[] = {
    { "at=a; at =b", -1, NULL, NULL },
    { "at=a;  at\t=b", -1, NULL, NULL },
    { "at =b; at=a", -1, NULL, NULL },
    { "at \t=b", 1, "b", NULL },
    { "theme=dark; at =b; lang=en", 1, "b", "theme=dark; lang=en" },
    { "at= b", 1, "b", NULL },
    { "at = \tb \t; x=1", 1, "b", "x=1" },
    { "at = ", 1, "", NULL },
    { "at=a, at =b", -1, NULL, NULL },
    { "a t=b", 0, NULL, "a t=b" },                             /* a blank inside a name is part of it */
    { "at x=b; xat =c", 0, NULL, "at x=b; xat =c" },
};

static void check_cookie(const cookie_case_t *c)
{
    const char *v = NULL, *w;
    apr_size_t len = 0;
    int found = claims_cookie_find(c->header, "at", &v, &len);
    ck_assert_msg(found == c->found, "[%s]: %d", c->header, found);
    if (found == 1) {
        ck_assert_uint_eq(len, strlen(c->value));
        ck_assert_mem_eq(v, c->value, len);
    }
    w = claims_cookie_without(tu_p, c->header, "at");
    if (c->without == NULL) {
        ck_assert_msg(w == NULL, "[%s]: left [%s]", c->header, w);
    }
    else {
        ck_assert_str_eq(w, c->without);
    }
    /* whatever the header, nothing named at survives removal */
    ck_assert_int_eq(claims_cookie_find(w, "at", &v, &len), 0);
}

START_TEST(test_cookie_is_found_and_removed_by_the_same_splitting)
{
    check_cookie(&cookies[_i]);
}
END_TEST

START_TEST(test_cookie_name_is_compared_without_the_blanks_around_it)
{
    check_cookie(&blank_cookies[_i]);
}
END_TEST

START_TEST(test_no_cookie_header_is_absent)
{
    const char *v = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(claims_cookie_find(NULL, "at", &v, &len), 0);
    ck_assert_ptr_null(claims_cookie_without(tu_p, NULL, "at"));
}
END_TEST

/* ------------------------------------------------------------------ form body and query */

static const struct {
    const char *text;
    int found;
    const char *value;
} params[] = {
    { "access_token=abc", 1, "abc" },
    { "a=1&access_token=abc.def&b=2", 1, "abc.def" },
    { "access_token=a%2Bb%2fc+d", 1, "a+b/c d" },
    { "access_token=", 1, "" },
    { "access_token", 0, NULL },
    { "xaccess_token=abc&access_tokenx=def&ACCESS_TOKEN=ghi", 0, NULL },
    { "access_token=abc&access_token=abc", -1, NULL },
    { "access_token=abc&access_token=%zz", -1, NULL },
    { "access_token=%zz", -1, NULL },
    { "access_token=ab%4", -1, NULL },
    { "access_token=ab%", -1, NULL },
    { "access_token=ab%00cd", -1, NULL },
    { "", 0, NULL },
    { "&&&", 0, NULL },
    { "a=%zz&access_token=ok", 1, "ok" },                      /* other pairs are not decoded */
};

START_TEST(test_form_parameter_is_found_and_decoded)
{
    const char *v = NULL;
    const char *text = params[_i].text;
    int found = claims_form_param(tu_p, text, strlen(text), "access_token", &v);
    ck_assert_msg(found == params[_i].found, "[%s]: %d", text, found);
    if (found == 1) {
        ck_assert_str_eq(v, params[_i].value);
    }
}
END_TEST

/* the body's length is what counts: a NUL byte neither ends it nor passes into a value */
START_TEST(test_form_body_with_a_nul_byte)
{
    static const char after[] = "a=1\0x&access_token=abc";
    static const char inside[] = "access_token=ab\0cd";
    const char *v = NULL;
    ck_assert_int_eq(claims_form_param(tu_p, after, sizeof(after) - 1, "access_token", &v), 1);
    ck_assert_str_eq(v, "abc");
    ck_assert_int_eq(claims_form_param(tu_p, inside, sizeof(inside) - 1, "access_token", &v), -1);
    ck_assert_int_eq(claims_form_param(tu_p, NULL, 0, "access_token", &v), 0);
}
END_TEST

static const struct {
    const char *value;
    int dpop;                          /* the location accepts DPoP */
    claims_status_t st;
    claims_scheme_t scheme;
    const char *token;
} schemes[] = {
    {"DPoP abc.def.ghi", 1, CLAIMS_OK, CLAIMS_SCHEME_DPOP, "abc.def.ghi"},
    {"dpop   abc.def.ghi  ", 1, CLAIMS_OK, CLAIMS_SCHEME_DPOP, "abc.def.ghi"},
    {"DPoP abc.def.ghi", 0, CLAIMS_NO_TOKEN, CLAIMS_SCHEME_BEARER, NULL},
    {"Bearer abc", 1, CLAIMS_OK, CLAIMS_SCHEME_BEARER, "abc"},
    {"DPoP", 1, CLAIMS_ERR_REQUEST, CLAIMS_SCHEME_DPOP, NULL},
    {"DPoP a b", 1, CLAIMS_ERR_REQUEST, CLAIMS_SCHEME_DPOP, NULL},
    {"DPoP {\"x\"}", 1, CLAIMS_ERR_REQUEST, CLAIMS_SCHEME_DPOP, NULL},
    {"DPoPx abc", 1, CLAIMS_NO_TOKEN, CLAIMS_SCHEME_BEARER, NULL},
    {"DPoP\tabc", 1, CLAIMS_ERR_REQUEST, CLAIMS_SCHEME_DPOP, NULL},
};

START_TEST(test_dpop_scheme_is_taken_only_where_accepted)
{
    const char *token = NULL;
    apr_size_t len = 0;
    claims_scheme_t scheme = CLAIMS_SCHEME_BEARER;
    claims_status_t st = claims_token_from_authorization_scheme(schemes[_i].value, schemes[_i].dpop, &token, &len,
                                                                &scheme);
    ck_assert_msg(st == schemes[_i].st, "%s: %d", schemes[_i].value, (int)st);
    if (st != CLAIMS_NO_TOKEN) {
        ck_assert_int_eq(scheme, schemes[_i].scheme);
    }
    if (st == CLAIMS_OK) {
        ck_assert_uint_eq(len, strlen(schemes[_i].token));
        ck_assert_mem_eq(token, schemes[_i].token, len);
    }
}
END_TEST

Suite *token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tu_tcase("authorization header", 0);
    tcase_add_test(tc, test_bearer_token_is_found);
    tcase_add_loop_test(tc, test_well_formed_bearer_values_yield_the_token, 0, TU_COUNT(accepted));
    tcase_add_loop_test(tc, test_other_schemes_are_no_token, 0, TU_COUNT(other_scheme));
    tcase_add_test(tc, test_missing_header_is_no_token);
    tcase_add_loop_test(tc, test_dpop_scheme_is_taken_only_where_accepted, 0, TU_COUNT(schemes));
    tcase_add_loop_test(tc, test_bearer_without_exactly_one_token_is_invalid_request, 0, TU_COUNT(not_one_token));
    tcase_add_loop_test(tc, test_malformed_bearer_values_are_invalid_request, 0, TU_COUNT(malformed));
    tcase_add_loop_test(tc, test_only_jws_shaped_tokens_leave_their_check_to_verification, 0, TU_COUNT(shapes));
    tcase_add_test(tc, test_malformed_request_maps_to_the_invalid_request_class);
    tcase_add_test(tc, test_b64token_charset_is_exact);
    tcase_add_test(tc, test_b64token_allows_equals_only_at_the_end);
    tcase_add_test(tc, test_status_texts_are_valid_error_descriptions);
    tcase_add_loop_test(tc, test_cookie_is_found_and_removed_by_the_same_splitting, 0, TU_COUNT(cookies));
    tcase_add_loop_test(tc, test_cookie_name_is_compared_without_the_blanks_around_it, 0, TU_COUNT(blank_cookies));
    tcase_add_test(tc, test_no_cookie_header_is_absent);
    tcase_add_loop_test(tc, test_form_parameter_is_found_and_decoded, 0, TU_COUNT(params));
    tcase_add_test(tc, test_form_body_with_a_nul_byte);
    suite_add_tcase(s, tc);
    return s;
}
