/*
 * claims_token.h - finding the bearer token in what a client sent (RFC 6750 section 2).
 *
 * Authorization: the scheme "Bearer" matched case-insensitively, one or more spaces, then
 * exactly one b64token (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="),
 * optionally followed by spaces. Another scheme is "no token"; "Bearer" with no token, two
 * tokens or a character outside b64token is a malformed request. One exception to where that
 * last check happens: a token with exactly two dots (the shape of a compact JWS, the one that
 * goes to signature verification) is delimited here without a look at each character, and
 * claims_verify_token refuses it as a malformed request (CLAIMS_ERR_REQUEST) when it is not a
 * b64token; a token byte for byte equal to one it verified needs no check, so a cache hit costs
 * no scan. A caller that uses such a token without claims_verify_token checks it first with
 * claims_token_is_b64token. Tokens of any other shape (opaque tokens, which may be
 * introspected) are checked here.
 * Cookie (ClaimsTokenFrom cookie=NAME): pairs separated by ';' or ',' (httpd joins repeated
 * Cookie headers with ", "), blanks (space, tab) around a pair skipped. A pair's name is what
 * comes before its first '=' without the blanks in front of that '=', compared exactly (case
 * included): "at =x" and "at\t=x" are the cookie at, as Python's http.cookies, Go's net/http
 * and Node's cookie package read them, so "at=a; at =b" is at twice (-1) and removal takes
 * out both. A blank inside a name ("a t=x") is part of it. The value is what follows the '='
 * without the blanks before and after it ("at= x " gives "x"): Python's http.cookies and
 * Node's cookie cut both sides too; Go keeps a leading blank (" x"), which no b64token holds,
 * so a Go reader could only refuse such a token, never read another one. A pair without '='
 * has no name here. The same splitting finds a token cookie and removes it before a request is proxied,
 * so a cookie that authenticated is always the one taken out.
 * Form body and query (RFC 6750 sections 2.2 and 2.3): name=value pairs separated by '&',
 * '+' and %XX decoded; a bad %-escape or a %00 makes the pair undecodable.
 * A name found twice is -1: the caller refuses the request (CL-06).
 */
#ifndef CLAIMS_TOKEN_H
#define CLAIMS_TOKEN_H

#include "claims.h"

/* CLAIMS_OK (*token, *len point into value; a b64token, or, with exactly two dots, a run of
 * characters other than space whose check is claims_verify_token's), CLAIMS_NO_TOKEN, or
 * CLAIMS_ERR_REQUEST. */
claims_status_t claims_token_from_authorization(const char *value, const char **token, apr_size_t *len);

typedef enum claims_scheme_t {
    CLAIMS_SCHEME_BEARER = 0,          /* RFC 6750 */
    CLAIMS_SCHEME_DPOP                 /* RFC 9449 section 7.1: the token with a DPoP proof */
} claims_scheme_t;

/* The same, also taking the DPoP scheme when dpop is set (same token syntax, scheme matched
 * case-insensitively); *scheme says which. */
claims_status_t claims_token_from_authorization_scheme(const char *value, int dpop, const char **token,
                                                       apr_size_t *len, claims_scheme_t *scheme);

/* 1 when s[0..len) is a b64token. */
int claims_token_is_b64token(const char *s, apr_size_t len);

/* The value of cookie name in a Cookie header value: 1 found (*value, *len point into header,
 * blanks around the value cut), 0 absent (or header NULL), -1 present more than once (names
 * compared without the blanks around them, see above). */
int claims_cookie_find(const char *header, const char *name, const char **value, apr_size_t *len);

/* header without every cookie named name (blanks around the name ignored, as in
 * claims_cookie_find), the other pairs joined by "; " in their order; NULL when none is left. */
char *claims_cookie_without(apr_pool_t *p, const char *header, const char *name);

/* The value of name in the application/x-www-form-urlencoded s[0..len): 1 found (*value decoded,
 * NUL-terminated, from p), 0 absent, -1 present more than once or undecodable. */
int claims_form_param(apr_pool_t *p, const char *s, apr_size_t len, const char *name, const char **value);

#endif
