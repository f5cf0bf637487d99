#!/usr/bin/python3
"""
The mod_claims benchmark (issues 6 and 17): real apache2 instances on 127.0.0.1 serving one static file,
unprotected (the baseline), behind mod_claims, and, when Debian's packages are installed, behind
mod_auth_openidc (AuthType oauth20, local keys) and mod_oauth2 (OAuth2TokenVerify jwk), for
RS256 (RSA-2048), ES256 and EdDSA (Ed25519) tokens, the same token repeated and a new token on
every request. It reports
  (a) CPU instructions per request from callgrind, in a single-process httpd (`apache2 -X`),
      as the difference of two request counts, (I(N2) - I(N1)) / (N2 - N1), minus the baseline
      measured the same way in the same run;
  (b) the bare cost of one EVP verification (bare_verify.c), measured the same way;
  (c) wrk requests per second and server CPU per request, as ratios to the baseline;
  (d) the prefork scenario (prefork.py): signatures computed for many tokens spread over many
      children, and the children's memory, with the cache and without;
  (e) the sender-constrained scenario (sender.py, issue 15): a DPoP request with a fresh proof,
      and a certificate-bound token against the same token unbound, in instructions;
  (f) the introspection scenario (introspect.py, issue 14): opaque tokens from npm oidc-provider,
      introspected by mod_claims and by mod_auth_openidc, cache hit and miss, measured as (a);
then checks the issue's targets, writes the table and a JSON record, and a per-function profile
of mod_claims' overhead. Started by run.sh (`make bench`), which compiles the two helpers.
Its servers are the integration suite's Httpd (tests/integration/conftest.py), set up for the
benchmark by BenchHttpd below.
Python: Debian's /usr/bin/python3 with python3-jwcrypto (and its python3-cryptography), and
python3-pytest and python3-requests, which conftest.py imports.
"""
import argparse
import base64
import collections
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import conftest as H  # noqa: E402  (the integration suite's Httpd)
import prefork  # noqa: E402  (the prefork scenario)
import sender  # noqa: E402  (the sender-constrained scenario)
import introspect  # noqa: E402  (the introspection scenario, issue 14)

ALGS = ("RS256", "ES256", "EdDSA")
ISSUER = "https://idp.bench.test"
AUDIENCE = "https://api.bench.test"
MODULES_DIR = H.APACHE_MODULES
STATIC_BYTES = 1024
TARGET_HIT_INSTR = 8000          # issue 17
TARGET_NEW_VS_BARE = 1.08
TARGET_RPS_RATIO = 0.90
TARGET_VERIFY_RATIO = 1.05       # prefork: signatures per distinct token
TARGET_RSS_MIB = 64              # prefork: children's summed RSS above the same server without cache

# Why a peer is not measured for an algorithm (Debian 12's packages, checked when this was written).
UNSUPPORTED = {
    ("openidc", "EdDSA"): "cjose 0.6 (used by mod_auth_openidc) cannot parse EdDSA tokens",
    ("oauth2", "EdDSA"): "cjose 0.6 (used by liboauth2) cannot import an OKP/Ed25519 JWK",
}
NOTES = {
    "openidc": "RS256 key from OIDCOAuthVerifyCertFiles (X.509); ES256 from OIDCOAuthVerifyJwksUri "
               "served by the same httpd over loopback TLS and cached (an EC certificate in "
               "OIDCOAuthVerifyCertFiles crashes 2.4.12.3 at start-up); no audience check",
    "oauth2": "OAuth2TokenVerify jwk per location; liboauth2's default cache (shm, 1000 entries, "
              "which the peers' request counts stay below)",
    "claims": "one <ClaimsIssuer> with the three keys (JWK files), ClaimsAudience, ClaimsCache "
              "default (On)",
}
LABELS = {"baseline": "baseline", "claims": "mod_claims", "openidc": "mod_auth_openidc",
          "oauth2": "mod_oauth2"}


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def run_quiet(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


# --------------------------------------------------------------------------------------------
# keys and tokens

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def self_signed(key, cn, algo):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1)).sign(key, algo))
    return cert.public_bytes(serialization.Encoding.PEM)


class Material:
    """Keys (JWK, PEM, X.509 certificate per algorithm, a TLS certificate for the JWKS endpoint)
    and tokens: per algorithm one repeated token, warm-up tokens, N1 + N2 distinct tokens and a
    few for the sanity checks. Every token has the same claims and the same length."""

    def __init__(self, directory, n_warm, n_distinct):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.keys = {
            "RS256": jwk.JWK.generate(kty="RSA", size=2048, kid="rs256-1", alg="RS256", use="sig"),
            "ES256": jwk.JWK.generate(kty="EC", crv="P-256", kid="es256-1", alg="ES256", use="sig"),
            "EdDSA": jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="ed25519-1", alg="EdDSA", use="sig"),
        }
        self.kid = {"RS256": "rs256-1", "ES256": "es256-1", "EdDSA": "ed25519-1"}
        self.jwk_path, self.pem_path, self.crt_path, self.jwk_text = {}, {}, {}, {}
        for alg, k in self.keys.items():
            self.jwk_text[alg] = k.export_public()
            self.jwk_path[alg] = self.write(alg + ".jwk", self.jwk_text[alg])
            self.pem_path[alg] = self.write(alg + ".pem", k.export_to_pem())
            algo = None if alg == "EdDSA" else hashes.SHA256()
            self.crt_path[alg] = self.write(alg + ".crt", self_signed(k.get_op_key("sign"), "bench-" + alg, algo))
        self.jwks_text = json.dumps({"keys": [json.loads(self.jwk_text[a]) for a in ALGS]})
        tls_key = ec.generate_private_key(ec.SECP256R1())
        self.tls_crt = self.write("tls.crt", self_signed(tls_key, "127.0.0.1", hashes.SHA256()))
        self.tls_key = self.write("tls.key", tls_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        os.chmod(self.tls_key, 0o644)  # read by the httpd that serves the JWKS, in a throw-away dir

        self.iat = int(time.time())
        self.serial = 0
        self.repeat, self.warm, self.distinct, self.spare = {}, {}, {}, {}
        for alg in ALGS:
            self.repeat[alg] = self.mint(alg)
            self.warm[alg] = [self.mint(alg) for _ in range(n_warm)]
            self.distinct[alg] = [self.mint(alg) for _ in range(n_distinct)]
            self.spare[alg] = [self.mint(alg) for _ in range(4)]
        self.bare_inputs = {alg: self.signature_files(alg) for alg in ALGS}

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(path, 0o644)
        return path

    def mint(self, alg):
        self.serial += 1
        claims = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": self.iat, "nbf": self.iat - 5,
                  "exp": self.iat + 3600, "jti": "bench-%s-%08d" % (alg, self.serial),
                  "client_id": "bench-client", "scope": "orders:read orders:write"}
        token = jws.JWS(json_encode(claims))
        token.add_signature(self.keys[alg], alg=alg,
                            protected=json_encode({"alg": alg, "kid": self.kid[alg], "typ": "JWT"}))
        return token.serialize(compact=True)

    def signature_files(self, alg):
        """The repeated token's signing input and signature, as bare_verify wants them."""
        header, payload, sig = self.repeat[alg].split(".")
        raw = b64url_decode(sig)
        if alg == "ES256":
            raw = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        return (self.write(alg + ".msg", (header + "." + payload).encode()), self.write(alg + ".sig", raw))


