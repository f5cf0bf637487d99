/*
 * test_metadata.c - protected resource metadata (claims_metadata.h; RFC 9728; SECURITY.md
 * CL-100): which identifiers are accepted, the well-known path rule, the document.
 */
#include "test_util.h"

#include "claims_metadata.h"

#include <jansson.h>
#include <string.h>

static apr_array_header_t *list(const char *a, const char *b)
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

static json_t *parsed(const char *text)
{
    json_error_t err;
    json_t *j;
    ck_assert_ptr_nonnull(text);
    j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", err.text, text);
    return claims_json_pool(tu_p, j);
}

static const struct {
    const char *uri;
    int ok;
} identifiers[] = {
    {"https://api.example.com", 1},
    {"https://api.example.com/", 1},
    {"https://api.example.com/mcp", 1},
    {"https://api.example.com:8443/tenants/a%2Fb/mcp?v=1", 1},
    {"https://[::1]:8443/mcp", 1},
    {"http://api.example.com/mcp", 0},           /* not https */
    {"HTTPS://api.example.com/mcp", 0},          /* byte-compared by clients: the scheme as RFC 9728 writes it */
    {"https://api.example.com/mcp#frag", 0},     /* fragment */
    {"https://api.example.com/#", 0},
    {"https:///mcp", 0},                         /* no host */
    {"https://:443/mcp", 0},
    {"https://user@api.example.com/mcp", 0},     /* userinfo */
    {"https://api.example.com/m\"cp", 0},         /* would end a quoted-string */
    {"https://api.example.com/m\\cp", 0},
    {"https://api.example.com/m cp", 0},
    {"https://api.example.com/m\ncp", 0},
    {"https://api.example.com/caf\xc3\xa9", 0},  /* non-ASCII: percent-encode it */
    {"https://api.example.com/%zz", 0},          /* a broken escape */
    {"https://api.example.com/%4", 0},
    {"/mcp", 0},
    {"", 0},
};

START_TEST(test_resource_identifier_must_be_https_without_fragment_or_userinfo)
{
    const char *why = claims_resource_check(identifiers[_i].uri);
    if (identifiers[_i].ok) {
        ck_assert_msg(why == NULL, "%s refused: %s", identifiers[_i].uri, why);
    }
    else {
        ck_assert_msg(why != NULL, "%s accepted", identifiers[_i].uri);
    }
}
END_TEST

START_TEST(test_documentation_url_may_be_http_or_https)
{
    ck_assert_ptr_null(claims_doc_url_check("https://docs.example.com/api#auth"));
    ck_assert_ptr_null(claims_doc_url_check("http://docs.example.com/"));
    ck_assert_ptr_nonnull(claims_doc_url_check("ftp://docs.example.com/"));
    ck_assert_ptr_nonnull(claims_doc_url_check("javascript:alert(1)"));
    ck_assert_ptr_nonnull(claims_doc_url_check("https://docs.example.com/\"><script>"));
    ck_assert_ptr_nonnull(claims_doc_url_check(NULL));
}
END_TEST

/* RFC 9728 section 3.1, with the examples of section 3.1 and 3.3 */
static const struct {
    const char *uri, *path, *url;
} well_known[] = {
    {"https://resource.example.com", "/.well-known/oauth-protected-resource",
     "https://resource.example.com/.well-known/oauth-protected-resource"},
    {"https://resource.example.com/", "/.well-known/oauth-protected-resource",
     "https://resource.example.com/.well-known/oauth-protected-resource"},
    {"https://resource.example.com/resource1", "/.well-known/oauth-protected-resource/resource1",
     "https://resource.example.com/.well-known/oauth-protected-resource/resource1"},
    {"https://api.example.com:8443/mcp/", "/.well-known/oauth-protected-resource/mcp/",
     "https://api.example.com:8443/.well-known/oauth-protected-resource/mcp/"},
    {"https://api.example.com/mcp?tenant=a", "/.well-known/oauth-protected-resource/mcp?tenant=a",
     "https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a"},
    {"https://api.example.com/?tenant=a", "/.well-known/oauth-protected-resource?tenant=a",
     "https://api.example.com/.well-known/oauth-protected-resource?tenant=a"},
    {"https://api.example.com?tenant=a", "/.well-known/oauth-protected-resource?tenant=a",
     "https://api.example.com/.well-known/oauth-protected-resource?tenant=a"},
    {"https://api.example.com/a%2Fb", "/.well-known/oauth-protected-resource/a%2Fb",
     "https://api.example.com/.well-known/oauth-protected-resource/a%2Fb"},
};

START_TEST(test_well_known_segment_goes_between_host_and_path)
{
    ck_assert_ptr_null(claims_resource_check(well_known[_i].uri));
    ck_assert_str_eq(claims_metadata_path(tu_p, well_known[_i].uri), well_known[_i].path);
    ck_assert_str_eq(claims_metadata_url(tu_p, well_known[_i].uri), well_known[_i].url);
}
END_TEST

START_TEST(test_origin_is_scheme_and_authority)
{
    ck_assert_str_eq(claims_resource_origin(tu_p, "https://api.example.com:8443/mcp?x"), "https://api.example.com:8443");
    ck_assert_str_eq(claims_resource_origin(tu_p, "https://api.example.com"), "https://api.example.com");
    ck_assert_str_eq(claims_resource_origin(tu_p, "https://[::1]:8443/"), "https://[::1]:8443");
}
END_TEST

