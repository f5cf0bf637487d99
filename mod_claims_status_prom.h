/*
 * mod_claims_status_prom.h - the status page as Prometheus metrics (?format=prometheus, text
 * exposition format 0.0.4). The families, their labels and the naming rules they follow are
 * listed in README.md ("Monitoring"); conf/prometheus/ has alerting rules and a dashboard on
 * them.
 */
#ifndef MOD_CLAIMS_STATUS_PROM_H
#define MOD_CLAIMS_STATUS_PROM_H

#include "mod_claims_status_view.h"

#define MC_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void mc_status_prometheus(request_rec *r, const mc_status_view_t *view);

#endif
