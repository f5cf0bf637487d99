/*
 * mod_claims_authz.c - the Require providers on verified claims.
 *
 *   Require claim PATH VALUE...   any of the values (typed, see claims_match.h); arrays match
 *                                 by element; a %{...} value is an ap_expr evaluated per
 *                                 request and is always a string: it matches only a string
 *                                 claim (or element) with exactly its bytes, never a number,
 *                                 boolean or null the client spelled (4.2e1, null)
 * An empty word ("") is a configuration error in both providers.
 *   Require scope SCOPE...        all of the scopes (scope string or scp)
 * Also registered as claims-claim and claims-scope, spellings no other module uses.
 * Lines are parsed once, at configuration time. Without a verified token the providers answer
 * AUTHZ_DENIED_NO_USER (so httpd answers 401, not 403); a failure leaves a note that
 * mod_claims_authn.c turns into 403 insufficient_scope.
 */
#include "mod_claims_authz.h"
#include "mod_claims_authn.h"
#include "mod_claims_metadata.h"

#include "claims_match.h"
#include "claims_path.h"

#include "ap_expr.h"
#include "ap_provider.h"
#include "http_request.h"
#include "mod_auth.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

/* A value of a Require line: fixed, or an ap_expr string evaluated per request. */
typedef struct claim_value_t {
    claims_expected_t *expected;
    ap_expr_info_t *expr;
} claim_value_t;

typedef struct require_claim_t {
    claims_path_t *path;
    apr_array_header_t *values;        /* claim_value_t */
    const void *foreign;               /* the line as parsed by the provider we shadow */
    const char *error;                 /* our parse error when only the shadowed one took it */
    int negated;                       /* under `Require not` or <RequireNone> (mc_negated) */
} require_claim_t;

typedef struct require_scope_t {
    apr_array_header_t *scopes;        /* claim_value_t */
    const char *text;                  /* the fixed scopes, for the scope="..." attribute */
    int negated;
} require_scope_t;

/* Whether a Require line's result is turned around: `Require not`, each enclosing <RequireNone>
 * (an odd number of them). A denial on claims is then a granted line. */
static int negated(const cmd_parms *cmd)
{
    const ap_directive_t *d = cmd->directive;
    int n = 0;
    if (d == NULL) {
        return 0;
    }
    if (d->args != NULL && strncasecmp(d->args, "not", 3) == 0 && apr_isspace(d->args[3])) {
        n++;
    }
    for (d = d->parent; d != NULL; d = d->parent) {
        n += strcasecmp(d->directive, "<RequireNone") == 0;
    }
    return n % 2;
}

/* The note check_authz reads (mod_claims_authn.c): this line, as the request's authorization
 * sees it, failed on the token's claims (a denial, or a grant that a negation turns into one),
 * so a refusal is insufficient_scope rather than a plain 403. */
static authz_status noted(request_rec *r, int is_negated, authz_status st)
{
    if ((st == AUTHZ_DENIED && !is_negated) || (st == AUTHZ_GRANTED && is_negated)) {
        apr_table_setn(r->notes, MC_NOTE_EVALUATED, "1");
    }
    return st;
}

/* mod_auth_openidc also registers "claim"; loaded before us (Debian's order), it is shadowed
 * and gets back every request whose AuthType is not ours. */
static const authz_provider *shadowed_claim_provider;

/* The next word of a Require line; NULL at its end. An empty quoted word ("" or '') is an
 * error (*err): ap_getword_conf returns "" for it as it does at the end of the line, so a
 * loop that stopped there would silently drop every word after it. */
static const char *next_word(cmd_parms *cmd, const char **line, const char **err)
{
    const char *w;
    while (apr_isspace(**line)) {
        (*line)++;
    }
    if (**line == '\0') {
        return NULL;
    }
    w = ap_getword_conf(cmd->pool, line);
    if (*w == '\0') {
        *err = "an empty value (\"\") is not allowed";
        return NULL;
    }
    return w;
}

