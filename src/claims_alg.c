/*
 * claims_alg.c - the table of supported JWS algorithms.
 */
#include "claims_alg.h"

#include <string.h>

static const claims_alg_info_t alg_table[CLAIMS_ALG_COUNT] = {
    [CLAIMS_ALG_UNKNOWN] = {CLAIMS_ALG_UNKNOWN, "unknown", CLAIMS_FAMILY_NONE, NULL, 0, NULL, 0},
    [CLAIMS_ALG_RS256] = {CLAIMS_ALG_RS256, "RS256", CLAIMS_FAMILY_RSA, "SHA256", 32, NULL, 0},
    [CLAIMS_ALG_RS384] = {CLAIMS_ALG_RS384, "RS384", CLAIMS_FAMILY_RSA, "SHA384", 48, NULL, 0},
    [CLAIMS_ALG_RS512] = {CLAIMS_ALG_RS512, "RS512", CLAIMS_FAMILY_RSA, "SHA512", 64, NULL, 0},
    [CLAIMS_ALG_PS256] = {CLAIMS_ALG_PS256, "PS256", CLAIMS_FAMILY_PSS, "SHA256", 32, NULL, 0},
    [CLAIMS_ALG_PS384] = {CLAIMS_ALG_PS384, "PS384", CLAIMS_FAMILY_PSS, "SHA384", 48, NULL, 0},
    [CLAIMS_ALG_PS512] = {CLAIMS_ALG_PS512, "PS512", CLAIMS_FAMILY_PSS, "SHA512", 64, NULL, 0},
    [CLAIMS_ALG_ES256] = {CLAIMS_ALG_ES256, "ES256", CLAIMS_FAMILY_EC, "SHA256", 32, "P-256", 32},
    [CLAIMS_ALG_ES384] = {CLAIMS_ALG_ES384, "ES384", CLAIMS_FAMILY_EC, "SHA384", 48, "P-384", 48},
    [CLAIMS_ALG_ES512] = {CLAIMS_ALG_ES512, "ES512", CLAIMS_FAMILY_EC, "SHA512", 64, "P-521", 66},
    [CLAIMS_ALG_ED25519] = {CLAIMS_ALG_ED25519, "Ed25519", CLAIMS_FAMILY_OKP, NULL, 0, "Ed25519", 32},
    [CLAIMS_ALG_ED448] = {CLAIMS_ALG_ED448, "Ed448", CLAIMS_FAMILY_OKP, NULL, 0, "Ed448", 57},
    [CLAIMS_ALG_EDDSA] = {CLAIMS_ALG_EDDSA, "EdDSA", CLAIMS_FAMILY_OKP, NULL, 0, NULL, 0},
    [CLAIMS_ALG_HS256] = {CLAIMS_ALG_HS256, "HS256", CLAIMS_FAMILY_HMAC, "SHA256", 32, NULL, 0},
    [CLAIMS_ALG_HS384] = {CLAIMS_ALG_HS384, "HS384", CLAIMS_FAMILY_HMAC, "SHA384", 48, NULL, 0},
    [CLAIMS_ALG_HS512] = {CLAIMS_ALG_HS512, "HS512", CLAIMS_FAMILY_HMAC, "SHA512", 64, NULL, 0},
};

claims_alg_t claims_alg_from_name(const char *name, apr_size_t len)
{
    for (int a = CLAIMS_ALG_UNKNOWN + 1; a < CLAIMS_ALG_COUNT; a++) {
        const char *n = alg_table[a].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            return (claims_alg_t)a;
        }
    }
    return CLAIMS_ALG_UNKNOWN;
}

const claims_alg_info_t *claims_alg_info(claims_alg_t alg)
{
    if ((int)alg <= CLAIMS_ALG_UNKNOWN || alg >= CLAIMS_ALG_COUNT) {
        return &alg_table[CLAIMS_ALG_UNKNOWN];
    }
    return &alg_table[alg];
}

const char *claims_alg_name(claims_alg_t alg)
{
    return claims_alg_info(alg)->name;
}

int claims_alg_accepts(claims_alg_t key_alg, claims_alg_t header_alg)
{
    if (key_alg == CLAIMS_ALG_UNKNOWN || key_alg == CLAIMS_ALG_EDDSA) {
        return 0;
    }
    if (key_alg == header_alg) {
        return 1;
    }
    return header_alg == CLAIMS_ALG_EDDSA
        && (key_alg == CLAIMS_ALG_ED25519 || key_alg == CLAIMS_ALG_ED448);
}

int claims_alg_set_allows(claims_alg_set_t set, claims_alg_t key_alg, claims_alg_t header_alg)
{
    if (set == 0) {
        return 1;
    }
    return (set & CLAIMS_ALG_BIT(header_alg)) != 0
        || (set & CLAIMS_ALG_BIT(key_alg)) != 0
        || (header_alg != CLAIMS_ALG_EDDSA && (set & CLAIMS_ALG_BIT(CLAIMS_ALG_EDDSA)) != 0
            && claims_alg_info(key_alg)->family == CLAIMS_FAMILY_OKP);
}
