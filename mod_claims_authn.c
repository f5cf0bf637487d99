/*
 * mod_claims_authn.c - the authentication side of the glue: where the token comes from
 * (ClaimsTokenFrom), verifying it with the core, and the RFC 6750 answers.
 *
 * Hooks: check_authn (only for AuthType claims), force_authn (so that a token is checked even
 * where the Require rules would admit anonymous requests), check_authz (runs first, lets
 * mod_authz_core decide, and turns its 401 for a verified token into 403 insufficient_scope),
 * and note_auth_failure (our challenge). No hook here writes a response body.
 */
#include "mod_claims_authn.h"
#include "mod_claims_binding.h"
#include "mod_claims_counters.h"
#include "mod_claims_introspect.h"
#include "mod_claims_metadata.h"
#include "mod_claims_remote.h"

#include "claims_alg.h"
#include "claims_policy.h"
#include "claims_token.h"
#include "claims_validate.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include <apr_strings.h>
#include <string.h>

#define MC_FORM_MAX (64 * 1024)
#define MC_FILTER_KEPT_BODY "CLAIMS_KEPT_BODY"

/* ------------------------------------------------------------------ request state */

int mc_is_ours(request_rec *r)
{
    const char *t;
    /* check_authn leaves its state on this very request (never on another: a sub-request or
     * an internal redirect has its own request_config) only after it found AuthType claims; the
     * later phases ask again, and ap_auth_type is a hook call plus two string compares */
    if (ap_get_module_config(r->request_config, &claims_module) != NULL) {
        return 1;
    }
    t = ap_auth_type(r);
    return t != NULL && strcasecmp(t, MC_AUTH_TYPE) == 0;
}

mc_state_t *mc_get_state(request_rec *r)
{
    /* sub-requests and internal redirects see what their parent verified */
    for (request_rec *q = r; q != NULL; q = q->main != NULL ? q->main : q->prev) {
        mc_state_t *st = ap_get_module_config(q->request_config, &claims_module);
        if (st != NULL) {
            return st;
        }
    }
    return NULL;
}

int mc_is_preflight(request_rec *r, const mc_dir_conf_t *dc)
{
    return mc_on(dc->preflight_pass) && r->method_number == M_OPTIONS
        && apr_table_get(r->headers_in, "Origin") != NULL
        && apr_table_get(r->headers_in, "Access-Control-Request-Method") != NULL;
}

/* ------------------------------------------------------------------ responses */

/* RFC 6750 quoted-string content: drop what cannot appear ('"', '\\', controls). */
static const char *quoted(request_rec *r, const char *s)
{
    char *out = apr_pstrdup(r->pool, s), *o = out;
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u >= 0x20 && u != 0x7f && u != '"' && u != '\\') {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

static const char *challenge(request_rec *r, const char *scheme, const char *algs, const char *error,
                             const char *desc, const char *scope)
{
    const char *name = ap_auth_name(r);
    const char *v = apr_psprintf(r->pool, "%s realm=\"%s\"", scheme, quoted(r, name != NULL ? name : ""));
    if (algs != NULL) {
        v = apr_psprintf(r->pool, "%s, algs=\"%s\"", v, algs);
    }
    if (error != NULL) {
        v = apr_psprintf(r->pool, "%s, error=\"%s\"", v, error);
    }
    if (desc != NULL) {
        v = apr_psprintf(r->pool, "%s, error_description=\"%s\"", v, desc);
    }
    if (scope != NULL && *scope != '\0') {
        v = apr_psprintf(r->pool, "%s, scope=\"%s\"", v, quoted(r, scope));
    }
    v = apr_pstrcat(r->pool, v, mc_resource_metadata_param(r), NULL);  /* RFC 9728 (issue 16) */
    return v;
}

/* The challenges of this location: Bearer unless ClaimsDPoP Required, DPoP unless Off (RFC 9449
 * section 7.1), one header field each, at most one of each (CL-55). The error goes with the
 * scheme the request used (dpop), or with the only challenge there is. */
static void set_challenge(request_rec *r, int dpop, const char *error, const char *desc, const char *scope)
{
    const mc_dir_conf_t *dc = mc_dir(r);
    int bearer = mc_dpop(dc) != MC_DPOP_REQUIRED, proof = mc_dpop(dc) != MC_DPOP_OFF;
    int on_dpop = proof && (dpop || !bearer);

    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    if (bearer) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       on_dpop ? challenge(r, "Bearer", NULL, NULL, NULL, NULL)
                               : challenge(r, "Bearer", NULL, error, desc, scope));
    }
    if (proof) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       on_dpop ? challenge(r, "DPoP", mc_dpop_algs(r, dc), error, desc, scope)
                               : challenge(r, "DPoP", mc_dpop_algs(r, dc), NULL, NULL, NULL));
    }
}

