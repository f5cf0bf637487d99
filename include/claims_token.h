/*
 * claims_token.h - finding the bearer token in what a client sent (RFC 6750 section 2).
 *
 * Authorization: the scheme "Bearer" matched case-insensitively, one or more spaces, then
 * exactly one b64token (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="),
 * optionally followed by spaces. Another scheme is "no token"; "Bearer" with no token, two
 * tokens or a character outside b64token is a malformed request.
 *
 * Cookie (ClaimsTokenFrom cookie=NAME): pairs separated by ';' or ',' (httpd joins repeated
 * Cookie headers with ", "), blanks around a pair skipped, names compared exactly. The same
 * splitting finds a token cookie and removes it before a request is proxied, so a cookie that
 * authenticated is always the one taken out.
 * Form body and query (RFC 6750 sections 2.2 and 2.3): name=value pairs separated by '&',
 * '+' and %XX decoded; a bad %-escape or a %00 makes the pair undecodable.
 * A name found twice is -1: the caller refuses the request (CL-06).
 */
#ifndef CLAIMS_TOKEN_H
#define CLAIMS_TOKEN_H

#include "claims.h"

/* CLAIMS_OK (*token, *len point into value), CLAIMS_NO_TOKEN, or CLAIMS_ERR_REQUEST. */
claims_status_t claims_token_from_authorization(const char *value, const char **token, apr_size_t *len);

/* 1 when s[0..len) is a b64token. */
int claims_token_is_b64token(const char *s, apr_size_t len);

/* The value of cookie name in a Cookie header value: 1 found (*value, *len point into header,
 * trailing blanks cut), 0 absent (or header NULL), -1 present more than once. */
int claims_cookie_find(const char *header, const char *name, const char **value, apr_size_t *len);

/* header without every cookie named name, the other pairs joined by "; " in their order; NULL
 * when none is left. */
char *claims_cookie_without(apr_pool_t *p, const char *header, const char *name);

/* The value of name in the application/x-www-form-urlencoded s[0..len): 1 found (*value decoded,
 * NUL-terminated, from p), 0 absent, -1 present more than once or undecodable. */
int claims_form_param(apr_pool_t *p, const char *s, apr_size_t len, const char *name, const char **value);

#endif
