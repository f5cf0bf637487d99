/*
 * mod_claims_binding.c - sender-constrained tokens; see mod_claims_binding.h.
 *
 * What httpd tells and what it does not:
 *  - the URL a proof must name (htu) is the one httpd writes for this request itself: its
 *    scheme (ServerName's when it has one), ap_get_server_name_for_url and ap_get_server_port,
 *    which follow UseCanonicalName, and the path of the request line as sent. X-Forwarded-*
 *    headers are never read. Sub-requests and internal redirects are checked against the
 *    client's request, the one the proof was made for, and use its proof up once;
 *  - the client certificate is mod_ssl's (SSL_CLIENT_CERT), hashed once per connection: the
 *    certificate of a connection stays the client's even if a renegotiation asks again, so
 *    the thumbprint of the first one seen is proof that the connection holds its key; or,
 *    behind a TLS-terminating proxy, the RFC 9440 header of ClaimsClientCertHeader, believed
 *    only when the TCP peer is one of its from= addresses and removed from every other request
 *    before any module reads it.
 */
#include "mod_claims_binding.h"
#include "mod_claims_replay.h"

#include "claims_dpop.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_ssl.h"

#include <apr_optional.h>
#include <apr_strings.h>
#include <string.h>

#define MC_NOTE_JTI "claims-dpop-jti"  /* on the client's request: its proof was used up */

static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *ssl_var;
static claims_store_secret_t *nonce_secret;   /* ClaimsDPoPNonceSecret, or random per start */
static claims_dpop_keys_t *proof_keys;        /* per child: the keys of recent proofs, imported once */

/* ------------------------------------------------------------------ helpers */

/* The request the client sent: a sub-request's or an internal redirect's first ancestor. */
static request_rec *client_request(request_rec *r)
{
    while (r->main != NULL || r->prev != NULL) {
        r = r->main != NULL ? r->main : r->prev;
    }
    return r;
}

static void log_dpop(request_rec *r, const char *why, int quiet)
{
    if (!quiet) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(100) "DPoP proof refused: %s", why);
    }
}

static int peer_trusted(const conn_rec *c, const mc_cert_header_t *h)
{
    for (int i = 0; h->from != NULL && i < h->from->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(h->from, i, apr_ipsubnet_t *), c->client_addr)) {
            return 1;
        }
    }
    return 0;
}

typedef struct count_ctx_t {
    int n;
    const char *value;
} count_ctx_t;

static int count_proof(void *baton, const char *key, const char *value)
{
    count_ctx_t *c = baton;
    (void)key;
    c->n++;
    c->value = value;
    return 1;
}

/* ------------------------------------------------------------------ nonces */

int mc_dpop_nonce_required(const mc_dir_conf_t *dc)
{
    return mc_on(dc->dpop_nonce);
}