static int refuse(request_rec *r, claims_status_t st, const mc_state_t *state)
{
    int dpop = state != NULL && state->dpop;
    int status;
    switch (claims_status_class(st)) {
    case CLAIMS_CLASS_NO_TOKEN:
        set_challenge(r, 0, NULL, NULL, NULL);
        status = HTTP_UNAUTHORIZED;
        break;
    case CLAIMS_CLASS_INVALID_REQUEST:
        set_challenge(r, dpop, "invalid_request", claims_status_text(st), NULL);
        return HTTP_BAD_REQUEST;
    case CLAIMS_CLASS_INVALID_TOKEN:
        /* a binding refusal says which binding (fixed texts of mod_claims_binding.c) */
        set_challenge(r, dpop, "invalid_token",
                      st == CLAIMS_ERR_BINDING && state != NULL && state->why != NULL ? state->why
                                                                                   : claims_status_text(st), NULL);
        status = HTTP_UNAUTHORIZED;
        break;
    case CLAIMS_CLASS_INVALID_DPOP:
        set_challenge(r, 1, state != NULL && state->use_nonce ? "use_dpop_nonce" : "invalid_dpop_proof",
                      state != NULL && state->why != NULL ? state->why : claims_status_text(st), NULL);
        status = HTTP_UNAUTHORIZED;
        break;
    case CLAIMS_CLASS_UNAVAILABLE:
        /* the issuer or the replay store cannot say now whether the request is good: never
         * 200, never a guess */
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return HTTP_SERVICE_UNAVAILABLE;
    default:
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (mc_dpop_nonce_required(mc_dir(r))) {
        mc_dpop_send_nonce(r);  /* the next proof can carry it (RFC 9449 section 8) */
    }
    return status;
}

/* ------------------------------------------------------------------ token sources */

/* The kept body of a form request, handed back to the handler unchanged. */
static apr_status_t kept_body_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                     apr_read_type_e block, apr_off_t readbytes)
{
    apr_bucket_brigade *kept = f->ctx;
    apr_bucket *e;
    apr_status_t rv;

    if (kept == NULL || APR_BRIGADE_EMPTY(kept)) {
        ap_remove_input_filter(f);
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode != AP_MODE_READBYTES && mode != AP_MODE_SPECULATIVE) {
        /* getline and friends: give them everything we kept, it ends at a bucket boundary */
        APR_BRIGADE_CONCAT(bb, kept);
        return APR_SUCCESS;
    }
    rv = apr_brigade_partition(kept, readbytes, &e);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        return rv;
    }
    if (mode == AP_MODE_SPECULATIVE) {
        for (apr_bucket *b = APR_BRIGADE_FIRST(kept); b != e; b = APR_BUCKET_NEXT(b)) {
            apr_bucket *copy;
            if (apr_bucket_copy(b, &copy) == APR_SUCCESS) {
                APR_BRIGADE_INSERT_TAIL(bb, copy);
            }
        }
        return APR_SUCCESS;
    }
    while (!APR_BRIGADE_EMPTY(kept) && APR_BRIGADE_FIRST(kept) != e) {
        apr_bucket *b = APR_BRIGADE_FIRST(kept);
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    return APR_SUCCESS;
}