def tampered(token):
    """The token with one signature byte changed: well-formed, never valid, never seen before."""
    header, payload, sig = token.split(".")
    raw = bytearray(b64url_decode(sig))
    raw[len(raw) // 2] ^= 0x01
    return "%s.%s.%s" % (header, payload, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))


# --------------------------------------------------------------------------------------------
# httpd configurations

class Config:
    """One configuration: which module protects /<alg>/static.txt and how; per algorithm the
    port to send its requests to (mod_auth_openidc needs one virtual host per key source)."""

    def __init__(self, name, algs, ports, body, extra_ports=()):
        self.name = name
        self.algs = algs
        self.ports = ports
        self.body = body
        self.listen = sorted(set(ports.values()) | set(extra_ports))


def location(alg, lines):
    return "<Location /%s>\n%s\n</Location>\n" % (alg.lower(), "\n".join("    " + l for l in lines))


def make_configs(mat, claims_module, have_openidc, have_oauth2):
    configs = []
    port = H.free_port()
    configs.append(Config("baseline", list(ALGS), {a: port for a in ALGS}, ""))

    port = H.free_port()
    # loaded here, after BenchHttpd's <Location /__bench>, as in every earlier run: the same
    # module order and sections, so figures stay comparable with results recorded before
    body = "LoadModule claims_module %s\n<ClaimsIssuer %s>\n" % (claims_module, ISSUER)
    body += "".join("    ClaimsKeyFile %s\n" % mat.jwk_path[a] for a in ALGS)
    body += "    ClaimsAudience %s\n</ClaimsIssuer>\n" % AUDIENCE
    body += "".join(location(a, ["AuthType claims", "AuthName bench", "Require valid-user"]) for a in ALGS)
    configs.append(Config("claims", list(ALGS), {a: port for a in ALGS}, body))

    if have_openidc:
        rs, es, tls = H.free_port(), H.free_port(), H.free_port()
        body = ("LoadModule auth_openidc_module %s/mod_auth_openidc.so\n" % MODULES_DIR
                + "OIDCOAuthRemoteUserClaim sub\n"
                + "<VirtualHost 127.0.0.1:%d>\n    OIDCOAuthVerifyCertFiles %s#%s\n</VirtualHost>\n"
                % (rs, mat.kid["RS256"], mat.crt_path["RS256"])
                + "<VirtualHost 127.0.0.1:%d>\n    OIDCOAuthVerifyJwksUri https://127.0.0.1:%d/jwks.json\n"
                  "    OIDCOAuthSSLValidateServer Off\n</VirtualHost>\n" % (es, tls)
                + "<VirtualHost 127.0.0.1:%d>\n    SSLEngine on\n    SSLCertificateFile %s\n"
                  "    SSLCertificateKeyFile %s\n</VirtualHost>\n" % (tls, mat.tls_crt, mat.tls_key)
                + "".join(location(a, ["AuthType oauth20", "Require valid-user"]) for a in ("RS256", "ES256")))
        configs.append(Config("openidc", ["RS256", "ES256"], {"RS256": rs, "ES256": es}, body, [tls]))

    if have_oauth2:
        port = H.free_port()
        body = "LoadModule oauth2_module %s/mod_oauth2.so\n" % MODULES_DIR
        for a in ("RS256", "ES256"):
            body += location(a, ["AuthType oauth2", "OAuth2TokenVerify jwk '%s'" % mat.jwk_text[a],
                                 "Require valid-user"])
        configs.append(Config("oauth2", ["RS256", "ES256"], {a: port for a in ("RS256", "ES256")}, body))
    return configs