void mc_dpop_send_nonce(request_rec *r)
{
    const char *nonce = claims_dpop_nonce_make(r->pool, nonce_secret, apr_time_now(), 0);
    if (nonce == NULL) {
        return;
    }
    apr_table_setn(r->err_headers_out, "DPoP-Nonce", nonce);
    /* a nonce is for whoever asked now: no cache may hand it to someone else (CL-98) */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

/* ------------------------------------------------------------------ the proof */

/* The URL and method the proof must name: those of the client's request. */
static claims_status_t expected_url(request_rec *r, const char **htu)
{
    request_rec *top = client_request(r);
    char *out = NULL;
    if (claims_dpop_htu(r->pool, ap_http_scheme(top), ap_get_server_name_for_url(top), ap_get_server_port(top),
                        top->parsed_uri.path, &out) != CLAIMS_OK) {
        return CLAIMS_ERR_DPOP;
    }
    *htu = out;
    return CLAIMS_OK;
}

/* A sub-request or internal redirect carries the proof of the request it came from: the same
 * proof, already checked there, is taken as it was. */
static int inherited(const mc_state_t *parent, const char *token, mc_state_t *state)
{
    if (parent == NULL || !parent->dpop || parent->jkt == NULL || parent->token == NULL
        || strcmp(parent->token, token) != 0) {
        return 0;
    }
    state->jkt = parent->jkt;
    state->jti = parent->jti;
    state->jti_ttl = parent->jti_ttl;
    return 1;
}

claims_status_t mc_binding_proof(request_rec *r, const mc_dir_conf_t *dc, const char *token, apr_size_t len,
                                 const mc_state_t *parent, mc_state_t *state, int quiet)
{
    claims_dpop_expect_t e;
    claims_dpop_result_t res;
    count_ctx_t proofs = {0, NULL};
    claims_status_t st;
    const char *htu = NULL;

    state->dpop = 1;
    if (inherited(parent, apr_pstrmemdup(r->pool, token, len), state)) {
        return CLAIMS_OK;
    }
    apr_table_do(count_proof, &proofs, client_request(r)->headers_in, "DPoP", NULL);
    if (proofs.n == 0) {
        state->why = claims_binding_text(CLAIMS_BIND_NO_PROOF);
        log_dpop(r, state->why, quiet);
        return CLAIMS_ERR_DPOP;
    }
    /* httpd joins repeated fields with ", "; a compact JWS has no comma (RFC 9449 4.3 check 1) */
    if (proofs.n > 1 || strchr(proofs.value, ',') != NULL) {
        state->why = claims_binding_text(CLAIMS_BIND_TWO_PROOFS);
        log_dpop(r, state->why, quiet);
        return CLAIMS_ERR_DPOP;
    }
    if (expected_url(r, &htu) != CLAIMS_OK) {
        state->why = claims_binding_text(CLAIMS_BIND_URL);
        log_dpop(r, state->why, quiet);
        return CLAIMS_ERR_DPOP;
    }
    claims_dpop_expect_init(&e);
    e.htm = client_request(r)->method;
    e.htu = htu;
    e.now = apr_time_now();
    e.window = (int)apr_time_sec(mc_dpop_window(dc));
    e.algs = dc->dpop_algs;
    e.token = token;
    e.token_len = len;
    e.nonce_required = mc_dpop_nonce_required(dc);
    e.nonce_secret = nonce_secret;
    e.keys = proof_keys;
    st = claims_dpop_verify(r->pool, proofs.value, strlen(proofs.value), &e, &res);
    if (st != CLAIMS_OK) {
        if (st == CLAIMS_ERR_DPOP) {
            state->why = res.why;
            state->use_nonce = res.use_nonce;
            log_dpop(r, res.why, quiet || res.use_nonce);  /* a nonce round trip is no refusal */
        }
        return st;
    }
    state->jkt = res.jkt;
    state->jti = apr_pstrmemdup(r->pool, res.jti, res.jti_len);
    /* until iat + window it would pass every other check: remember it that long, with the
     * leeway a proof from a clock ahead of ours was given */
    state->jti_ttl = res.expires - e.now + apr_time_from_sec(e.leeway);
    state->nonce_renew = res.nonce_renew;
    return CLAIMS_OK;
}

/* ------------------------------------------------------------------ the client certificate */

typedef struct conn_cert_t {
    const char *x5t;                   /* mod_ssl's client certificate of this connection */
    const char *header;                /* the last Client-Cert value seen on it, and ... */
    const char *header_x5t;            /* ... its thumbprint */
} conn_cert_t;

static conn_cert_t *conn_memo(conn_rec *c)
{
    conn_cert_t *m = ap_get_module_config(c->conn_config, &claims_module);
    if (m == NULL) {
        m = apr_pcalloc(c->pool, sizeof(*m));
        ap_set_module_config(c->conn_config, &claims_module, m);
    }
    return m;
}

/* RFC 9440: the proxy's header, one value. A proxy connection carries many clients, so the
 * value is compared, and hashed again only when it changes. */
static const char *header_x5t(request_rec *r, const mc_cert_header_t *h)
{
    conn_cert_t *m = conn_memo(r->connection);
    const char *v = apr_table_get(r->headers_in, h->name);
    unsigned char *der = NULL;
    apr_size_t der_len = 0;
    if (v == NULL) {
        return NULL;
    }
    if (m->header != NULL && strcmp(m->header, v) == 0) {
        return m->header_x5t;
    }
    if (claims_client_cert_parse(r->pool, v, strlen(v), &der, &der_len) != CLAIMS_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(103) "%s from a trusted proxy holds no certificate "
                      "(RFC 9440)", h->name);
        return NULL;
    }
    m->header = apr_pstrdup(r->connection->pool, v);
    m->header_x5t = claims_x5t_s256(r->connection->pool, der, der_len);
    return m->header_x5t;
}

