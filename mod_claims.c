/*
 * mod_claims.c - JWT bearer-token authentication and claims authorization for Apache httpd 2.4.
 *
 * The httpd glue: directives and their configuration records, the hooks (check_authn,
 * check_authz, note_auth_failure, fixups, post_config) and the authorization providers. It
 * translates httpd's world into calls of the core (src/, include/), which never sees httpd.
 *
 * Request flow (ARCHITECTURE.md section 3): check_authn finds and verifies the token, keeps
 * the verified claims in the request config; the Require providers decide on them; fixups
 * export the identity to the environment. Failures answer per RFC 6750 with a
 * WWW-Authenticate header and no body written by us.
 */
#include "claims.h"
#include "claims_alg.h"
#include "claims_export.h"
#include "claims_keys.h"
#include "claims_match.h"
#include "claims_path.h"
#include "claims_token.h"
#include "claims_validate.h"
#include "claims_verify.h"

#include "ap_expr.h"
#include "ap_provider.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "httpd.h"
#include "mod_auth.h"
#include "util_cfgtree.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

module AP_MODULE_DECLARE_DATA claims_module;

#define CLAIMS_AUTH_TYPE "claims"
#define NOTE_DENIED "claims-denied"          /* a Require on claims/scopes failed */
#define NOTE_SCOPES "claims-missing-scopes"  /* the scopes a failed Require scope asked for */
#define NOTE_ERROR "claims-error"            /* RFC 6750 error of the refusal */
#define NOTE_IN_AUTHZ "claims-in-authz"

/* ------------------------------------------------------------------ configuration records */

typedef struct key_spec_t {
    const char *path;
    const char *kid;
    claims_alg_t alg;
    int secret;                        /* ClaimsSecretFile */
    const char *where;
} key_spec_t;

typedef struct issuer_conf_t {
    claims_issuer_t core;              /* iss, keys, algs: what the core needs */
    apr_array_header_t *key_specs;     /* key_spec_t */
    apr_array_header_t *audiences;     /* const char *; NULL when unset */
    int audience_any;
    const char *typ;
    apr_array_header_t *required;      /* const char * */
    apr_int64_t leeway;
    const char *where;                 /* file:line of <ClaimsIssuer> */
} issuer_conf_t;

typedef struct srv_conf_t {
    apr_array_header_t *issuers;       /* issuer_conf_t * */
    issuer_conf_t *current;            /* while a <ClaimsIssuer> section is read */
} srv_conf_t;

typedef struct dir_conf_t {
    apr_array_header_t *trust;         /* issuer identifiers; NULL: all declared */
    apr_array_header_t *audiences;     /* NULL: the issuer's */
    int audience_any;
    int audience_set;
    claims_path_t *remote_user;
    int remote_user_qualified;
    int remote_user_set;
    apr_array_header_t *export_paths;  /* claims_path_t *; NULL with export_all */
    int export_all;
    int export_set;
    apr_size_t max_token;
    int max_token_set;
    const char *where;                 /* the section, for messages */
} dir_conf_t;

/* What check_authn found, kept for the providers and fixups of this request. */
typedef struct req_state_t {
    claims_verified_t v;
    const issuer_conf_t *issuer;
    const char *user;
} req_state_t;

/* A parsed `Require claim PATH VALUE...` line. */
typedef struct claim_value_t {
    claims_expected_t *expected;       /* fixed value */
    ap_expr_info_t *expr;              /* value with %{...} */
} claim_value_t;

typedef struct require_claim_t {
    claims_path_t *path;
    apr_array_header_t *values;        /* claim_value_t */
    const void *foreign;               /* the line as parsed by a provider we shadow */
    const char *error;                 /* our parse error when only the shadowed one took it */
} require_claim_t;

typedef struct require_scope_t {
    apr_array_header_t *scopes;        /* claim_value_t (string or expr) */
} require_scope_t;

static const authz_provider *shadowed_claim_provider;

/* ------------------------------------------------------------------ logging */

static void core_log(void *baton, claims_log_level_t level, const char *msg)
{
    request_rec *r = baton;
    ap_log_rerror(APLOG_MARK, (int)level, 0, r, "CLM010: %s", msg);
}

static const char *where(cmd_parms *cmd)
{
    if (cmd->directive == NULL) {
        return "(unknown)";
    }
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
}

/* ------------------------------------------------------------------ create / merge */

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->issuers = apr_array_make(p, 2, sizeof(issuer_conf_t *));
    return c;
}

