/*
 * mod_claims.c - JWT bearer-token authentication and claims authorization for Apache httpd 2.4.
 *
 * The module record, the directives and their configuration records (create, merge, setters),
 * the start-up checks, and hook registration. The request path lives beside it:
 *   mod_claims_authn.c     finding and verifying the token, RFC 6750 answers (check_authn,
 *                          check_authz, note_auth_failure)
 *   mod_claims_authz.c     the Require providers (claim, scope)
 *   mod_claims_identity.c  identity to CGI/handlers (environment) and backends (headers),
 *                          header scrubbing, the ap_expr functions claim() and claims()
 *   mod_claims_remote.c    remote key sets (JWKS, discovery), shared between children
 *   mod_claims_status.c    the claims-status handler and the counters behind it
 * The verification itself is the core's (src/, include/), which never sees httpd.
 */
#include "mod_claims.h"

#include "http_core.h"
#include "http_log.h"
#include "util_cfgtree.h"

#include <apr_lib.h>
#include <openssl/crypto.h>
#include <apr_strings.h>
#include <errno.h>
#include <string.h>

void mc_core_log(void *baton, claims_log_level_t level, const char *msg)
{
    request_rec *r = baton;
    ap_log_rerror(APLOG_MARK, (int)level, 0, r, "CLM010: %s", msg);
}

void mc_core_log_server(void *baton, claims_log_level_t level, const char *msg)
{
    server_rec *s = baton;
    ap_log_error(APLOG_MARK, (int)level, 0, s, "CLM011: %s", msg);
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
    mc_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->cache = CLAIMS_UNSET;
    c->issuers = apr_array_make(p, 2, sizeof(mc_issuer_t *));
    return c;
}

static apr_array_header_t *concat_names(apr_pool_t *p, const apr_array_header_t *a, const apr_array_header_t *b)
{
    if (a == NULL || b == NULL) {
        return (apr_array_header_t *)(a != NULL ? a : b);
    }
    return apr_array_append(p, a, b);
}

/* Remembers a header name or prefix for the server-wide scrub (mod_claims_identity.c). Not from
 * .htaccess files, read per request: their sections scrub per directory only. */
static void note_scrub_name(cmd_parms *cmd, const char *norm, int prefix)
{
    mc_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &claims_module);
    apr_array_header_t **list = prefix ? &sc->scrub_prefixes : &sc->scrub_names;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM) {
        return;
    }
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = norm;
}

static void *merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    mc_srv_conf_t *base = basev, *add = addv;
    mc_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    *c = *base;  /* the cache and key cache settings are the main server's (GLOBAL_ONLY) */
    c->current = NULL;
    /* the main server's sections apply inside a virtual host too */
    c->scrub_names = concat_names(p, base->scrub_names, add->scrub_names);
    c->scrub_prefixes = concat_names(p, base->scrub_prefixes, add->scrub_prefixes);
    c->issuers = apr_array_copy(p, add->issuers);
    /* a virtual host trusts the main server's issuers too, unless it redeclares one */
    for (int i = 0; i < base->issuers->nelts; i++) {
        mc_issuer_t *b = APR_ARRAY_IDX(base->issuers, i, mc_issuer_t *);
        int found = 0;
        for (int j = 0; j < add->issuers->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(add->issuers, j, mc_issuer_t *)->core.iss, b->core.iss) == 0) {
                found = 1;
            }
        }
        if (!found) {
            APR_ARRAY_PUSH(c->issuers, mc_issuer_t *) = b;
        }
    }
    return c;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    mc_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->token_from = CLAIMS_UNSET;
    c->header_encoding = CLAIMS_UNSET;
    c->forward_token = CLAIMS_UNSET;
    c->optional = CLAIMS_UNSET;
    c->preflight_pass = CLAIMS_UNSET;
    return c;
}

/* A nested section keeps its parent's claim headers (so they are still scrubbed and set)
 * and adds its own; a header it names again takes its new claim. */
