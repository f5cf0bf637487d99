/*
 * claims_path.h - claim lookup by name, dotted path or JSON Pointer (RFC 6901).
 *
 * A path starting with '/' is a JSON Pointer ("/realm_access/roles", "/groups/0", with ~0 and
 * ~1 escapes). Otherwise it is a name: the whole text as a top-level member first (so
 * "https://example.com/roles" works), else a dotted path where, at each level, the longest
 * member name that is a prefix ending at a '.' is taken ("realm_access.roles").
 * Paths are compiled once, at configuration time.
 */
#ifndef CLAIMS_PATH_H
#define CLAIMS_PATH_H

#include "claims.h"

#include <jansson.h>

typedef struct claims_path_t {
    const char *text;                 /* as configured */
    int pointer;                      /* JSON Pointer form */
    apr_array_header_t *tokens;       /* pointer: unescaped reference tokens (const char *) */
} claims_path_t;

#define CLAIMS_MAX_PATH 1024

/* NULL and *err set when the path is empty, too long, or a malformed pointer. */
claims_path_t *claims_path_compile(apr_pool_t *p, const char *text, char **err);

/* The value at path, or NULL. Borrowed from claims. */
json_t *claims_path_lookup(const json_t *claims, const claims_path_t *path);

#endif
