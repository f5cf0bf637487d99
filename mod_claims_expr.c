/*
 * mod_claims_expr.c - the ap_expr functions claim('path') and claims('path'), for Require expr,
 * <If>, SetEnvIfExpr, RequestHeader ... expr=, mod_rewrite and LogFormat. A constant path is
 * compiled once, when the expression is parsed. Evaluated before authentication, they verify
 * the request's token on the spot with the location's rules (mod_claims_authn.c).
 */
#include "mod_claims_expr.h"
#include "mod_claims_authn.h"

#include "claims_export.h"
#include "claims_path.h"

#include "ap_expr.h"

#include <apr_strings.h>
#include <string.h>

static const claims_path_t *expr_path(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    char *err = NULL;
    if (data != NULL) {
        return data;
    }
    return claims_path_compile(ctx->p, arg, &err);
}

static json_t *expr_value(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    mc_state_t *state;
    const claims_path_t *path;
    if (ctx->r == NULL) {
        return NULL;
    }
    state = mc_lazy_state(ctx->r);
    path = expr_path(ctx, data, arg);
    if (state == NULL || path == NULL) {
        return NULL;
    }
    /* a Require expr deciding on claims: a denial is insufficient_scope, as for Require claim */
    apr_table_setn(ctx->r->notes, MC_NOTE_EVALUATED, "1");
    return claims_path_lookup(state->v.claims, path);
}

/* A claim's text for an expression: strings as they are, anything else as JSON, with control
 * characters (C0, DEL) and '%' as %XX (claims_expr_text). An expression's value may go into a
 * request header (RequestHeader set X "expr=%{claim:name}"), and a raw CR LF there would start
 * a header of the token holder's choosing; '%' is encoded too so that the text stays
 * unambiguous. */
static const char *expr_text(request_rec *r, const json_t *v)
{
    const char *s = claims_value_text(r->pool, v);
    return s != NULL ? claims_expr_text(r->pool, s) : NULL;
}

/* claim('path'): the claim as text (expr_text), or "". */
static const char *claim_fn(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    json_t *v = expr_value(ctx, data, arg);
    const char *s = v != NULL ? expr_text(ctx->r, v) : NULL;
    return s != NULL ? s : "";
}

/* claims('path'): the elements of an array claim, a scalar as one element, or an empty list. */
static apr_array_header_t *claims_fn(ap_expr_eval_ctx_t *ctx, const void *data, const char *arg)
{
    json_t *v = expr_value(ctx, data, arg);
    apr_array_header_t *list = apr_array_make(ctx->p, 4, sizeof(const char *));
    if (json_is_array(v)) {
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) {
            const char *s = expr_text(ctx->r, el);
            if (s != NULL) {
                APR_ARRAY_PUSH(list, const char *) = s;
            }
        }
    }
    else if (v != NULL) {
        const char *s = expr_text(ctx->r, v);
        if (s != NULL) {
            APR_ARRAY_PUSH(list, const char *) = s;
        }
    }
    return list;
}

/* mod_authz_core's record of a `Require expr` being parsed (stable since httpd 2.3): an
 * expression that reads REMOTE_USER gets want_user, so that without a user it answers
 * AUTHZ_DENIED_NO_USER (401, authenticate first) instead of AUTHZ_DENIED (403). Reading a
 * claim needs a user just the same. */
#define MC_REQUIRE_EXPR_NOTE "Require_expr_info"
typedef struct mc_require_expr_info_t {
    ap_expr_info_t *expr;
    int want_user;
} mc_require_expr_info_t;

static int expr_lookup(ap_expr_lookup_parms *parms)
{
    mc_require_expr_info_t *info = NULL;
    int is_claim = strcmp(parms->name, "claim") == 0;
    int is_claims = strcmp(parms->name, "claims") == 0;
    if (!((parms->type == AP_EXPR_FUNC_STRING && is_claim) || (parms->type == AP_EXPR_FUNC_LIST && is_claims))) {
        return DECLINED;
    }
    *parms->data = NULL;
    if (apr_pool_userdata_get((void **)&info, MC_REQUIRE_EXPR_NOTE, parms->ptemp) == APR_SUCCESS && info != NULL) {
        info->want_user = 1;
    }
    if (parms->arg != NULL) {
        /* a constant path is compiled once, when the expression is parsed */
        char *err = NULL;
        claims_path_t *path = claims_path_compile(parms->pool, parms->arg, &err);
        if (path == NULL) {
            *parms->err = apr_psprintf(parms->ptemp, "%s('%s'): %s", parms->name, parms->arg, err);
            return !OK;
        }
        *parms->data = path;
    }
    if (is_claim) {
        *parms->func = (const void *)claim_fn;
    }
    else {
        *parms->func = (const void *)claims_fn;
    }
    return OK;
}

void mc_register_expr_hooks(apr_pool_t *p)
{
    ap_hook_expr_lookup(expr_lookup, NULL, NULL, APR_HOOK_MIDDLE);
}
