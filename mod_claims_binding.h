/*
 * mod_claims_binding.h - sender-constrained tokens (SECURITY.md CL-95 .. CL-99): the DPoP proof
 * of a request (RFC 9449), the token's cnf binding to that proof's key or to the client
 * certificate of the connection (RFC 8705, or an RFC 9440 Client-Cert header from a trusted
 * proxy), the jti replay check, server nonces, and the DPoP challenge.
 *
 * The order authn follows:
 *   1. mc_binding_proof    the DPoP header, before the token is verified (a bad proof costs no
 *                          signature check of the token, and says invalid_dpop_proof);
 *   2. the token is verified (JWT or introspection);
 *   3. mc_binding_check    ClaimsDPoP Required, cnf against the proof and the certificate, and
 *                          last the jti, remembered atomically (mod_claims_replay.c): a proof is
 *                          used up only by a request that is otherwise good.
 */
#ifndef MOD_CLAIMS_BINDING_H
#define MOD_CLAIMS_BINDING_H

#include "mod_claims_records.h"

/* Checks the DPoP proof of a request whose token came as Authorization: DPoP. parent: the
 * state of the request a sub-request or internal redirect came from (NULL: none), whose proof,
 * checked there for the same token, stands. CLAIMS_OK with state->jkt (and the jti to
 * remember) set; CLAIMS_ERR_DPOP with state->why (and state->use_nonce); CLAIMS_ERR_INTERNAL.
 * Logs a refusal unless quiet. */
claims_status_t mc_binding_proof(request_rec *r, const mc_dir_conf_t *dc, const char *token, apr_size_t len,
                                 const mc_state_t *parent, mc_state_t *state, int quiet);

/* After the token is verified: what it is bound to against what the request presented.
 * remember: insert the proof's jti into the replay store (authentication proper; an expression
 * evaluated before it checks without using the proof up). CLAIMS_OK, CLAIMS_ERR_BINDING,
 * CLAIMS_ERR_DPOP (replayed, or a proof where ClaimsDPoP Off), CLAIMS_ERR_UNAVAILABLE (the
 * replay store does not answer). Logs a refusal unless quiet. */
claims_status_t mc_binding_check(request_rec *r, const mc_dir_conf_t *dc, mc_state_t *state, int remember,
                                 int quiet);

/* The algorithms this location accepts for proofs, space-separated: the algs of its DPoP
 * challenge (RFC 9449 section 7.1). */
const char *mc_dpop_algs(request_rec *r, const mc_dir_conf_t *dc);

/* The same as an array of names (const char *), for the RFC 9728 document. */
apr_array_header_t *mc_dpop_alg_list(apr_pool_t *p, const mc_dir_conf_t *dc);

/* Whether proofs here must carry a server nonce (ClaimsDPoPNonce On). */
int mc_dpop_nonce_required(const mc_dir_conf_t *dc);

/* A fresh DPoP-Nonce on r's answer (error or not), which then may not be stored by caches. */
void mc_dpop_send_nonce(request_rec *r);

void mc_register_binding_hooks(apr_pool_t *p);

#endif
