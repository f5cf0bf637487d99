/*
 * mod_claims_problem.c - problem+json bodies for the module's refusals; see mod_claims_problem.h.
 *
 * How: httpd builds every error answer in ap_send_error_response, which sets text/html and
 * writes its own page (or an ErrorDocument string, still as text/html). Just before, it runs
 * the insert_error_filter hook; there, for a refusal of ours, this file adds an output filter
 * that drops that page, writes the problem body instead and sets application/problem+json. An
 * ErrorDocument with a local URL (an internal redirect the operator chose) is left alone.
 *
 * Why a filter rather than an internal redirect to a handler of ours: the redirect would run
 * a second request through every phase of the location that just refused (its AuthType claims
 * and Require lines included, so it would be refused again unless it bypassed them), and it
 * would need an URL of ours in every server's space. The filter touches only the answer
 * httpd is already sending, with its status and headers.
 *
 * What: the body repeats the challenge the module set in err_headers_out (WWW-Authenticate,
 * always sent too) and keeps only known error codes and the module's fixed texts
 * (claims_problem.h), so no byte a client sent reaches it (CL-57, CL-100).
 */
#include "mod_claims_problem.h"
#include "mod_claims_authn.h"

#include "claims_problem.h"

#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include <apr_strings.h>
#include <string.h>

#define MC_FILTER_PROBLEM "CLAIMS_PROBLEM"

/* The page httpd writes is dropped; the problem body goes before the end of the stream. */
static apr_status_t problem_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *body = f->ctx;
    apr_bucket *e = APR_BRIGADE_FIRST(bb);

    ap_set_content_type(r, CLAIMS_PROBLEM_TYPE);
    r->content_languages = NULL;
    while (e != APR_BRIGADE_SENTINEL(bb)) {
        apr_bucket *next = APR_BUCKET_NEXT(e);
        if (APR_BUCKET_IS_EOS(e)) {
            APR_BUCKET_INSERT_BEFORE(e, apr_bucket_pool_create(body, strlen(body), r->pool, bb->bucket_alloc));
            ap_remove_output_filter(f);
            break;
        }
        if (!APR_BUCKET_IS_METADATA(e)) {
            apr_bucket_delete(e);
        }
        e = next;
    }
    return APR_BRIGADE_EMPTY(bb) ? APR_SUCCESS : ap_pass_brigade(f->next, bb);
}

/* Whether this refusal gets a problem body: ClaimsErrorFormat, and Accept for auto (whose
 * answers then vary by Accept, whichever body they get). */
static int wants_problem(request_rec *r, const mc_dir_conf_t *dc)
{
    switch (mc_error_format(dc)) {
    case MC_ERRORS_PROBLEM:
        return 1;
    case MC_ERRORS_AUTO:
        apr_table_mergen(r->err_headers_out, "Vary", "Accept");
        return claims_problem_wanted(apr_table_get(r->headers_in, "Accept"));
    default:
        return 0;
    }
}

/* Of the module's challenges (Bearer, DPoP: RFC 9449 section 7.1), the one that carries the
 * error (the scheme the request used), else the first. */
static int pick_challenge(void *baton, const char *key, const char *value)
{
    const char **picked = baton;
    (void)key;
    if (strncasecmp(value, "Bearer ", 7) != 0 && strncasecmp(value, "DPoP ", 5) != 0) {
        return 1;
    }
    if (*picked == NULL || (strstr(*picked, "error=") == NULL && strstr(value, "error=") != NULL)) {
        *picked = value;
    }
    return 1;
}

static void insert_problem(request_rec *r)
{
    const mc_dir_conf_t *dc = mc_dir(r);
    const char *challenge = NULL;
    claims_problem_t pb;
    const char *body;

    apr_table_do(pick_challenge, &challenge, r->err_headers_out, "WWW-Authenticate", NULL);
    /* only the module's refusals: its location, its statuses, its challenge */
    if (dc == NULL || !mc_is_ours(r) || challenge == NULL
        || (r->status != HTTP_BAD_REQUEST && r->status != HTTP_UNAUTHORIZED && r->status != HTTP_FORBIDDEN)
        || !wants_problem(r, dc)) {
        return;
    }
    claims_problem_from_challenge(r->pool, r->status, challenge, &pb);
    body = claims_problem_body(r->pool, &pb);
    if (body != NULL) {
        ap_add_output_filter(MC_FILTER_PROBLEM, (void *)body, r, r->connection);
    }
}

void mc_register_problem_hooks(apr_pool_t *p)
{
    ap_register_output_filter(MC_FILTER_PROBLEM, problem_filter, NULL, AP_FTYPE_RESOURCE);
    ap_hook_insert_error_filter(insert_problem, NULL, NULL, APR_HOOK_MIDDLE);
}