/* The x5t#S256 of the certificate the client presented, or NULL when it presented none. */
static const char *client_x5t(request_rec *r, const mc_dir_conf_t *dc)
{
    conn_rec *c = r->connection;
    conn_cert_t *m;
    const char *pem;
    char *x5t = NULL;

    if (dc->cert_header != NULL && peer_trusted(c, dc->cert_header)) {
        return header_x5t(r, dc->cert_header);  /* the TLS peer is the proxy, not the client */
    }
    m = conn_memo(c);
    if (m->x5t != NULL) {
        return m->x5t;
    }
    pem = ssl_var != NULL ? ssl_var(r->pool, r->server, c, r, "SSL_CLIENT_CERT") : NULL;
    if (pem == NULL || *pem == '\0') {
        return NULL;  /* not remembered: a renegotiation may still ask for one */
    }
    if (claims_x5t_s256_pem(c->pool, pem, strlen(pem), &x5t) != CLAIMS_OK) {
        return NULL;
    }
    m->x5t = x5t;
    return x5t;
}

/* ------------------------------------------------------------------ the binding */

static claims_status_t refuse_binding(request_rec *r, mc_state_t *state, const char *why, int quiet)
{
    state->why = why;
    if (!quiet) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(101) "token refused: %s; issuer %s", why,
                      state->v.issuer != NULL ? state->v.issuer->iss : "-");
    }
    return CLAIMS_ERR_BINDING;
}

static const char *cnf_why(const json_t *claims, int kind, const mc_state_t *state, const char *x5t)
{
    const json_t *cnf = json_object_get(claims, "cnf");
    if (!json_is_object(cnf) || json_object_size(cnf) == 0 || (kind & ~(CLAIMS_CNF_JKT | CLAIMS_CNF_X5T)) != 0) {
        return claims_binding_text(CLAIMS_BIND_CNF_UNKNOWN);
    }
    if ((kind & CLAIMS_CNF_JKT) && state->jkt == NULL) {
        return claims_binding_text(CLAIMS_BIND_NEEDS_PROOF);
    }
    if ((kind & CLAIMS_CNF_X5T) && x5t == NULL) {
        return claims_binding_text(CLAIMS_BIND_NEEDS_CERT);
    }
    return claims_binding_text((kind & CLAIMS_CNF_JKT) ? CLAIMS_BIND_OTHER_KEY : CLAIMS_BIND_OTHER_CERT);
}

claims_status_t mc_binding_check(request_rec *r, const mc_dir_conf_t *dc, mc_state_t *state, int remember,
                                 int quiet)
{
    const json_t *cnf = json_object_get(state->v.claims, "cnf");
    const char *x5t = NULL;
    request_rec *top;
    int kind = CLAIMS_CNF_NONE;

    if (json_is_object(cnf) && json_object_get(cnf, "x5t#S256") != NULL) {
        x5t = client_x5t(r, dc);
    }
    if (claims_cnf_check(state->v.claims, state->jkt, x5t, &kind) != CLAIMS_OK) {
        state->cnf = kind;
        return refuse_binding(r, state, cnf_why(state->v.claims, kind, state, x5t), quiet);
    }
    state->cnf = kind;
    if (state->dpop && !(kind & CLAIMS_CNF_JKT)) {
        /* RFC 9449 7.1: the proof's key must be the one the token is bound to; it has none */
        return refuse_binding(r, state, claims_binding_text(CLAIMS_BIND_UNBOUND), quiet);
    }
    if (mc_dpop(dc) == MC_DPOP_REQUIRED && !(kind & CLAIMS_CNF_JKT)) {
        return refuse_binding(r, state, claims_binding_text(CLAIMS_BIND_REQUIRED), quiet);
    }
    if (!remember || state->jti == NULL) {
        return CLAIMS_OK;
    }
    top = client_request(r);
    if (apr_table_get(top->notes, MC_NOTE_JTI) != NULL) {
        return CLAIMS_OK;  /* this very request used the proof up (a sub-request, a redirect) */
    }
    switch (mc_replay_insert(r, state->jkt, state->jti, state->jti_ttl)) {
    case MC_REPLAY_FIRST:
        apr_table_setn(top->notes, MC_NOTE_JTI, "1");
        return CLAIMS_OK;
    case MC_REPLAY_SEEN:
        state->why = claims_binding_text(CLAIMS_BIND_REPLAYED);
        log_dpop(r, state->why, quiet);
        return CLAIMS_ERR_DPOP;
    default:
        return CLAIMS_ERR_UNAVAILABLE;  /* fails closed (CL-97); mod_claims_replay.c logs it */
    }
}

