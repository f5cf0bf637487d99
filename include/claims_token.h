/*
 * claims_token.h - finding the bearer token in what a client sent (RFC 6750 section 2).
 *
 * Authorization: the scheme "Bearer" matched case-insensitively, one or more spaces, then
 * exactly one b64token (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="),
 * optionally followed by spaces. Another scheme is "no token"; "Bearer" with no token, two
 * tokens or a character outside b64token is a malformed request.
 */
#ifndef CLAIMS_TOKEN_H
#define CLAIMS_TOKEN_H

#include "claims.h"

/* CLAIMS_OK (*token, *len point into value), CLAIMS_NO_TOKEN, or CLAIMS_ERR_REQUEST. */
claims_status_t claims_token_from_authorization(const char *value, const char **token, apr_size_t *len);

/* 1 when s[0..len) is a b64token. */
int claims_token_is_b64token(const char *s, apr_size_t len);

#endif