/* Reads a url-encoded form body (up to MC_FORM_MAX bytes), keeps it for the handler, and
 * returns its bytes (*blen of them, not NUL-terminated), or NULL when there is none or it is too
 * large (*too_large set). */
static const char *read_form(request_rec *r, int *too_large, apr_size_t *blen)
{
    apr_bucket_brigade *kept = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_off_t total = 0;
    int eos = 0;
    char *body;
    apr_size_t len;

    while (!eos && total <= MC_FORM_MAX) {
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, 8192);
        if (rv != APR_SUCCESS) {
            break;
        }
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                eos = 1;
            }
            else if (b->length != (apr_size_t)-1) {
                total += (apr_off_t)b->length;
            }
            apr_bucket_setaside(b, r->pool);
        }
        APR_BRIGADE_CONCAT(kept, bb);
    }
    ap_add_input_filter(MC_FILTER_KEPT_BODY, kept, r, r->connection);
    if (!eos || total > MC_FORM_MAX) {
        *too_large = 1;  /* a token further on could not be seen: the caller refuses */
        return NULL;
    }
    if (apr_brigade_pflatten(kept, &body, &len, r->pool) != APR_SUCCESS) {
        return NULL;
    }
    *blen = len;
    return body;
}

static int is_form_post(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    return r->method_number == M_POST && ct != NULL
        && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0
        && (ct[33] == '\0' || ct[33] == ';' || ct[33] == ' ');
}

/* Adds one found token; more than one place is a malformed request (CL-06). */
static claims_status_t take(int found, const char *v, const char **token, apr_size_t *len, int *places,
                            int *from, int source)
{
    if (found < 0) {
        return CLAIMS_ERR_TWO_TOKENS;
    }
    if (found == 0) {
        return CLAIMS_OK;
    }
    if (++*places > 1) {
        return CLAIMS_ERR_TWO_TOKENS;
    }
    if (!claims_token_is_b64token(v, strlen(v))) {
        return CLAIMS_ERR_REQUEST;
    }
    *token = v;
    *len = strlen(v);
    *from = source;
    return CLAIMS_OK;
}

/* The token of r for this location, and where it came from (*source, one MC_FROM_* bit; *dpop:
 * Authorization: DPoP, taken unless ClaimsDPoP Off). */
static claims_status_t find_token(request_rec *r, const mc_dir_conf_t *dc, const char **token,
                                  apr_size_t *len, int read_body, int *source, int *dpop)
{
    int from = mc_token_from(dc);
    int places = 0;
    claims_status_t st;
    const char *v = NULL;

    if (from & MC_FROM_HEADER) {
        claims_scheme_t scheme = CLAIMS_SCHEME_BEARER;
        st = claims_token_from_authorization_scheme(apr_table_get(r->headers_in, "Authorization"),
                                                    mc_dpop(dc) != MC_DPOP_OFF, token, len, &scheme);
        if (st == CLAIMS_ERR_REQUEST) {
            return st;
        }
        if (st == CLAIMS_OK) {
            places++;
            *source = MC_FROM_HEADER;
            *dpop = scheme == CLAIMS_SCHEME_DPOP;
        }
    }
    if (from & MC_FROM_COOKIE) {
        const char *raw = NULL;
        apr_size_t rlen = 0;
        int found = claims_cookie_find(apr_table_get(r->headers_in, "Cookie"), dc->cookie_name, &raw, &rlen);
        if (found > 0) {
            v = apr_pstrmemdup(r->pool, raw, rlen);
        }
        if ((st = take(found, v, token, len, &places, source, MC_FROM_COOKIE)) != CLAIMS_OK) {
            return st;
        }
    }
    if (from & MC_FROM_QUERY) {
        /* RFC 6750 section 2.3: such answers must not be cached by shared caches */
        apr_table_setn(r->err_headers_out, "Cache-Control", "private");
        int found = r->args != NULL ? claims_form_param(r->pool, r->args, strlen(r->args), dc->query_name, &v) : 0;
        if ((st = take(found, v, token, len, &places, source, MC_FROM_QUERY)) != CLAIMS_OK) {
            return st;
        }
    }
    if ((from & MC_FROM_FORM) && read_body && is_form_post(r) && r->main == NULL) {
        int too_large = 0;
        apr_size_t blen = 0;
        const char *body = read_form(r, &too_large, &blen);
        int found = body != NULL ? claims_form_param(r->pool, body, blen, "access_token", &v) : 0;
        if (too_large) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(026) "form body larger than %d bytes: cannot "
                          "tell whether it carries a token (ClaimsTokenFrom form)", MC_FORM_MAX);
            return CLAIMS_ERR_REQUEST;
        }
        if ((st = take(found, v, token, len, &places, source, MC_FROM_FORM)) != CLAIMS_OK) {
            return st;
        }
    }
    return places > 0 ? CLAIMS_OK : CLAIMS_NO_TOKEN;
}