static apr_array_header_t *merge_headers(apr_pool_t *p, apr_array_header_t *base, apr_array_header_t *add)
{
    apr_array_header_t *out;
    if (base == NULL || add == NULL) {
        return add != NULL ? add : base;
    }
    out = apr_array_make(p, base->nelts + add->nelts, sizeof(mc_header_t));
    for (int i = 0; i < base->nelts; i++) {
        const mc_header_t *b = &APR_ARRAY_IDX(base, i, mc_header_t);
        int replaced = 0;
        for (int j = 0; j < add->nelts && !replaced; j++) {
            replaced = strcmp(APR_ARRAY_IDX(add, j, mc_header_t).norm, b->norm) == 0;
        }
        if (!replaced) {
            *(mc_header_t *)apr_array_push(out) = *b;
        }
    }
    apr_array_cat(out, add);
    return out;
}

#define MERGE_INT(f) c->f = add->f != CLAIMS_UNSET ? add->f : base->f
#define MERGE_PTR(f) c->f = add->f != NULL ? add->f : base->f

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    mc_dir_conf_t *base = basev, *add = addv;
    mc_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    MERGE_PTR(trust);
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
    if (add->remote_user != NULL) {
        c->remote_user = add->remote_user;
        c->remote_user_qualified = add->remote_user_qualified;
    }
    else {
        c->remote_user = base->remote_user;
        c->remote_user_qualified = base->remote_user_qualified;
    }
    if (add->export_set) {
        c->export_paths = add->export_paths;
        c->export_set = 1;
    }
    else {
        c->export_paths = base->export_paths;
        c->export_set = base->export_set;
    }
    c->max_token = add->max_token != 0 ? add->max_token : base->max_token;
    if (add->token_from != CLAIMS_UNSET) {
        c->token_from = add->token_from;
        c->cookie_name = add->cookie_name;
        c->query_name = add->query_name;
    }
    else {
        c->token_from = base->token_from;
        c->cookie_name = base->cookie_name;
        c->query_name = base->query_name;
    }
    c->headers = merge_headers(p, base->headers, add->headers);
    if (add->header_prefix != NULL) {
        c->header_prefix = add->header_prefix;
        c->header_prefix_norm = add->header_prefix_norm;
    }
    else {
        c->header_prefix = base->header_prefix;
        c->header_prefix_norm = base->header_prefix_norm;
    }
    MERGE_INT(header_encoding);
    MERGE_INT(forward_token);
    MERGE_INT(optional);
    MERGE_INT(preflight_pass);
    return c;
}

/* ------------------------------------------------------------------ issuer directives */

mc_issuer_t *mc_current_issuer(cmd_parms *cmd)
{
    mc_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &claims_module);
    return sc->current;
}