class BenchHttpd(H.Httpd):
    """One apache2 for one configuration: the integration suite's Httpd with the benchmark's
    modules (no CGI; mod_claims only where cfg.body loads it), LogLevel warn, the cg_control
    handler at /__bench, long keep-alive, and per mode: `apache2 -X` under callgrind
    ("callgrind"), or a normal event-MPM server with one child of 25 threads, so one
    verified-token cache ("wrk")."""

    MODULES = ["authn_core", "authz_core", "authz_user", "mime", "socache_shmcb", "ssl"]
    stop_timeout = 30

    def __init__(self, cfg, mode, work, mat, cg_module):
        root = os.path.join(work, "%s-%s" % (cfg.name, mode))
        os.makedirs(root)
        os.chmod(root, 0o755)
        super().__init__(root, cfg.body, mpm="prefork" if mode == "prefork" else "event", loglevel="",
                         claims_module=None)
        self.mpm_lines = []
        self.modules = list(self.MODULES)
        self.cfg = cfg
        self.mode = mode
        self.cg_module = cg_module
        self.start_timeout = 180 if mode == "callgrind" else 30
        self.port = next(iter(cfg.ports.values()))  # the port start() waits on
        self.url = "http://127.0.0.1:%d" % self.port
        self.dumps = 0
        self.cg_server_limit = 2
        os.makedirs(os.path.join(root, "cg"))
        os.chmod(os.path.join(root, "cg"), 0o777)  # callgrind writes its dumps as User
        for a in ALGS:
            self.write_file("htdocs/%s/static.txt" % a.lower(), ("x" * 63 + "\n") * (STATIC_BYTES // 64))
        self.write_file("htdocs/jwks.json", mat.jwks_text)

    def site_lines(self):
        """In place of the functional tests' CGI, <Directory> and small MPM."""
        r = self.root
        lines = ["LoadModule bench_cg_module %s" % self.cg_module, "DefaultRuntimeDir %s/run" % r]
        lines += ["Listen 127.0.0.1:%d" % p for p in self.cfg.listen if p != self.port]
        lines += ["TypesConfig /etc/mime.types", "DocumentRoot %s/htdocs" % r, "KeepAlive On",
                  "MaxKeepAliveRequests 0", "KeepAliveTimeout 60", "Timeout 120", "MaxConnectionsPerChild 0"]
        if self.mode == "callgrind":
            # ServerLimit 2: the MPM may run two children, so mod_claims makes the level they
            # share (as on any server of more than one child); apache2 -X runs one process
            lines += ["ThreadsPerChild 4", "ServerLimit %d" % self.cg_server_limit]
        elif self.mode == "prefork":
            lines += self.mpm_lines
        else:
            lines += ["StartServers 1", "ServerLimit 1", "ThreadsPerChild 25", "MaxRequestWorkers 25",
                      "MinSpareThreads 1", "MaxSpareThreads 25"]
        return lines + ["<Location /__bench>", "    SetHandler bench-callgrind", "</Location>", ""]

    def command(self, conf):
        if self.mode == "callgrind":
            return ["valgrind", "--tool=callgrind", "--vgdb=no", "--callgrind-out-file=%s/cg/cg.out" % self.root,
                    H.HTTPD, "-X", "-f", conf]
        return super().command(conf)

    def env(self):
        return dict(os.environ)  # never the sanitizer preload of CLAIMS_PRELOAD: the plain module is measured

    def start(self):
        """Starts the server and checks that the control handler runs where it should (stops
        it again when either fails)."""
        want = "valgrind" if self.mode == "callgrind" else "native"
        try:
            super().start()
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", "/__bench?ping")
            body = c.getresponse().read().decode()
            c.close()
            if body.strip() != want:
                raise RuntimeError("control handler says %r, not %r" % (body, want))
        except (RuntimeError, OSError, http.client.HTTPException) as e:
            self.stop()
            raise RuntimeError("%s httpd (%s): %s\n%s" % (self.cfg.name, self.mode, e, self.tail()))
        return self

    def tail(self, n=20):
        text = ""
        for p in (self.error_log, os.path.join(self.root, "logs", "stdout.log")):
            try:
                with open(p, errors="replace") as f:
                    text += "".join(f.readlines()[-n:])
            except OSError:
                pass
        return text

    def cpu_ticks(self):
        """utime + stime of the httpd parent and all its descendants, in clock ticks."""
        parent_of, ticks = {}, {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent_of[int(pid)] = int(fields[1])
            ticks[int(pid)] = int(fields[11]) + int(fields[12])
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            total += ticks.get(pid, 0)
            todo += [c for c, p in parent_of.items() if p == pid]
        return total


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port, timeout=120):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def get(self, path, token=None):
        headers = {"Authorization": "Bearer " + token} if token is not None else {}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        return None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------------------------
# callgrind output

def resolve_name(table, text):
    """callgrind name compression: "(id) name" defines, "(id)" refers, plain text is a name."""
    m = re.match(r"\((\d+)\)\s*(.*)$", text.strip())
    if not m:
        return text.strip()
    if m.group(2):
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), "(%s)" % m.group(1))


def parse_callgrind(path, module="mod_claims.so"):
    """(total Ir, self Ir, inclusive Ir, calls out of module) from a callgrind output file; the
    dictionaries are keyed "object:function"; the last one holds the inclusive cost of every
    function of another object that a function of `module` calls, summed over call sites."""
    obs, fns, files = {}, {}, {}
    self_cost = collections.Counter()
    incl_cost = collections.Counter()
    out_calls = collections.Counter()
    ob = fn = "?"
    callee_ob = callee_fn = None
    in_call = False
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                key = "%s:%s" % (os.path.basename(ob), fn)
                incl_cost[key] += cost
                if not in_call:
                    self_cost[key] += cost
                elif os.path.basename(ob) == module and os.path.basename(callee_ob or ob) != module:
                    out_calls["%s:%s" % (os.path.basename(callee_ob or ob), callee_fn)] += cost
                in_call = False
                callee_ob = None
            elif line.startswith("fn="):
                fn = resolve_name(fns, line[3:])
            elif line.startswith("ob="):
                ob = resolve_name(obs, line[3:])
            elif line.startswith("cfn="):
                callee_fn = resolve_name(fns, line[4:])
            elif line.startswith("cob="):
                callee_ob = resolve_name(obs, line[4:])
            elif line.startswith(("fl=", "fi=", "fe=")):
                resolve_name(files, line[3:])
            elif line.startswith(("cfi=", "cfl=")):
                resolve_name(files, line[4:])
            elif line.startswith("calls="):
                in_call = True
            elif line.startswith("totals:") or (total is None and line.startswith("summary:")):
                total = int(line.split()[1])
    if total is None:
        raise RuntimeError("no totals in " + path)
    return total, self_cost, incl_cost, out_calls


# the shared object of each module measured, for its own cost (module_cost)
MODULE_OBJECTS = {"claims": "mod_claims.so", "openidc": "mod_auth_openidc.so", "oauth2": "mod_oauth2.so"}


def module_cost(self_cost, out_calls, module):
    """What a module's code costs: the self instructions of its functions plus the inclusive
    cost of everything they call outside it. Unlike the difference to the baseline, this does
    not include the MPM's and httpd's per-request path, whose instruction count moves by a few
    hundred between runs (timers, the event loop), so it is stable to a few instructions."""
    return sum(c for k, c in self_cost.items() if k.startswith(module + ":")) + sum(out_calls.values())


def per_request(a, b, n):
    """Per-request cost from two measurements of n1 and n2 = n1 + n requests."""
    return (b - a) / float(n)


def counter_per_request(c1, c2, n):
    return {k: (c2.get(k, 0) - c1.get(k, 0)) / float(n) for k in set(c1) | set(c2)}


# --------------------------------------------------------------------------------------------
# phase (a): callgrind on httpd