/* ------------------------------------------------------------------ verification */

static void log_refusal(request_rec *r, claims_status_t st, const claims_verified_t *v, const char *what)
{
    const char *kid = "-";
    if (v->jws != NULL && v->jws->kid != NULL) {
        kid = claims_log_escape(r->pool, v->jws->kid, v->jws->kid_len, 64);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  MC_LOGNO(020) "token refused: %s (%s)%s%s; issuer %s, kid %s, alg %s",
                  claims_status_name(st), claims_status_text(st),
                  what != NULL ? " on claim " : "", what != NULL ? what : "",
                  v->issuer != NULL ? v->issuer->iss : "-", kid,
                  v->jws != NULL ? claims_alg_name(v->jws->alg) : "-");
}

/* Verifies token for this location. Returns CLAIMS_OK with *out filled, a refusal, or
 * CLAIMS_ERR_CONFIG when the location cannot check tokens (logged). */
/* A compact JWS is verified with the issuers' keys; an opaque token, where an issuer here
 * introspects, is introspected (mod_claims_introspect.c). */
static claims_status_t verify_signature_or_introspect(request_rec *r, const claims_verifier_t *verifier,
                                                      const char *token, apr_size_t len, double now,
                                                      mc_state_t *state)
{
    const mc_issuer_t *ic;
    mc_introspected_t in;
    claims_status_t st;

    /* the issuers first: where none introspects (most locations) the token is not scanned */
    if ((ic = mc_introspecting_issuer(verifier->trusted, verifier->ntrusted)) == NULL
        || mc_is_jws_shaped(token, len)) {
        return claims_verify_token(verifier, r->pool, token, len, now, &state->v, &state->cached);
    }
    if (len > (verifier->max_len != 0 ? verifier->max_len : CLAIMS_DEFAULT_MAX_TOKEN)) {
        return CLAIMS_ERR_TOO_LARGE;  /* the size cap holds before anything leaves the server */
    }
    memset(&state->v, 0, sizeof(state->v));
    state->v.issuer = &ic->core;
    st = mc_introspect(r, ic, token, len, &in);
    if (st == CLAIMS_OK) {
        state->v.claims = in.claims;
        state->introspected = 1;
        state->signed_jwt = in.jwt;
        state->cached = in.cached;
    }
    return st;
}

/* The DPoP proof of a token that came as Authorization: DPoP (mod_claims_binding.c); a
 * sub-request or internal redirect takes the proof its parent checked for the same token. */
static claims_status_t check_proof(request_rec *r, const mc_dir_conf_t *dc, const char *token, apr_size_t len,
                                   mc_state_t *state, int quiet)
{
    const mc_state_t *parent = r->main != NULL || r->prev != NULL
                               ? mc_get_state(r->main != NULL ? r->main : r->prev) : NULL;
    return mc_binding_proof(r, dc, token, len, parent, state, quiet);
}