static void *merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    srv_conf_t *base = basev, *add = addv;
    srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->issuers = apr_array_copy(p, add->issuers);
    /* a virtual host trusts the main server's issuers too, unless it redeclares one */
    for (int i = 0; i < base->issuers->nelts; i++) {
        issuer_conf_t *b = APR_ARRAY_IDX(base->issuers, i, issuer_conf_t *);
        int found = 0;
        for (int j = 0; j < add->issuers->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(add->issuers, j, issuer_conf_t *)->core.iss, b->core.iss) == 0) {
                found = 1;
            }
        }
        if (!found) {
            APR_ARRAY_PUSH(c->issuers, issuer_conf_t *) = b;
        }
    }
    return c;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->export_all = 1;
    c->max_token = CLAIMS_DEFAULT_MAX_TOKEN;
    c->where = dir;
    return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    dir_conf_t *base = basev, *add = addv;
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->trust = add->trust != NULL ? add->trust : base->trust;
    if (add->audience_set) {
        c->audiences = add->audiences;
        c->audience_any = add->audience_any;
        c->audience_set = 1;
    }
    else {
        c->audiences = base->audiences;
        c->audience_any = base->audience_any;
        c->audience_set = base->audience_set;
    }
    if (add->remote_user_set) {
        c->remote_user = add->remote_user;
        c->remote_user_qualified = add->remote_user_qualified;
        c->remote_user_set = 1;
    }
    else {
        c->remote_user = base->remote_user;
        c->remote_user_qualified = base->remote_user_qualified;
        c->remote_user_set = base->remote_user_set;
    }
    if (add->export_set) {
        c->export_paths = add->export_paths;
        c->export_all = add->export_all;
        c->export_set = 1;
    }
    else {
        c->export_paths = base->export_paths;
        c->export_all = base->export_all;
        c->export_set = base->export_set;
    }
    c->max_token = add->max_token_set ? add->max_token : base->max_token;
    c->max_token_set = add->max_token_set || base->max_token_set;
    c->where = add->where != NULL ? add->where : base->where;
    return c;
}

/* ------------------------------------------------------------------ issuer directives */

static issuer_conf_t *current_issuer(cmd_parms *cmd)
{
    srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &claims_module);
    return sc->current;
}

static const char *parse_int(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max,
                             apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v;
    if (arg == NULL || *arg == '\0') {
        return apr_psprintf(cmd->pool, "%s: a number is required", cmd->cmd->name);
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not a whole number between %" APR_INT64_T_FMT
                            " and %" APR_INT64_T_FMT, cmd->cmd->name, arg, min, max);
    }
    *out = v;
    return NULL;
}

static const char *parse_alg(cmd_parms *cmd, const char *name, claims_alg_t *out)
{
    claims_alg_t a = claims_alg_from_name(name, strlen(name));
    if (strcasecmp(name, "none") == 0) {
        return apr_psprintf(cmd->pool, "%s: unsigned tokens (alg none) can never be accepted",
                            cmd->cmd->name);
    }
    if (a == CLAIMS_ALG_UNKNOWN) {
        return apr_psprintf(cmd->pool, "%s: unknown JWS algorithm \"%s\" (RS256, RS384, RS512, PS256, "
                            "PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, Ed448, HS256, HS384, "
                            "HS512)", cmd->cmd->name, name);
    }
    *out = a;
    return NULL;
}

static const char *load_issuer_keys(cmd_parms *cmd, issuer_conf_t *ic)
{
    ic->core.keys = apr_array_make(cmd->pool, 4, sizeof(claims_key_t *));
    for (int i = 0; i < ic->key_specs->nelts; i++) {
        key_spec_t *ks = &APR_ARRAY_IDX(ic->key_specs, i, key_spec_t);
        char *err = NULL;
        claims_status_t st;
        if (ks->secret) {
            claims_key_t *k = NULL;
            st = claims_key_secret_file(cmd->pool, ks->path, ks->alg, ks->kid, &k, &err);
            if (st == CLAIMS_OK && ic->core.algs != 0 && !claims_alg_set_allows(ic->core.algs, k->alg, k->alg)) {
                st = CLAIMS_ERR_KEY;
                err = apr_psprintf(cmd->pool, "%s: %s is not in ClaimsAlgorithms", ks->path,
                                   claims_alg_name(k->alg));
            }
            if (st == CLAIMS_OK) {
                APR_ARRAY_PUSH(ic->core.keys, claims_key_t *) = k;
            }
        }
        else {
            claims_key_opts_t opts = {0};
            opts.kid = ks->kid;
            opts.alg = ks->alg;
            opts.allowed = ic->core.algs;
            st = claims_keys_load_file(cmd->pool, ks->path, &opts, ic->core.keys, &err);
        }
        if (st != CLAIMS_OK) {
            return apr_psprintf(cmd->pool, "%s (%s): %s", ks->secret ? "ClaimsSecretFile" : "ClaimsKeyFile",
                                ks->where, err != NULL ? err : claims_status_text(st));
        }
    }
    if (ic->core.keys->nelts == 0) {
        return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> (%s) has no keys: add ClaimsKeyFile or "
                            "ClaimsSecretFile", ic->core.iss, ic->where);
    }
    {
        char *err = NULL;
        if (claims_keys_check_set(cmd->pool, ic->core.keys, &err) != CLAIMS_OK) {
            return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> (%s): %s", ic->core.iss, ic->where, err);
        }
    }
    return NULL;
}