def measure_callgrind(cfg, mat, st, work, cg_module, keep_profiles):
    srv = BenchHttpd(cfg, "callgrind", work, mat, cg_module)
    srv.cg_server_limit = st.cg_server_limit
    module = MODULE_OBJECTS.get(cfg.name)
    n1, n2 = (st.n1, st.n2) if cfg.name in ("baseline", "claims") else (st.peer_n1, st.peer_n2)
    t0 = time.time()
    log("callgrind: %s: starting apache2 -X under valgrind" % cfg.name)
    srv.start()
    result = {}
    try:
        checks = sanity_checks(srv, cfg, mat)
        for alg in cfg.algs:
            if not checks[alg]["ok"]:
                log("callgrind: %s %s: sanity check failed %s, not measured" % (cfg.name, alg, checks[alg]))
                continue
            port, path = cfg.ports[alg], "/%s/static.txt" % alg.lower()
            client = Client(port)

            def send(tokens):
                for tok in tokens:
                    status = client.get(path, tok)
                    if status != 200:
                        raise RuntimeError("%s %s: HTTP %s during measurement\n%s"
                                           % (cfg.name, alg, status, srv.tail()))

            def dump():
                if client.get("/__bench?dump") != 200:
                    raise RuntimeError("%s: dump request failed" % cfg.name)
                srv.dumps += 1
                return os.path.join(srv.root, "cg", "cg.out.%d" % srv.dumps)

            send([mat.repeat[alg]] * st.warmup)
            send(mat.warm[alg])
            dump()  # the warm-up, discarded
            phases = {}
            for phase, first, second in (
                    ("repeat", [mat.repeat[alg]] * n1, [mat.repeat[alg]] * n2),
                    ("distinct", mat.distinct[alg][:n1], mat.distinct[alg][n1:n1 + n2])):
                send(first)
                f1 = dump()
                send(second)
                f2 = dump()
                t1, s1, i1, o1 = parse_callgrind(f1, module or "mod_claims.so")
                t2, s2, i2, o2 = parse_callgrind(f2, module or "mod_claims.so")
                n = n2 - n1
                phases[phase] = {"n1": n1, "n2": n2, "instr_n1": t1, "instr_n2": t2,
                                 "instr_per_request": per_request(t1, t2, n)}
                if module is not None:
                    phases[phase]["module_per_request"] = per_request(module_cost(s1, o1, module),
                                                                      module_cost(s2, o2, module), n)
                if keep_profiles:
                    phases[phase]["_self"] = counter_per_request(s1, s2, n)
                    phases[phase]["_incl"] = counter_per_request(i1, i2, n)
                    phases[phase]["_out"] = counter_per_request(o1, o2, n)
                    phases[phase]["_file"] = f2
            client.close()
            result[alg] = phases
            log("callgrind: %s %s: %.0f instr/request repeated, %.0f distinct"
                % (cfg.name, alg, phases["repeat"]["instr_per_request"], phases["distinct"]["instr_per_request"]))
    finally:
        srv.stop()
    log("callgrind: %s done in %.0f s" % (cfg.name, time.time() - t0))
    return checks, result


# --------------------------------------------------------------------------------------------
# phase (b): bare verification

def measure_bare(alg, mode, mat, st, work, bare_bin):
    msg, sig = mat.bare_inputs[alg]
    totals = []
    for n in (st.bare_n1, st.bare_n2):
        out = os.path.join(work, "bare-%s-%s-%d.cg" % (alg, mode, n))
        p = run_quiet(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, bare_bin,
                       alg, mat.pem_path[alg], msg, sig, str(n), mode])
        if p.returncode != 0:
            raise RuntimeError("bare_verify %s %s failed:\n%s" % (alg, mode, p.stdout[-2000:]))
        totals.append(parse_callgrind(out)[0])
    return per_request(totals[0], totals[1], st.bare_n2 - st.bare_n1)


# --------------------------------------------------------------------------------------------
# phase (c): wrk

def sanity_checks(srv, cfg, mat):
    """Each protected location answers 200 to the token, 401 without one and 401 to a tampered
    token, so that no configuration is measured while it lets everything through."""
    checks = {}
    for alg in cfg.algs:
        c = Client(cfg.ports[alg], timeout=30)
        path = "/%s/static.txt" % alg.lower()
        got = {"valid": c.get(path, mat.repeat[alg])}
        if cfg.name != "baseline":
            got["none"] = c.get(path)
            got["tampered"] = c.get(path, tampered(mat.spare[alg][0]))
        c.close()
        want = {"valid": 200, "none": 401, "tampered": 401}
        checks[alg] = {"answers": got, "ok": all(got[k] == want[k] for k in got)}
    return checks


def run_wrk(port, path, token, seconds, st):
    cmd = ["wrk", "-t%d" % st.wrk_threads, "-c%d" % st.wrk_connections, "-d%ds" % seconds,
           "--timeout", "10s", "-H", "Authorization: Bearer " + token, "http://127.0.0.1:%d%s" % (port, path)]
    p = run_quiet(cmd, timeout=seconds + 60)
    text = p.stdout
    m_rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    m_req = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    m_bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    m_err = re.search(r"Socket errors: (.*)", text)
    if p.returncode != 0 or not m_rps or not m_req:
        raise RuntimeError("wrk failed:\n" + text)
    return {"rps": float(m_rps.group(1)), "requests": int(m_req.group(1)),
            "non_2xx": int(m_bad.group(1)) if m_bad else 0, "socket_errors": m_err.group(1) if m_err else None}


