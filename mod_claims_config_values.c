/*
 * mod_claims_config_values.c - reading directive values; see mod_claims_config_values.h.
 */
#include "mod_claims_config_values.h"

#include "http_core.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <errno.h>
#include <string.h>

const char *mc_parse_int(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max, apr_int64_t *out)
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

const char *mc_set_slot(cmd_parms *cmd, void *record, const char *arg)
{
    const mc_slot_t *slot = cmd->info;
    char *field = (char *)record + slot->offset;
    apr_int64_t v = 0;
    const char *err = mc_parse_int(cmd, arg, slot->min, slot->max, &v);
    if (err != NULL) {
        return err;
    }
    switch (slot->type) {
    case MC_SLOT_SECONDS:
        *(apr_interval_time_t *)(void *)field = apr_time_from_sec(v);
        break;
    case MC_SLOT_SIZE:
        *(apr_size_t *)(void *)field = (apr_size_t)v;
        break;
    case MC_SLOT_INT64:
        *(apr_int64_t *)(void *)field = v;
        break;
    default:
        *(int *)(void *)field = (int)v;
        break;
    }
    return NULL;
}

const char *mc_add_audience(cmd_parms *cmd, apr_array_header_t **list, int *any, const char *arg)
{
    if (*arg == '\0') {
        return "ClaimsAudience: an empty audience is never accepted";
    }
    if (strcasecmp(arg, "any") == 0) {
        *any = 1;
    }
    else {
        if (*list == NULL) {
            *list = apr_array_make(cmd->pool, 2, sizeof(const char *));
        }
        APR_ARRAY_PUSH(*list, const char *) = arg;
    }
    if (*any && *list != NULL) {
        return "ClaimsAudience: \"any\" cannot be combined with audiences";
    }
    return NULL;
}

const char *mc_where(cmd_parms *cmd)
{
    if (cmd->directive == NULL) {
        return "(unknown)";
    }
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
}

int mc_valid_header_name(const char *s)
{
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