const char *mc_parse_int(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max,
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

const char *mc_parse_seconds(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max,
                             apr_interval_time_t *out)
{
    apr_int64_t v = 0;
    const char *err = mc_parse_int(cmd, arg, min, max, &v);
    if (err == NULL) {
        *out = apr_time_from_sec(v);
    }
    return err;
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

static const char *load_issuer_keys(cmd_parms *cmd, mc_issuer_t *ic)
{
    ic->core.keys = apr_array_make(cmd->pool, 4, sizeof(claims_key_t *));
    for (int i = 0; i < ic->key_specs->nelts; i++) {
        mc_key_spec_t *ks = &APR_ARRAY_IDX(ic->key_specs, i, mc_key_spec_t);
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
    if (ic->core.keys->nelts == 0 && ic->jwks_url == NULL && ic->discovery_url == NULL) {
        return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> (%s) has no keys: add ClaimsKeyFile, "
                            "ClaimsSecretFile, ClaimsJWKS or ClaimsDiscovery", ic->core.iss, ic->where);
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
    mc_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &claims_module);
    const char *endp = ap_strrchr_c(arg, '>');
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    mc_issuer_t *ic;
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
        if (strcmp(APR_ARRAY_IDX(sc->issuers, i, mc_issuer_t *)->core.iss, iss) == 0) {
            return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> is declared twice", iss);
        }
    }
    ic = apr_pcalloc(cmd->pool, sizeof(*ic));
    ic->core.iss = iss;
    ic->key_specs = apr_array_make(cmd->pool, 2, sizeof(mc_key_spec_t));
    ic->leeway = CLAIMS_DEFAULT_LEEWAY;
    ic->where = where(cmd);
    ic->refresh = MC_DEFAULT_REFRESH;
    ic->fetch_timeout = MC_DEFAULT_FETCH_TIMEOUT;
    ic->kid_interval = MC_DEFAULT_KID_INTERVAL;
    ic->max_stale = MC_DEFAULT_MAX_STALE;
    ic->refresh_waiters = MC_DEFAULT_REFRESH_WAITERS;

    sc->current = ic;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    sc->current = NULL;
    if (err != NULL) {
        return err;
    }
    if ((err = mc_check_remote(cmd->pool, ic)) != NULL) {
        return err;
    }
    if ((err = load_issuer_keys(cmd, ic)) != NULL) {
        return err;
    }
    APR_ARRAY_PUSH(sc->issuers, mc_issuer_t *) = ic;
    return NULL;
}

static const char *need_issuer(cmd_parms *cmd, mc_issuer_t **ic)
{
    *ic = mc_current_issuer(cmd);
    if (*ic == NULL) {
        return apr_psprintf(cmd->pool, "%s is only allowed inside <ClaimsIssuer>", cmd->cmd->name);
    }
    return NULL;
}

/* ClaimsKeyFile PATH [kid=KID] [alg=ALG]; ClaimsSecretFile PATH alg=HS256 [kid=KID] */
static const char *set_key_file(cmd_parms *cmd, void *mconfig, const char *path, const char *a2,
                                 const char *a3)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    mc_key_spec_t *ks;
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
    mc_issuer_t *ic;
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
    mc_issuer_t *ic = mc_current_issuer(cmd);
    const char *err;
    if (ic != NULL) {
        err = add_audience(cmd, &ic->audiences, &ic->audience_any, arg);
        if (err == NULL && ic->audience_any && ic->audiences != NULL) {
            return "ClaimsAudience: \"any\" cannot be combined with audiences";
        }
        return err;
    }
    {
        mc_dir_conf_t *dc = mconfig;
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
    mc_issuer_t *ic;
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
    mc_issuer_t *ic;
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
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    return mc_parse_int(cmd, arg, 0, 600, &ic->leeway);
}

/* ------------------------------------------------------------------ per-directory directives */

static const char *set_trust(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
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
    mc_dir_conf_t *dc = mconfig;
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
    return NULL;
}

static const char *set_export(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    char *err = NULL;
    claims_path_t *path;
    int word = strcasecmp(arg, "all") == 0 || strcasecmp(arg, "none") == 0;

    if (dc->export_set && (word || dc->export_paths == NULL || dc->export_paths->nelts == 0)) {
        return "ClaimsExport: \"all\" and \"none\" stand alone";
    }
    dc->export_set = 1;
    if (word) {
        dc->export_paths = strcasecmp(arg, "all") == 0 ? NULL
                                                         : apr_array_make(cmd->pool, 1, sizeof(claims_path_t *));
        return NULL;
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
    mc_dir_conf_t *dc = mconfig;
    apr_int64_t v = 0;
    const char *err = mc_parse_int(cmd, arg, 512, 65536, &v);
    if (err != NULL) {
        return err;
    }
    dc->max_token = (apr_size_t)v;
    return NULL;
}

static int valid_param_name(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && *s != '_' && *s != '-' && *s != '.') {
            return 0;
        }
    }
    return 1;
}

/* ClaimsTokenFrom header | cookie=NAME | form | query[=NAME] ... */
static const char *set_token_from(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    int bit;
    if (dc->token_from == CLAIMS_UNSET) {
        dc->token_from = 0;
    }
    if (strcasecmp(arg, "header") == 0) {
        bit = MC_FROM_HEADER;
    }
    else if (strcasecmp(arg, "form") == 0) {
        bit = MC_FROM_FORM;
    }
    else if (strncasecmp(arg, "cookie=", 7) == 0 && valid_param_name(arg + 7)) {
        bit = MC_FROM_COOKIE;
        dc->cookie_name = arg + 7;
    }
    else if (strcasecmp(arg, "query") == 0 || (strncasecmp(arg, "query=", 6) == 0 && valid_param_name(arg + 6))) {
        bit = MC_FROM_QUERY;
        dc->query_name = arg[5] == '=' ? arg + 6 : "access_token";
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsTokenFrom: \"%s\" is not header, cookie=NAME, form, "
                            "query or query=NAME", arg);
    }
    if (dc->token_from & bit) {
        return apr_psprintf(cmd->pool, "ClaimsTokenFrom: \"%s\" given twice", arg);
    }
    dc->token_from |= bit;
    return NULL;
}

