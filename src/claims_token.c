/*
 * claims_token.c - bearer token extraction; see claims_token.h.
 */
#include "claims_token.h"

#include <string.h>
#include <strings.h>

/* 1 for the characters of RFC 6750 b64token (without '='): one table look-up a byte, since
 * every request's token goes through here */
static const unsigned char b64token_table[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1,
};

static int b64token_char(char c)
{
    return b64token_table[(unsigned char)c];
}

int claims_token_is_b64token(const char *s, apr_size_t len)
{
    apr_size_t i = 0;
    while (i < len && b64token_char(s[i])) {
        i++;
    }
    if (i == 0) {
        return 0;
    }
    while (i < len && s[i] == '=') {
        i++;
    }
    return i == len;
}

claims_status_t claims_token_from_authorization(const char *value, const char **token, apr_size_t *len)
{
    const char *s = value, *start;
    apr_size_t n;

    if (value == NULL) {
        return CLAIMS_NO_TOKEN;
    }
    while (*s == ' ') {
        s++;
    }
    if (strncasecmp(s, "Bearer", 6) != 0 || (s[6] != '\0' && s[6] != ' ' && s[6] != '\t')) {
        return CLAIMS_NO_TOKEN;  /* another scheme (Basic, Digest, "Bearerx") */
    }
    s += 6;
    /* RFC 6750 section 2.1: "Bearer" 1*SP b64token; a tab is not SP */
    while (*s == ' ') {
        s++;
    }
    /* one pass over the token: b64token characters, then only '=', then spaces */
    start = s;
    while (b64token_char(*s)) {
        s++;
    }
    if (s == start) {
        return CLAIMS_ERR_REQUEST;  /* empty, or not a b64token (CL-03) */
    }
    while (*s == '=') {
        s++;
    }
    n = (apr_size_t)(s - start);
    while (*s == ' ') {
        s++;
    }
    if (*s != '\0') {
        return CLAIMS_ERR_REQUEST;  /* two tokens, or a character outside b64token (CL-03) */
    }
    *token = start;
    *len = n;
    return CLAIMS_OK;
}
