/*
 * claims_policy.c - a location's trusted issuers and validation policy; see claims_policy.h.
 */
#include "claims_policy.h"

#include <string.h>

static int names(const apr_array_header_t *trust, const char *iss)
{
    for (int j = 0; j < trust->nelts; j++) {
        if (strcmp(APR_ARRAY_IDX(trust, j, const char *), iss) == 0) {
            return 1;
        }
    }
    return 0;
}

int claims_policy_trusted(const claims_issuer_t *const *all, int n, const apr_array_header_t *trust,
                          const claims_issuer_t **out, int max)
{
    int found = 0;
    for (int i = 0; i < n && found < max; i++) {
        if (trust == NULL || names(trust, all[i]->iss)) {
            out[found++] = all[i];
        }
    }
    return found;
}

claims_status_t claims_policy_for_location(claims_policy_t *out, const claims_policy_t *issuer,
                                           const claims_audience_t *location)
{
    *out = *issuer;
    if (location != NULL && location->set) {
        out->audiences = location->audiences;
        out->audience_any = location->any;
    }
    if (!out->audience_any && (out->audiences == NULL || out->audiences->nelts == 0)) {
        return CLAIMS_ERR_CONFIG;
    }
    return CLAIMS_OK;
}