static int valid_header_name(const char *s)
{
    /* RFC 9110 token characters */
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

static const char *set_header(cmd_parms *cmd, void *mconfig, const char *name, const char *path)
{
    mc_dir_conf_t *dc = mconfig;
    mc_header_t *h;
    char *err = NULL;
    if (!valid_header_name(name)) {
        return apr_psprintf(cmd->pool, "ClaimsHeader: \"%s\" is not a valid header name", name);
    }
    if (strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Host") == 0
        || strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0
        || strcasecmp(name, "Cookie") == 0) {
        return apr_psprintf(cmd->pool, "ClaimsHeader: \"%s\" cannot carry a claim", name);
    }
    if (dc->headers == NULL) {
        dc->headers = apr_array_make(cmd->pool, 4, sizeof(mc_header_t));
    }
    h = apr_array_push(dc->headers);
    h->name = name;
    h->norm = mc_normalise_header(cmd->pool, name);
    note_scrub_name(cmd, h->norm, 0);
    h->path = claims_path_compile(cmd->pool, path, &err);
    if (h->path == NULL) {
        return apr_psprintf(cmd->pool, "ClaimsHeader %s: %s", name, err);
    }
    return NULL;
}

static const char *set_header_prefix(cmd_parms *cmd, void *mconfig, const char *prefix)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(prefix, "none") == 0) {
        dc->header_prefix = "";
        dc->header_prefix_norm = "";
        return NULL;
    }
    if (!valid_header_name(prefix) || strlen(prefix) < 3) {
        return apr_psprintf(cmd->pool, "ClaimsHeaderPrefix: \"%s\" is not a valid header name prefix "
                            "(at least 3 characters, e.g. X-Claim-)", prefix);
    }
    dc->header_prefix = prefix;
    dc->header_prefix_norm = mc_normalise_header(cmd->pool, prefix);
    note_scrub_name(cmd, dc->header_prefix_norm, 1);
    return NULL;
}

static const char *set_header_encoding(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(arg, "percent") == 0) {
        dc->header_encoding = MC_ENC_PERCENT;
    }
    else if (strcasecmp(arg, "raw") == 0) {
        dc->header_encoding = MC_ENC_RAW;
    }
    else if (strcasecmp(arg, "base64url") == 0) {
        dc->header_encoding = MC_ENC_BASE64URL;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsHeaderEncoding: \"%s\" is not percent, raw or base64url", arg);
    }
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, void *mconfig, int on)
{
    int *field = (int *)((char *)mconfig + (apr_size_t)cmd->info);
    *field = on ? 1 : 0;
    return NULL;
}

static const char *set_preflight(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(arg, "pass") == 0) {
        dc->preflight_pass = 1;
    }
    else if (strcasecmp(arg, "authenticate") == 0) {
        dc->preflight_pass = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsPreflight: \"%s\" is not pass or authenticate", arg);
    }
    return NULL;
}

static const char *set_cache(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &claims_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v = 0;
    const char *what = cmd->info;
    if (err != NULL) {
        return err;
    }
    if (strcmp(what, "switch") == 0) {
        if (strcasecmp(arg, "on") != 0 && strcasecmp(arg, "off") != 0) {
            return "ClaimsCache: On or Off";
        }
        sc->cache = strcasecmp(arg, "on") == 0;
        return NULL;
    }
    if (strcmp(what, "entries") == 0) {
        err = mc_parse_int(cmd, arg, 16, 10000000, &v);
        sc->cache_entries = (apr_size_t)v;
    }
    else {
        err = mc_parse_int(cmd, arg, 65536, APR_INT64_C(17179869184), &v);
        sc->cache_bytes = (apr_size_t)v;
    }
    return err;
}

