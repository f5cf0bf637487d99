/*
 * mod_claims_status_html.h - the status page as HTML (the default): one plain, self-contained
 * page (no scripts, no external assets) that answers "why is this refused?": refusals by issuer
 * and reason with the fixed texts of the WWW-Authenticate answers, issuers and their keys,
 * remote key sets, caches, uptime.
 */
#ifndef MOD_CLAIMS_STATUS_HTML_H
#define MOD_CLAIMS_STATUS_HTML_H

#include "mod_claims_status_view.h"

/* What the page may load: nothing but its own inline style (sent as Content-Security-Policy). */
#define MC_HTML_CSP "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " \
                    "frame-ancestors 'none'"

void mc_status_html(request_rec *r, const mc_status_view_t *view);

#endif
