/*
 * claims_validate.c - registered-claim checks; see claims_validate.h.
 */
#include "claims_validate.h"

#include <math.h>
#include <string.h>
#include <strings.h>

int claims_numeric_date(const json_t *claims, const char *name, double *out)
{
    json_t *v = json_object_get(claims, name);
    double d;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_number(v)) {
        return -1;  /* a string, null, bool or array is never "absent" (CL-40) */
    }
    d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > CLAIMS_MAX_NUMERIC_DATE) {
        return -1;
    }
    *out = d;
    return 1;
}

static int typ_matches(const char *typ, const char *want)
{
    if (typ == NULL) {
        return 0;
    }
    if (strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    if (strncasecmp(want, "application/", 12) == 0) {
        want += 12;
    }
    return strcasecmp(typ, want) == 0;
}

static int audience_ok(const json_t *aud, const apr_array_header_t *want)
{
    const char *const *w = (const char *const *)want->elts;
    if (json_is_string(aud)) {
        if (json_string_length(aud) == 0) {
            return 0;
        }
        for (int i = 0; i < want->nelts; i++) {
            if (strlen(w[i]) == json_string_length(aud) && strcmp(w[i], json_string_value(aud)) == 0) {
                return 1;
            }
        }
        return 0;
    }
    if (json_is_array(aud) && json_array_size(aud) > 0) {
        size_t i;
        json_t *e;
        int found = 0;
        json_array_foreach(aud, i, e) {
            if (!json_is_string(e) || json_string_length(e) == 0) {
                return 0;  /* the whole claim is malformed (CL-45) */
            }
            if (!found && audience_ok(e, want)) {
                found = 1;
            }
        }
        return found;
    }
    return 0;
}

/* exp: present unless the policy makes it optional, and not reached (with leeway). */
static claims_status_t check_exp(const json_t *claims, const claims_policy_t *pol, double now)
{
    double exp = 0;
    int r = claims_numeric_date(claims, "exp", &exp);
    if (r < 0) {
        return CLAIMS_ERR_TIME_CLAIM;
    }
    if (r == 0 && !pol->exp_optional) {
        return CLAIMS_ERR_EXP_MISSING;
    }
    if (r > 0 && now >= exp + (double)pol->leeway) {
        return CLAIMS_ERR_EXPIRED;
    }
    return CLAIMS_OK;
}

/* nbf or iat: well-formed when present, and not later than latest (now + leeway). */
static claims_status_t check_not_after(const json_t *claims, const char *name, double latest,
                                       claims_status_t too_late)
{
    double t = 0;
    int r = claims_numeric_date(claims, name, &t);
    if (r < 0) {
        return CLAIMS_ERR_TIME_CLAIM;
    }
    if (r > 0 && t > latest) {
        return too_late;
    }
    return CLAIMS_OK;
}

/* The first required claim that is missing, null or an empty string, or NULL. */
static const char *missing_claim(const json_t *claims, const apr_array_header_t *required)
{
    const char *const *req = (const char *const *)required->elts;
    for (int i = 0; i < required->nelts; i++) {
        json_t *v = json_object_get(claims, req[i]);
        if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
            return req[i];
        }
    }
    return NULL;
}

static int issuer_is(const json_t *iss, const char *want)
{
    return json_is_string(iss) && want != NULL && json_string_length(iss) == strlen(want)
        && strcmp(json_string_value(iss), want) == 0;
}

claims_status_t claims_validate(const json_t *claims, const char *header_typ,
                                const claims_policy_t *pol, double now, const char **what)
{
    double latest = now + (double)pol->leeway;
    claims_status_t st;
    const char *dummy;

    if (what == NULL) {
        what = &dummy;
    }
    *what = NULL;
    if (pol->typ != NULL && !typ_matches(header_typ, pol->typ)) {
        *what = "typ";
        return CLAIMS_ERR_TYPE;
    }
    if (!issuer_is(json_object_get(claims, "iss"), pol->issuer)) {
        *what = "iss";
        return CLAIMS_ERR_ISSUER;
    }
    if ((st = check_exp(claims, pol, now)) != CLAIMS_OK) {
        *what = "exp";
        return st;
    }
    if ((st = check_not_after(claims, "nbf", latest, CLAIMS_ERR_NOT_YET_VALID)) != CLAIMS_OK) {
        *what = "nbf";
        return st;
    }
    if ((st = check_not_after(claims, "iat", latest, CLAIMS_ERR_IAT_FUTURE)) != CLAIMS_OK) {
        *what = "iat";
        return st;
    }
    if (!pol->audience_any) {
        json_t *aud = json_object_get(claims, "aud");
        if (aud == NULL || pol->audiences == NULL || !audience_ok(aud, pol->audiences)) {
            *what = "aud";
            return CLAIMS_ERR_AUDIENCE;
        }
    }
    if (pol->required != NULL && (*what = missing_claim(claims, pol->required)) != NULL) {
        return CLAIMS_ERR_MISSING_CLAIM;
    }
    return CLAIMS_OK;
}
