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
static int introspecting;              /* of them, those with ClaimsIntrospection */

void mc_reset_issuer_records(void)
{
    issuer_records = 0;
    introspecting = 0;
}

int mc_issuers_introspect(void)
{
    return introspecting > 0;
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
    if (ic->core.keys->nelts == 0 && ic->jwks_url == NULL && ic->discovery_url == NULL
        && !(ic->introspection && !ic->introspection_jwt)) {
        return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> (%s) has no keys: add ClaimsKeyFile, "
                            "ClaimsSecretFile, ClaimsJWKS or ClaimsDiscovery%s", ic->core.iss, ic->where,
                            ic->introspection ? " (JWT introspection answers are verified with them)" : "");
    }
    if (claims_keys_check_set(cmd->pool, ic->core.keys, &err) != CLAIMS_OK) {
        return apr_psprintf(cmd->pool, "<ClaimsIssuer %s> (%s): %s", ic->core.iss, ic->where, err);
    }
    return NULL;
}

/* Opaque tokens: an endpoint (its own, or the discovery document's), a client to authenticate
 * as (RFC 7662 requires the resource server to authorize its calls), and for RFC 9701 answers
 * the client id they are addressed to. */
static const char *check_introspection(apr_pool_t *p, const mc_issuer_t *ic)
{
    const char *why;
    if (!ic->introspection) {
        if (ic->client.client_id != NULL || ic->introspection_jwt) {
            return apr_psprintf(p, "<ClaimsIssuer %s> (%s): ClaimsIntrospectionClient and ClaimsIntrospectionFormat "
                                "need ClaimsIntrospection", ic->core.iss, ic->where);
        }
        return NULL;
    }
    if (ic->introspection_url == NULL && ic->discovery_url == NULL) {
        return apr_psprintf(p, "<ClaimsIssuer %s> (%s): ClaimsIntrospection without a URL takes the "
                            "introspection_endpoint of ClaimsDiscovery, which is not set", ic->core.iss, ic->where);
    }
    if (ic->introspection_url != NULL
        && (why = claims_fetch_check_url(p, ic->introspection_url, ic->fetch.allow_http_loopback)) != NULL) {
        return apr_psprintf(p, "ClaimsIntrospection %s: %s", claims_fetch_redact_url(p, ic->introspection_url), why);
    }
    if (ic->client.client_id == NULL) {
        return apr_psprintf(p, "<ClaimsIssuer %s> (%s): ClaimsIntrospection needs ClaimsIntrospectionClient (the "
                            "client this server authenticates as)", ic->core.iss, ic->where);
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
    if ((why = check_introspection(p, ic)) != NULL) {
        return why;
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
    ic->introspection_ttl = MC_DEFAULT_INTROSPECTION_TTL;
    ic->negative_ttl = MC_DEFAULT_NEGATIVE_TTL;
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

/* The one optional URL of a RAW_ARGS directive in *url ("" when there is none). */
static const char *optional_url(cmd_parms *cmd, const char *arg, const char **url)
{
    const char *rest = arg;
    *url = ap_getword_conf(cmd->pool, &rest);
    return *rest != '\0' ? apr_psprintf(cmd->pool, "%s takes at most one URL", cmd->cmd->name) : NULL;
}

/* ClaimsDiscovery [URL]: without one, <issuer>/.well-known/openid-configuration */
const char *mc_set_discovery(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic), *url;
    if (err != NULL || (err = optional_url(cmd, arg, &url)) != NULL) {
        return err;
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

/* ------------------------------------------------------------------ opaque tokens */

/* ClaimsIntrospection [URL] */
const char *mc_set_introspection(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic), *url;
    if (err != NULL || (err = optional_url(cmd, arg, &url)) != NULL) {
        return err;
    }
    introspecting += !ic->introspection;
    ic->introspection = 1;
    ic->introspection_url = *url != '\0' ? url : NULL;
    return NULL;
}

const char *mc_set_introspection_format(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_issuer_t *ic;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    if (strcasecmp(arg, "json") == 0 || strcasecmp(arg, "jwt") == 0) {
        ic->introspection_jwt = strcasecmp(arg, "jwt") == 0;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "ClaimsIntrospectionFormat: \"%s\" is not json or jwt", arg);
}

static const char *parse_method(cmd_parms *cmd, const char *m, claims_client_auth_t *out)
{
    if (strcmp(m, "client_secret_basic") == 0) {
        *out = CLAIMS_AUTH_CLIENT_SECRET_BASIC;
    }
    else if (strcmp(m, "client_secret_post") == 0) {
        *out = CLAIMS_AUTH_CLIENT_SECRET_POST;
    }
    else if (strcmp(m, "private_key_jwt") == 0) {
        *out = CLAIMS_AUTH_PRIVATE_KEY_JWT;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsIntrospectionClient: unknown method \"%s\" (client_secret_basic, "
                            "client_secret_post, private_key_jwt)", m);
    }
    return NULL;
}

typedef struct client_args_t {
    const char *secret, *key, *method, *alg, *kid;
} client_args_t;

static const char *parse_client_args(cmd_parms *cmd, int argc, char *const argv[], client_args_t *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *v = strchr(argv[i], '=');
        const char **slot = NULL;
        apr_size_t n = v != NULL ? (apr_size_t)(v - argv[i]) : 0;
        if (n == 6 && strncmp(argv[i], "secret", 6) == 0) {
            slot = &a->secret;
        }
        else if (n == 3 && strncmp(argv[i], "key", 3) == 0) {
            slot = &a->key;
        }
        else if (n == 6 && strncmp(argv[i], "method", 6) == 0) {
            slot = &a->method;
        }
        else if (n == 3 && strncmp(argv[i], "alg", 3) == 0) {
            slot = &a->alg;
        }
        else if (n == 3 && strncmp(argv[i], "kid", 3) == 0) {
            slot = &a->kid;
        }
        if (slot == NULL || v[1] == '\0' || *slot != NULL) {
            return apr_psprintf(cmd->pool, "ClaimsIntrospectionClient: \"%s\" is not secret=FILE, key=FILE, "
                                "method=..., alg=ALG or kid=KID (each at most once)", argv[i]);
        }
        *slot = v + 1;
    }
    if ((a->secret == NULL) == (a->key == NULL)) {
        return "ClaimsIntrospectionClient: give either secret=FILE or key=FILE";
    }
    return NULL;
}

static const char *load_client_secret(cmd_parms *cmd, mc_issuer_t *ic, const client_args_t *a)
{
    char *why = NULL;
    const char *path = ap_server_root_relative(cmd->pool, a->secret);
    if (a->alg != NULL || a->kid != NULL || ic->client.method == CLAIMS_AUTH_PRIVATE_KEY_JWT) {
        return "ClaimsIntrospectionClient: secret=FILE goes with method=client_secret_basic or client_secret_post";
    }
    if (path == NULL || claims_introspect_secret_load(cmd->pool, path, &ic->client.secret, &ic->client.secret_len,
                                                      &why) != CLAIMS_OK) {
        return apr_psprintf(cmd->pool, "ClaimsIntrospectionClient: %s", why != NULL ? why : "invalid path");
    }
    return NULL;
}

static const char *load_client_key(cmd_parms *cmd, mc_issuer_t *ic, const client_args_t *a)
{
    char *why = NULL;
    const char *err, *path = ap_server_root_relative(cmd->pool, a->key);
    claims_alg_t alg = CLAIMS_ALG_UNKNOWN;
    if (ic->client.method != CLAIMS_AUTH_PRIVATE_KEY_JWT) {
        return "ClaimsIntrospectionClient: key=FILE goes with method=private_key_jwt";
    }
    if (a->alg != NULL && (err = parse_alg(cmd, a->alg, &alg)) != NULL) {
        return err;
    }
    if (path == NULL || claims_introspect_client_key_load(cmd->pool, path, alg, &ic->client.key, &ic->client.alg,
                                                          &why) != CLAIMS_OK) {
        return apr_psprintf(cmd->pool, "ClaimsIntrospectionClient: %s", why != NULL ? why : "invalid path");
    }
    ic->client.kid = a->kid;
    return NULL;
}

/* ClaimsIntrospectionClient CLIENT_ID secret=FILE [method=...] | CLIENT_ID key=FILE [method=private_key_jwt]
 * [alg=ALG] [kid=KID]: secrets and keys are read now, once. */
const char *mc_set_introspection_client(cmd_parms *cmd, void *mconfig, int argc, char *const argv[])
{
    mc_issuer_t *ic;
    client_args_t a;
    const char *err = need_issuer(cmd, &ic);
    if (err != NULL) {
        return err;
    }
    if (argc < 2 || *argv[0] == '\0' || strchr(argv[0], '=') != NULL) {
        return "ClaimsIntrospectionClient needs CLIENT_ID and secret=FILE or key=FILE";
    }
    if (ic->client.client_id != NULL) {
        return "ClaimsIntrospectionClient is given twice";
    }
    if ((err = parse_client_args(cmd, argc, argv, &a)) != NULL) {
        return err;
    }
    ic->client.method = a.key != NULL ? CLAIMS_AUTH_PRIVATE_KEY_JWT : CLAIMS_AUTH_CLIENT_SECRET_BASIC;
    if (a.method != NULL && (err = parse_method(cmd, a.method, &ic->client.method)) != NULL) {
        return err;
    }
    err = a.secret != NULL ? load_client_secret(cmd, ic, &a) : load_client_key(cmd, ic, &a);
    if (err == NULL) {
        ic->client.client_id = argv[0];
        ic->client_where = mc_where(cmd);
        claims_introspect_client_finish(cmd->pool, &ic->client);
    }
    return err;
}
