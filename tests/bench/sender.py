"""
The sender-constrained scenario of the benchmark (issue 15): what a DPoP proof (RFC 9449) and a
certificate-bound token (RFC 8705) add to a request, in instructions (callgrind, as phase (a)).

Two servers, each `apache2 -X` under callgrind, in the same run: the baseline (no
authentication) and mod_claims, both with a plain port and a loopback TLS virtual host
(`SSLVerifyClient optional_no_ca`, a throw-away CA, server and client certificate made here):

  dpop     `Authorization: DPoP <token>` + `DPoP: <proof>` on one keep-alive connection: one
           ES256 token bound to a P-256 proof key (cnf.jkt), the same on every request (so the
           verified-token cache hits), and a fresh proof on every request (its own jti), all
           signed with that one key (one client: the proof key's import is cached). The proofs
           are made before the server starts, one for each request, in the order they are sent.
  dpop_newkey  (informational) the same with a new proof key on every request: since the
           token names its key (cnf.jkt), a new token too, so a token never seen before, a key
           never imported before and a proof; compared with two bare verifications + SHA-256.
  bound    over one keep-alive TLS connection with the client certificate: the same ES256 token
           with cnf {"x5t#S256": thumbprint of the client certificate} on every request;
  unbound  then on that connection the same claims with the member renamed "cnx" (not a
           binding, same length: both tokens carry the same bytes), on every request.

Per phase: warm-up, dump, N1 requests, dump, N2 requests, dump; the cost of one request is
(I(N2) - I(N1)) / (N2 - N1). The baseline receives byte for byte the same requests. Also under
callgrind, as phase (b): one bare ES256 verification of a proof (bare_verify.c, full) and one
SHA-256 of the token (bare_verify.c sha256). Targets:
  - DPoP: (dpop, mod_claims - baseline) <= 1.15 x (bare ES256 verification + SHA-256 of the token)
  - certificate-bound: (bound - unbound, mod_claims) <= 5,000 instructions per request.
bench.py passes itself (module B) for its servers, parser and settings; BENCH_SENDER=0 skips it.
"""
import base64
import concurrent.futures
import datetime
import hashlib
import http.client
import ipaddress
import json
import os
import shutil
import ssl
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

import conftest as H

TARGET_DPOP_VS_BARE = 1.15
TARGET_CERT_EXTRA = 5000
DPOP_PATH = "/dpop/static.txt"
PHASES = ("dpop", "dpop_newkey", "bound", "unbound")
MTLS_PATH = "/mtls/static.txt"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------------------------------------
# keys, certificates, tokens, proofs