static const char *set_remote_flag(cmd_parms *cmd, void *mconfig, int on)
{
    return mc_set_remote(cmd, mconfig, on ? "on" : "off");
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
    AP_INIT_TAKE1("ClaimsJWKS", mc_set_remote, (void *)"jwks", RSRC_CONF,
                  "Remote JWK Set URL of this issuer (https)"),
    AP_INIT_RAW_ARGS("ClaimsDiscovery", mc_set_remote, (void *)"discovery", RSRC_CONF,
                   "OpenID Connect / RFC 8414 metadata URL (default <issuer>/.well-known/openid-configuration)"),
    AP_INIT_TAKE1("ClaimsRefreshInterval", mc_set_remote, (void *)"refresh", RSRC_CONF,
                  "Seconds between key set refreshes, capped by the document's max-age (default 3600)"),
    AP_INIT_TAKE1("ClaimsFetchTimeout", mc_set_remote, (void *)"timeout", RSRC_CONF,
                  "Seconds a key set fetch, or a request waiting for one, may take (default 5)"),
    AP_INIT_TAKE1("ClaimsUnknownKidInterval", mc_set_remote, (void *)"kid", RSRC_CONF,
                  "Minimum seconds between refreshes caused by unknown kids or failures (default 60)"),
    AP_INIT_TAKE1("ClaimsMaxStale", mc_set_remote, (void *)"stale", RSRC_CONF,
                  "Seconds the last good key set keeps serving while the IdP fails (default 86400)"),
    AP_INIT_TAKE1("ClaimsRefreshWaiters", mc_set_remote, (void *)"waiters", RSRC_CONF,
                  "Requests per child process that wait for a key set refresh on an unknown kid; the "
                  "rest are refused at once (default 2, 0: none wait)"),
    AP_INIT_TAKE1("ClaimsCAFile", mc_set_remote, (void *)"cafile", RSRC_CONF,
                  "CA certificates (PEM) to verify the identity provider (default: system store)"),
    AP_INIT_TAKE1("ClaimsCAPath", mc_set_remote, (void *)"capath", RSRC_CONF,
                  "Directory of hashed CA certificates to verify the identity provider"),
    AP_INIT_TAKE1("ClaimsProxy", mc_set_remote, (void *)"proxy", RSRC_CONF,
                  "Outbound proxy URL for key set fetches (default none)"),
    AP_INIT_FLAG("ClaimsAllowHTTP", set_remote_flag, (void *)"http", RSRC_CONF,
                 "Allow plain http key set URLs to loopback addresses, for tests (default Off)"),
    AP_INIT_TAKE1("ClaimsKeyCache", mc_set_key_cache, NULL, RSRC_CONF,
                  "socache provider[:args] sharing remote key sets between children (default shmcb)"),
    AP_INIT_TAKE1("ClaimsCacheSecret", mc_set_cache_secret, NULL, RSRC_CONF,
                  "File with the secret (32+ bytes) that authenticates records in a shared store; "
                  "required for ClaimsKeyCache other than shmcb"),
    AP_INIT_TAKE1("ClaimsCache", set_cache, (void *)"switch", RSRC_CONF,
                  "Cache verified tokens in each child (default On)"),
    AP_INIT_TAKE1("ClaimsCacheEntries", set_cache, (void *)"entries", RSRC_CONF,
                  "Most tokens the cache of one child holds (default 10000)"),
    AP_INIT_TAKE1("ClaimsCacheSize", set_cache, (void *)"bytes", RSRC_CONF,
                  "Most bytes the cache of one child holds (default 33554432, 32 MiB)"),
    AP_INIT_ITERATE("ClaimsTrust", set_trust, NULL, OR_AUTHCFG,
                    "Issuers accepted here (default: every declared issuer)"),
    AP_INIT_TAKE12("ClaimsRemoteUser", set_remote_user, NULL, OR_AUTHCFG,
                   "Claim that becomes REMOTE_USER (default sub) [issuer-qualified]"),
    AP_INIT_ITERATE("ClaimsExport", set_export, NULL, OR_AUTHCFG,
                    "Claims exported as CLAIM_* variables: all (default), none, or claim paths"),
    AP_INIT_TAKE1("ClaimsMaxTokenSize", set_max_token, NULL, OR_AUTHCFG,
                  "Largest accepted token in bytes, 512-65536 (default 8192)"),
    AP_INIT_ITERATE("ClaimsTokenFrom", set_token_from, NULL, OR_AUTHCFG,
                    "Where tokens may come from: header (default), cookie=NAME, form, query[=NAME]"),
    AP_INIT_TAKE2("ClaimsHeader", set_header, NULL, OR_AUTHCFG,
                  "Request header for proxied backends: ClaimsHeader NAME CLAIM-PATH"),
    AP_INIT_TAKE1("ClaimsHeaderPrefix", set_header_prefix, NULL, OR_AUTHCFG,
                  "Send every exported claim as <prefix><claim> request header (default none)"),
    AP_INIT_TAKE1("ClaimsHeaderEncoding", set_header_encoding, NULL, OR_AUTHCFG,
                  "Claim header values: percent (default), raw or base64url"),
    AP_INIT_FLAG("ClaimsForwardToken", set_flag, (void *)APR_OFFSETOF(mc_dir_conf_t, forward_token), OR_AUTHCFG,
                 "Pass the Authorization header on to proxied backends (default Off)"),
    AP_INIT_FLAG("ClaimsOptional", set_flag, (void *)APR_OFFSETOF(mc_dir_conf_t, optional), OR_AUTHCFG,
                 "Let requests without a token through as anonymous (default Off)"),
    AP_INIT_TAKE1("ClaimsPreflight", set_preflight, NULL, OR_AUTHCFG,
                  "CORS preflight OPTIONS requests: authenticate (default) or pass"),
    {NULL}
};

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

