/*
 * mod_claims_config_values.h - reading directive values: whole numbers into a field of a
 * configuration record (one helper for every number directive), audiences, and where a
 * directive was written. Used by mod_claims_config.c and mod_claims_config_issuer.c; calls
 * no other glue file.
 */
#ifndef MOD_CLAIMS_CONFIG_VALUES_H
#define MOD_CLAIMS_CONFIG_VALUES_H

#include "mod_claims_records.h"

typedef enum mc_slot_type_t {
    MC_SLOT_INT,                       /* int */
    MC_SLOT_INT64,                     /* apr_int64_t */
    MC_SLOT_SIZE,                      /* apr_size_t */
    MC_SLOT_SECONDS                    /* apr_interval_time_t, given in seconds */
} mc_slot_type_t;

/* A number directive: where its value goes and its range; the command's cmd->info. */
typedef struct mc_slot_t {
    apr_size_t offset;                 /* into the record the directive sets */
    apr_int64_t min, max;
    mc_slot_type_t type;
} mc_slot_t;

/* A whole number in [min, max]; garbage, units and fractions are errors naming the directive. */
const char *mc_parse_int(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max, apr_int64_t *out);

/* Sets the number of the slot cmd->info names in record. */
const char *mc_set_slot(cmd_parms *cmd, void *record, const char *arg);

/* Adds one ClaimsAudience word to *list (or sets *any for "any"). */
const char *mc_add_audience(cmd_parms *cmd, apr_array_header_t **list, int *any, const char *arg);

/* Whether s is an HTTP field name (RFC 9110 token characters, at least one). */
int mc_valid_header_name(const char *s);

/* file:line of the directive being read. */
const char *mc_where(cmd_parms *cmd);

#endif
