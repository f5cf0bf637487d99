/*
 * cg_control.c - a tiny httpd module for the benchmark (not part of mod_claims): a handler that
 * lets the benchmark driver zero and dump callgrind's counters between phases of requests, so an
 * httpd running under `valgrind --tool=callgrind apache2 -X` is measured without vgdb (whose
 * pipes a process that dropped root privileges can no longer open).
 *
 *   <Location /__bench>  SetHandler bench-callgrind  </Location>
 *   GET /__bench?ping    answers "valgrind" or "native"
 *   GET /__bench?zero    zeroes the counters (CALLGRIND_ZERO_STATS)
 *   GET /__bench?dump    dumps and zeroes them (CALLGRIND_DUMP_STATS)
 *
 * Outside valgrind the client requests are no-ops. Whatever this request itself costs before a
 * dump or after a zero is the same in every phase, so it cancels in the benchmark's difference
 * of two request counts.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

#include <string.h>
#include <valgrind/callgrind.h>

static int cg_handler(request_rec *r)
{
    const char *what = r->args != NULL ? r->args : "";
    if (r->handler == NULL || strcmp(r->handler, "bench-callgrind") != 0) {
        return DECLINED;
    }
    if (strcmp(what, "zero") == 0) {
        CALLGRIND_ZERO_STATS;
    }
    else if (strcmp(what, "dump") == 0) {
        CALLGRIND_DUMP_STATS;
    }
    else if (strcmp(what, "ping") != 0) {
        return HTTP_NOT_FOUND;
    }
    ap_set_content_type(r, "text/plain");
    ap_rputs(RUNNING_ON_VALGRIND ? "valgrind\n" : "native\n", r);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_handler(cg_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA bench_cg_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, register_hooks
};