/* The path of a <Location "/x"> section as written, without quotes and the closing '>'. */
static const char *section_path(apr_pool_t *p, const ap_directive_t *sec)
{
    char *args = apr_pstrdup(p, sec->args != NULL ? sec->args : "");
    apr_size_t n = strlen(args);
    const char *a;
    if (n > 0 && args[n - 1] == '>') {
        args[n - 1] = '\0';
    }
    a = args;
    return ap_getword_conf(p, &a);
}

static int all_issuers_have_audience(const mc_srv_conf_t *sc)
{
    for (int i = 0; i < sc->issuers->nelts; i++) {
        const mc_issuer_t *ic = APR_ARRAY_IDX(sc->issuers, i, const mc_issuer_t *);
        if (ic->audiences == NULL && !ic->audience_any) {
            return 0;
        }
    }
    return 1;
}

/* A section of the main server applies in every virtual host too, with its issuers. */
static int every_vhost_has_audience(server_rec *s)
{
    for (server_rec *v = s->next; v != NULL; v = v->next) {
        if (!all_issuers_have_audience(ap_get_module_config(v->module_config, &claims_module))) {
            return 0;
        }
    }
    return 1;
}

/* CL-72: a protected section needs an audience: its own, an enclosing section's, that of an
 * outer section whose path is a prefix of its own, or every issuer's default. */
/* The configuration of the virtual host a <VirtualHost> section made (NULL if none). */
static const mc_srv_conf_t *vhost_conf(const ap_directive_t *d, server_rec *s)
{
    for (server_rec *v = s->next; v != NULL; v = v->next) {
        if (v->defn_name != NULL && d->filename != NULL && strcmp(v->defn_name, d->filename) == 0
            && v->defn_line_number == (unsigned)d->line_num) {
            return ap_get_module_config(v->module_config, &claims_module);
        }
    }
    return NULL;
}

static const char *check_audiences(apr_pool_t *p, const ap_directive_t *node, const ap_directive_t *outer,
                                   const mc_srv_conf_t *sc, server_rec *s, int in_vhost)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        if (d->first_child == NULL) {
            continue;
        }
        if (strcasecmp(d->directive, "<VirtualHost") == 0) {
            /* a virtual host's sections are checked against its own issuers (those it declares
             * and those it takes from the main server) */
            const mc_srv_conf_t *vc = vhost_conf(d, s);
            const char *err = check_audiences(p, d->first_child, d, vc != NULL ? vc : sc, s, 1);
            if (err != NULL) {
                return err;
            }
            continue;
        }
        if (strcasecmp(d->directive, "<IfModule") == 0
            || strcasecmp(d->directive, "<IfDefine") == 0 || strcasecmp(d->directive, "<IfVersion") == 0) {
            const char *err = check_audiences(p, d->first_child, d, sc, s, in_vhost);
            if (err != NULL) {
                return err;
            }
            continue;
        }
        if (!uses_claims(p, d) || section_sets(d, "ClaimsAudience")
            || (all_issuers_have_audience(sc) && (in_vhost || every_vhost_has_audience(s)))) {
            continue;
        }
        {
            int found = 0;
            for (const ap_directive_t *o = outer != NULL ? outer->first_child : ap_conftree;
                 o != NULL && !found; o = o->next) {
                if (o != d && o->first_child != NULL && section_sets(o, "ClaimsAudience")
                    && strcasecmp(o->directive, d->directive) == 0 && o->args != NULL && d->args != NULL) {
                    const char *ow = section_path(p, o), *dw = section_path(p, d);
                    found = strncmp(dw, ow, strlen(ow)) == 0;
                }
            }
            if (outer != NULL && section_sets(outer, "ClaimsAudience")) {
                found = 1;
            }
            if (!found) {
                return apr_psprintf(p, "%s:%d: %s %s> uses AuthType claims but no audience is configured: "
                                    "set ClaimsAudience (or ClaimsAudience any to accept every audience)",
                                    d->filename, d->line_num, d->directive, section_path(p, d));
            }
        }
    }
    return NULL;
}

