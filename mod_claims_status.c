/*
 * mod_claims_status.c - the operators' view: `SetHandler claims-status` serves what
 * mod_claims_status_view.c gathers (refusals by issuer and reason, issuers and their keys,
 * remote key sets, caches, uptime) as HTML by default, ?format=json (documented, versioned
 * layout) or ?format=prometheus (text exposition format 0.0.4). It shows no token, claim value,
 * key material, secret or URL userinfo.
 *
 * This file only picks the format; the page reads, it never changes anything.
 */
#include "mod_claims_status.h"
#include "mod_claims_status_html.h"
#include "mod_claims_status_json.h"
#include "mod_claims_status_prom.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include <string.h>

#define MC_STATUS_HANDLER "claims-status"

typedef enum { FMT_HTML, FMT_JSON, FMT_PROMETHEUS } status_format_t;

/* format=json or format=prometheus among the query's parameters (anything else: HTML). */
static status_format_t format_of(request_rec *r)
{
    const char *args = r->args;
    while (args != NULL && *args != '\0') {
        apr_size_t n = strcspn(args, "&;");
        if (n == sizeof("format=json") - 1 && strncmp(args, "format=json", n) == 0) {
            return FMT_JSON;
        }
        if (n == sizeof("format=prometheus") - 1 && strncmp(args, "format=prometheus", n) == 0) {
            return FMT_PROMETHEUS;
        }
        args += n;
        args += *args != '\0';
    }
    return FMT_HTML;
}

static int status_handler(request_rec *r)
{
    status_format_t fmt;
    mc_status_view_t *view;
    if (r->handler == NULL || strcmp(r->handler, MC_STATUS_HANDLER) != 0) {
        return DECLINED;
    }
    r->allowed |= (AP_METHOD_BIT << M_GET);
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);  /* the Allow header of a 405 */
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    fmt = format_of(r);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (fmt == FMT_JSON) {
        ap_set_content_type(r, "application/json");
    }
    else if (fmt == FMT_PROMETHEUS) {
        ap_set_content_type(r, MC_PROM_CONTENT_TYPE);
    }
    else {
        ap_set_content_type(r, "text/html; charset=utf-8");
        apr_table_setn(r->headers_out, "Content-Security-Policy", MC_HTML_CSP);
    }
    if (r->header_only) {
        return OK;
    }
    view = mc_status_collect(r);
    if (fmt == FMT_JSON) {
        mc_status_json(r, view);
    }
    else if (fmt == FMT_PROMETHEUS) {
        mc_status_prometheus(r, view);
    }
    else {
        mc_status_html(r, view);
    }
    return OK;
}

void mc_register_status_hooks(apr_pool_t *p)
{
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
