/*
 * mod_claims_status_json.h - the status page as JSON (?format=json): the same content as the
 * HTML page, in the documented, versioned layout of README.md ("Status page", schema_version).
 */
#ifndef MOD_CLAIMS_STATUS_JSON_H
#define MOD_CLAIMS_STATUS_JSON_H

#include "mod_claims_status_view.h"

void mc_status_json(request_rec *r, const mc_status_view_t *view);

#endif