def certificate(subject_key, cn, issuer_key, issuer_name, ca=False, san=None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(datetime.datetime(2020, 1, 1)).not_valid_after(datetime.datetime(2040, 1, 1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class SenderMaterial:
    """The scenario's proof key, tokens and proofs, and its PKI: a CA, the TLS server's
    certificate (127.0.0.1) and the client's, all P-256, in mat's directory."""

    def __init__(self, B, mat, n_proofs, dpop_port):
        self.mat = mat
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = certificate(ca_key, "bench-ca", ca_key, None, ca=True)
        srv_key, cli_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        srv = certificate(srv_key, "127.0.0.1", ca_key, ca.subject, san=san)
        cli = certificate(cli_key, "bench-client", ca_key, ca.subject)
        pem = serialization.Encoding.PEM
        self.server_crt = mat.write("sender-server.crt", srv.public_bytes(pem) + ca.public_bytes(pem))
        self.server_key = mat.write("sender-server.key", pem_key(srv_key))
        self.client_crt = mat.write("sender-client.crt", cli.public_bytes(pem))
        self.client_key = mat.write("sender-client.key", pem_key(cli_key))
        self.x5t = b64u(hashlib.sha256(cli.public_bytes(serialization.Encoding.DER)).digest())

        self.proof_key = jwk.JWK.generate(kty="EC", crv="P-256")
        self.proof_pem = mat.write("sender-proof.pem", self.proof_key.export_to_pem())
        self.dpop_token = self.mint(B, {"cnf": {"jkt": self.proof_key.thumbprint()}})
        self.bound_token = self.mint(B, {"cnf": {"x5t#S256": self.x5t}})
        self.unbound_token = self.mint(B, {"cnx": {"x5t#S256": self.x5t}})
        assert len(self.bound_token) == len(self.unbound_token)
        # the URL httpd writes for the request (ServerName 127.0.0.1, the port the client named)
        self.htu = "http://127.0.0.1:%d%s" % (dpop_port, DPOP_PATH)
        self.ath = b64u(hashlib.sha256(self.dpop_token.encode()).digest())
        self.proof_header = json_encode({"typ": "dpop+jwt", "alg": "ES256",
                                         "jwk": json.loads(self.proof_key.export_public())})
        self.proofs = [self.proof(i) for i in range(n_proofs)]
        self.spare = [self.proof(n_proofs + i) for i in range(2)]
        self.newkey = [self.new_key_request(B, n_proofs + 2 + i) for i in range(n_proofs)]
        header, payload, sig = self.proofs[0].split(".")
        raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        self.bare_msg = mat.write("sender-proof.msg", (header + "." + payload).encode())
        self.bare_sig = mat.write("sender-proof.sig", der)
        self.token_file = mat.write("sender-dpop-token.txt", self.dpop_token.encode())

    def mint(self, B, extra):
        """An ES256 token with the benchmark's nine claims, plus extra."""
        mat = self.mat
        mat.serial += 1
        claims = {"iss": B.ISSUER, "sub": "alice", "aud": B.AUDIENCE, "iat": mat.iat, "nbf": mat.iat - 5,
                  "exp": mat.iat + 3600, "jti": "bench-ES256-%08d" % mat.serial,
                  "client_id": "bench-client", "scope": "orders:read orders:write"}
        claims.update(extra)
        token = jws.JWS(json_encode(claims))
        token.add_signature(mat.keys["ES256"], alg="ES256",
                            protected=json_encode({"alg": "ES256", "kid": mat.kid["ES256"], "typ": "JWT"}))
        return token.serialize(compact=True)

    def proof(self, i, key=None, token=None):
        """Proof number i: a jti of its own (all proofs have the same length), iat now; by the
        proof key for the DPoP-bound token unless another key and its token are given."""
        header = self.proof_header
        ath = self.ath
        if key is not None:
            header = json_encode({"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())})
            ath = b64u(hashlib.sha256(token.encode()).digest())
        payload = {"jti": "bench-proof-%08d" % i, "htm": "GET", "htu": self.htu, "iat": int(time.time()),
                   "ath": ath}
        p = jws.JWS(json_encode(payload))
        p.add_signature(key or self.proof_key, alg="ES256", protected=header)
        return p.serialize(compact=True)

    def new_key_request(self, B, i):
        """The headers of a request with a new proof key, and so a new token bound to it."""
        key = jwk.JWK.generate(kty="EC", crv="P-256")
        token = self.mint(B, {"cnf": {"jkt": key.thumbprint()}})
        return self.dpop_headers(self.proof(i, key, token), token)

    def dpop_headers(self, proof, token=None):
        return {"Authorization": "DPoP " + (token or self.dpop_token), "DPoP": proof}


def server_body(B, mat, claims_module, tls_port, sm):
    """The configuration of either server: the TLS virtual host, and for mod_claims its issuer
    and the two locations."""
    tls = ("<VirtualHost 127.0.0.1:%d>\n    SSLEngine on\n    SSLCertificateFile %s\n"
           "    SSLCertificateKeyFile %s\n    SSLVerifyClient optional_no_ca\n</VirtualHost>\n"
           % (tls_port, sm.server_crt, sm.server_key))
    if claims_module is None:
        return tls
    body = "LoadModule claims_module %s\n<ClaimsIssuer %s>\n    ClaimsKeyFile %s\n" % (
        claims_module, B.ISSUER, mat.jwk_path["ES256"])
    body += "    ClaimsAudience %s\n</ClaimsIssuer>\n" % B.AUDIENCE
    common = ["AuthType claims", "AuthName bench", "Require valid-user"]
    # the proofs are made before the server starts under valgrind: a window they all stay in
    body += "<Location /dpop>\n%s\n</Location>\n" % "\n".join(
        "    " + l for l in common + ["ClaimsDPoP On", "ClaimsDPoPWindow 3600"])
    body += "<Location /mtls>\n%s\n</Location>\n" % "\n".join("    " + l for l in common)
    return tls + body


# --------------------------------------------------------------------------------------------
# clients

class Conn:
    """One keep-alive connection, plain or TLS (with the client certificate or without). It
    never reconnects: a new TLS connection would hash the certificate again, so a lost
    connection fails the measurement instead."""

    def __init__(self, port, tls=False, cert=None, timeout=120):
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # a throw-away certificate on loopback
            if cert is not None:
                ctx.load_cert_chain(*cert)
            self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
        else:
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def get(self, path, headers=None):
        self.conn.request("GET", path, headers=headers or {})
        resp = self.conn.getresponse()
        resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            raise RuntimeError("the server closed the keep-alive connection")
        return resp.status

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------------------------
# measurement

def sanity_checks(srv, sm, http_port, tls_port, is_claims):
    """mod_claims must accept the right requests and refuse the wrong ones (a proof used twice,
    the DPoP-bound token as Bearer, the certificate-bound token without the certificate)."""
    cert = (sm.client_crt, sm.client_key)
    c, t, n = Conn(http_port, timeout=30), Conn(tls_port, True, cert, 30), Conn(tls_port, True, None, 30)
    try:
        got = {"dpop": c.get(DPOP_PATH, sm.dpop_headers(sm.spare[0])),
               "bound": t.get(MTLS_PATH, {"Authorization": "Bearer " + sm.bound_token}),
               "unbound": t.get(MTLS_PATH, {"Authorization": "Bearer " + sm.unbound_token})}
        want = {"dpop": 200, "bound": 200, "unbound": 200}
        if is_claims:
            got.update({
                "dpop_replayed": c.get(DPOP_PATH, sm.dpop_headers(sm.spare[0])),
                "dpop_as_bearer": c.get(DPOP_PATH, {"Authorization": "Bearer " + sm.dpop_token}),
                "dpop_no_proof": c.get(DPOP_PATH, {"Authorization": "DPoP " + sm.dpop_token}),
                "bound_no_cert": n.get(MTLS_PATH, {"Authorization": "Bearer " + sm.bound_token}),
                "bound_plain_http": c.get(MTLS_PATH, {"Authorization": "Bearer " + sm.bound_token}),
            })
            want.update({k: 401 for k in got if k not in want})
    finally:
        for x in (c, t, n):
            x.close()
    return {"answers": got, "ok": all(got[k] == want[k] for k in got)}


def measure_server(B, name, cfg, sm, st, work, cg_module, tls_port):
    """One server under callgrind: the dpop phase over plain HTTP, then bound and unbound over
    one TLS connection with the client certificate."""
    srv = B.BenchHttpd(cfg, "callgrind", work, sm.mat, cg_module)
    srv.cg_server_limit = st.cg_server_limit
    for p in (DPOP_PATH, MTLS_PATH):
        srv.write_file("htdocs" + p, ("x" * 63 + "\n") * (B.STATIC_BYTES // 64))
    http_port = cfg.ports["ES256"]
    w, n1, n2 = st.warmup, st.n1, st.n2
    t0 = time.time()
    B.log("sender: %s: starting apache2 -X under valgrind" % name)
    srv.start()
    out = {}
    try:
        checks = sanity_checks(srv, sm, http_port, tls_port, name == "claims")
        if not checks["ok"]:
            raise RuntimeError("sender: %s: sanity checks failed: %s\n%s" % (name, checks["answers"], srv.tail()))

        def send(conn, path, headers_list):
            for headers in headers_list:
                status = conn.get(path, headers)
                if status != 200:
                    raise RuntimeError("sender: %s %s: HTTP %s during measurement\n%s"
                                       % (name, path, status, srv.tail()))

        def dump(conn):
            if conn.get("/__bench?dump") != 200:
                raise RuntimeError("sender: %s: dump request failed" % name)
            srv.dumps += 1
            return os.path.join(srv.root, "cg", "cg.out.%d" % srv.dumps)

        def phase(conn, path, first, second):
            send(conn, path, first)
            f1 = dump(conn)
            send(conn, path, second)
            f2 = dump(conn)
            (t1, s1, _, o1), (t2, s2, _, o2) = B.parse_callgrind(f1), B.parse_callgrind(f2)
            n = len(second) - len(first)
            r = {"n1": len(first), "n2": len(second), "instr_n1": t1, "instr_n2": t2,
                 "instr_per_request": B.per_request(t1, t2, n), "_file": f2,
                 "_self": B.counter_per_request(s1, s2, n)}
            if name == "claims":
                r["module_per_request"] = B.per_request(B.module_cost(s1, o1, "mod_claims.so"),
                                                        B.module_cost(s2, o2, "mod_claims.so"), n)
            return r

        # dpop: W warm-up proofs, then N1 and N2 more, every one once, in the order made
        plain = Conn(http_port)
        proofs = [sm.dpop_headers(p) for p in sm.proofs]
        send(plain, DPOP_PATH, proofs[:w])
        dump(plain)  # the warm-up, discarded
        out["dpop"] = phase(plain, DPOP_PATH, proofs[w:w + n1], proofs[w + n1:w + n1 + n2])
        send(plain, DPOP_PATH, sm.newkey[:w])
        dump(plain)
        out["dpop_newkey"] = phase(plain, DPOP_PATH, sm.newkey[w:w + n1], sm.newkey[w + n1:w + n1 + n2])
        plain.close()

        tls = Conn(tls_port, True, (sm.client_crt, sm.client_key))
        bound = {"Authorization": "Bearer " + sm.bound_token}
        unbound = {"Authorization": "Bearer " + sm.unbound_token}
        send(tls, MTLS_PATH, [bound] * w + [unbound] * w)
        dump(tls)  # the warm-up (and the handshake, the certificate's hash), discarded
        out["bound"] = phase(tls, MTLS_PATH, [bound] * n1, [bound] * n2)
        out["unbound"] = phase(tls, MTLS_PATH, [unbound] * n1, [unbound] * n2)
        tls.close()
        B.log("sender: %s: %.0f instr/request DPoP, %.0f with a new key, %.0f certificate-bound, %.0f unbound" % (
            name, out["dpop"]["instr_per_request"], out["dpop_newkey"]["instr_per_request"],
            out["bound"]["instr_per_request"], out["unbound"]["instr_per_request"]))
    finally:
        srv.stop()
    B.log("sender: %s done in %.0f s" % (name, time.time() - t0))
    return checks, out


def measure_bare(B, st, sm, work, bare_bin, mode, msg, sig):
    totals = []
    for n in (st.bare_n1, st.bare_n2):
        out = os.path.join(work, "bare-sender-%s-%d.cg" % (mode, n))
        p = B.run_quiet(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, bare_bin,
                         "ES256", sm.proof_pem, msg, sig, str(n), mode], timeout=600)
        if p.returncode != 0:
            raise RuntimeError("bare_verify ES256 %s failed:\n%s" % (mode, p.stdout[-2000:]))
        totals.append(B.parse_callgrind(out)[0])
    return B.per_request(totals[0], totals[1], st.bare_n2 - st.bare_n1)


def top_delta(a, b, top=10):
    """The functions whose self instructions per request differ most, a minus b."""
    d = {k: a.get(k, 0) - b.get(k, 0) for k in set(a) | set(b)}
    return [{"function": k, "instr_per_request": round(v, 1)}
            for k, v in sorted(d.items(), key=lambda kv: -abs(kv[1]))[:top] if abs(v) >= 1]


def measure(B, mat, st, work, cg_module, claims_module, bare_bin, results):
    """The scenario; a dict for latest.json (its "targets" go to the report's targets)."""
    http_ports = {"baseline": H.free_port(), "claims": H.free_port()}
    tls_ports = {"baseline": H.free_port(), "claims": H.free_port()}
    n_proofs = st.warmup + st.n1 + st.n2
    B.log("sender: making %d DPoP proofs, as many with new keys and tokens, the certificates" % (2 * n_proofs))
    # the proofs name the mod_claims server's URL; the baseline gets the very same bytes
    sm = SenderMaterial(B, mat, n_proofs, http_ports["claims"])
    configs = {name: B.Config("sender-" + name, ["ES256"], {"ES256": http_ports[name]},
                              server_body(B, mat, claims_module if name == "claims" else None,
                                          tls_ports[name], sm), [tls_ports[name]])
               for name in ("claims", "baseline")}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, st.jobs)) as pool:
        futs = {name: pool.submit(measure_server, B, name, cfg, sm, st, work, cg_module, tls_ports[name])
                for name, cfg in configs.items()}
        f_verify = pool.submit(measure_bare, B, st, sm, work, bare_bin, "full", sm.bare_msg, sm.bare_sig)
        f_sha = pool.submit(measure_bare, B, st, sm, work, bare_bin, "sha256", sm.token_file, sm.bare_sig)
        bare = {"es256_proof_verification": round(f_verify.result()), "sha256_of_token": round(f_sha.result())}
        checks, cg = {}, {}
        for name, f in futs.items():
            checks[name], cg[name] = f.result()
    bare["sum"] = bare["es256_proof_verification"] + bare["sha256_of_token"]
    B.log("sender: bare ES256 verification of a proof %s, SHA-256 of the token %s"
          % (B.fmt_int(bare["es256_proof_verification"]), B.fmt_int(bare["sha256_of_token"])))

    c, b = cg["claims"], cg["baseline"]
    dpop = c["dpop"]["instr_per_request"] - b["dpop"]["instr_per_request"]
    extra = c["bound"]["instr_per_request"] - c["unbound"]["instr_per_request"]
    newkey = c["dpop_newkey"]["instr_per_request"] - b["dpop_newkey"]["instr_per_request"]
    res = {
        "n1": st.n1, "n2": st.n2, "warmup": st.warmup, "proofs": n_proofs,
        "token_bytes": {"dpop": len(sm.dpop_token), "bound": len(sm.bound_token), "unbound": len(sm.unbound_token)},
        "proof_bytes": len(sm.proofs[0]),
        "checks": checks,
        "bare": bare,
        "instr_per_request": {name: {ph: round(cg[name][ph]["instr_per_request"])
                                     for ph in PHASES} for name in cg},
        "module_instr_per_request": {ph: round(c[ph]["module_per_request"]) for ph in PHASES},
        "dpop_above_baseline": round(dpop),
        "dpop_vs_bare": dpop / bare["sum"],
        "dpop_own_vs_bare": c["dpop"]["module_per_request"] / bare["sum"],
        "dpop_newkey_above_baseline": round(newkey),
        "dpop_newkey_vs_two_bare": newkey / (bare["sum"] + bare["es256_proof_verification"]),
        "bound_above_baseline": round(c["bound"]["instr_per_request"] - b["bound"]["instr_per_request"]),
        "unbound_above_baseline": round(c["unbound"]["instr_per_request"] - b["unbound"]["instr_per_request"]),
        "bound_minus_unbound": round(extra),
        "bound_minus_unbound_own": round(c["bound"]["module_per_request"] - c["unbound"]["module_per_request"]),
        "baseline_bound_minus_unbound": round(b["bound"]["instr_per_request"] - b["unbound"]["instr_per_request"]),
        "profile": {"dpop_above_baseline": top_delta(c["dpop"]["_self"], b["dpop"]["_self"]),
                    "bound_minus_unbound": top_delta(c["bound"]["_self"], c["unbound"]["_self"])},
    }
    res["targets"] = [
        {"target": "DPoP, fresh proof, cached token <= %.2f x (bare verify + SHA-256 of token) above baseline"
                   % TARGET_DPOP_VS_BARE, "alg": "ES256", "value": round(res["dpop_vs_bare"], 3),
         "limit": TARGET_DPOP_VS_BARE, "met": res["dpop_vs_bare"] <= TARGET_DPOP_VS_BARE},
        {"target": "certificate-bound, cached token <= %s instr/request above unbound"
                   % B.fmt_int(TARGET_CERT_EXTRA), "alg": "ES256", "value": res["bound_minus_unbound"],
         "limit": TARGET_CERT_EXTRA, "met": res["bound_minus_unbound"] <= TARGET_CERT_EXTRA},
    ]

    prof_dir = os.path.join(results, "profile")
    os.makedirs(prof_dir, exist_ok=True)
    for ph in PHASES:
        stem = "claims-sender-%s" % ph
        shutil.copyfile(c[ph]["_file"], os.path.join(prof_dir, stem + ".callgrind"))
        ann = B.run_quiet(["callgrind_annotate", "--inclusive=yes", "--threshold=99.5", c[ph]["_file"]])
        with open(os.path.join(prof_dir, stem + ".annotate.txt"), "w") as f:
            f.write("# callgrind_annotate --inclusive=yes of %d requests (sender scenario, %s), after warm-up\n"
                    % (st.n2, ph))
            f.write(ann.stdout)
    return res


# --------------------------------------------------------------------------------------------
# report

def render(B, sd):
    """The scenario's lines of the table."""
    ipr, own, bare = sd["instr_per_request"], sd["module_instr_per_request"], sd["bare"]
    f = B.fmt_int
    out = ["sender-constrained (issue 15), ES256, cached token, N1/N2 = %d/%d, instructions per request:"
           % (sd["n1"], sd["n2"]),
           "  bare: ES256 verification of a proof %s + SHA-256 of the token (%d bytes) %s = %s"
           % (f(bare["es256_proof_verification"]), sd["token_bytes"]["dpop"], f(bare["sha256_of_token"]),
              f(bare["sum"])),
           "  %-44s %11s %11s %11s %9s %9s" % ("", "mod_claims", "baseline", "above base", "(own)", "/bare"),
           "  %-44s %11s %11s %11s %9s %8.2fx" % (
               "DPoP, fresh proof each request, one key", f(ipr["claims"]["dpop"]), f(ipr["baseline"]["dpop"]),
               f(sd["dpop_above_baseline"]), f(own["dpop"]), sd["dpop_vs_bare"]),
           "  %-44s %11s %11s %11s %9s %8.2fx" % (
               "DPoP, new key (and token) each request", f(ipr["claims"]["dpop_newkey"]),
               f(ipr["baseline"]["dpop_newkey"]), f(sd["dpop_newkey_above_baseline"]), f(own["dpop_newkey"]),
               sd["dpop_newkey_vs_two_bare"]),
           "  (/bare: DPoP over bare verification + SHA-256; new key over two bare verifications + SHA-256)"]
    for ph, label in (("bound", "TLS, certificate-bound token (x5t#S256)"), ("unbound", "TLS, same token unbound")):
        out.append("  %-44s %11s %11s %11s %9s" % (label, f(ipr["claims"][ph]), f(ipr["baseline"][ph]),
                                                    f(sd[ph + "_above_baseline"]), f(own[ph])))
    out.append("  certificate-bound minus unbound: %s (own: %s; the baseline's same two requests differ by %s)"
               % (f(sd["bound_minus_unbound"]), f(sd["bound_minus_unbound_own"]),
                  f(sd["baseline_bound_minus_unbound"])))
    return out


def targets(sd):
    return sd["targets"] if sd else []