def measure_wrk(configs, mat, st, work, cg_module):
    """All configurations up at once; per algorithm, rounds of one wrk run per configuration in
    turn, so that a change in the machine's background load hits them all alike."""
    servers = [BenchHttpd(cfg, "wrk", work, mat, cg_module) for cfg in configs]
    result = {}
    hz = os.sysconf("SC_CLK_TCK")
    try:
        for srv in servers:
            srv.start()
            result[srv.cfg.name] = {"checks": sanity_checks(srv, srv.cfg, mat), "runs": {}}
        for alg in ALGS:
            here = []
            for srv in servers:
                checks = result[srv.cfg.name]["checks"]
                if alg not in srv.cfg.algs:
                    continue
                if not checks[alg]["ok"]:
                    log("wrk: %s %s: sanity check failed %s, not measured" % (srv.cfg.name, alg, checks[alg]))
                    continue
                run_wrk(srv.cfg.ports[alg], "/%s/static.txt" % alg.lower(), mat.repeat[alg], 1, st)  # warm-up
                here.append(srv)
            runs = {srv.cfg.name: [] for srv in here}
            for _ in range(st.wrk_rounds):
                for srv in here:
                    before = srv.cpu_ticks()
                    w = run_wrk(srv.cfg.ports[alg], "/%s/static.txt" % alg.lower(), mat.repeat[alg],
                                st.wrk_seconds, st)
                    w["cpu_s"] = (srv.cpu_ticks() - before) / float(hz)
                    if w["non_2xx"]:
                        raise RuntimeError("wrk: %s %s: %d non-2xx answers\n%s"
                                           % (srv.cfg.name, alg, w["non_2xx"], srv.tail()))
                    runs[srv.cfg.name].append(w)
            for name, rs in runs.items():
                requests = sum(r["requests"] for r in rs)
                agg = {"rps": sum(r["rps"] for r in rs) / len(rs), "requests": requests,
                       "cpu_us_per_request": 1e6 * sum(r["cpu_s"] for r in rs) / requests if requests else None,
                       "runs": [{"rps": r["rps"], "requests": r["requests"], "cpu_s": r["cpu_s"]} for r in rs]}
                result[name]["runs"][alg] = agg
                log("wrk: %s %s: %.0f req/s, %.1f us CPU/request (%s)" % (
                    name, alg, agg["rps"], agg["cpu_us_per_request"] or 0,
                    ", ".join("%.0f" % r["rps"] for r in rs)))
    finally:
        for srv in servers:
            srv.stop()
    return result


# --------------------------------------------------------------------------------------------
# phase (d): prefork, many tokens over many children

def measure_prefork(configs, mat, st, work, cg_module):
    """The prefork scenario (prefork.py) with mod_claims' configuration, with the cache at its
    default and with ClaimsCache Off, one server after the other."""
    claims = next(c for c in configs if c.name == "claims")
    log("prefork: minting %d RS256 tokens" % st.prefork_tokens)
    tokens = [mat.mint("RS256") for _ in range(st.prefork_tokens)]
    result = {"children": st.prefork_children, "tokens": len(tokens), "sends_per_token": st.prefork_children}
    for name, extra in (("cache", ""), ("no_cache", "ClaimsCache Off\n")):
        body, mpm_lines = prefork.scenario_config(BenchHttpd, claims, st.prefork_children)
        port = H.free_port()
        cfg = Config("claims-prefork-" + name.replace("_", "-"), ["RS256"], {"RS256": port}, body + extra)
        srv = BenchHttpd(cfg, "prefork", work, mat, cg_module)
        srv.mpm_lines = mpm_lines
        srv.start_timeout = 60
        srv.start()
        try:
            result[name] = prefork.run_one(srv, tokens, st.prefork_children, log)
        finally:
            srv.stop()
    return result


# --------------------------------------------------------------------------------------------
# report

def median(values):
    """The median (mean of the middle two for an even count), None for no values."""
    v = sorted(values)
    if not v:
        return None
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2.0


def fmt_int(v):
    return "n/a" if v is None else "{:,.0f}".format(v)


def fmt_ratio(v):
    return "n/a" if v is None else "%.2fx" % v


def machine_info():
    def first(cmd):
        try:
            return run_quiet(cmd).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return None

    def pkg(name):
        return first(["dpkg-query", "-W", "-f", "${Version}", name])

    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        debian = None
    return {"cpu": cpu, "cores": os.cpu_count(), "debian": debian, "kernel": platform.release(),
            "apache2": first(["apache2", "-v"]), "openssl": first(["openssl", "version"]),
            "valgrind": first(["valgrind", "--version"]),
            "packages": {p: pkg(p) for p in ("apache2-bin", "libssl3", "libapache2-mod-auth-openidc",
                                             "libapache2-mod-oauth2", "libcjose0", "wrk", "valgrind")}}


def module_identity(src, module):
    """What was measured: the module file (path, time, SHA-256) and the source tree's revision."""
    p = run_quiet(["git", "-C", src, "describe", "--always", "--dirty"])
    with open(module, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"path": module, "sha256": digest,
            "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(module)).isoformat(timespec="seconds"),
            "source_revision": p.stdout.strip() if p.returncode == 0 else None}


def profile_tables(cg, alg, top):
    """mod_claims' overhead per function: self instructions per request minus the baseline's,
    and the inclusive cost of the module's own functions."""
    out = {}
    for phase in ("repeat", "distinct"):
        mine, base = cg["claims"][alg][phase], cg["baseline"][alg][phase]
        delta = {k: mine["_self"].get(k, 0) - base["_self"].get(k, 0) for k in set(mine["_self"]) | set(base["_self"])}
        ranked = sorted(delta.items(), key=lambda kv: -kv[1])
        module = sorted(((k, v) for k, v in mine["_incl"].items() if k.startswith("mod_claims.so:")),
                        key=lambda kv: -kv[1])
        calls = sorted(mine["_out"].items(), key=lambda kv: -kv[1])

        def entries(items):
            return [{"function": k, "instr_per_request": round(v, 1)} for k, v in items[:top] if v >= 1]
        out[phase] = {
            "total_above_baseline": mine["instr_per_request"] - base["instr_per_request"],
            "self_above_baseline": entries(ranked),
            "module_inclusive": entries(module),
            "calls_out_of_module": entries(calls),
        }
    return out


def render_profile(profiles):
    lines = []
    for alg, phases in profiles.items():
        for phase, p in phases.items():
            lines.append("mod_claims %s, %s token: %s instr/request above the baseline"
                         % (alg, "same" if phase == "repeat" else "new", fmt_int(p["total_above_baseline"])))
            lines.append("  self instructions per request, minus the baseline's (where they go):")
            lines += ["    %12s  %s" % (fmt_int(e["instr_per_request"]), e["function"]) for e in p["self_above_baseline"]]
            lines.append("  mod_claims.so functions, inclusive:")
            lines += ["    %12s  %s" % (fmt_int(e["instr_per_request"]), e["function"]) for e in p["module_inclusive"]]
            lines.append("  library functions called by mod_claims.so, inclusive:")
            lines += ["    %12s  %s" % (fmt_int(e["instr_per_request"]), e["function"]) for e in p["calls_out_of_module"]]
            lines.append("")
    return "\n".join(lines)


