/*
 * mod_claims_config.c - configuration records: create and merge for servers and directories,
 * the setters of the directory and process-wide directives, the command table, and the
 * configuration hooks. <ClaimsIssuer> sections and their directives are in
 * mod_claims_config_issuer.c, the start-up checks in mod_claims_config_check.c.
 */
#include "mod_claims_config.h"
#include "mod_claims_config_dpop.h"
#include "mod_claims_config_check.h"
#include "mod_claims_config_issuer.h"
#include "mod_claims_config_values.h"
#include "mod_claims_replay.h"

#include "claims_metadata.h"

#include "ap_provider.h"
#include "ap_socache.h"
#include "http_core.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

/* ------------------------------------------------------------------ create / merge */

void *mc_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    mc_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->cache = MC_UNSET;
    c->issuers = apr_array_make(p, 2, sizeof(mc_issuer_t *));
    return c;
}

static apr_array_header_t *concat(apr_pool_t *p, const apr_array_header_t *a, const apr_array_header_t *b)
{
    if (a == NULL || b == NULL) {
        return (apr_array_header_t *)(a != NULL ? a : b);
    }
    return apr_array_append(p, a, b);
}

void *mc_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    mc_srv_conf_t *base = basev, *add = addv;
    mc_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    *c = *base;  /* the process-wide settings are the main server's (GLOBAL_ONLY) */
    c->current = NULL;
    c->core_issuers = NULL;
    /* the main server's sections apply inside a virtual host too */
    c->scrub_names = concat(p, base->scrub_names, add->scrub_names);
    c->scrub_prefixes = concat(p, base->scrub_prefixes, add->scrub_prefixes);
    c->cert_headers = concat(p, base->cert_headers, add->cert_headers);
    c->issuers = apr_array_copy(p, add->issuers);
    /* a virtual host trusts the main server's issuers too, unless it declares one again */
    for (int i = 0; i < base->issuers->nelts; i++) {
        mc_issuer_t *b = APR_ARRAY_IDX(base->issuers, i, mc_issuer_t *);
        int found = 0;
        for (int j = 0; j < add->issuers->nelts && !found; j++) {
            found = strcmp(APR_ARRAY_IDX(add->issuers, j, mc_issuer_t *)->core.iss, b->core.iss) == 0;
        }
        if (!found) {
            APR_ARRAY_PUSH(c->issuers, mc_issuer_t *) = b;
        }
    }
    return c;
}

void *mc_create_dir_conf(apr_pool_t *p, char *dir)
{
    mc_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->remote_user_qualified = MC_UNSET;
    c->export_mode = MC_UNSET;
    c->token_from = MC_UNSET;
    c->header_encoding = MC_UNSET;
    c->forward_token = MC_UNSET;
    c->optional = MC_UNSET;
    c->preflight_pass = MC_UNSET;
    c->dpop = MC_UNSET;
    c->dpop_nonce = MC_UNSET;
    c->resource_metadata = MC_UNSET;
    c->error_format = MC_UNSET;
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

/* Issue 16: the resource and its metadata URL and audience go together; as the default
 * audience, a section's resource stands in for a ClaimsAudience of an outer section. Require
 * scope lines replace the outer section's, as httpd's Require lines do (AuthMerging Off). */
static void merge_resource(mc_dir_conf_t *c, const mc_dir_conf_t *base, const mc_dir_conf_t *add)
{
    const mc_dir_conf_t *rs = add->resource != NULL ? add : base;
    c->resource = rs->resource;
    c->resource_metadata_url = rs->resource_metadata_url;
    c->resource_audience = rs->resource_audience;
    if (add->resource != NULL && !add->audience.set) {
        c->audience = add->audience;  /* unset: the resource is the audience here */
    }
    c->resource_metadata = add->resource_metadata != MC_UNSET ? add->resource_metadata : base->resource_metadata;
    c->resource_docs = add->resource_docs != NULL ? add->resource_docs : base->resource_docs;
    c->error_format = add->error_format != MC_UNSET ? add->error_format : base->error_format;
    c->required_scopes = add->required_scopes != NULL ? add->required_scopes : base->required_scopes;
}

#define MERGE_INT(f) c->f = add->f != MC_UNSET ? add->f : base->f
#define MERGE_PTR(f) c->f = add->f != NULL ? add->f : base->f

void *mc_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    mc_dir_conf_t *base = basev, *add = addv;
    mc_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    /* values that go together are inherited together */
    const mc_dir_conf_t *ru = add->remote_user != NULL ? add : base;
    const mc_dir_conf_t *ex = add->export_mode != MC_UNSET ? add : base;
    const mc_dir_conf_t *tf = add->token_from != MC_UNSET ? add : base;
    const mc_dir_conf_t *hp = add->header_prefix != NULL ? add : base;

    MERGE_PTR(trust);
    c->audience = add->audience.set ? add->audience : base->audience;
    c->remote_user = ru->remote_user;
    c->remote_user_qualified = ru->remote_user_qualified;
    c->export_mode = ex->export_mode;
    c->export_paths = ex->export_paths;
    c->max_token = add->max_token != 0 ? add->max_token : base->max_token;
    c->token_from = tf->token_from;
    c->cookie_name = tf->cookie_name;
    c->query_name = tf->query_name;
    c->headers = merge_headers(p, base->headers, add->headers);
    c->header_prefix = hp->header_prefix;
    c->header_prefix_norm = hp->header_prefix_norm;
    MERGE_INT(header_encoding);
    MERGE_INT(forward_token);
    MERGE_INT(optional);
    MERGE_INT(preflight_pass);
    MERGE_INT(dpop);
    c->dpop_algs = add->dpop_algs != 0 ? add->dpop_algs : base->dpop_algs;
    c->dpop_window = add->dpop_window != 0 ? add->dpop_window : base->dpop_window;
    MERGE_INT(dpop_nonce);
    c->cert_header = add->cert_header != NULL ? add->cert_header : base->cert_header;
    merge_resource(c, base, add);
    return c;
}

