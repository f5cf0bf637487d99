/*
 * mod_claims_config_check.c - start-up checks of the whole configuration; see
 * mod_claims_config_check.h.
 */
#include "mod_claims_config_check.h"

#include "http_core.h"

#include "ap_provider.h"
#include "ap_socache.h"
#include "util_cfgtree.h"

#include <apr_strings.h>
#include <string.h>

static int section_sets(const ap_directive_t *sec, const char *name)
{
    for (const ap_directive_t *d = sec->first_child; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ClaimsResource is an audience too (issue 16: the resource's default audience, RFC 8707). */
static int sets_audience(const ap_directive_t *sec)
{
    return section_sets(sec, "ClaimsAudience") || section_sets(sec, "ClaimsResource");
}

static int uses_claims(apr_pool_t *p, const ap_directive_t *sec)
{
    for (const ap_directive_t *d = sec->first_child; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "AuthType") == 0 && d->args != NULL) {
            const char *a = d->args;
            if (strcasecmp(ap_getword_conf(p, &a), MC_AUTH_TYPE) == 0) {
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
        if (ic->policy.audiences == NULL && !ic->policy.audience_any) {
            return 0;
        }
    }
    return 1;
}

/* A section of the main server applies in every virtual host too, with its issuers. */
static int every_vhost_has_audience(server_rec *s)
{
    for (server_rec *v = s->next; v != NULL; v = v->next) {
        if (!all_issuers_have_audience(mc_srv(v))) {
            return 0;
        }
    }
    return 1;
}

/* The configuration of the virtual host a <VirtualHost> section made (NULL if none). */
static const mc_srv_conf_t *vhost_conf(const ap_directive_t *d, server_rec *s)
{
    for (server_rec *v = s->next; v != NULL; v = v->next) {
        if (v->defn_name != NULL && d->filename != NULL && strcmp(v->defn_name, d->filename) == 0
            && v->defn_line_number == (unsigned)d->line_num) {
            return mc_srv(v);
        }
    }
    return NULL;
}

/* Whether an enclosing section, or an outer one of the same kind whose path is a prefix of
 * d's, sets ClaimsAudience. */
static int audience_from_outside(apr_pool_t *p, const ap_directive_t *d, const ap_directive_t *outer)
{
    if (outer != NULL && sets_audience(outer)) {
        return 1;
    }
    for (const ap_directive_t *o = outer != NULL ? outer->first_child : ap_conftree; o != NULL; o = o->next) {
        if (o != d && o->first_child != NULL && sets_audience(o)
            && strcasecmp(o->directive, d->directive) == 0 && o->args != NULL && d->args != NULL) {
            const char *ow = section_path(p, o), *dw = section_path(p, d);
            if (strncmp(dw, ow, strlen(ow)) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

typedef struct audience_walk_t {
    apr_pool_t *p;
    server_rec *s;
} audience_walk_t;

static const char *check_audiences(const audience_walk_t *w, const ap_directive_t *node, const ap_directive_t *outer,
                                   const mc_srv_conf_t *sc, int in_vhost);

/* Sections that only contain others: their contents are checked with the right issuers. */
static const char *check_container(const audience_walk_t *w, const ap_directive_t *d, const mc_srv_conf_t *sc,
                                   int in_vhost, int *handled)
{
    *handled = 1;
    if (strcasecmp(d->directive, "<VirtualHost") == 0) {
        /* a virtual host's sections are checked against its own issuers (those it declares and
         * those it takes from the main server) */
        const mc_srv_conf_t *vc = vhost_conf(d, w->s);
        return check_audiences(w, d->first_child, d, vc != NULL ? vc : sc, 1);
    }
    if (strcasecmp(d->directive, "<IfModule") == 0 || strcasecmp(d->directive, "<IfDefine") == 0
        || strcasecmp(d->directive, "<IfVersion") == 0) {
        return check_audiences(w, d->first_child, d, sc, in_vhost);
    }
    *handled = 0;
    return NULL;
}

/* CL-72: a protected section needs an audience: its own, an enclosing section's, that of an
 * outer section whose path is a prefix of its own, or the default of every issuer it may see. */
static const char *check_audiences(const audience_walk_t *w, const ap_directive_t *node, const ap_directive_t *outer,
                                   const mc_srv_conf_t *sc, int in_vhost)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        int handled = 0;
        const char *err;
        if (d->first_child == NULL) {
            continue;
        }
        if ((err = check_container(w, d, sc, in_vhost, &handled)) != NULL) {
            return err;
        }
        if (handled || !uses_claims(w->p, d) || sets_audience(d)
            || (all_issuers_have_audience(sc) && (in_vhost || every_vhost_has_audience(w->s)))
            || audience_from_outside(w->p, d, outer)) {
            continue;
        }
        return apr_psprintf(w->p, "%s:%d: %s %s> uses AuthType claims but no audience is configured: "
                            "set ClaimsAudience (or ClaimsAudience any to accept every audience)",
                            d->filename, d->line_num, d->directive, section_path(w->p, d));
    }
    return NULL;
}

static int issuer_declared(server_rec *s, const char *iss)
{
    for (server_rec *v = s; v != NULL; v = v->next) {
        const mc_srv_conf_t *vc = mc_srv(v);
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

/* A store outside this machine's shared memory is only used with a secret to authenticate
 * (and, for claims, encrypt) what is read back from it (CL-89). */
static const char *check_store(apr_pool_t *p, const mc_srv_conf_t *sc, const char *spec, const char *directive)
{
    const char *sep, *name;
    if (spec == NULL) {
        return NULL;  /* shmcb, needed (and checked at start) only where it is used */
    }
    sep = strchr(spec, ':');
    name = sep != NULL ? apr_pstrndup(p, spec, (apr_size_t)(sep - spec)) : spec;
    if (ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION) == NULL) {
        return apr_psprintf(p, "%s needs the socache provider \"%s\": load it, e.g. a2enmod socache_%s",
                            directive, name, name);
    }
    if (strcmp(name, MC_DEFAULT_KEY_CACHE) != 0 && sc->cache_secret == NULL) {
        return apr_psprintf(p, "%s %s: a store outside this machine's shared memory can be "
                            "written by others: set ClaimsCacheSecret to a file of at least %d random bytes "
                            "that every server sharing the store has (e.g. openssl rand -base64 48)",
                            directive, spec, CLAIMS_STORE_SECRET_MIN);
    }
    return NULL;
}

/* ClaimsForwardToken jwt hands a backend a signed JWT: of an opaque token, only an RFC 9701
 * answer is one (with JSON answers, a JWT would have to be invented). */
static const char *json_introspector(server_rec *s)
{
    for (server_rec *v = s; v != NULL; v = v->next) {
        const mc_srv_conf_t *vc = mc_srv(v);
        for (int i = 0; i < vc->issuers->nelts; i++) {
            const mc_issuer_t *ic = APR_ARRAY_IDX(vc->issuers, i, const mc_issuer_t *);
            if (ic->introspection && !ic->introspection_jwt) {
                return ic->core.iss;
            }
        }
    }
    return NULL;
}

static const char *check_forward_jwt(apr_pool_t *p, const ap_directive_t *node, server_rec *s)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        const char *iss;
        if (strcasecmp(d->directive, "ClaimsForwardToken") == 0 && d->args != NULL
            && strcasecmp(d->args, "jwt") == 0 && (iss = json_introspector(s)) != NULL) {
            return apr_psprintf(p, "%s:%d: ClaimsForwardToken jwt: issuer %s introspects opaque tokens with JSON "
                                "answers, and a JWT is never invented: set ClaimsIntrospectionFormat jwt there",
                                d->filename, d->line_num, iss);
        }
        if (d->first_child != NULL && (iss = check_forward_jwt(p, d->first_child, s)) != NULL) {
            return iss;
        }
    }
    return NULL;
}

const char *mc_check_config(apr_pool_t *p, server_rec *s)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    audience_walk_t w = {p, s};
    const char *err = check_audiences(&w, ap_conftree, NULL, sc, 0);
    if (err == NULL) {
        err = check_trust(p, ap_conftree, s);
    }
    if (err == NULL) {
        err = check_store(p, sc, sc->key_cache, "ClaimsKeyCache");
    }
    if (err == NULL) {
        err = check_store(p, sc, sc->introspection_cache, "ClaimsIntrospectionCache");
    }
    if (err == NULL) {
        err = check_forward_jwt(p, ap_conftree, s);
    }
    if (err == NULL && sc->replay_cache != NULL) {
        const char *name = mc_replay_cache_provider(p, sc);
        if (strcmp(name, "memcache") == 0 || strcmp(name, "redis") == 0) {
            if (sc->cache_secret == NULL) {
                err = apr_psprintf(p, "ClaimsReplayCache %s: a store outside this machine needs ClaimsCacheSecret "
                                   "(its keys are keyed digests every server of the fleet must compute alike)",
                                   sc->replay_cache);
            }
        }
        else {
            err = check_store(p, sc, sc->replay_cache, "ClaimsReplayCache");
        }
    }
    return err;
}

static void warn_audience_any(apr_pool_t *p, const ap_directive_t *node, server_rec *s)
{
    for (const ap_directive_t *d = node; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "ClaimsAudience") == 0 && d->args != NULL) {
            const char *a = d->args, *w;
            while (*(w = ap_getword_conf(p, &a)) != '\0') {
                if (strcasecmp(w, "any") == 0) {
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MC_LOGNO(003) "%s:%d: ClaimsAudience any: "
                                 "tokens issued for any audience are accepted there", d->filename, d->line_num);
                }
            }
        }
        if (d->first_child != NULL) {
            warn_audience_any(p, d->first_child, s);
        }
    }
}

void mc_warn_config(apr_pool_t *p, server_rec *s)
{
    warn_audience_any(p, ap_conftree, s);
}