def prefork_targets(pf):
    """The prefork scenario's targets (issue 17): signatures per distinct token, and the
    children's summed RSS above the same server without the cache."""
    if not pf or "cache" not in pf or "no_cache" not in pf:
        return []
    ratio = (pf["cache"]["verifications"] or 0) / float(pf["tokens"])
    delta = (pf["cache"]["rss_kib_sum"] - pf["no_cache"]["rss_kib_sum"]) / 1024.0
    return [
        {"target": "prefork: signatures <= %.2f x distinct tokens" % TARGET_VERIFY_RATIO, "alg": "RS256",
         "value": round(ratio, 3), "limit": TARGET_VERIFY_RATIO,
         "met": pf["cache"]["verifications"] is not None and ratio <= TARGET_VERIFY_RATIO},
        {"target": "prefork: children's RSS <= cache off + %d MiB" % TARGET_RSS_MIB, "alg": "RS256",
         "value": round(delta, 1), "limit": TARGET_RSS_MIB, "met": delta <= TARGET_RSS_MIB},
    ]


def build_report(st, cg, checks, bare, wrk, machine, module, elapsed, pf=None):
    base_rps = {a: wrk["baseline"]["runs"].get(a, {}).get("rps") for a in ALGS}
    base_cpu = {a: wrk["baseline"]["runs"].get(a, {}).get("cpu_us_per_request") for a in ALGS}
    rows = []
    for name in [n for n in ("claims", "openidc", "oauth2") if n in cg]:
        for alg in ALGS:
            row = {"config": name, "module": LABELS[name], "alg": alg}
            if (name, alg) in UNSUPPORTED or alg not in cg[name] or alg not in cg["baseline"]:
                row["unsupported"] = UNSUPPORTED.get((name, alg), "sanity check failed: %s"
                                                     % checks.get(name, {}).get(alg))
                rows.append(row)
                continue
            b = cg["baseline"][alg]
            rep = cg[name][alg]["repeat"]["instr_per_request"] - b["repeat"]["instr_per_request"]
            new = cg[name][alg]["distinct"]["instr_per_request"] - b["distinct"]["instr_per_request"]
            w = wrk.get(name, {}).get("runs", {}).get(alg, {})
            bw = wrk["baseline"]["runs"].get(alg, {})
            rounds = [a["rps"] / b["rps"] for a, b in zip(w.get("runs", []), bw.get("runs", [])) if b["rps"]]
            own = {ph: cg[name][alg][ph].get("module_per_request") for ph in ("repeat", "distinct")}
            row.update({
                "instr_above_baseline_repeat": round(rep),
                "instr_above_baseline_distinct": round(new),
                "module_instr_repeat": None if own["repeat"] is None else round(own["repeat"]),
                "module_instr_distinct": None if own["distinct"] is None else round(own["distinct"]),
                "distinct_vs_bare": new / bare[alg]["full"],
                "checks": {"callgrind": checks[name][alg]["answers"],
                           "wrk": wrk.get(name, {}).get("checks", {}).get(alg, {}).get("answers")},
                "wrk_rps": w.get("rps"),
                "wrk_rps_ratio": median(rounds),
                "wrk_rps_ratio_per_round": [round(x, 3) for x in rounds],
                "wrk_rps_ratio_of_totals": (w["requests"] / float(bw["requests"])
                                            if w.get("requests") and bw.get("requests") else None),
                "cpu_us_per_request": w.get("cpu_us_per_request"),
                "cpu_ratio": (w["cpu_us_per_request"] / base_cpu[alg]
                              if w.get("cpu_us_per_request") and base_cpu[alg] else None),
            })
            rows.append(row)

    targets = []
    for alg in ALGS:
        r = next((x for x in rows if x["config"] == "claims" and x["alg"] == alg and "unsupported" not in x), None)
        if r is None:
            continue
        targets.append({"target": "same token (cache hit) <= %d instr/request above baseline" % TARGET_HIT_INSTR,
                        "alg": alg, "value": r["instr_above_baseline_repeat"], "limit": TARGET_HIT_INSTR,
                        "met": r["instr_above_baseline_repeat"] <= TARGET_HIT_INSTR})
        targets.append({"target": "new token every request <= %.2f x bare verification" % TARGET_NEW_VS_BARE,
                        "alg": alg, "value": round(r["distinct_vs_bare"], 3), "limit": TARGET_NEW_VS_BARE,
                        "met": r["distinct_vs_bare"] <= TARGET_NEW_VS_BARE})
        targets.append({"target": "wrk req/s with the same token >= %d%% of baseline" % round(100 * TARGET_RPS_RATIO),
                        "alg": alg, "value": None if r["wrk_rps_ratio"] is None else round(r["wrk_rps_ratio"], 3),
                        "limit": TARGET_RPS_RATIO, "per_round": r["wrk_rps_ratio_per_round"],
                        "met": r["wrk_rps_ratio"] is not None and r["wrk_rps_ratio"] >= TARGET_RPS_RATIO})
    targets += prefork_targets(pf)

    return {
        "issue": 17,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mod_claims": module,
        "machine": machine,
        "settings": vars(st),
        "elapsed_s": round(elapsed, 1),
        "notes": NOTES,
        "bare_verification": bare,
        "baseline": {a: {"instr_per_request_repeat": round(cg["baseline"][a]["repeat"]["instr_per_request"]),
                         "instr_per_request_distinct": round(cg["baseline"][a]["distinct"]["instr_per_request"]),
                         "wrk_rps": base_rps[a], "cpu_us_per_request": base_cpu[a],
                         "wrk_runs": wrk["baseline"]["runs"].get(a, {}).get("runs")} for a in ALGS},
        "loadavg_during_wrk": wrk.get("_loadavg"),
        "results": rows,
        "prefork": pf,
        "targets": targets,
    }