/* ------------------------------------------------------------------ directory directives */

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

/* ClaimsAudience: inside <ClaimsIssuer> the issuer's default, elsewhere this location's. */
static const char *set_audience(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (mc_current_issuer(cmd) != NULL) {
        return mc_set_issuer_audience(cmd, arg);
    }
    if (!dc->audience.set) {
        dc->audience.audiences = NULL;
        dc->audience.any = 0;
        dc->audience.set = 1;
    }
    return mc_add_audience(cmd, (apr_array_header_t **)&dc->audience.audiences, &dc->audience.any, arg);
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

    if (dc->export_mode != MC_UNSET
        && (word || dc->export_mode == MC_EXPORT_ALL || dc->export_paths->nelts == 0)) {
        return "ClaimsExport: \"all\" and \"none\" stand alone";
    }
    if (strcasecmp(arg, "all") == 0) {
        dc->export_mode = MC_EXPORT_ALL;
        dc->export_paths = NULL;
        return NULL;
    }
    if (dc->export_mode == MC_UNSET) {
        dc->export_mode = MC_EXPORT_LIST;
        dc->export_paths = apr_array_make(cmd->pool, 4, sizeof(claims_path_t *));
    }
    if (word) {
        return NULL;  /* none: the empty list */
    }
    path = claims_path_compile(cmd->pool, arg, &err);
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "ClaimsExport: %s", err);
    }
    APR_ARRAY_PUSH(dc->export_paths, claims_path_t *) = path;
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
    if (dc->token_from == MC_UNSET) {
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

/* Remembers a header name or prefix for the server-wide scrub (mod_claims_identity.c). Not from
 * .htaccess files, read per request: their sections scrub per directory only. */
static void note_scrub_name(cmd_parms *cmd, const char *norm, int prefix)
{
    mc_srv_conf_t *sc = mc_srv(cmd->server);
    apr_array_header_t **list = prefix ? &sc->scrub_prefixes : &sc->scrub_names;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM) {
        return;
    }
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = norm;
}

static const char *set_header(cmd_parms *cmd, void *mconfig, const char *name, const char *path)
{
    mc_dir_conf_t *dc = mconfig;
    mc_header_t *h;
    char *err = NULL;
    if (!mc_valid_header_name(name)) {
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
    h->norm = claims_header_name_norm(cmd->pool, name);
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
    if (!mc_valid_header_name(prefix) || strlen(prefix) < 3) {
        return apr_psprintf(cmd->pool, "ClaimsHeaderPrefix: \"%s\" is not a valid header name prefix "
                            "(at least 3 characters, e.g. X-Claim-)", prefix);
    }
    dc->header_prefix = prefix;
    dc->header_prefix_norm = claims_header_name_norm(cmd->pool, prefix);
    note_scrub_name(cmd, dc->header_prefix_norm, 1);
    return NULL;
}

static const char *set_header_encoding(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(arg, "percent") == 0) {
        dc->header_encoding = CLAIMS_HDR_PERCENT;
    }
    else if (strcasecmp(arg, "raw") == 0) {
        dc->header_encoding = CLAIMS_HDR_RAW;
    }
    else if (strcasecmp(arg, "base64url") == 0) {
        dc->header_encoding = CLAIMS_HDR_BASE64URL;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsHeaderEncoding: \"%s\" is not percent, raw or base64url", arg);
    }
    return NULL;
}