static int issuer_declared(server_rec *s, const char *iss)
{
    for (server_rec *v = s; v != NULL; v = v->next) {
        mc_srv_conf_t *vc = ap_get_module_config(v->module_config, &claims_module);
        for (int i = 0; i < vc->issuers->nelts; i++) {
            if (strcmp(APR_ARRAY_IDX(vc->issuers, i, const mc_issuer_t *)->core.iss, iss) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* ClaimsTrust may come before the <ClaimsIssuer> it names, so it is checked once all is read. */
static const char *check_trust(apr_pool_t *p, const ap_directive_t *node, server_rec *s)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "ClaimsTrust") == 0 && d->args != NULL) {
            const char *a = d->args, *w;
            while (*(w = ap_getword_conf(p, &a)) != '\0') {
                if (!issuer_declared(s, w)) {
                    return apr_psprintf(p, "%s:%d: ClaimsTrust names %s, which no <ClaimsIssuer> declares",
                                        d->filename, d->line_num, w);
                }
            }
        }
        if (d->first_child != NULL) {
            const char *err = check_trust(p, d->first_child, s);
            if (err != NULL) {
                return err;
            }
        }
    }
    return NULL;
}

/* Runs for apachectl configtest too: what needs the whole configuration is checked here. */
static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    mc_srv_conf_t *sc = ap_get_module_config(s->module_config, &claims_module);
    const char *err = check_audiences(ptemp, ap_conftree, NULL, sc, s, 0);
    if (err == NULL) {
        err = check_trust(ptemp, ap_conftree, s);
    }
    if (err == NULL) {
        err = mc_check_key_cache(ptemp, sc);
    }
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "CLM001: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* CL-72: opting out of the audience check is allowed, and said out loud at every start. */
static void warn_audience_any(apr_pool_t *p, const ap_directive_t *node, server_rec *s)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "ClaimsAudience") == 0 && d->args != NULL) {
            const char *a = d->args, *w;
            while (*(w = ap_getword_conf(p, &a)) != '\0') {
                if (strcasecmp(w, "any") == 0) {
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "CLM003: %s:%d: ClaimsAudience any: "
                                 "tokens issued for any audience are accepted there", d->filename, d->line_num);
                }
            }
        }
        if (d->first_child != NULL) {
            warn_audience_any(p, d->first_child, s);
        }
    }
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    mc_srv_conf_t *sc = ap_get_module_config(s->module_config, &claims_module);

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    warn_audience_any(ptemp, ap_conftree, s);
    for (server_rec *v = s; v != NULL; v = v->next) {
        mc_srv_conf_t *vc = ap_get_module_config(v->module_config, &claims_module);
        for (int i = 0; i < vc->issuers->nelts; i++) {
            const mc_issuer_t *ic = APR_ARRAY_IDX(vc->issuers, i, const mc_issuer_t *);
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
    /* httpd frees its pools (and with them our keys) from its own atexit handler, which runs
     * after any atexit handler registered later: OpenSSL's, which would tear the library down
     * first and leave EVP_PKEY_free() to a library that is gone (a child crashing as it exits).
     * As mod_ssl does, initialise OpenSSL here, first, without its atexit cleanup. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);

    mc_register_providers(p);
    mc_register_authn_hooks(p);
    mc_register_identity_hooks(p);
    mc_register_remote_hooks(p);
    mc_register_status_hooks(p);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
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