def render_prefork(pf):
    """The prefork scenario's lines of the table."""
    out = ["prefork: %d children, %s distinct RS256 tokens each sent %d times, every child every token once "
           "(keep-alive connection c sends token i in round r when (i + r) %% %d == c)"
           % (pf["children"], fmt_int(pf["tokens"]), pf["sends_per_token"], pf["children"])]
    for name, label in (("cache", "cache (default)"), ("no_cache", "ClaimsCache Off")):
        r = pf.get(name)
        if r is None:
            continue
        out.append("  %-16s %9s requests (%s), %9s signatures (%.2f per token), children's RSS %7.1f MiB, "
                   "PSS %7.1f MiB, %.1f s" % (
                       label, fmt_int(r["requests"]), ", ".join("%s: %s" % kv for kv in sorted(r["answers"].items())),
                       fmt_int(r["verifications"]), (r["verifications"] or 0) / float(pf["tokens"]),
                       r["rss_kib_sum"] / 1024.0, r["pss_kib_sum"] / 1024.0, r["seconds"]))
    if "cache" in pf and "no_cache" in pf:
        out.append("  the cache's memory, all children: RSS %+.1f MiB, PSS %+.1f MiB (RSS counts a shared page once "
                   "per child that touched it)" % ((pf["cache"]["rss_kib_sum"] - pf["no_cache"]["rss_kib_sum"]) / 1024.0,
                                                   (pf["cache"]["pss_kib_sum"] - pf["no_cache"]["pss_kib_sum"]) / 1024.0))
    return out


def render_table(rep):
    st, m = rep["settings"], rep["machine"]
    out = []
    out.append("mod_claims benchmark (issues 6, 14, 17), %s, %s (source %s)" % (
        rep["date"], rep["mod_claims"]["path"], rep["mod_claims"]["source_revision"] or "not a git tree"))
    out.append("machine: %s, %s cores, Debian %s, %s, %s" % (m["cpu"], m["cores"], m["debian"],
                                                           m["apache2"], m["openssl"]))
    out.append("callgrind: apache2 -X (event MPM, ServerLimit %d), keep-alive, static %d-byte file, %d + %d warm-up "
               "requests, then (I(N2)-I(N1))/(N2-N1) with N1/N2 = %d/%d (baseline, mod_claims), %d/%d (peers)"
               % (st["cg_server_limit"], STATIC_BYTES, st["warmup"], st["warmup"], st["n1"], st["n2"], st["peer_n1"],
                  st["peer_n2"]))
    out.append("wrk: -t%d -c%d, keep-alive, same token, %d interleaved runs of %d s per configuration; "
               "server CPU from /proc" % (st["wrk_threads"], st["wrk_connections"], st["wrk_rounds"],
                                         st["wrk_seconds"]))
    out.append("")
    out.append("bare EVP verification, instructions (bare_verify.c, same run):")
    for a in ALGS:
        b = rep["bare_verification"][a]
        out.append("  %-6s %12s   (context initialised once and copied: %s)" % (a, fmt_int(b["full"]), fmt_int(b["copy"])))
    out.append("baseline, no authentication:")
    for a in ALGS:
        b = rep["baseline"][a]
        out.append("  %-6s %12s instr/request   %9s req/s   %6s us CPU/request"
                   % (a, fmt_int(b["instr_per_request_repeat"]), fmt_int(b["wrk_rps"]),
                      "n/a" if b["cpu_us_per_request"] is None else "%.1f" % b["cpu_us_per_request"]))
    out.append("")
    head = "%-6s %-17s %11s %9s %11s %11s %9s %10s %8s %9s %8s" % (
        "alg", "module", "same token", "(own)", "new token", "(own)", "new/bare", "wrk req/s", "vs base",
        "CPU us/r", "vs base")
    out.append("instructions per request above the baseline (callgrind), and (own): what the module's code and "
               "its calls cost, without httpd's path; wrk and CPU as ratios to the baseline")
    out.append(head)
    out.append("-" * len(head))
    for a in ALGS:
        for r in [x for x in rep["results"] if x["alg"] == a]:
            if "unsupported" in r:
                out.append("%-6s %-17s %s" % (a, r["module"], "not measured: " + r["unsupported"]))
                continue
            out.append("%-6s %-17s %11s %9s %11s %11s %9s %10s %8s %9s %8s" % (
                a, r["module"], fmt_int(r["instr_above_baseline_repeat"]), fmt_int(r.get("module_instr_repeat")),
                fmt_int(r["instr_above_baseline_distinct"]), fmt_int(r.get("module_instr_distinct")),
                fmt_ratio(r["distinct_vs_bare"]), fmt_int(r["wrk_rps"]), fmt_ratio(r["wrk_rps_ratio"]),
                "n/a" if r["cpu_us_per_request"] is None else "%.1f" % r["cpu_us_per_request"],
                fmt_ratio(r["cpu_ratio"])))
    if rep.get("prefork"):
        out.append("")
        out += render_prefork(rep["prefork"])
    if rep.get("sender"):
        out += [""] + sender.render(sys.modules[__name__], rep["sender"])
    if rep.get("introspection"):
        out.append("")
        out += introspect.render(rep["introspection"], rep["results"], fmt_int)
    out.append("")
    out.append("targets (issues 14, 15, 17), mod_claims:")
    for t in rep["targets"]:
        value = "n/a" if t["value"] is None else (fmt_int(t["value"]) if isinstance(t["value"], int)
                                                  else "%.3f" % t["value"])
        if t.get("per_round"):
            value += "  (rounds: %s)" % ", ".join("%.2f" % x for x in t["per_round"])
        out.append("  [%s] %-6s %-58s %s" % ("met" if t["met"] else "NOT MET", t["alg"], t["target"], value))
    if rep.get("loadavg_during_wrk"):
        out.append("  (load average around the wrk runs: %.1f before, %.1f after, on %s cores)"
                   % (rep["loadavg_during_wrk"]["before"][0], rep["loadavg_during_wrk"]["after"][0],
                      rep["machine"]["cores"]))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------