/* ClaimsForwardToken On|Off|jwt */
static const char *set_forward_token(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(arg, "on") == 0) {
        dc->forward_token = MC_FORWARD_ON;
    }
    else if (strcasecmp(arg, "off") == 0) {
        dc->forward_token = MC_FORWARD_OFF;
    }
    else if (strcasecmp(arg, "jwt") == 0) {
        dc->forward_token = MC_FORWARD_JWT;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsForwardToken: \"%s\" is not On, Off or jwt", arg);
    }
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

/* On|Off into the int at the offset cmd->info gives: of the directory record, or of the server
 * record for a RSRC_CONF directive (GLOBAL_ONLY there). */
static const char *set_dir_flag(cmd_parms *cmd, void *mconfig, int on)
{
    *(int *)((char *)mconfig + (apr_size_t)cmd->info) = on ? 1 : 0;
    return NULL;
}

static const char *set_srv_flag(cmd_parms *cmd, void *mconfig, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    *(int *)((char *)mc_srv(cmd->server) + (apr_size_t)cmd->info) = on ? 1 : 0;
    return NULL;
}

/* ------------------------------------------------------------------ resource metadata (issue 16) */

/* ClaimsResource URI: this location's protected resource identifier (RFC 9728, RFC 8707). */
static const char *set_resource(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    apr_array_header_t *aud;
    const char *why = claims_resource_check(arg);
    if (why != NULL) {
        return apr_psprintf(cmd->pool, "ClaimsResource %s: %s (RFC 9728: an https URL without a fragment)",
                            arg, why);
    }
    dc->resource = arg;
    dc->resource_metadata_url = claims_metadata_url(cmd->pool, arg);
    aud = apr_array_make(cmd->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(aud, const char *) = arg;
    dc->resource_audience.audiences = aud;
    dc->resource_audience.any = 0;
    dc->resource_audience.set = 1;
    return NULL;
}

static const char *set_resource_docs(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *why = claims_doc_url_check(arg);
    if (why != NULL) {
        return apr_psprintf(cmd->pool, "ClaimsResourceDocs %s: %s", arg, why);
    }
    ((mc_dir_conf_t *)mconfig)->resource_docs = arg;
    return NULL;
}

static const char *set_error_format(cmd_parms *cmd, void *mconfig, const char *arg)
{
    mc_dir_conf_t *dc = mconfig;
    if (strcasecmp(arg, "html") == 0) {
        dc->error_format = MC_ERRORS_HTML;
    }
    else if (strcasecmp(arg, "problem-json") == 0) {
        dc->error_format = MC_ERRORS_PROBLEM;
    }
    else if (strcasecmp(arg, "auto") == 0) {
        dc->error_format = MC_ERRORS_AUTO;
    }
    else {
        return apr_psprintf(cmd->pool, "ClaimsErrorFormat: \"%s\" is not html, problem-json or auto", arg);
    }
    return NULL;
}

/* ------------------------------------------------------------------ numbers (one slot helper) */

static const char *set_dir_number(cmd_parms *cmd, void *mconfig, const char *arg)
{
    return mc_set_slot(cmd, mconfig, arg);
}

static const char *set_srv_number(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return err != NULL ? err : mc_set_slot(cmd, mc_srv(cmd->server), arg);
}

static const mc_slot_t dpop_window_slot = {APR_OFFSETOF(mc_dir_conf_t, dpop_window), 1, 3600, MC_SLOT_SECONDS};
static const mc_slot_t max_token_slot = {APR_OFFSETOF(mc_dir_conf_t, max_token), 512, 65536, MC_SLOT_SIZE};
static const mc_slot_t cache_entries_slot = {APR_OFFSETOF(mc_srv_conf_t, cache_entries), 16, 10000000, MC_SLOT_SIZE};
static const mc_slot_t cache_bytes_slot = {APR_OFFSETOF(mc_srv_conf_t, cache_bytes), 65536,
                                           APR_INT64_C(17179869184), MC_SLOT_SIZE};

/* ------------------------------------------------------------------ process-wide directives */

static const char *set_key_cache(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    if (*arg == '\0') {
        return "ClaimsKeyCache: a socache provider name is required (e.g. shmcb)";
    }
    mc_srv(cmd->server)->key_cache = arg;
    return NULL;
}

static const char *set_introspection_cache(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    if (*arg == '\0') {
        return "ClaimsIntrospectionCache: a socache provider name is required (e.g. shmcb)";
    }
    mc_srv(cmd->server)->introspection_cache = arg;
    return NULL;
}

/* ClaimsReplayCache shmcb[:ARGS] | memcache:HOST:PORT | redis:HOST:PORT */
static const char *set_replay_cache(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    if (err != NULL) {
        return err;
    }
    if (*arg == '\0') {
        return "ClaimsReplayCache: a provider is required (shmcb, memcache:HOST:PORT or redis:HOST:PORT)";
    }
    if ((strncmp(arg, "memcache:", 9) == 0 || strncmp(arg, "redis:", 6) == 0)
        && (apr_parse_addr_port(&host, &scope, &port, strchr(arg, ':') + 1, cmd->temp_pool) != APR_SUCCESS
            || host == NULL || strchr(strchr(arg, ':') + 1, ',') != NULL)) {
        return apr_psprintf(cmd->pool, "ClaimsReplayCache: \"%s\" is not memcache:HOST:PORT or redis:HOST:PORT "
                            "(one server)", arg);
    }
    if ((err = mc_replay_check_spec(cmd->pool, arg)) != NULL) {
        return err;  /* a shmcb store too small to count its live jti in, or of a size shmcb refuses */
    }
    mc_srv(cmd->server)->replay_cache = arg;
    return NULL;
}

static const char *set_cache_secret(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;
    claims_store_secret_t *secret = NULL;
    char *why = NULL;
    if (err != NULL) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || *arg == '\0') {
        return apr_psprintf(cmd->pool, "ClaimsCacheSecret: invalid file path \"%s\"", arg);
    }
    if (claims_store_secret_load(cmd->pool, path, &secret, &why) != CLAIMS_OK) {
        return apr_psprintf(cmd->pool, "ClaimsCacheSecret: %s", why);
    }
    mc_srv(cmd->server)->cache_secret = secret;
    return NULL;
}