/* Verifies the token of r (and its DPoP proof, when it came with one: before the token, so a
 * bad proof costs no signature check) and what it is bound to. quiet: an expression evaluated
 * before authentication; it logs nothing and does not use the proof up. */
static claims_status_t verify_token(request_rec *r, const mc_dir_conf_t *dc, const char *token,
                                    apr_size_t len, int dpop, mc_state_t *state, int quiet)
{
    const mc_srv_conf_t *sc = mc_srv(r->server);
    const claims_issuer_t *trusted[CLAIMS_MAX_TRUSTED];
    claims_verifier_t verifier;
    const mc_issuer_t *ic;
    const char *what = NULL;
    claims_policy_t pol;
    claims_status_t st;
    double now = (double)apr_time_now() / (double)APR_USEC_PER_SEC;

    memset(&verifier, 0, sizeof(verifier));
    verifier.trusted = trusted;
    verifier.ntrusted = claims_policy_trusted((const claims_issuer_t *const *)sc->core_issuers->elts,
                                              sc->core_issuers->nelts, dc->trust, trusted, CLAIMS_MAX_TRUSTED);
    verifier.max_len = dc->max_token;
    verifier.get_keys = mc_issuer_keys;
    verifier.baton = r;
    verifier.cache = mc_token_cache();
    if (verifier.ntrusted == 0) {
        if (!quiet) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(022) "no trusted issuer for this location "
                          "(check <ClaimsIssuer> and ClaimsTrust)");
        }
        return CLAIMS_ERR_CONFIG;
    }
    if (dpop && (st = check_proof(r, dc, token, len, state, quiet)) != CLAIMS_OK) {
        return st;
    }
    st = verify_signature_or_introspect(r, &verifier, token, len, now, state);
    if (st != CLAIMS_OK) {
        if (!quiet) {
            log_refusal(r, st, &state->v, NULL);
        }
        return st;
    }
    ic = (const mc_issuer_t *)state->v.issuer;  /* the core record is the first member */
    if (claims_policy_for_location(&pol, &ic->policy, mc_audience(dc)) != CLAIMS_OK) {
        if (!quiet) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MC_LOGNO(023) "no audience configured for this location "
                          "or issuer %s: set ClaimsAudience (or ClaimsAudience any)", ic->core.iss);
        }
        return CLAIMS_ERR_CONFIG;
    }
    if (state->introspected) {
        pol.typ = NULL;  /* a JWS header typ: an opaque token has none (RFC 7662 token_type is not it) */
    }
    st = claims_validate(state->v.claims, state->v.jws != NULL ? state->v.jws->typ : NULL, &pol, now, &what);
    if (st == CLAIMS_OK) {
        static const claims_path_t sub = {"sub", 0, NULL};
        const claims_path_t *path = dc->remote_user != NULL ? dc->remote_user : &sub;
        st = claims_remote_user(r->pool, state->v.claims, path, &state->user);
        what = path->text;
    }
    if (st != CLAIMS_OK) {
        if (!quiet) {
            log_refusal(r, st, &state->v, what);
        }
        return st;
    }
    if ((st = mc_binding_check(r, dc, state, !quiet, quiet)) != CLAIMS_OK) {
        return st;
    }
    state->issuer = ic;
    state->token = apr_pstrmemdup(r->pool, token, len);
    if (!state->introspected) {
        state->signed_jwt = state->token;
    }
    if (mc_on(dc->remote_user_qualified)) {
        state->user = apr_pstrcat(r->pool, state->user, "@", ic->core.iss, NULL);
    }
    return CLAIMS_OK;
}

