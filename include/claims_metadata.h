/*
 * claims_metadata.h - OAuth 2.0 protected resource metadata (RFC 9728) for one resource.
 *
 * Promises: a resource identifier is accepted only as an https URL with a host, without
 * userinfo or fragment, made of RFC 3986 characters (so it can stand in a quoted-string of a
 * WWW-Authenticate header as it is); its well-known path follows RFC 9728 section 3.1 (the
 * well-known segment between the host and the path and query; a lone "/" path is dropped);
 * the document holds only the record's values, `resource` byte-identical to the identifier,
 * and omits every member the record leaves absent. Nothing here reads a request.
 */
#ifndef CLAIMS_METADATA_H
#define CLAIMS_METADATA_H

#include "claims.h"

#define CLAIMS_WELL_KNOWN_PRM "/.well-known/oauth-protected-resource"

/* RFC 6750 ways of sending a bearer token, as RFC 9728 bearer_methods_supported names them */
#define CLAIMS_BEARER_HEADER 0x1       /* "header": section 2.1 */
#define CLAIMS_BEARER_BODY 0x2         /* "body": section 2.2 (form-encoded body) */
#define CLAIMS_BEARER_QUERY 0x4        /* "query": section 2.3 */

#define CLAIMS_META_ABSENT (-1)        /* a boolean member left out of the document */

/* NULL when uri is acceptable as a protected resource identifier, else why not (fixed text). */
const char *claims_resource_check(const char *uri);

/* NULL when url is an absolute http or https URL of the same safe characters (for
 * resource_documentation), else why not (fixed text). */
const char *claims_doc_url_check(const char *url);

/* For an identifier claims_resource_check accepted: its scheme and authority
 * ("https://api.example.com:8443"), the well-known path with the resource's query
 * ("/.well-known/oauth-protected-resource/mcp"), and the whole metadata URL. */
const char *claims_resource_origin(apr_pool_t *p, const char *uri);
const char *claims_metadata_path(apr_pool_t *p, const char *uri);
const char *claims_metadata_url(apr_pool_t *p, const char *uri);

/* What the document says. Arrays hold const char *; NULL or empty arrays and NULL strings
 * are left out (authorization_servers and bearer_methods_supported are always written). */
typedef struct claims_resource_meta_t {
    const char *resource;
    const apr_array_header_t *authorization_servers;
    const apr_array_header_t *scopes;
    int bearer_methods;                        /* CLAIMS_BEARER_* bits; 0: [] */
    const char *jwks_uri;                      /* the resource's own keys, if it has any */
    const char *documentation;                 /* resource_documentation */
    /* sender-constrained tokens (RFC 9449, RFC 8705); NULL / CLAIMS_META_ABSENT: left out */
    const apr_array_header_t *dpop_algs;       /* dpop_signing_alg_values_supported */
    int dpop_bound_required;                   /* dpop_bound_access_tokens_required */
    int tls_client_certificate_bound;          /* tls_client_certificate_bound_access_tokens */
} claims_resource_meta_t;

/* A record with every optional member absent. */
void claims_resource_meta_init(claims_resource_meta_t *m, const char *resource);

/* The JSON document (UTF-8, pretty-printed, ending in a newline); NULL only if jansson fails. */
char *claims_metadata_document(apr_pool_t *p, const claims_resource_meta_t *m);

#endif
