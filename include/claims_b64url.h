/*
 * claims_b64url.h - strict base64url (RFC 7515 section 2, RFC 4648 section 5).
 *
 * Promise: only [A-Za-z0-9_-], no padding, no whitespace, length % 4 != 1, and the unused
 * trailing bits of the last character are zero (so every byte string has exactly one
 * accepted encoding).
 */
#ifndef CLAIMS_B64URL_H
#define CLAIMS_B64URL_H

#include "claims.h"

/* Bytes needed to decode len characters (an upper bound). */
#define CLAIMS_B64URL_DECODED_MAX(len) (((len) / 4) * 3 + 2)

/* Decodes into out (at least CLAIMS_B64URL_DECODED_MAX(len) bytes). Returns 0 and sets
 * *outlen, or -1 when the input is not strict base64url. */
int claims_b64url_decode_to(const char *in, apr_size_t len, unsigned char *out, apr_size_t *outlen);

/* Same, allocating from p; the result is NUL-terminated (not counted in *outlen). */
int claims_b64url_decode(apr_pool_t *p, const char *in, apr_size_t len,
                         unsigned char **out, apr_size_t *outlen);

/* Unpadded base64url of len bytes, NUL-terminated. */
char *claims_b64url_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len);

#endif
