/*
 * mod_claims_metadata.h - OAuth 2.0 protected resource metadata (RFC 9728) for the locations
 * that set ClaimsResource: the documents, built once per server at start-up and served without
 * authentication at /.well-known/oauth-protected-resource[/path]; the resource_metadata
 * parameter of every challenge there; and the configtest errors of the feature.
 */
#ifndef MOD_CLAIMS_METADATA_H
#define MOD_CLAIMS_METADATA_H

#include "mod_claims_records.h"

/* `, resource_metadata="<URL>"` for a challenge at r's location (ClaimsResource there and
 * ClaimsResourceMetadata not Off), or "". Every WWW-Authenticate challenge of the module ends
 * with it (RFC 9728 section 5.1). */
const char *mc_resource_metadata_param(request_rec *r);

/* Called by the Require scope provider as it parses a line that is not negated (`Require not
 * scope`, inside <RequireNone>): the fixed scopes it requires (space-separated) become
 * scopes_supported of the section's resource. */
void mc_metadata_note_scopes(cmd_parms *cmd, const char *scopes);

void mc_register_metadata_hooks(apr_pool_t *p);

#endif
