/*
 * mod_claims_config_issuer.c - <ClaimsIssuer> sections; see mod_claims_config_issuer.h.
 */
#include "mod_claims_config_issuer.h"
#include "mod_claims_config_values.h"

#include "http_core.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

static int issuer_records;             /* made since the configuration was read last */

void mc_reset_issuer_records(void)
{
    issuer_records = 0;
}

int mc_issuer_records(void)
{
    return issuer_records;
}

mc_issuer_t *mc_current_issuer(cmd_parms *cmd)
{
    return mc_srv(cmd->server)->current;
}

static const char *need_issuer(cmd_parms *cmd, mc_issuer_t **ic)
{
    *ic = mc_current_issuer(cmd);
    if (*ic == NULL) {
        return apr_psprintf(cmd->pool, "%s is only allowed inside <ClaimsIssuer>", cmd->cmd->name);
    }
    return NULL;
}

static const char *parse_alg(cmd_parms *cmd, const char *name, claims_alg_t *out)
{
    claims_alg_t a = claims_alg_from_name(name, strlen(name));
    if (strcasecmp(name, "none") == 0) {
        return apr_psprintf(cmd->pool, "%s: unsigned tokens (alg none) can never be accepted", cmd->cmd->name);
    }
    if (a == CLAIMS_ALG_UNKNOWN) {
        return apr_psprintf(cmd->pool, "%s: unknown JWS algorithm \"%s\" (RS256, RS384, RS512, PS256, "
                            "PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, Ed448, HS256, HS384, "
                            "HS512)", cmd->cmd->name, name);
    }
    *out = a;
    return NULL;
}

/* ------------------------------------------------------------------ keys, loaded once */

static claims_status_t load_secret(cmd_parms *cmd, const mc_issuer_t *ic, const mc_key_spec_t *ks, char **err)
{
    claims_key_t *k = NULL;
    claims_status_t st = claims_key_secret_file(cmd->pool, ks->path, ks->alg, ks->kid, &k, err);
    if (st == CLAIMS_OK && ic->core.algs != 0 && !claims_alg_set_allows(ic->core.algs, k->alg, k->alg)) {
        *err = apr_psprintf(cmd->pool, "%s: %s is not in ClaimsAlgorithms", ks->path, claims_alg_name(k->alg));
        return CLAIMS_ERR_KEY;
    }
    if (st == CLAIMS_OK) {
        APR_ARRAY_PUSH(ic->core.keys, claims_key_t *) = k;
    }
    return st;
}

