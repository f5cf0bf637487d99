/*
 * fuzz_introspect.c - what an introspection endpoint answers (CL-93, CL-75): the RFC 7662 JSON
 * answer (claims_introspect_parse_json) and the RFC 9701 JWT answer
 * (claims_introspect_parse_jwt) against a fixed issuer whose keys are the deterministic test
 * keys (ES256 "ec-p256", EdDSA "ed25519", RS256 "rsa-RS256").
 *
 * Input, by its first byte:
 *   '#'   "#" header-JSON "\n" payload-JSON: the harness signs it (ES256, EdDSA or RS256 by the
 *         header's alg, else with no valid signature) and reads it as a JWT answer, so the
 *         envelope rules (typ, iss, aud, iat) and the token_introspection member are reached
 *         with arbitrary JSON; the payload alone is also read as a JSON answer;
 *   '{'   a JSON answer; it is also wrapped as the token_introspection member of a valid,
 *         signed envelope and read as a JWT answer, so both paths read the same object;
 *   other a JWT answer as it came (a compact JWS, maybe with a trailing newline), and the same
 *         bytes as a JSON answer.
 * Inputs of odd length take the issuer's keys from a supplier that only has them on refresh.
 *
 * Besides crashes, leaks and undefined behaviour, it aborts when: a result is not one of OK,
 * INACTIVE, ISSUER, TYPE, UNAVAILABLE; *why is NULL for a refusal, set for OK, or not a short
 * printable text; CLAIMS_OK comes for an answer whose "active" (for a JWT: token_introspection's)
 * is not exactly the JSON boolean true, as jansson reads it with duplicates refused;
 * CLAIMS_ERR_INACTIVE comes for one whose "active" is not exactly false; the claims of an active
 * answer hold "active", lack the issuer's "iss" or hold another; a JWT answer passes that
 * claims_verify refuses for the issuer, whose typ is not token-introspection+jwt, whose aud does
 * not name the client, or whose iat is missing or outside the bounds.
 */
#include "claims.h"
#include "claims_introspect.h"
#include "claims_jws.h"
#include "claims_keys.h"
#include "claims_validate.h"
#include "claims_verify.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fz_poolguard_active(apr_pool_t *p);

#define CLIENT "fuzz-client"
#define LEEWAY 60

static claims_issuer_t issuer;
static const fz_keys_t *keys;

static const apr_array_header_t *on_refresh_only(void *baton, apr_pool_t *p, const claims_issuer_t *is, int refresh)
{
    (void)baton;
    (void)p;
    return refresh ? is->keys : NULL;
}

static void add_jwk(apr_pool_t *gp, EVP_PKEY *key, const char *kid, const char *alg)
{
    const char *jwk = fz_jwk(gp, key, kid, alg, NULL);
    claims_key_opts_t opts = {0};
    char *err = NULL;
    if (claims_keys_parse(gp, jwk, strlen(jwk), kid, &opts, issuer.keys, &err) != CLAIMS_OK) {
        fprintf(stderr, "%s\n", err != NULL ? err : "?");
        fz_die("loading a test key");
    }
}

static char *envelope(apr_pool_t *p, const char *member)
{
    return apr_psprintf(p, "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"aud\":\"" CLIENT "\",\"iat\":%.0f,"
                           "\"token_introspection\":%s}", FZ_NOW, member);
}

static const char valid_header[] = "{\"alg\":\"ES256\",\"kid\":\"ec-p256\",\"typ\":\"token-introspection+jwt\"}";