static const char *parse_values(cmd_parms *cmd, const char **line, apr_array_header_t *values)
{
    const char *w, *werr = NULL;
    while ((w = next_word(cmd, line, &werr)) != NULL) {
        claim_value_t *cv = apr_array_push(values);
        memset(cv, 0, sizeof(*cv));
        if (strstr(w, "%{") != NULL) {
            const char *err = NULL;
            cv->expr = ap_expr_parse_cmd(cmd, w, AP_EXPR_FLAG_STRING_RESULT, &err, NULL);
            if (err != NULL) {
                return apr_psprintf(cmd->pool, "cannot parse expression in \"%s\": %s", w, err);
            }
        }
        else {
            cv->expected = claims_expected_parse(cmd->pool, w);
        }
    }
    return werr;
}

static const char *claim_value_str(request_rec *r, const claim_value_t *cv, claims_expected_t **e)
{
    if (cv->expected != NULL) {
        *e = cv->expected;
        return NULL;
    }
    {
        const char *err = NULL;
        const char *s = ap_expr_str_exec(r, cv->expr, &err);
        if (err != NULL || s == NULL) {
            return err != NULL ? err : "expression failed";
        }
        /* a value from %{...} is a string, always: the client must not choose its JSON type
         * (e.g. "4.2e1" matching 42, or "null") */
        *e = apr_pcalloc(r->pool, sizeof(**e));
        (*e)->str = s;
        (*e)->len = strlen(s);
    }
    return NULL;
}

static const char *parse_claim_line(cmd_parms *cmd, const char *line, const void **parsed)
{
    require_claim_t *rc = apr_pcalloc(cmd->pool, sizeof(*rc));
    const char *p = line, *err = NULL;
    const char *path = ap_getword_conf(cmd->pool, &p);
    char *perr = NULL;

    rc->negated = negated(cmd);

    if (shadowed_claim_provider != NULL && shadowed_claim_provider->parse_require_line != NULL) {
        if (shadowed_claim_provider->parse_require_line(cmd, line, &rc->foreign) != NULL) {
            rc->foreign = NULL;
        }
        else if (rc->foreign == NULL) {
            rc->foreign = line;
        }
    }
    rc->values = apr_array_make(cmd->pool, 2, sizeof(claim_value_t));
    rc->path = claims_path_compile(cmd->pool, path, &perr);
    if (rc->path == NULL) {
        err = apr_psprintf(cmd->pool, "Require claim: %s", perr);
    }
    else if ((err = parse_values(cmd, &p, rc->values)) != NULL) {
        err = apr_pstrcat(cmd->pool, "Require claim: ", err, NULL);
    }
    else if (rc->values->nelts == 0) {
        err = "Require claim: needs a claim path and at least one value";
    }
    if (err != NULL) {
        if (shadowed_claim_provider == NULL) {
            return err;
        }
        rc->error = err;  /* maybe the other module's syntax: it decides for its locations */
    }
    *parsed = rc;
    return NULL;
}

static authz_status claim_check(request_rec *r, const char *line, const void *parsed)
{
    const require_claim_t *rc = parsed;
    mc_state_t *state;
    json_t *v;

    if (!mc_is_ours(r) && shadowed_claim_provider != NULL) {
        return shadowed_claim_provider->check_authorization(r, line, rc->foreign);
    }
    state = mc_get_state(r);
    if (state == NULL || state->anonymous || r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (rc->error != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(031) "%s", rc->error);
        return AUTHZ_GENERAL_ERROR;
    }
    v = claims_path_lookup(state->v.claims, rc->path);
    for (int i = 0; v != NULL && i < rc->values->nelts; i++) {
        claims_expected_t *e = NULL;
        const char *err = claim_value_str(r, &APR_ARRAY_IDX(rc->values, i, claim_value_t), &e);
        if (err != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(032) "Require claim %s: %s", rc->path->text, err);
            return AUTHZ_GENERAL_ERROR;
        }
        if (claims_match(v, e)) {
            return noted(r, rc->negated, AUTHZ_GRANTED);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(033) "Require claim %s not satisfied",
                  rc->path->text);
    return noted(r, rc->negated, AUTHZ_DENIED);
}

/* RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
static int valid_scope(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

static const char *parse_scope_line(cmd_parms *cmd, const char *line, const void **parsed)
{
    require_scope_t *rs = apr_pcalloc(cmd->pool, sizeof(*rs));
    const char *p = line, *w, *werr = NULL;
    rs->negated = negated(cmd);
    rs->scopes = apr_array_make(cmd->pool, 2, sizeof(claim_value_t));
    while ((w = next_word(cmd, &p, &werr)) != NULL) {
        claim_value_t *cv = apr_array_push(rs->scopes);
        memset(cv, 0, sizeof(*cv));
        if (strstr(w, "%{") != NULL) {
            const char *err = NULL;
            cv->expr = ap_expr_parse_cmd(cmd, w, AP_EXPR_FLAG_STRING_RESULT, &err, NULL);
            if (err != NULL) {
                return apr_psprintf(cmd->pool, "Require scope: cannot parse expression in \"%s\": %s", w, err);
            }
            continue;
        }
        if (!valid_scope(w)) {
            return apr_psprintf(cmd->pool, "Require scope: \"%s\" is not a scope token (RFC 6749 3.3)", w);
        }
        cv->expected = apr_pcalloc(cmd->pool, sizeof(*cv->expected));
        cv->expected->str = w;
        cv->expected->len = strlen(w);
        rs->text = rs->text != NULL ? apr_pstrcat(cmd->pool, rs->text, " ", w, NULL) : w;
    }
    if (werr != NULL) {
        return apr_pstrcat(cmd->pool, "Require scope: ", werr, NULL);
    }
    if (rs->scopes->nelts == 0) {
        return "Require scope: needs at least one scope";
    }
    if (!rs->negated) {
        mc_metadata_note_scopes(cmd, rs->text);  /* scopes_supported (RFC 9728, issue 16) */
    }
    *parsed = rs;
    return NULL;
}

static authz_status scope_check(request_rec *r, const char *line, const void *parsed)
{
    const require_scope_t *rs = parsed;
    mc_state_t *state = mc_get_state(r);
    if (state == NULL || state->anonymous || r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    for (int i = 0; i < rs->scopes->nelts; i++) {
        const claim_value_t *cv = &APR_ARRAY_IDX(rs->scopes, i, claim_value_t);
        const char *scope;
        if (cv->expr != NULL) {
            const char *err = NULL;
            scope = ap_expr_str_exec(r, cv->expr, &err);
            if (err != NULL || scope == NULL) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(034) "Require scope: %s",
                              err != NULL ? err : "expression failed");
                return AUTHZ_GENERAL_ERROR;
            }
        }
        else {
            scope = cv->expected->str;
        }
        if (!claims_has_scope(state->v.claims, scope, strlen(scope))) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(035) "Require scope: scope %s missing",
                          claims_log_escape(r->pool, scope, strlen(scope), 64));
            if (rs->text != NULL && !rs->negated) {
                apr_table_setn(r->notes, MC_NOTE_SCOPES, rs->text);  /* what the client should ask for */
            }
            return noted(r, rs->negated, AUTHZ_DENIED);
        }
    }
    return noted(r, rs->negated, AUTHZ_GRANTED);
}

static const authz_provider claim_provider = {claim_check, parse_claim_line};
static const authz_provider scope_provider = {scope_check, parse_scope_line};

void mc_register_providers(apr_pool_t *p)
{
    shadowed_claim_provider = ap_lookup_provider(AUTHZ_PROVIDER_GROUP, "claim", AUTHZ_PROVIDER_VERSION);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claim", AUTHZ_PROVIDER_VERSION, &claim_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claims-claim", AUTHZ_PROVIDER_VERSION,
                              &claim_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "scope", AUTHZ_PROVIDER_VERSION, &scope_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claims-scope", AUTHZ_PROVIDER_VERSION,
                              &scope_provider, AP_AUTH_INTERNAL_PER_CONF);
}