START_TEST(test_minimal_document_has_resource_servers_and_bearer_methods_only)
{
    claims_resource_meta_t m;
    json_t *doc;
    claims_resource_meta_init(&m, "https://api.example.com/mcp");
    m.authorization_servers = list("https://idp.example.com", NULL);
    m.bearer_methods = CLAIMS_BEARER_HEADER;
    doc = parsed(claims_metadata_document(tu_p, &m));
    ck_assert_int_eq(json_object_size(doc), 3);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "resource")), "https://api.example.com/mcp");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "authorization_servers"), 0)),
                     "https://idp.example.com");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "bearer_methods_supported")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "bearer_methods_supported"), 0)), "header");
}
END_TEST

START_TEST(test_document_writes_every_member_it_is_given)
{
    claims_resource_meta_t m;
    json_t *doc, *methods;
    claims_resource_meta_init(&m, "https://api.example.com/mcp");
    m.authorization_servers = list("https://a.example", "https://b.example/realms/x");
    m.scopes = list("mcp:tools", "mcp:admin");
    m.bearer_methods = CLAIMS_BEARER_HEADER | CLAIMS_BEARER_BODY | CLAIMS_BEARER_QUERY;
    m.jwks_uri = "https://api.example.com/jwks.json";
    m.documentation = "https://docs.example.com/mcp";
    m.dpop_algs = list("ES256", "EdDSA");
    m.dpop_bound_required = 1;
    m.tls_client_certificate_bound = 0;
    doc = parsed(claims_metadata_document(tu_p, &m));
    ck_assert_int_eq(json_object_size(doc), 9);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "authorization_servers")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "scopes_supported"), 1)), "mcp:admin");
    methods = json_object_get(doc, "bearer_methods_supported");
    ck_assert_int_eq(json_array_size(methods), 3);
    ck_assert_str_eq(json_string_value(json_array_get(methods, 1)), "body");
    ck_assert_str_eq(json_string_value(json_array_get(methods, 2)), "query");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "jwks_uri")), "https://api.example.com/jwks.json");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "resource_documentation")), "https://docs.example.com/mcp");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "dpop_signing_alg_values_supported"), 0)), "ES256");
    ck_assert(json_is_true(json_object_get(doc, "dpop_bound_access_tokens_required")));
    ck_assert(json_is_false(json_object_get(doc, "tls_client_certificate_bound_access_tokens")));
}
END_TEST

START_TEST(test_absent_members_are_left_out_and_no_bearer_method_is_an_empty_array)
{
    claims_resource_meta_t m;
    json_t *doc;
    claims_resource_meta_init(&m, "https://api.example.com");
    m.scopes = list(NULL, NULL);  /* empty: left out */
    doc = parsed(claims_metadata_document(tu_p, &m));
    ck_assert_ptr_null(json_object_get(doc, "scopes_supported"));
    ck_assert_ptr_null(json_object_get(doc, "jwks_uri"));
    ck_assert_ptr_null(json_object_get(doc, "dpop_signing_alg_values_supported"));
    ck_assert_ptr_null(json_object_get(doc, "dpop_bound_access_tokens_required"));
    ck_assert_ptr_null(json_object_get(doc, "tls_client_certificate_bound_access_tokens"));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "authorization_servers")), 0);
    ck_assert(json_is_array(json_object_get(doc, "bearer_methods_supported")));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "bearer_methods_supported")), 0);
}
END_TEST

START_TEST(test_resource_is_written_byte_for_byte)
{
    /* every character a resource may hold comes back as it was: no escaped '/', no case or
     * percent-encoding change */
    const char *uri = "https://API.example.com:8443/a/b%2Fc;p=1/~x!$&'()*+,=:@?q=1&r=%7E";
    claims_resource_meta_t m;
    const char *text;
    json_t *doc;
    ck_assert_ptr_null(claims_resource_check(uri));
    claims_resource_meta_init(&m, uri);
    text = claims_metadata_document(tu_p, &m);
    doc = parsed(text);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "resource")), uri);
    ck_assert_ptr_nonnull(strstr(text, uri));
}
END_TEST

Suite *metadata_suite(void)
{
    Suite *s = suite_create("metadata");
    TCase *tc = tu_tcase("protected resource metadata", 0);
    tcase_add_loop_test(tc, test_resource_identifier_must_be_https_without_fragment_or_userinfo, 0,
                        (int)(sizeof(identifiers) / sizeof(identifiers[0])));
    tcase_add_test(tc, test_documentation_url_may_be_http_or_https);
    tcase_add_loop_test(tc, test_well_known_segment_goes_between_host_and_path, 0,
                        (int)(sizeof(well_known) / sizeof(well_known[0])));
    tcase_add_test(tc, test_origin_is_scheme_and_authority);
    tcase_add_test(tc, test_minimal_document_has_resource_servers_and_bearer_methods_only);
    tcase_add_test(tc, test_document_writes_every_member_it_is_given);
    tcase_add_test(tc, test_absent_members_are_left_out_and_no_bearer_method_is_an_empty_array);
    tcase_add_test(tc, test_resource_is_written_byte_for_byte);
    suite_add_tcase(s, tc);
    return s;
}