/* A signed answer of each kind must pass, or the harness is broken. */
static void self_test(apr_pool_t *gp)
{
    claims_introspection_t out;
    const char *why = NULL;
    const char *tok = fz_token(gp, keys, CLAIMS_ALG_ES256, valid_header, envelope(gp, "{\"active\":true}"));
    if (claims_introspect_parse_jwt(gp, tok, strlen(tok), &issuer, NULL, NULL, CLIENT, FZ_NOW, LEEWAY, &out, &why)
        != CLAIMS_OK) {
        fprintf(stderr, "self test: %s\n", why != NULL ? why : "?");
        fz_die("a valid JWT answer is refused");
    }
    if (claims_introspect_parse_json(gp, "{\"active\":true}", 15, FZ_ISS_PUBLIC, &out, &why) != CLAIMS_OK) {
        fz_die("a valid JSON answer is refused");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *gp = fz_global_pool();
    keys = fz_keys();
    if (!fz_poolguard_active(gp)) {
        fprintf(stderr, "fuzz_introspect: note: APR pool guard is off (pool memory is not checked by ASan)\n");
    }
    issuer.iss = FZ_ISS_PUBLIC;
    issuer.keys = apr_array_make(gp, 4, sizeof(claims_key_t *));
    add_jwk(gp, keys->p256, "ec-p256", "ES256");
    add_jwk(gp, keys->ed25519, "ed25519", "EdDSA");
    add_jwk(gp, keys->rsa, "rsa-RS256", "RS256");
    self_test(gp);
    return 0;
}

/* ------------------------------------------------------------------ invariants */

static void check_why(claims_status_t st, const char *why)
{
    CHECK(st == CLAIMS_OK || st == CLAIMS_ERR_INACTIVE || st == CLAIMS_ERR_ISSUER || st == CLAIMS_ERR_TYPE
          || st == CLAIMS_ERR_UNAVAILABLE);
    CHECK((st == CLAIMS_OK) == (why == NULL));
    if (why != NULL) {
        CHECK(strlen(why) < 120);
        for (const char *c = why; *c != '\0'; c++) {
            CHECK(*c >= 0x20 && *c < 0x7f);
        }
    }
}

/* The verdict against the answer object as jansson reads it (NULL: not an object). */
static void check_verdict(claims_status_t st, const claims_introspection_t *out, const json_t *answer)
{
    const json_t *active = json_object_get(answer, "active");
    if (st == CLAIMS_OK) {
        CHECK(json_is_object(answer) && json_is_true(active));
        CHECK(out->active == 1 && json_is_object(out->claims));
        CHECK(json_object_get(out->claims, "active") == NULL);
        CHECK(json_is_string(json_object_get(out->claims, "iss"))
              && strcmp(json_string_value(json_object_get(out->claims, "iss")), FZ_ISS_PUBLIC) == 0);
        CHECK(json_object_size(out->claims) == json_object_size(answer) - (json_object_get(answer, "iss") ? 1 : 0));
    }
    else {
        CHECK(out->claims == NULL && out->active == 0);
    }
    if (st == CLAIMS_ERR_INACTIVE) {
        CHECK(json_is_false(active));
    }
    if (st == CLAIMS_ERR_ISSUER || st == CLAIMS_ERR_TYPE) {
        CHECK(json_is_true(active));
    }
}

static void run_json(apr_pool_t *p, const char *body, size_t len)
{
    claims_introspection_t out;
    const char *why = "unset";
    claims_status_t st = claims_introspect_parse_json(p, body, len, FZ_ISS_PUBLIC, &out, &why);
    json_t *answer = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    check_why(st, why);
    check_verdict(st, &out, json_is_object(answer) ? answer : NULL);
    json_decref(answer);
}

static int names_client(const json_t *aud)
{
    size_t i;
    const json_t *e;
    if (json_is_string(aud)) {
        return json_string_length(aud) == strlen(CLIENT) && strcmp(json_string_value(aud), CLIENT) == 0;
    }
    json_array_foreach(aud, i, e) {
        if (names_client(e)) {
            return 1;
        }
    }
    return 0;
}

/* What a passed JWT answer must be, read again independently of the parser. */
static void check_jwt_answer(apr_pool_t *p, const char *body, size_t len, claims_status_t st,
                             const claims_introspection_t *out)
{
    const claims_issuer_t *trusted[1] = {&issuer};
    claims_verified_t v;
    const json_t *aud, *ti;
    double iat = -1;

    if (len > 0 && body[len - 1] == '\n') {
        len -= len > 1 && body[len - 2] == '\r' ? 2 : 1;
    }
    if (claims_verify(p, body, len, CLAIMS_INTROSPECT_MAX_ANSWER, trusted, 1, &v) != CLAIMS_OK) {
        CHECK(st == CLAIMS_ERR_UNAVAILABLE);
        return;
    }
    if (st == CLAIMS_ERR_UNAVAILABLE) {
        return;                        /* the envelope or the member was refused */
    }
    CHECK(v.jws->typ != NULL);
    CHECK(strcasecmp(v.jws->typ, "token-introspection+jwt") == 0
          || strcasecmp(v.jws->typ, "application/token-introspection+jwt") == 0);
    aud = json_object_get(v.claims, "aud");
    CHECK(names_client(aud));
    CHECK(claims_numeric_date(v.claims, "iat", &iat) == 1);
    CHECK(iat <= FZ_NOW + LEEWAY && iat >= FZ_NOW - LEEWAY - CLAIMS_INTROSPECT_JWT_MAX_AGE);
    ti = json_object_get(v.claims, "token_introspection");
    CHECK(json_is_object(ti));
    check_verdict(st, out, ti);
}

static void run_jwt(apr_pool_t *p, const char *body, size_t len, int refresh_only)
{
    claims_introspection_t out;
    const char *why = "unset";
    claims_status_t st = claims_introspect_parse_jwt(p, body, len, &issuer, refresh_only ? on_refresh_only : NULL,
                                                     NULL, CLIENT, FZ_NOW, LEEWAY, &out, &why);
    check_why(st, why);
    check_jwt_answer(p, body, len, st, &out);
}

/* "#header\npayload": signed with the key of the header's alg when the harness has one. */
static char *signed_input(apr_pool_t *p, const char *s, size_t size, const char **payload, size_t *plen)
{
    const char *nl = memchr(s, '\n', size);
    const char *header = apr_pstrmemdup(p, s + 1, nl != NULL ? (size_t)(nl - s - 1) : size - 1);
    json_t *h = json_loads(header, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    claims_alg_t a = alg != NULL ? claims_alg_from_name(alg, strlen(alg)) : CLAIMS_ALG_UNKNOWN;
    char *tok;

    *payload = nl != NULL ? nl + 1 : "";
    *plen = nl != NULL ? size - (size_t)(nl + 1 - s) : 0;
    if (a != CLAIMS_ALG_ES256 && a != CLAIMS_ALG_EDDSA && a != CLAIMS_ALG_RS256) {
        a = CLAIMS_ALG_UNKNOWN;
    }
    json_decref(h);
    if (a == CLAIMS_ALG_UNKNOWN) {
        return apr_pstrcat(p, fz_b64url(p, (const unsigned char *)header, strlen(header)), ".",
                           fz_b64url(p, (const unsigned char *)*payload, *plen), ".AAAA", NULL);
    }
    tok = fz_token(p, keys, a, header, apr_pstrmemdup(p, *payload, *plen));
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *s;
    int refresh_only = (size & 1) != 0;

    apr_pool_create(&p, fz_global_pool());
    s = size > 0 ? apr_pmemdup(p, data, size) : "";
    if (size > 0 && s[0] == '#') {
        const char *payload;
        size_t plen;
        char *tok = signed_input(p, s, size, &payload, &plen);
        run_jwt(p, tok, strlen(tok), refresh_only);
        run_json(p, payload, plen);
    }
    else if (size > 0 && s[0] == '{') {
        const char *member = fz_cstr(p, data, size);
        const char *tok = fz_token(p, keys, CLAIMS_ALG_ES256, valid_header, envelope(p, member));
        run_json(p, s, size);
        run_jwt(p, tok, strlen(tok), refresh_only);
    }
    else {
        run_jwt(p, s, size, refresh_only);
        run_json(p, s, size);
    }
    apr_pool_destroy(p);
    return 0;
}