mc_state_t *mc_lazy_state(request_rec *r)
{
    mc_state_t *state = mc_get_state(r);
    const mc_dir_conf_t *dc;
    const char *token = NULL;
    apr_size_t len = 0;
    int source = 0, dpop = 0;

    if (state != NULL || r->per_dir_config == NULL) {
        return state != NULL && !state->anonymous ? state : NULL;
    }
    /* an expression evaluated before authentication (<If>, SetEnvIfExpr): verify now, with
     * the configuration merged so far; check_authn verifies again with the final one */
    dc = mc_dir(r);
    if (dc == NULL || find_token(r, dc, &token, &len, 0, &source, &dpop) != CLAIMS_OK) {
        return NULL;  /* no body is read this early: form tokens count from check_authn on */
    }
    state = apr_pcalloc(r->pool, sizeof(*state));
    if (verify_token(r, dc, token, len, dpop, state, 1) != CLAIMS_OK) {
        return NULL;
    }
    return state;
}

/* ------------------------------------------------------------------ hooks */

static int check_authn(request_rec *r)
{
    mc_dir_conf_t *dc;
    const char *token = NULL;
    apr_size_t len = 0;
    mc_state_t *state;
    claims_status_t st;
    int source = 0, dpop = 0;

    if (!mc_is_ours(r)) {
        return DECLINED;
    }
    dc = mc_dir(r);
    state = apr_pcalloc(r->pool, sizeof(*state));
    if (mc_is_preflight(r, dc)) {
        state->anonymous = 1;
        ap_set_module_config(r->request_config, &claims_module, state);
        r->user = "";
        return OK;
    }
    st = find_token(r, dc, &token, &len, 1, &source, &dpop);
    if (st == CLAIMS_NO_TOKEN && mc_on(dc->optional)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(025) "no token: anonymous (ClaimsOptional)");
        state->anonymous = 1;
        ap_set_module_config(r->request_config, &claims_module, state);
        r->user = "";  /* httpd wants a user after authn; fixups clear it again */
        return OK;
    }
    if (st != CLAIMS_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(021) "%s", claims_status_text(st));
        mc_count(NULL, st);
        return refuse(r, st, NULL);
    }
    st = verify_token(r, dc, token, len, dpop, state, 0);
    mc_count(state->v.issuer, st);
    if (st == CLAIMS_ERR_CONFIG) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st != CLAIMS_OK) {
        return refuse(r, st, state);
    }
    ap_set_module_config(r->request_config, &claims_module, state);
    r->user = (char *)state->user;
    r->ap_auth_type = state->dpop ? "DPoP" : "Bearer";  /* AUTH_TYPE */
    if (state->nonce_renew) {
        mc_dpop_send_nonce(r);  /* its nonce is of the previous step: the next one */
    }
    if (source != MC_FROM_HEADER) {
        /* a cookie, form or query token is not an Authorization header, which every cache
         * knows not to share: say it, or mod_cache and shared caches would hand this answer
         * to the next client, with no token at all (RFC 6750 section 2.3; RFC 9111 5.2.2.7).
         * mod_cache reads err_headers_out's Cache-Control before the handler's own. */
        apr_table_setn(r->err_headers_out, "Cache-Control", "private");
        if (source == MC_FROM_COOKIE) {
            apr_table_mergen(r->err_headers_out, "Vary", "Cookie");
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MC_LOGNO(024) "token accepted: user %s, issuer %s, %s %s",
                  claims_log_escape(r->pool, state->user, strlen(state->user), 128), state->issuer->core.iss,
                  state->introspected ? "introspected" : "alg",
                  state->introspected ? (state->signed_jwt != NULL ? "(JWT answer)" : "(JSON answer)")
                                      : claims_alg_name(state->v.key->alg));
    return OK;
}

/* A token that was sent is always checked, and its identity kept, even where the Require
 * rules would admit the request without one (`Require all granted` in a <RequireAny>): httpd
 * would otherwise skip authentication. Without a token httpd's usual order stays. */
static int force_authn(request_rec *r)
{
    mc_dir_conf_t *dc;
    const char *token = NULL;
    apr_size_t len = 0;
    int source = 0, dpop = 0;
    if (!mc_is_ours(r)) {
        return DECLINED;
    }
    dc = mc_dir(r);
    if (mc_on(dc->optional) || mc_is_preflight(r, dc)) {
        return OK;
    }
    return find_token(r, dc, &token, &len, 0, &source, &dpop) != CLAIMS_NO_TOKEN ? OK : DECLINED;
}