static const char *issuer_section(cmd_parms *cmd, void *mconfig, const char *arg)
{
    srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &claims_module);
    const char *endp = ap_strrchr_c(arg, '>');
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    issuer_conf_t *ic;
    char *iss;

    if (err != NULL) {
        return err;
    }
    if (endp == NULL) {
        return "<ClaimsIssuer> directive missing closing '>'";
    }
    if (sc->current != NULL) {
        return "<ClaimsIssuer> sections cannot be nested";
    }
    iss = apr_pstrndup(cmd->temp_pool, arg, (apr_size_t)(endp - arg));
    iss = ap_getword_conf(cmd->pool, (const char **)&iss);
    if (*iss == '\0') {
        return "<ClaimsIssuer> needs the issuer identifier (the exact \"iss\" value)";
    }
    for (int i = 0; i < sc->issuers->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(sc->issuers, i, issuer_conf_t *)->core.iss, iss) == 0) {
            return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> is declared twice", iss);
        }
    }
    ic = apr_pcalloc(cmd->pool, sizeof(*ic));
    ic->core.iss = iss;
    ic->key_specs = apr_array_make(cmd->pool, 2, sizeof(key_spec_t));
    ic->leeway = CLAIMS_DEFAULT_LEEWAY;
    ic->where = where(cmd);

    sc->current = ic;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    sc->current = NULL;
    if (err != NULL) {
        return err;
    }
    if ((err = load_issuer_keys(cmd, ic)) != NULL) {
        return err;
    }
    APR_ARRAY_PUSH(sc->issuers, issuer_conf_t *) = ic;
    return NULL;
}

static const char *need_issuer(cmd_parms *cmd, issuer_conf_t **ic)
{
    *ic = current_issuer(cmd);
    if (*ic == NULL) {
        return apr_psprintf(cmd->pool, "%s is only allowed inside <ClaimsIssuer>", cmd->cmd->name);
    }
    return NULL;
}

/* ClaimsKeyFile PATH [kid=KID] [alg=ALG]; ClaimsSecretFile PATH alg=HS256 [kid=KID] */
static const char *set_key_file(cmd_parms *cmd, void *mconfig, const char *path, const char *a2,
                                 const char *a3)
{
    issuer_conf_t *ic;
    const char *err = need_issuer(cmd, &ic);
    key_spec_t *ks;
    const char *opts[2] = {a2, a3};

    if (err != NULL) {
        return err;
    }
    ks = apr_array_push(ic->key_specs);
    memset(ks, 0, sizeof(*ks));
    ks->secret = cmd->info != NULL;
    ks->where = where(cmd);
    ks->path = ap_server_root_relative(cmd->pool, path);
    if (ks->path == NULL || *path == '\0') {
        return apr_psprintf(cmd->pool, "%s: invalid file path \"%s\"", cmd->cmd->name, path);
    }
    for (int i = 0; i < 2; i++) {
        if (opts[i] == NULL) {
            continue;
        }
        if (strncmp(opts[i], "kid=", 4) == 0 && opts[i][4] != '\0') {
            ks->kid = apr_pstrdup(cmd->pool, opts[i] + 4);
        }
        else if (strncmp(opts[i], "alg=", 4) == 0) {
            if ((err = parse_alg(cmd, opts[i] + 4, &ks->alg)) != NULL) {
                return err;
            }
        }
        else {
            return apr_psprintf(cmd->pool, "%s: unknown option \"%s\" (kid=KID or alg=ALG)",
                                cmd->cmd->name, opts[i]);
        }
    }
    if (ks->secret && claims_alg_info(ks->alg)->family != CLAIMS_FAMILY_HMAC) {
        return "ClaimsSecretFile needs alg=HS256, alg=HS384 or alg=HS512";
    }
    if (!ks->secret && claims_alg_info(ks->alg)->family == CLAIMS_FAMILY_HMAC) {
        return "ClaimsKeyFile takes public keys only; HMAC secrets come from ClaimsSecretFile";
    }
    return NULL;
}

static const char *set_algorithms(cmd_parms *cmd, void *mconfig, const char *arg)
{
    issuer_conf_t *ic;
    claims_alg_t a = CLAIMS_ALG_UNKNOWN;
    const char *err = need_issuer(cmd, &ic);
    if (err == NULL) {
        err = parse_alg(cmd, arg, &a);
    }
    if (err != NULL) {
        return err;
    }
    ic->core.algs |= CLAIMS_ALG_BIT(a);
    return NULL;
}

static const char *add_audience(cmd_parms *cmd, apr_array_header_t **list, int *any, const char *arg)
{
    if (*arg == '\0') {
        return "ClaimsAudience: an empty audience is never accepted";
    }
    if (strcasecmp(arg, "any") == 0) {
        *any = 1;
        return NULL;
    }
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = arg;
    return NULL;
}

/* ClaimsAudience: inside <ClaimsIssuer> the issuer's default, elsewhere this location's. */
static const char *set_audience(cmd_parms *cmd, void *mconfig, const char *arg)
{
    issuer_conf_t *ic = current_issuer(cmd);
    const char *err;
    if (ic != NULL) {
        err = add_audience(cmd, &ic->audiences, &ic->audience_any, arg);
        if (err == NULL && ic->audience_any && ic->audiences != NULL) {
            return "ClaimsAudience: \"any\" cannot be combined with audiences";
        }
        return err;
    }
    {
        dir_conf_t *dc = mconfig;
        if (!dc->audience_set) {
            dc->audiences = NULL;
            dc->audience_any = 0;
        }
        dc->audience_set = 1;
        err = add_audience(cmd, &dc->audiences, &dc->audience_any, arg);
        if (err == NULL && dc->audience_any && dc->audiences != NULL) {
            return "ClaimsAudience: \"any\" cannot be combined with audiences";
        }
        return err;
    }
}