/* ------------------------------------------------------------------ the command table */

static const mc_slot_t leeway_slot = {APR_OFFSETOF(mc_issuer_t, policy.leeway), 0, 600, MC_SLOT_INT64};
static const mc_slot_t refresh_slot = {APR_OFFSETOF(mc_issuer_t, refresh), 1, 7 * 86400, MC_SLOT_SECONDS};
static const mc_slot_t fetch_timeout_slot = {APR_OFFSETOF(mc_issuer_t, fetch_timeout), 1, 60, MC_SLOT_SECONDS};
static const mc_slot_t kid_interval_slot = {APR_OFFSETOF(mc_issuer_t, kid_interval), 1, 86400, MC_SLOT_SECONDS};
static const mc_slot_t max_stale_slot = {APR_OFFSETOF(mc_issuer_t, max_stale), 1, 30 * 86400, MC_SLOT_SECONDS};
static const mc_slot_t waiters_slot = {APR_OFFSETOF(mc_issuer_t, refresh_waiters), 0, 1000, MC_SLOT_INT};
static const mc_slot_t introspection_ttl_slot = {APR_OFFSETOF(mc_issuer_t, introspection_ttl), 0, 86400,
                                                 MC_SLOT_SECONDS};
static const mc_slot_t negative_ttl_slot = {APR_OFFSETOF(mc_issuer_t, negative_ttl), 0, 3600, MC_SLOT_SECONDS};