static int note_auth_failure(request_rec *r, const char *auth_type)
{
    mc_state_t *state;
    if (auth_type == NULL || strcasecmp(auth_type, MC_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    state = mc_get_state(r);
    if (state == NULL || state->anonymous) {
        set_challenge(r, 0, NULL, NULL, NULL);
    }
    return OK;
}

/*
 * httpd answers 401 when authorization fails for a known user, unless the operator sets
 * AuthzSendForbiddenOnFailure. A bearer token that is valid but lacks a claim or scope must
 * get 403 insufficient_scope (RFC 6750 section 3.1). This hook runs first, lets mod_authz_core
 * decide (by running the auth_checker hooks again with itself stepped aside), and turns that
 * 401 into 403 only for requests whose token we verified. Providers only leave notes, so no
 * challenge can leak onto an answer that another <RequireAny> branch granted (CL-51).
 */
static int check_authz(request_rec *r)
{
    int rv;
    mc_state_t *state;
    mc_dir_conf_t *dc;

    if (!mc_is_ours(r) || apr_table_get(r->notes, MC_NOTE_IN_AUTHZ) != NULL) {
        return DECLINED;
    }
    dc = mc_dir(r);
    if (mc_is_preflight(r, dc)) {
        return OK;  /* ClaimsPreflight pass */
    }
    state = mc_get_state(r);
    if (state != NULL && state->anonymous) {
        /* ClaimsOptional without a token: httpd needs r->user set after authentication, but no
         * rule that needs a user (valid-user, user, REMOTE_USER) may be satisfied by "" */
        const char *user = r->user;
        r->user = NULL;
        apr_table_setn(r->notes, MC_NOTE_IN_AUTHZ, "1");
        rv = ap_run_auth_checker(r);
        apr_table_unset(r->notes, MC_NOTE_IN_AUTHZ);
        r->user = (char *)user;
        if (rv == HTTP_UNAUTHORIZED) {
            set_challenge(r, 0, NULL, NULL, NULL);
        }
        apr_table_unset(r->notes, MC_NOTE_SCOPES);
        apr_table_unset(r->notes, MC_NOTE_EVALUATED);
        return rv;
    }
    apr_table_setn(r->notes, MC_NOTE_IN_AUTHZ, "1");
    rv = ap_run_auth_checker(r);
    apr_table_unset(r->notes, MC_NOTE_IN_AUTHZ);
    state = mc_get_state(r);
    if (rv == OK || rv == DECLINED || state == NULL || state->anonymous) {
        apr_table_unset(r->notes, MC_NOTE_SCOPES);
        apr_table_unset(r->notes, MC_NOTE_EVALUATED);
        return rv;
    }
    if (rv == HTTP_UNAUTHORIZED || rv == HTTP_FORBIDDEN) {
        if (apr_table_get(r->notes, MC_NOTE_EVALUATED) != NULL) {
            /* the token is valid, its claims are not enough (also for `Require not claim`) */
            set_challenge(r, state->dpop, "insufficient_scope", NULL, apr_table_get(r->notes, MC_NOTE_SCOPES));
        }
        else {
            apr_table_unset(r->err_headers_out, "WWW-Authenticate");  /* e.g. Require ip */
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(030) "access denied for user %s by the Require rules",
                      claims_log_escape(r->pool, state->user, strlen(state->user), 128));
        return HTTP_FORBIDDEN;
    }
    return rv;
}

void mc_register_authn_hooks(apr_pool_t *p)
{
    ap_register_input_filter(MC_FILTER_KEPT_BODY, kept_body_filter, NULL, AP_FTYPE_RESOURCE);
    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_force_authn(force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authz(check_authz, NULL, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
}