static const char *set_token_type(cmd_parms *cmd, void *mconfig, const char *arg)
{
    issuer_conf_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    for (const char *c = arg; *c; c++) {
        if (!apr_isgraph(*c)) {
            return "ClaimsTokenType: the type must be a single printable word such as at+jwt";
        }
    }
    if (*arg == '\0') {
        return "ClaimsTokenType: the type must not be empty";
    }
    ic->typ = arg;
    return NULL;
}

static const char *set_required_claims(cmd_parms *cmd, void *mconfig, const char *arg)
{
    issuer_conf_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    if (*arg == '\0') {
        return "ClaimsRequiredClaims: empty claim name";
    }
    if (ic->required == NULL) {
        ic->required = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(ic->required, const char *) = arg;
    return NULL;
}

static const char *set_leeway(cmd_parms *cmd, void *mconfig, const char *arg)
{
    issuer_conf_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    return parse_int(cmd, arg, 0, 600, &ic->leeway);
}

/* ------------------------------------------------------------------ per-directory directives */

static const char *set_trust(cmd_parms *cmd, void *mconfig, const char *arg)
{
    dir_conf_t *dc = mconfig;
    if (*arg == '\0') {
        return "ClaimsTrust: empty issuer";
    }
    if (dc->trust == NULL) {
        dc->trust = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(dc->trust, const char *) = arg;
    return NULL;
}

static const char *set_remote_user(cmd_parms *cmd, void *mconfig, const char *path, const char *mode)
{
    dir_conf_t *dc = mconfig;
    char *err = NULL;
    dc->remote_user = claims_path_compile(cmd->pool, path, &err);
    if (dc->remote_user == NULL) {
        return apr_psprintf(cmd->pool, "ClaimsRemoteUser: %s", err);
    }
    dc->remote_user_qualified = 0;
    if (mode != NULL) {
        if (strcasecmp(mode, "issuer-qualified") != 0) {
            return apr_psprintf(cmd->pool, "ClaimsRemoteUser: unknown option \"%s\" (issuer-qualified)", mode);
        }
        dc->remote_user_qualified = 1;
    }
    dc->remote_user_set = 1;
    return NULL;
}

static const char *set_export(cmd_parms *cmd, void *mconfig, const char *arg)
{
    dir_conf_t *dc = mconfig;
    char *err = NULL;
    claims_path_t *path;
    if (!dc->export_set) {
        dc->export_paths = NULL;
        dc->export_all = 0;
    }
    dc->export_set = 1;
    if (strcasecmp(arg, "all") == 0 || strcasecmp(arg, "none") == 0) {
        if (dc->export_paths != NULL || dc->export_all) {
            return "ClaimsExport: \"all\" and \"none\" stand alone";
        }
        dc->export_all = strcasecmp(arg, "all") == 0;
        dc->export_paths = dc->export_all ? NULL : apr_array_make(cmd->pool, 1, sizeof(claims_path_t *));
        return NULL;
    }
    if (dc->export_all) {
        return "ClaimsExport: \"all\" and \"none\" stand alone";
    }
    path = claims_path_compile(cmd->pool, arg, &err);
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "ClaimsExport: %s", err);
    }
    if (dc->export_paths == NULL) {
        dc->export_paths = apr_array_make(cmd->pool, 4, sizeof(claims_path_t *));
    }
    APR_ARRAY_PUSH(dc->export_paths, claims_path_t *) = path;
    return NULL;
}

static const char *set_max_token(cmd_parms *cmd, void *mconfig, const char *arg)
{
    dir_conf_t *dc = mconfig;
    apr_int64_t v = 0;
    const char *err = parse_int(cmd, arg, 512, 65536, &v);
    if (err != NULL) {
        return err;
    }
    dc->max_token = (apr_size_t)v;
    dc->max_token_set = 1;
    return NULL;
}