class Settings:
    def __init__(self):
        self.n1 = env_int("BENCH_N1", 200)
        self.n2 = env_int("BENCH_N2", 400)
        self.peer_n1 = env_int("BENCH_PEER_N1", 50)
        self.peer_n2 = env_int("BENCH_PEER_N2", 150)
        self.warmup = env_int("BENCH_WARMUP", 30)
        self.bare_n1 = env_int("BENCH_BARE_N1", 20)
        self.bare_n2 = env_int("BENCH_BARE_N2", 60)
        self.wrk_seconds = env_int("BENCH_WRK_SECONDS", 2)
        self.wrk_rounds = env_int("BENCH_WRK_ROUNDS", 3)
        self.wrk_threads = env_int("BENCH_WRK_THREADS", 2)
        self.wrk_connections = env_int("BENCH_WRK_CONNECTIONS", 64)
        self.cg_server_limit = env_int("BENCH_CG_SERVER_LIMIT", 2)
        self.prefork_children = env_int("BENCH_PREFORK_CHILDREN", 32)
        self.prefork_tokens = env_int("BENCH_PREFORK_TOKENS", 2000)
        self.sender = env_int("BENCH_SENDER", 1)
        self.jobs = env_int("BENCH_JOBS", 2)
        self.peers = os.environ.get("BENCH_PEERS", "auto")
        self.configs = os.environ.get("BENCH_CONFIGS", "baseline,claims,openidc,oauth2")
        if not (0 < self.n1 < self.n2 and 0 < self.peer_n1 < self.peer_n2 and 0 < self.bare_n1 < self.bare_n2):
            raise SystemExit("bench: need 0 < N1 < N2 for BENCH_N*, BENCH_PEER_N* and BENCH_BARE_N*")


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--work", required=True, help="scratch directory (keys, server roots, dumps)")
    ap.add_argument("--module", required=True, help="mod_claims.so to measure")
    ap.add_argument("--bare", required=True, help="the compiled bare_verify")
    ap.add_argument("--cg-module", required=True, help="the compiled cg_control module")
    ap.add_argument("--results", required=True, help="directory for latest.json and the profiles")
    ap.add_argument("--src", required=True, help="source tree (for the git revision)")
    args = ap.parse_args()
    st = Settings()
    started = time.time()
    os.makedirs(args.results, exist_ok=True)

    have_openidc = st.peers != "none" and os.path.exists(os.path.join(MODULES_DIR, "mod_auth_openidc.so"))
    have_oauth2 = st.peers != "none" and os.path.exists(os.path.join(MODULES_DIR, "mod_oauth2.so"))
    log("minting keys and %d tokens" % (3 * (5 + st.warmup + max(st.n1 + st.n2, st.peer_n1 + st.peer_n2))))
    mat = Material(os.path.join(args.work, "keys"), st.warmup, max(st.n1 + st.n2, st.peer_n1 + st.peer_n2))
    configs = [c for c in make_configs(mat, args.module, have_openidc, have_oauth2)
               if c.name in st.configs.split(",") or c.name in ("baseline", "claims")]
    for name, wanted in (("mod_auth_openidc", have_openidc), ("mod_oauth2", have_oauth2)):
        if not wanted:
            log("%s not installed (or BENCH_PEERS=none): not compared" % name)

    # (a) and (b): deterministic instruction counts, two valgrinds at a time
    cg, checks, bare = {}, {}, {a: {} for a in ALGS}
    # the longest first: mod_claims (most requests), then the peers, the baseline, the bare runs
    order = sorted(configs, key=lambda c: {"claims": 0, "oauth2": 1, "openidc": 2, "baseline": 3}[c.name])
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, st.jobs)) as pool:
        futs = {pool.submit(measure_callgrind, c, mat, st, args.work, args.cg_module,
                            c.name in ("claims", "baseline")): c.name for c in order}
        bare_futs = {pool.submit(measure_bare, a, mode, mat, st, args.work, args.bare): (a, mode)
                     for a in ALGS for mode in ("full", "copy")}
        for f, (a, mode) in bare_futs.items():
            bare[a][mode] = round(f.result())
            if mode == "full":
                log("bare: %s %s instr/verification" % (a, fmt_int(bare[a][mode])))
        for f, name in futs.items():
            checks[name], cg[name] = f.result()

    # (c): wrk, all servers up, configurations interleaved
    wrk = {"baseline": {"checks": {}, "runs": {}}}
    if st.wrk_rounds > 0:
        loadavg_before = os.getloadavg()
        wrk = measure_wrk(configs, mat, st, args.work, args.cg_module)
        wrk["_loadavg"] = {"before": loadavg_before, "after": os.getloadavg()}

    # (e): opaque tokens introspected at oidc-provider, mod_claims and mod_auth_openidc (BENCH_INTROSPECT=0 skips it)
    intro = (introspect.measure(sys.modules[__name__], st, args.work, args.module, mat, args.cg_module, st.jobs, log)
             if introspect.Settings(st).enabled else None)

    # (d): prefork, signatures and memory (BENCH_PREFORK_CHILDREN=0 skips it)
    pf = measure_prefork(configs, mat, st, args.work, args.cg_module) if st.prefork_children > 0 else None

    # (e): DPoP and certificate-bound tokens under callgrind (BENCH_SENDER=0 skips it)
    sd = (sender.measure(sys.modules[__name__], mat, st, args.work, args.cg_module, args.module, args.bare,
                         args.results) if st.sender else None)

    report = build_report(st, cg, checks, bare, wrk, machine_info(), module_identity(args.src, args.module),
                          time.time() - started, pf)
    report["sender"] = sd
    report["targets"] += sender.targets(sd)
    if intro is not None:
        report["introspection"] = intro
        report["targets"] += introspect.targets(intro, report["results"])
    report["profile"] = {a: profile_tables(cg, a, 15) for a in ALGS}
    table = render_table(report)
    profile_text = render_profile(report["profile"])

    # human-readable callgrind_annotate output of mod_claims' second phases, and the dumps
    prof_dir = os.path.join(args.results, "profile")
    os.makedirs(prof_dir, exist_ok=True)
    for alg in ALGS:
        for phase in ("repeat", "distinct"):
            src = cg["claims"][alg][phase]["_file"]
            stem = "claims-%s-%s" % (alg, phase)
            shutil.copyfile(src, os.path.join(prof_dir, stem + ".callgrind"))
            ann = run_quiet(["callgrind_annotate", "--inclusive=yes", "--threshold=99.5", src])
            with open(os.path.join(prof_dir, stem + ".annotate.txt"), "w") as f:
                f.write("# callgrind_annotate --inclusive=yes of %d requests (%s token, %s), after warm-up\n"
                        % (st.n2, "same" if phase == "repeat" else "a new", alg))
                f.write(ann.stdout)
    introspect.save_profiles(report.get("introspection"), prof_dir, run_quiet)

    with open(os.path.join(args.results, "latest.json"), "w") as f:
        json.dump(report, f, indent=2, sort_keys=False)
        f.write("\n")
    with open(os.path.join(args.results, "latest.txt"), "w") as f:
        f.write(table + "\n\n" + profile_text + "\n")
    print(table)
    print()
    print(profile_text)
    print("written: %s (and latest.txt, profile/)" % os.path.join(args.results, "latest.json"))
    log("done in %.0f s" % (time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