static const char *load_issuer_keys(cmd_parms *cmd, mc_issuer_t *ic)
{
    char *err = NULL;
    ic->core.keys = apr_array_make(cmd->pool, 4, sizeof(claims_key_t *));
    for (int i = 0; i < ic->key_specs->nelts; i++) {
        const mc_key_spec_t *ks = &APR_ARRAY_IDX(ic->key_specs, i, mc_key_spec_t);
        claims_status_t st;
        err = NULL;
        if (ks->secret) {
            st = load_secret(cmd, ic, ks, &err);
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
    if (claims_keys_check_set(cmd->pool, ic->core.keys, &err) != CLAIMS_OK) {
        return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> (%s): %s", ic->core.iss, ic->where, err);
    }
    return NULL;
}

/* The remote source of an issuer: one of them, https (or loopback http when allowed), and no
 * HMAC secrets beside it (an issuer's keys are all HMAC or all public, CL-28: every refresh
 * would fail). */
static const char *check_remote(apr_pool_t *p, mc_issuer_t *ic)
{
    const char *why;
    if (ic->jwks_url != NULL && ic->discovery_url != NULL) {
        return apr_psprintf(p, "<ClaimsIssuer %s> (%s): use ClaimsJWKS or ClaimsDiscovery, not both",
                            ic->core.iss, ic->where);
    }
    for (int i = 0; (ic->jwks_url != NULL || ic->discovery_url != NULL) && i < ic->key_specs->nelts; i++) {
        const mc_key_spec_t *ks = &APR_ARRAY_IDX(ic->key_specs, i, mc_key_spec_t);
        if (ks->secret) {
            return apr_psprintf(p, "<ClaimsIssuer %s> (%s): ClaimsSecretFile (%s) cannot be combined with %s: "
                                "a remote key set holds public keys, and one issuer's keys are either all "
                                "HMAC secrets or all public keys", ic->core.iss, ic->where, ks->where,
                                ic->jwks_url != NULL ? "ClaimsJWKS" : "ClaimsDiscovery");
        }
    }
    if (ic->jwks_url != NULL && (why = claims_fetch_check_url(p, ic->jwks_url, ic->fetch.allow_http_loopback))) {
        return apr_psprintf(p, "ClaimsJWKS %s: %s", claims_fetch_redact_url(p, ic->jwks_url), why);
    }
    if (ic->discovery_url != NULL
        && (why = claims_fetch_check_url(p, ic->discovery_url, ic->fetch.allow_http_loopback))) {
        return apr_psprintf(p, "ClaimsDiscovery %s: %s", claims_fetch_redact_url(p, ic->discovery_url), why);
    }
    ic->fetch.timeout = ic->fetch_timeout;
    ic->fetch.max_size = MC_MAX_DOC;
    return NULL;
}

/* ------------------------------------------------------------------ the section */

static mc_issuer_t *new_issuer(cmd_parms *cmd, const char *iss)
{
    mc_issuer_t *ic = apr_pcalloc(cmd->pool, sizeof(*ic));
    ic->core.iss = iss;
    ic->policy.issuer = iss;
    ic->policy.leeway = CLAIMS_DEFAULT_LEEWAY;
    ic->key_specs = apr_array_make(cmd->pool, 2, sizeof(mc_key_spec_t));
    ic->where = mc_where(cmd);
    ic->refresh = MC_DEFAULT_REFRESH;
    ic->fetch_timeout = MC_DEFAULT_FETCH_TIMEOUT;
    ic->kid_interval = MC_DEFAULT_KID_INTERVAL;
    ic->max_stale = MC_DEFAULT_MAX_STALE;
    ic->refresh_waiters = MC_DEFAULT_REFRESH_WAITERS;
    ic->index = issuer_records++;
    return ic;
}

const char *mc_issuer_section(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_srv_conf_t *sc = mc_srv(cmd->server);
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
    ic = new_issuer(cmd, iss);
    sc->current = ic;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    sc->current = NULL;
    if (err == NULL) {
        err = check_remote(cmd->pool, ic);
    }
    if (err == NULL) {
        err = load_issuer_keys(cmd, ic);
    }
    if (err != NULL) {
        return err;
    }
    APR_ARRAY_PUSH(sc->issuers, mc_issuer_t *) = ic;
    return NULL;
}

/* ------------------------------------------------------------------ directives inside it */

static const char *parse_key_option(cmd_parms *cmd, mc_key_spec_t *ks, const char *opt)
{
    if (strncmp(opt, "kid=", 4) == 0 && opt[4] != '\0') {
        ks->kid = apr_pstrdup(cmd->pool, opt + 4);
        return NULL;
    }
    if (strncmp(opt, "alg=", 4) == 0) {
        return parse_alg(cmd, opt + 4, &ks->alg);
    }
    return apr_psprintf(cmd->pool, "%s: unknown option \"%s\" (kid=KID or alg=ALG)", cmd->cmd->name, opt);
}

/* ClaimsKeyFile PATH [kid=KID] [alg=ALG]; ClaimsSecretFile PATH alg=HS256 [kid=KID] */
const char *mc_set_key_file(cmd_parms *cmd, void *mconfig, const char *path, const char *a2, const char *a3)
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
    ks->where = mc_where(cmd);
    ks->path = ap_server_root_relative(cmd->pool, path);
    if (ks->path == NULL || *path == '\0') {
        return apr_psprintf(cmd->pool, "%s: invalid file path \"%s\"", cmd->cmd->name, path);
    }
    for (int i = 0; i < 2; i++) {
        if (opts[i] != NULL && (err = parse_key_option(cmd, ks, opts[i])) != NULL) {
            return err;
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

const char *mc_set_algorithms(cmd_parms *cmd, void *mconfig, const char *arg)
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

const char *mc_set_issuer_audience(cmd_parms *cmd, const char *arg)
{
    mc_issuer_t *ic = mc_current_issuer(cmd);
    return mc_add_audience(cmd, (apr_array_header_t **)&ic->policy.audiences, &ic->policy.audience_any, arg);
}

const char *mc_set_token_type(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    if (*arg == '\0') {
        return "ClaimsTokenType: the type must not be empty";
    }
    for (const char *c = arg; *c; c++) {
        if (!apr_isgraph(*c)) {
            return "ClaimsTokenType: the type must be a single printable word such as at+jwt";
        }
    }
    ic->policy.typ = arg;
    return NULL;
}

const char *mc_set_required_claims(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    if (*arg == '\0') {
        return "ClaimsRequiredClaims: empty claim name";
    }
    if (ic->policy.required == NULL) {
        ic->policy.required = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH((apr_array_header_t *)ic->policy.required, const char *) = arg;
    return NULL;
}

const char *mc_set_issuer_number(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    return err != NULL ? err : mc_set_slot(cmd, ic, arg);
}

const char *mc_set_jwks(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err == NULL) {
        ic->jwks_url = arg;
    }
    return err;
}

/* ClaimsDiscovery [URL]: without one, <issuer>/.well-known/openid-configuration */
const char *mc_set_discovery(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic), *rest = arg, *url;
    if (err != NULL) {
        return err;
    }
    url = ap_getword_conf(cmd->pool, &rest);
    if (*rest != '\0') {
        return "ClaimsDiscovery takes at most one URL";
    }
    if (*url == '\0') {
        apr_size_t n = strlen(ic->core.iss);
        while (n > 0 && ic->core.iss[n - 1] == '/') {
            n--;
        }
        url = apr_pstrcat(cmd->pool, apr_pstrndup(cmd->pool, ic->core.iss, n), "/.well-known/openid-configuration",
                          NULL);
    }
    ic->discovery_url = url;
    return NULL;
}

/* ClaimsCAFile FILE, ClaimsCAPath DIR */
const char *mc_set_ca(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic), *path;
    int dir = strcmp(cmd->info, "dir") == 0;
    apr_finfo_t fi;
    if (err != NULL) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != (dir ? APR_DIR : APR_REG)) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not a readable %s", cmd->cmd->name, arg,
                            dir ? "directory" : "file");
    }
    if (dir) {
        ic->fetch.ca_path = path;
    }
    else {
        ic->fetch.ca_file = path;
    }
    return NULL;
}

const char *mc_set_proxy(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    if (strncasecmp(arg, "http://", 7) != 0 && strncasecmp(arg, "https://", 8) != 0
        && strncasecmp(arg, "socks5://", 9) != 0 && strncasecmp(arg, "socks5h://", 10) != 0) {
        return "ClaimsProxy: the proxy must be an http://, https:// or socks5:// URL";
    }
    ic->fetch.proxy = arg;
    return NULL;
}

const char *mc_set_allow_http(cmd_parms *cmd, void *mconfig, int on)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err == NULL) {
        ic->fetch.allow_http_loopback = on;
    }
    return err;
}