static const command_rec claims_cmds[] = {
    AP_INIT_RAW_ARGS("<ClaimsIssuer", issuer_section, NULL, RSRC_CONF,
                     "A trusted token issuer: <ClaimsIssuer exact-iss-value> ... </ClaimsIssuer>"),
    AP_INIT_TAKE123("ClaimsKeyFile", set_key_file, NULL, RSRC_CONF,
                    "Public key file (JWK, JWK Set, PEM or X.509) [kid=KID] [alg=ALG]"),
    AP_INIT_TAKE123("ClaimsSecretFile", set_key_file, (void *)"secret", RSRC_CONF,
                    "HMAC secret file (raw bytes) alg=HS256|HS384|HS512 [kid=KID]"),
    AP_INIT_ITERATE("ClaimsAlgorithms", set_algorithms, NULL, RSRC_CONF,
                    "JWS algorithms accepted from this issuer"),
    AP_INIT_ITERATE("ClaimsAudience", set_audience, NULL, RSRC_CONF | OR_AUTHCFG,
                    "Accepted audiences (aud), or 'any' to skip the audience check"),
    AP_INIT_TAKE1("ClaimsTokenType", set_token_type, NULL, RSRC_CONF,
                  "Required JWS typ, e.g. at+jwt (RFC 9068)"),
    AP_INIT_ITERATE("ClaimsRequiredClaims", set_required_claims, NULL, RSRC_CONF,
                    "Claims every token of this issuer must carry"),
    AP_INIT_TAKE1("ClaimsLeeway", set_leeway, NULL, RSRC_CONF,
                  "Clock skew tolerated on exp/nbf/iat, seconds (default 60)"),
    AP_INIT_ITERATE("ClaimsTrust", set_trust, NULL, OR_AUTHCFG,
                    "Issuers accepted here (default: every declared issuer)"),
    AP_INIT_TAKE12("ClaimsRemoteUser", set_remote_user, NULL, OR_AUTHCFG,
                   "Claim that becomes REMOTE_USER (default sub) [issuer-qualified]"),
    AP_INIT_ITERATE("ClaimsExport", set_export, NULL, OR_AUTHCFG,
                    "Claims exported as CLAIM_* variables: all (default), none, or claim paths"),
    AP_INIT_TAKE1("ClaimsMaxTokenSize", set_max_token, NULL, OR_AUTHCFG,
                  "Largest accepted token in bytes (default 8192)"),
    {NULL}
};

/* ------------------------------------------------------------------ request state */

static req_state_t *get_state(request_rec *r)
{
    /* sub-requests and internal redirects see what their parent verified */
    for (request_rec *q = r; q != NULL; q = q->main != NULL ? q->main : q->prev) {
        req_state_t *st = ap_get_module_config(q->request_config, &claims_module);
        if (st != NULL) {
            return st;
        }
    }
    return NULL;
}

static int is_ours(request_rec *r)
{
    const char *t = ap_auth_type(r);
    return t != NULL && strcasecmp(t, CLAIMS_AUTH_TYPE) == 0;
}

/* ------------------------------------------------------------------ responses */

static const char *realm(request_rec *r)
{
    const char *name = ap_auth_name(r);
    return name != NULL ? name : "";
}

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

static void set_challenge(request_rec *r, const char *error, const char *desc, const char *scope)
{
    const char *v = apr_psprintf(r->pool, "Bearer realm=\"%s\"", quoted(r, realm(r)));
    if (error != NULL) {
        v = apr_psprintf(r->pool, "%s, error=\"%s\"", v, error);
    }
    if (desc != NULL) {
        v = apr_psprintf(r->pool, "%s, error_description=\"%s\"", v, desc);
    }
    if (scope != NULL && *scope != '\0') {
        v = apr_psprintf(r->pool, "%s, scope=\"%s\"", v, quoted(r, scope));
    }
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", v);
}

