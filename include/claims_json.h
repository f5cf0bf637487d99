/*
 * claims_json.h - the JSON reader for what a client sends: a token's header and claims set;
 * and the writer of compact JSON text (CLAIMS_JSON of claims that came without a payload).
 *
 * Why not json_loadb: jansson's reader spends about 40,000 instructions on a nine-claim payload
 * (a character at a time through a stream layer), seven times what building the same jansson
 * values costs; with a header and a payload per new token that was over a tenth of an RS256
 * verification (issue 6). This reader scans the bytes directly and builds the same values.
 *
 * Promises:
 *  - it accepts exactly the JSON objects that jansson 2.14's json_loadb(JSON_REJECT_DUPLICATES)
 *    accepts (RFC 8259 grammar; whitespace is space, tab, LF, CR; nothing after the object), and
 *    builds a json_equal tree with members in the same order;
 *  - nesting: a value at a level deeper than CLAIMS_JSON_MAX_DEPTH (the top-level object is
 *    level 1, its members level 2, scalars included) is refused, as jansson does (CL-18);
 *  - strings: valid UTF-8 only (no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF),
 *    no raw byte below 0x20, escapes as RFC 8259, a \u escape of a surrogate only as a high-low
 *    pair, and no U+0000 (jansson refuses NUL without JSON_ALLOW_NUL; so does this reader);
 *  - member names: duplicates refused (CL-12 needs one meaning per name);
 *  - numbers: without fraction or exponent an integer, refused outside the 64-bit range; with
 *    either, a real read by jansson itself (so locale and rounding are jansson's), refused on
 *    overflow; no leading zeros, '+', bare '.', or missing digits;
 *  - the input needs no NUL terminator; a NUL byte anywhere is refused (jansson 2.14 drops one
 *    right after a number or a literal: `{"exp":1\0}` is an object to it, not to this reader);
 *    never reads past len.
 * Recursion is bounded by CLAIMS_JSON_MAX_DEPTH, with frames smaller than jansson's.
 */
#ifndef CLAIMS_JSON_H
#define CLAIMS_JSON_H

#include "claims.h"

#include <jansson.h>

/* jansson's JSON_PARSER_MAX_DEPTH: SECURITY.md CL-18 takes 200 levels as valid claims. */
#define CLAIMS_JSON_MAX_DEPTH 2048

/* A new reference to the object read from buf[0..len), or NULL when it is not one (see above).
 * scratch: a pool for one temporary buffer of at most len bytes (escaped strings). */
json_t *claims_json_object(apr_pool_t *scratch, const unsigned char *buf, apr_size_t len);

/* The compact JSON text of j, in p: the very text json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY)
 * gives (members in their order, no blanks, strings escaped as jansson escapes them, reals
 * written by jansson), at a fraction of its cost (claims_json_text.c); NULL for NULL, and for
 * a value nested deeper than CLAIMS_JSON_MAX_DEPTH (which the reader never builds). */
char *claims_json_text(apr_pool_t *p, const json_t *j);

#endif
