/*
 * claims_keyset.c - remote key set state, schedule and documents; see claims_keyset.h.
 */
#include "claims_keyset.h"
#include "claims_fetch.h"

#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

int claims_keyset_state_decode(const void *data, apr_size_t len, claims_keyset_state_t *out)
{
    if (data == NULL || len != sizeof(*out)) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    memcpy(out, data, sizeof(*out));
    if (out->magic != CLAIMS_KEYSET_STATE_MAGIC) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    out->last_error[sizeof(out->last_error) - 1] = '\0';
    out->jwks_uri[sizeof(out->jwks_uri) - 1] = '\0';
    out->introspection_endpoint[sizeof(out->introspection_endpoint) - 1] = '\0';
    return 1;
}

int claims_keyset_refresh_due(const claims_keyset_state_t *st, int have, apr_time_t local_attempt,
                              const claims_keyset_schedule_t *sch, apr_time_t now)
{
    if (!have) {
        /* nothing published (first start), or the store is down or its record was refused:
         * fetch, but no more often than a failing provider would be asked */
        return local_attempt == 0 || now - local_attempt >= sch->retry;
    }
    if (st->wanted_at > st->attempt_at) {
        return 1;  /* a request met an unknown kid; it checked the rate limit */
    }
    if (st->last_status != CLAIMS_OK) {
        return now - st->attempt_at >= sch->retry;  /* retry a failing provider gently */
    }
    return now >= st->expires_at;
}

int claims_keyset_may_ask(const claims_keyset_state_t *st, const claims_keyset_schedule_t *sch, apr_time_t now)
{
    return st->wanted_at <= st->attempt_at && now - st->attempt_at >= sch->retry;
}

apr_interval_time_t claims_keyset_lifetime(const claims_keyset_schedule_t *sch, apr_int64_t max_age)
{
    apr_interval_time_t every = sch->refresh;
    /* max-age beyond what apr_time_t holds is no bound at all */
    if (max_age >= 0 && max_age < APR_INT64_C(1000000000) && apr_time_from_sec(max_age) < every) {
        every = apr_time_from_sec(max_age);
        if (every < sch->retry) {
            every = sch->retry;
        }
    }
    return every;
}

apr_uint64_t claims_keyset_next_version(apr_uint64_t previous, apr_time_t now)
{
    return now > 0 && (apr_uint64_t)now > previous ? (apr_uint64_t)now : previous + 1;
}

apr_time_t claims_keyset_next_at(const claims_keyset_state_t *st, const claims_keyset_schedule_t *sch)
{
    return st->last_status == CLAIMS_OK ? st->expires_at : st->attempt_at + sch->retry;
}

int claims_keyset_is_stale(apr_time_t due_at, apr_interval_time_t max_stale, apr_time_t now)
{
    return now - due_at > max_stale;
}

claims_status_t claims_keyset_parse(apr_pool_t *p, const claims_keyset_rules_t *rules, const char *doc,
                                    apr_size_t len, const char *label, apr_array_header_t *skipped,
                                    const claims_logger_t *log, apr_array_header_t **keys, char **err)
{
    claims_key_opts_t opts;
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(claims_key_t *));
    claims_status_t st;

    memset(&opts, 0, sizeof(opts));
    opts.allowed = rules->algs;
    opts.skip_unusable = 1;       /* providers publish encryption keys, and keys without alg */
    opts.allow_symmetric = 0;     /* never an HMAC key from the network (CL-28) */
    opts.skipped = skipped;
    opts.log = log;
    if (rules->local != NULL) {
        apr_array_cat(out, rules->local);
    }
    st = claims_keys_parse(p, doc, len, label, &opts, out, err);
    if (st == CLAIMS_OK) {
        st = claims_keys_check_set(p, out, err);
    }
    if (st == CLAIMS_OK) {
        *keys = out;
    }
    return st;
}

claims_status_t claims_keyset_discovery_url(apr_pool_t *p, const char *doc, apr_size_t len, const char *issuer,
                                            const char *member, int allow_http_loopback, const char **url,
                                            const char **err)
{
    json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL), *iss, *v;
    claims_status_t st = CLAIMS_OK;
    const char *why;

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        *err = "metadata is not a JSON object";
        return CLAIMS_ERR_CONFIG;
    }
    iss = json_object_get(root, "issuer");
    v = json_object_get(root, member);
    if (!json_is_string(iss) || json_string_length(iss) != strlen(issuer) || strcmp(json_string_value(iss), issuer) != 0) {
        *err = "metadata \"issuer\" does not equal the configured issuer";
        st = CLAIMS_ERR_ISSUER;
    }
    else if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v))) {
        *err = "metadata does not name that endpoint";
        st = CLAIMS_ERR_CONFIG;
    }
    else if ((why = claims_fetch_check_url(p, json_string_value(v), allow_http_loopback)) != NULL) {
        *err = "metadata names an endpoint the URL policy refuses";
        st = CLAIMS_ERR_CONFIG;
    }
    else {
        *url = apr_pstrdup(p, json_string_value(v));
    }
    json_decref(root);
    return st;
}