const command_rec mc_cmds[] = {
    AP_INIT_RAW_ARGS("<ClaimsIssuer", mc_issuer_section, NULL, RSRC_CONF,
                     "A trusted token issuer: <ClaimsIssuer exact-iss-value> ... </ClaimsIssuer>"),
    AP_INIT_TAKE123("ClaimsKeyFile", mc_set_key_file, NULL, RSRC_CONF,
                    "Public key file (JWK, JWK Set, PEM or X.509) [kid=KID] [alg=ALG]"),
    AP_INIT_TAKE123("ClaimsSecretFile", mc_set_key_file, (void *)"secret", RSRC_CONF,
                    "HMAC secret file (raw bytes) alg=HS256|HS384|HS512 [kid=KID]"),
    AP_INIT_ITERATE("ClaimsAlgorithms", mc_set_algorithms, NULL, RSRC_CONF,
                    "JWS algorithms accepted from this issuer"),
    AP_INIT_ITERATE("ClaimsAudience", set_audience, NULL, RSRC_CONF | OR_AUTHCFG,
                    "Accepted audiences (aud), or 'any' to skip the audience check"),
    AP_INIT_TAKE1("ClaimsTokenType", mc_set_token_type, NULL, RSRC_CONF,
                  "Required JWS typ, e.g. at+jwt (RFC 9068)"),
    AP_INIT_ITERATE("ClaimsRequiredClaims", mc_set_required_claims, NULL, RSRC_CONF,
                    "Claims every token of this issuer must carry"),
    AP_INIT_TAKE1("ClaimsLeeway", mc_set_issuer_number, (void *)&leeway_slot, RSRC_CONF,
                  "Clock skew tolerated on exp/nbf/iat, seconds (default 60)"),
    AP_INIT_TAKE1("ClaimsJWKS", mc_set_jwks, NULL, RSRC_CONF, "Remote JWK Set URL of this issuer (https)"),
    AP_INIT_RAW_ARGS("ClaimsDiscovery", mc_set_discovery, NULL, RSRC_CONF,
                     "OpenID Connect / RFC 8414 metadata URL (default <issuer>/.well-known/openid-configuration)"),
    AP_INIT_TAKE1("ClaimsRefreshInterval", mc_set_issuer_number, (void *)&refresh_slot, RSRC_CONF,
                  "Seconds between key set refreshes, capped by the document's max-age (default 3600)"),
    AP_INIT_TAKE1("ClaimsFetchTimeout", mc_set_issuer_number, (void *)&fetch_timeout_slot, RSRC_CONF,
                  "Seconds a key set fetch, or a request waiting for one, may take (default 5)"),
    AP_INIT_TAKE1("ClaimsUnknownKidInterval", mc_set_issuer_number, (void *)&kid_interval_slot, RSRC_CONF,
                  "Minimum seconds between refreshes caused by unknown kids or failures (default 60)"),
    AP_INIT_TAKE1("ClaimsMaxStale", mc_set_issuer_number, (void *)&max_stale_slot, RSRC_CONF,
                  "Seconds the last good key set keeps serving while the IdP fails (default 86400)"),
    AP_INIT_TAKE1("ClaimsRefreshWaiters", mc_set_issuer_number, (void *)&waiters_slot, RSRC_CONF,
                  "Requests per child process that wait for a key set refresh on an unknown kid; the "
                  "rest are refused at once (default 2, 0: none wait)"),
    AP_INIT_RAW_ARGS("ClaimsIntrospection", mc_set_introspection, NULL, RSRC_CONF,
                     "Opaque tokens of this issuer are introspected (RFC 7662) at this URL (default: the "
                     "introspection_endpoint of ClaimsDiscovery)"),
    AP_INIT_TAKE_ARGV("ClaimsIntrospectionClient", mc_set_introspection_client, NULL, RSRC_CONF,
                      "CLIENT_ID secret=FILE [method=client_secret_basic|client_secret_post] or CLIENT_ID "
                      "key=FILE [method=private_key_jwt] [alg=ALG] [kid=KID]"),
    AP_INIT_TAKE1("ClaimsIntrospectionFormat", mc_set_introspection_format, NULL, RSRC_CONF,
                  "Introspection answers as json (RFC 7662, default) or jwt (RFC 9701, signed by the issuer)"),
    AP_INIT_TAKE1("ClaimsIntrospectionCacheTTL", mc_set_issuer_number, (void *)&introspection_ttl_slot, RSRC_CONF,
                  "Most seconds an active answer is reused, never past the token's exp (default 60)"),
    AP_INIT_TAKE1("ClaimsIntrospectionNegativeTTL", mc_set_issuer_number, (void *)&negative_ttl_slot, RSRC_CONF,
                  "Seconds an inactive answer is remembered (default 5)"),
    AP_INIT_TAKE1("ClaimsCAFile", mc_set_ca, (void *)"file", RSRC_CONF,
                  "CA certificates (PEM) to verify the identity provider (default: system store)"),
    AP_INIT_TAKE1("ClaimsCAPath", mc_set_ca, (void *)"dir", RSRC_CONF,
                  "Directory of hashed CA certificates to verify the identity provider"),
    AP_INIT_TAKE1("ClaimsProxy", mc_set_proxy, NULL, RSRC_CONF,
                  "Outbound proxy URL for key set fetches (default none)"),
    AP_INIT_FLAG("ClaimsAllowHTTP", mc_set_allow_http, NULL, RSRC_CONF,
                 "Allow plain http key set URLs to loopback addresses, for tests (default Off)"),
    AP_INIT_TAKE1("ClaimsKeyCache", set_key_cache, NULL, RSRC_CONF,
                  "socache provider[:args] sharing remote key sets between children (default shmcb)"),
    AP_INIT_TAKE1("ClaimsIntrospectionCache", set_introspection_cache, NULL, RSRC_CONF,
                  "socache provider[:args] sharing introspection answers between children and servers "
                  "(default shmcb)"),
    AP_INIT_TAKE1("ClaimsReplayCache", set_replay_cache, NULL, RSRC_CONF,
                  "Where DPoP proofs' jti are remembered, with an atomic insert: shmcb[:(BYTES)] (default, "
                  "16 MiB, at least 1 MiB; one machine), memcache:HOST:PORT or redis:HOST:PORT (a fleet)"),
    AP_INIT_TAKE1("ClaimsCacheSecret", set_cache_secret, NULL, RSRC_CONF,
                  "File with the secret (32+ bytes) that authenticates records in a shared store; "
                  "required for ClaimsKeyCache other than shmcb"),
    AP_INIT_FLAG("ClaimsCache", set_srv_flag, (void *)APR_OFFSETOF(mc_srv_conf_t, cache), RSRC_CONF,
                 "Cache verified tokens in each child (default On)"),
    AP_INIT_TAKE1("ClaimsCacheEntries", set_srv_number, (void *)&cache_entries_slot, RSRC_CONF,
                  "Most tokens the cache of one child holds (default 10000)"),
    AP_INIT_TAKE1("ClaimsCacheSize", set_srv_number, (void *)&cache_bytes_slot, RSRC_CONF,
                  "Most bytes the cache of one child holds (default 33554432, 32 MiB)"),
    AP_INIT_ITERATE("ClaimsTrust", set_trust, NULL, OR_AUTHCFG,
                    "Issuers accepted here (default: every declared issuer)"),
    AP_INIT_TAKE12("ClaimsRemoteUser", set_remote_user, NULL, OR_AUTHCFG,
                   "Claim that becomes REMOTE_USER (default sub) [issuer-qualified]"),
    AP_INIT_ITERATE("ClaimsExport", set_export, NULL, OR_AUTHCFG,
                    "Claims exported as CLAIM_* variables: all (default), none, or claim paths"),
    AP_INIT_TAKE1("ClaimsMaxTokenSize", set_dir_number, (void *)&max_token_slot, OR_AUTHCFG,
                  "Largest accepted token in bytes, 512-65536 (default 8192)"),
    AP_INIT_ITERATE("ClaimsTokenFrom", set_token_from, NULL, OR_AUTHCFG,
                    "Where tokens may come from: header (default), cookie=NAME, form, query[=NAME]"),
    AP_INIT_TAKE2("ClaimsHeader", set_header, NULL, OR_AUTHCFG,
                  "Request header for proxied backends: ClaimsHeader NAME CLAIM-PATH"),
    AP_INIT_TAKE1("ClaimsHeaderPrefix", set_header_prefix, NULL, OR_AUTHCFG,
                  "Send every exported claim as <prefix><claim> request header (default none)"),
    AP_INIT_TAKE1("ClaimsHeaderEncoding", set_header_encoding, NULL, OR_AUTHCFG,
                  "Claim header values: percent (default), raw or base64url"),
    AP_INIT_TAKE1("ClaimsForwardToken", set_forward_token, NULL, OR_AUTHCFG,
                  "Pass the token on to proxied backends: Off (default), On (as sent) or jwt (Authorization: "
                  "Bearer <signed JWT>, the phantom token of an opaque one)"),
    AP_INIT_FLAG("ClaimsOptional", set_dir_flag, (void *)APR_OFFSETOF(mc_dir_conf_t, optional), OR_AUTHCFG,
                 "Let requests without a token through as anonymous (default Off)"),
    AP_INIT_TAKE1("ClaimsPreflight", set_preflight, NULL, OR_AUTHCFG,
                  "CORS preflight OPTIONS requests: authenticate (default) or pass"),
    /* sender-constrained tokens (RFC 9449 DPoP, RFC 8705 certificate-bound) */
    AP_INIT_TAKE1("ClaimsDPoP", mc_set_dpop, NULL, OR_AUTHCFG,
                  "DPoP proofs: On (default: DPoP and Bearer), Off, or Required (DPoP-bound tokens only)"),
    AP_INIT_ITERATE("ClaimsDPoPAlgorithms", mc_set_dpop_algorithms, NULL, OR_AUTHCFG,
                    "Algorithms accepted for DPoP proofs (default: every asymmetric one)"),
    AP_INIT_TAKE1("ClaimsDPoPWindow", set_dir_number, (void *)&dpop_window_slot, OR_AUTHCFG,
                  "Seconds a DPoP proof's iat may lie in the past (default 60)"),
    AP_INIT_FLAG("ClaimsDPoPNonce", set_dir_flag, (void *)APR_OFFSETOF(mc_dir_conf_t, dpop_nonce), OR_AUTHCFG,
                 "Require server-provided DPoP nonces (use_dpop_nonce, DPoP-Nonce) (default Off)"),
    AP_INIT_TAKE1("ClaimsDPoPNonceSecret", mc_set_nonce_secret, NULL, RSRC_CONF,
                  "File with the secret (32+ bytes) DPoP nonces are made with, shared by a fleet (default: "
                  "random per start)"),
    AP_INIT_TAKE_ARGV("ClaimsClientCertHeader", mc_set_cert_header, NULL, OR_AUTHCFG,
                      "NAME from=ADDRESS[/BITS]...: the client certificate in an RFC 9440 header, trusted only "
                      "from those proxies and removed from every other request"),
    /* protected resource metadata (RFC 9728) and error bodies (RFC 9457): issue 16 */
    AP_INIT_TAKE1("ClaimsResource", set_resource, NULL, OR_AUTHCFG,
                  "This location's protected resource identifier (https URL, RFC 9728 / RFC 8707); also "
                  "its default audience"),
    AP_INIT_FLAG("ClaimsResourceMetadata", set_dir_flag, (void *)APR_OFFSETOF(mc_dir_conf_t, resource_metadata),
                 OR_AUTHCFG, "Serve the RFC 9728 document of ClaimsResource and point challenges to it (default On)"),
    AP_INIT_TAKE1("ClaimsResourceDocs", set_resource_docs, NULL, OR_AUTHCFG,
                  "URL of the resource's documentation (resource_documentation)"),
    AP_INIT_TAKE1("ClaimsErrorFormat", set_error_format, NULL, OR_AUTHCFG,
                  "Bodies of refusals: html, problem-json (RFC 9457) or auto (default: problem-json when "
                  "Accept asks for JSON)"),
    {NULL}
};

/* ------------------------------------------------------------------ hooks */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mc_reset_issuer_records();
    return OK;
}

static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err = mc_check_config(ptemp, s);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(001) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Every server's issuers as the core sees them, for the per-request trust filter. */
static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    mc_warn_config(ptemp, s);
    for (server_rec *v = s; v != NULL; v = v->next) {
        mc_srv_conf_t *vc = mc_srv(v);
        vc->core_issuers = apr_array_make(pconf, vc->issuers->nelts, sizeof(const claims_issuer_t *));
        for (int i = 0; i < vc->issuers->nelts; i++) {
            const mc_issuer_t *ic = APR_ARRAY_IDX(vc->issuers, i, const mc_issuer_t *);
            APR_ARRAY_PUSH(vc->core_issuers, const claims_issuer_t *) = &ic->core;
            if (v == s || vc->issuers != mc_srv(s)->issuers) {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, v, MC_LOGNO(002) "issuer %s: %d key(s) loaded",
                             ic->core.iss, ic->core.keys->nelts);
            }
        }
    }
    return OK;
}

void mc_register_config_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