static int refuse(request_rec *r, claims_status_t st)
{
    switch (claims_status_class(st)) {
    case CLAIMS_CLASS_NO_TOKEN:
        set_challenge(r, NULL, NULL, NULL);
        return HTTP_UNAUTHORIZED;
    case CLAIMS_CLASS_INVALID_REQUEST:
        set_challenge(r, "invalid_request", claims_status_text(st), NULL);
        return HTTP_BAD_REQUEST;
    case CLAIMS_CLASS_INVALID_TOKEN:
        set_challenge(r, "invalid_token", claims_status_text(st), NULL);
        return HTTP_UNAUTHORIZED;
    default:
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* ------------------------------------------------------------------ authentication */

static int trusted_issuers(request_rec *r, const srv_conf_t *sc, const dir_conf_t *dc,
                           const claims_issuer_t **out, int max)
{
    int n = 0;
    for (int i = 0; i < sc->issuers->nelts && n < max; i++) {
        const issuer_conf_t *ic = APR_ARRAY_IDX(sc->issuers, i, const issuer_conf_t *);
        int ok = dc->trust == NULL;
        for (int j = 0; !ok && j < dc->trust->nelts; j++) {
            ok = strcmp(APR_ARRAY_IDX(dc->trust, j, const char *), ic->core.iss) == 0;
        }
        if (ok) {
            out[n++] = &ic->core;
        }
    }
    return n;
}

static void log_refusal(request_rec *r, claims_status_t st, const claims_verified_t *v, const char *what)
{
    const char *kid = "-";
    if (v->jws != NULL && v->jws->kid != NULL) {
        kid = claims_log_escape(r->pool, v->jws->kid, v->jws->kid_len, 64);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "CLM020: token refused: %s (%s)%s%s; issuer %s, kid %s, alg %s",
                  claims_status_name(st), claims_status_text(st),
                  what != NULL ? " on claim " : "", what != NULL ? what : "",
                  v->issuer != NULL ? v->issuer->iss : "-", kid,
                  v->jws != NULL ? claims_alg_name(v->jws->alg) : "-");
}

static int check_authn(request_rec *r)
{
    srv_conf_t *sc;
    dir_conf_t *dc;
    const char *auth, *token = NULL, *what = NULL;
    apr_size_t len = 0;
    const claims_issuer_t *trusted[64];
    int ntrusted;
    req_state_t *state;
    claims_policy_t pol;
    claims_status_t st;
    const issuer_conf_t *ic;

    if (!is_ours(r)) {
        return DECLINED;
    }
    sc = ap_get_module_config(r->server->module_config, &claims_module);
    dc = ap_get_module_config(r->per_dir_config, &claims_module);

    auth = apr_table_get(r->headers_in, "Authorization");
    st = claims_token_from_authorization(auth, &token, &len);
    if (st != CLAIMS_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CLM021: %s", claims_status_text(st));
        apr_table_setn(r->notes, NOTE_ERROR, claims_status_name(st));
        return refuse(r, st);
    }
    ntrusted = trusted_issuers(r, sc, dc, trusted, 64);
    if (ntrusted == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CLM022: no trusted issuer for this location "
                      "(check <ClaimsIssuer> and ClaimsTrust)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    state = apr_pcalloc(r->pool, sizeof(*state));
    st = claims_verify(r->pool, token, len, dc->max_token, trusted, ntrusted, &state->v);
    if (st != CLAIMS_OK) {
        log_refusal(r, st, &state->v, NULL);
        return refuse(r, st);
    }
    ic = (const issuer_conf_t *)state->v.issuer;  /* core is the first member */
    memset(&pol, 0, sizeof(pol));
    pol.issuer = ic->core.iss;
    pol.leeway = ic->leeway;
    pol.typ = ic->typ;
    pol.required = ic->required;
    if (dc->audience_set) {
        pol.audiences = dc->audiences;
        pol.audience_any = dc->audience_any;
    }
    else {
        pol.audiences = ic->audiences;
        pol.audience_any = ic->audience_any;
    }
    if (!pol.audience_any && pol.audiences == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CLM023: no audience configured for this location "
                      "or issuer %s: set ClaimsAudience (or ClaimsAudience any)", ic->core.iss);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    st = claims_validate(state->v.claims, state->v.jws->typ, &pol,
                         (double)apr_time_now() / (double)APR_USEC_PER_SEC, &what);
    if (st == CLAIMS_OK) {
        claims_path_t sub = {"sub", 0, NULL};
        st = claims_remote_user(r->pool, state->v.claims, dc->remote_user != NULL ? dc->remote_user : &sub,
                                &state->user);
        what = dc->remote_user != NULL ? dc->remote_user->text : "sub";
    }
    if (st != CLAIMS_OK) {
        log_refusal(r, st, &state->v, what);
        return refuse(r, st);
    }
    state->issuer = ic;
    if (dc->remote_user_qualified) {
        state->user = apr_pstrcat(r->pool, state->user, "@", ic->core.iss, NULL);
    }
    ap_set_module_config(r->request_config, &claims_module, state);
    r->user = (char *)state->user;
    r->ap_auth_type = "Bearer";
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CLM024: token accepted: user %s, issuer %s, alg %s",
                  claims_log_escape(r->pool, state->user, strlen(state->user), 128), ic->core.iss,
                  claims_alg_name(state->v.key->alg));
    return OK;
}

/* Our challenge when httpd's authorization sends 401 for our auth type. */
static int note_auth_failure(request_rec *r, const char *auth_type)
{
    if (auth_type == NULL || strcasecmp(auth_type, CLAIMS_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    if (get_state(r) == NULL) {
        set_challenge(r, NULL, NULL, NULL);
    }
    return OK;
}

/*
 * httpd answers 401 when authorization fails for a known user, unless the operator sets
 * AuthzSendForbiddenOnFailure. A bearer token that is valid but lacks a claim or scope must
 * get 403 insufficient_scope (RFC 6750 section 3.1). This hook runs first, lets mod_authz_core
 * decide (by running the auth_checker hooks again, with itself stepped aside), and turns that
 * 401 into 403 only for requests whose token we verified.
 */
static int check_authz(request_rec *r)
{
    int rv;
    req_state_t *state;
    if (!is_ours(r) || apr_table_get(r->notes, NOTE_IN_AUTHZ) != NULL) {
        return DECLINED;
    }
    apr_table_setn(r->notes, NOTE_IN_AUTHZ, "1");
    rv = ap_run_auth_checker(r);
    apr_table_unset(r->notes, NOTE_IN_AUTHZ);
    state = get_state(r);
    if (rv == OK || rv == DECLINED || state == NULL) {
        apr_table_unset(r->notes, NOTE_DENIED);
        return rv;
    }
    if (rv == HTTP_UNAUTHORIZED || rv == HTTP_FORBIDDEN) {
        if (apr_table_get(r->notes, NOTE_DENIED) != NULL) {
            set_challenge(r, "insufficient_scope", NULL, apr_table_get(r->notes, NOTE_SCOPES));
        }
        else {
            apr_table_unset(r->err_headers_out, "WWW-Authenticate");
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "CLM030: access denied for user %s by the Require rules",
                      claims_log_escape(r->pool, state->user, strlen(state->user), 128));
        return HTTP_FORBIDDEN;
    }
    return rv;
}

/* ------------------------------------------------------------------ authorization providers */

static const char *parse_values(cmd_parms *cmd, const char **line, apr_array_header_t *values)
{
    const char *w;
    while (*(w = ap_getword_conf(cmd->pool, line)) != '\0') {
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
    return NULL;
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
        *e = claims_expected_parse(r->pool, s);
    }
    return NULL;
}

static const char *parse_claim_line(cmd_parms *cmd, const char *line, const void **parsed)
{
    require_claim_t *rc = apr_pcalloc(cmd->pool, sizeof(*rc));
    const char *p = line, *err = NULL;
    const char *path = ap_getword_conf(cmd->pool, &p);
    char *perr = NULL;

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
    else if ((err = parse_values(cmd, &p, rc->values)) == NULL && rc->values->nelts == 0) {
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
    req_state_t *state;
    json_t *v;

    if (!is_ours(r) && shadowed_claim_provider != NULL) {
        return shadowed_claim_provider->check_authorization(r, line, rc->foreign);
    }
    state = get_state(r);
    if (state == NULL || r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (rc->error != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CLM031: %s", rc->error);
        return AUTHZ_GENERAL_ERROR;
    }
    v = claims_path_lookup(state->v.claims, rc->path);
    for (int i = 0; v != NULL && i < rc->values->nelts; i++) {
        claims_expected_t *e = NULL;
        const char *err = claim_value_str(r, &APR_ARRAY_IDX(rc->values, i, claim_value_t), &e);
        if (err != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CLM032: Require claim %s: %s", rc->path->text, err);
            return AUTHZ_GENERAL_ERROR;
        }
        if (claims_match(v, e)) {
            return AUTHZ_GRANTED;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CLM033: Require claim %s not satisfied",
                  rc->path->text);
    apr_table_setn(r->notes, NOTE_DENIED, "claim");
    return AUTHZ_DENIED;
}

static const char *parse_scope_line(cmd_parms *cmd, const char *line, const void **parsed)
{
    require_scope_t *rs = apr_pcalloc(cmd->pool, sizeof(*rs));
    const char *p = line, *err;
    rs->scopes = apr_array_make(cmd->pool, 2, sizeof(claim_value_t));
    if ((err = parse_values(cmd, &p, rs->scopes)) != NULL) {
        return apr_pstrcat(cmd->pool, "Require scope: ", err, NULL);
    }
    if (rs->scopes->nelts == 0) {
        return "Require scope: needs at least one scope";
    }
    for (int i = 0; i < rs->scopes->nelts; i++) {
        const claim_value_t *cv = &APR_ARRAY_IDX(rs->scopes, i, claim_value_t);
        if (cv->expected != NULL && (cv->expected->literal != NULL || cv->expected->len == 0
                                     || strchr(cv->expected->str, ' ') != NULL)) {
            /* scopes are strings: a typed literal is taken by its text */
            if (cv->expected->literal != NULL) {
                continue;
            }
            return "Require scope: a scope is a single non-empty word";
        }
    }
    *parsed = rs;
    return NULL;
}

static authz_status scope_check(request_rec *r, const char *line, const void *parsed)
{
    const require_scope_t *rs = parsed;
    req_state_t *state = get_state(r);
    if (state == NULL || r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    for (int i = 0; i < rs->scopes->nelts; i++) {
        const claim_value_t *cv = &APR_ARRAY_IDX(rs->scopes, i, claim_value_t);
        const char *scope;
        if (cv->expr != NULL) {
            const char *err = NULL;
            scope = ap_expr_str_exec(r, cv->expr, &err);
            if (err != NULL || scope == NULL) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CLM034: Require scope: %s",
                              err != NULL ? err : "expression failed");
                return AUTHZ_GENERAL_ERROR;
            }
        }
        else if (cv->expected->literal != NULL) {
            scope = claims_value_text(r->pool, cv->expected->literal);
        }
        else {
            scope = cv->expected->str;
        }
        if (!claims_has_scope(state->v.claims, scope, strlen(scope))) {
            const char *all = NULL;
            for (int j = 0; j < rs->scopes->nelts; j++) {
                const claim_value_t *c2 = &APR_ARRAY_IDX(rs->scopes, j, claim_value_t);
                const char *s = c2->expected != NULL && c2->expected->literal == NULL ? c2->expected->str : NULL;
                if (s != NULL) {
                    all = all != NULL ? apr_pstrcat(r->pool, all, " ", s, NULL) : s;
                }
            }
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CLM035: Require scope: scope %s missing",
                          claims_log_escape(r->pool, scope, strlen(scope), 64));
            apr_table_setn(r->notes, NOTE_DENIED, "scope");
            if (all != NULL) {
                apr_table_setn(r->notes, NOTE_SCOPES, all);
            }
            return AUTHZ_DENIED;
        }
    }
    return AUTHZ_GRANTED;
}

static const authz_provider claim_provider = {claim_check, parse_claim_line};
static const authz_provider scope_provider = {scope_check, parse_scope_line};

/* ------------------------------------------------------------------ identity to the environment */

static int fixups(request_rec *r)
{
    req_state_t *state;
    dir_conf_t *dc;
    char *json;
    claims_logger_t log = {core_log, r};

    if (!is_ours(r)) {
        return DECLINED;
    }
    state = get_state(r);
    if (state == NULL) {
        return DECLINED;
    }
    dc = ap_get_module_config(r->per_dir_config, &claims_module);
    if (dc->export_all || dc->export_paths == NULL) {
        claims_export_env(r->pool, state->v.claims, NULL, CLAIMS_DEFAULT_ENV_PREFIX, r->subprocess_env, &log);
    }
    else {
        claims_export_env(r->pool, state->v.claims, dc->export_paths, CLAIMS_DEFAULT_ENV_PREFIX,
                          r->subprocess_env, &log);
    }
    json = json_dumps(state->v.claims, JSON_COMPACT);
    if (json != NULL) {
        apr_table_set(r->subprocess_env, "CLAIMS_JSON", json);
        free(json);
    }
    apr_table_setn(r->subprocess_env, "CLAIMS_ISSUER", state->issuer->core.iss);
    return OK;
}

/* ------------------------------------------------------------------ start-up checks */

static int section_sets(const ap_directive_t *sec, const char *name)
{
    for (const ap_directive_t *d = sec->first_child; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static int uses_claims(apr_pool_t *p, const ap_directive_t *sec)
{
    for (const ap_directive_t *d = sec->first_child; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "AuthType") == 0 && d->args != NULL) {
            const char *a = d->args;
            char *w = ap_getword_conf(p, &a);
            if (strcasecmp(w, CLAIMS_AUTH_TYPE) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static int all_issuers_have_audience(const srv_conf_t *sc)
{
    for (int i = 0; i < sc->issuers->nelts; i++) {
        const issuer_conf_t *ic = APR_ARRAY_IDX(sc->issuers, i, const issuer_conf_t *);
        if (ic->audiences == NULL && !ic->audience_any) {
            return 0;
        }
    }
    return 1;
}

/* CL-72: a protected section needs an audience: its own, an enclosing section's, that of an
 * outer section whose path is a prefix of its own, or every issuer's default. */
static const char *check_audiences(apr_pool_t *p, const ap_directive_t *node, const ap_directive_t *outer,
                                   const srv_conf_t *sc)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        if (d->first_child == NULL) {
            continue;
        }
        if (strcasecmp(d->directive, "<VirtualHost") == 0 || strcasecmp(d->directive, "<IfModule") == 0
            || strcasecmp(d->directive, "<IfDefine") == 0 || strcasecmp(d->directive, "<IfVersion") == 0) {
            const char *err = check_audiences(p, d->first_child, d, sc);
            if (err != NULL) {
                return err;
            }
            continue;
        }
        if (!uses_claims(p, d) || section_sets(d, "ClaimsAudience") || all_issuers_have_audience(sc)) {
            continue;
        }
        {
            int found = 0;
            for (const ap_directive_t *o = outer != NULL ? outer->first_child : ap_conftree;
                 o != NULL && !found; o = o->next) {
                if (o != d && o->first_child != NULL && section_sets(o, "ClaimsAudience")
                    && strcasecmp(o->directive, d->directive) == 0 && o->args != NULL && d->args != NULL) {
                    const char *oa = o->args, *da = d->args;
                    char *ow = ap_getword_conf(p, &oa), *dw = ap_getword_conf(p, &da);
                    found = strncmp(dw, ow, strlen(ow)) == 0;
                }
            }
            if (outer != NULL && section_sets(outer, "ClaimsAudience")) {
                found = 1;
            }
            if (!found) {
                return apr_psprintf(p, "%s:%d: %s%s> uses AuthType claims but no audience is configured: "
                                    "set ClaimsAudience (or ClaimsAudience any to accept every audience)",
                                    d->filename, d->line_num, d->directive, d->args);
            }
        }
    }
    return NULL;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    srv_conf_t *sc = ap_get_module_config(s->module_config, &claims_module);
    const char *err;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    err = check_audiences(ptemp, ap_conftree, NULL, sc);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "CLM001: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (server_rec *v = s; v != NULL; v = v->next) {
        srv_conf_t *vc = ap_get_module_config(v->module_config, &claims_module);
        for (int i = 0; i < vc->issuers->nelts; i++) {
            const issuer_conf_t *ic = APR_ARRAY_IDX(vc->issuers, i, const issuer_conf_t *);
            if (v == s || vc->issuers != sc->issuers) {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, v, "CLM002: issuer %s: %d key(s) loaded",
                             ic->core.iss, ic->core.keys->nelts);
            }
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "CLM000: mod_claims/%s loaded (%d issuer(s))",
                 CLAIMS_VERSION, sc->issuers->nelts);
    return OK;
}

/* ------------------------------------------------------------------ registration */

static void register_hooks(apr_pool_t *p)
{
    /* mod_auth_openidc also names a provider "claim"; when it is loaded first, ours shadows it
     * and hands every request whose AuthType is not ours back to it. */
    shadowed_claim_provider = ap_lookup_provider(AUTHZ_PROVIDER_GROUP, "claim", AUTHZ_PROVIDER_VERSION);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claim", AUTHZ_PROVIDER_VERSION, &claim_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claims-claim", AUTHZ_PROVIDER_VERSION,
                              &claim_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "scope", AUTHZ_PROVIDER_VERSION, &scope_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claims-scope", AUTHZ_PROVIDER_VERSION,
                              &scope_provider, AP_AUTH_INTERNAL_PER_CONF);

    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(check_authz, NULL, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(claims) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_srv_conf,
    merge_srv_conf,
    claims_cmds,
    register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE
#endif
};