/* ------------------------------------------------------------------ the challenge */

apr_array_header_t *mc_dpop_alg_list(apr_pool_t *p, const mc_dir_conf_t *dc)
{
    claims_alg_set_t algs = (dc->dpop_algs != 0 ? dc->dpop_algs : CLAIMS_DPOP_ALGS) & CLAIMS_DPOP_ALGS;
    apr_array_header_t *out = apr_array_make(p, CLAIMS_ALG_COUNT, sizeof(const char *));
    for (int a = CLAIMS_ALG_UNKNOWN + 1; a < CLAIMS_ALG_COUNT; a++) {
        if (algs & CLAIMS_ALG_BIT(a)) {
            APR_ARRAY_PUSH(out, const char *) = claims_alg_name((claims_alg_t)a);
        }
    }
    return out;
}

const char *mc_dpop_algs(request_rec *r, const mc_dir_conf_t *dc)
{
    return apr_array_pstrcat(r->pool, mc_dpop_alg_list(r->pool, dc), ' ');
}

/* ------------------------------------------------------------------ hooks */

/* First for every request: a Client-Cert header from a peer no section trusts for it is
 * removed before any module can read it (CL-99). */
static int scrub_cert_headers(request_rec *r)
{
    const mc_srv_conf_t *sc = mc_srv(r->server);
    for (int i = 0; sc != NULL && sc->cert_headers != NULL && i < sc->cert_headers->nelts; i++) {
        const mc_cert_header_t *h = APR_ARRAY_IDX(sc->cert_headers, i, const mc_cert_header_t *);
        int trusted = 0;
        if (apr_table_get(r->headers_in, h->name) == NULL) {
            continue;
        }
        for (int j = 0; !trusted && j < sc->cert_headers->nelts; j++) {
            const mc_cert_header_t *o = APR_ARRAY_IDX(sc->cert_headers, j, const mc_cert_header_t *);
            trusted = strcmp(o->norm, h->norm) == 0 && peer_trusted(r->connection, o);
        }
        if (!trusted) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(102) "removed %s sent by %s, which is not a proxy "
                          "trusted for it (ClaimsClientCertHeader)", h->name, r->connection->client_ip);
            apr_table_unset(r->headers_in, h->name);
        }
    }
    return DECLINED;
}

/* Again where the location is known: a name from an .htaccess file is in no server list. */
static int scrub_cert_header_here(request_rec *r)
{
    const mc_dir_conf_t *dc = mc_dir(r);
    if (dc == NULL || dc->cert_header == NULL || apr_table_get(r->headers_in, dc->cert_header->name) == NULL
        || peer_trusted(r->connection, dc->cert_header)) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MC_LOGNO(102) "removed %s sent by %s, which is not a proxy "
                  "trusted for it (ClaimsClientCertHeader)", dc->cert_header->name, r->connection->client_ip);
    apr_table_unset(r->headers_in, dc->cert_header->name);
    return DECLINED;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const mc_srv_conf_t *sc = mc_srv(s);
    ssl_var = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
    /* one secret for every child of this start (they fork from here); a fleet shares a file */
    nonce_secret = sc->nonce_secret != NULL ? sc->nonce_secret : claims_store_secret_random(pconf);
    if (nonce_secret == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MC_LOGNO(104) "no random bytes for the DPoP nonce secret");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    /* a client signs every proof with one key: its import (curve and strength checks) is done
     * once per child, the signature still checked on every proof */
    proof_keys = claims_dpop_keys_create(pchild, 0);
    if (proof_keys == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MC_LOGNO(105) "no cache of DPoP proof keys in this child: "
                     "each proof's key is imported again");
    }
}

void mc_register_binding_hooks(apr_pool_t *p)
{
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(scrub_cert_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_post_perdir_config(scrub_cert_header_here, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
