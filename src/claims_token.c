/*
 * claims_token.c - bearer token extraction; see claims_token.h.
 */
#include "claims_token.h"

#include <string.h>
#include <strings.h>

static int b64token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
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
    start = s;
    while (*s != '\0' && *s != ' ') {
        s++;
    }
    n = (apr_size_t)(s - start);
    while (*s == ' ') {
        s++;
    }
    if (n == 0 || *s != '\0' || !claims_token_is_b64token(start, n)) {
        return CLAIMS_ERR_REQUEST;  /* empty, two tokens, or not a b64token (CL-03) */
    }
    *token = start;
    *len = n;
    return CLAIMS_OK;
}
