"""
The introspection scenario of the benchmark (issue 14): opaque access tokens from the real npm
oidc-provider (tests/interop, on 127.0.0.1 over TLS with a CA made for the run), checked by
mod_claims (<ClaimsIssuer> with ClaimsIntrospection + ClaimsIntrospectionClient, the answer
cache at its default, shmcb) and, side by side, by mod_auth_openidc (AuthType oauth20 with
OIDCOAuthIntrospectionEndpoint, its default cache), both authenticating to the endpoint as the
same resource-server client with client_secret_basic and both verifying its certificate with
the run's CA. A baseline without authentication receives the very same requests.

Measured as phase (a) of bench.py: one `valgrind --tool=callgrind apache2 -X` per
configuration, (I(N2) - I(N1)) / (N2 - N1) instructions per request minus the baseline's, on
one keep-alive connection; "hit" sends the same token every request (after a warm-up that put
it in the cache), "miss" a token never sent before (minted beforehand, client_credentials).
Besides the module's own cost ("own": self instructions of its shared object plus the
inclusive cost of everything it calls, bench.module_cost), a miss is also given without the
HTTP exchange with the endpoint: own minus the inclusive cost of libcurl's transfer
(curl_easy_perform / curl_multi_perform called from the module). That figure is the one the
issue's 50,000-instruction target is about. Hit figures are differences of the two phases
(fixed costs cancel); miss figures are averages over the second miss phase alone, because
the first can hold more than fixed costs (connections to the endpoint made again, TLS
handshakes), which a difference would take away from every miss, down to negative figures.

Every phase of a module's server also counts the introspection requests the provider logged: a
hit phase must make none and a miss phase exactly one per request, or the scenario fails (the
configuration under test does not do what the row claims). The two module servers run one after
the other for that count; the baseline, which cannot call the endpoint, runs beside mod_claims'.

Settings: BENCH_INTROSPECT (1; 0 skips the scenario), BENCH_INTROSPECT_N1/_N2 hit requests
(100/300), BENCH_INTROSPECT_MISS_N1/_N2 miss requests (20/60), BENCH_INTROSPECT_MISS_WARMUP
(16), BENCH_INTROSPECT_PEERS (auto; none: mod_claims only). The hit warm-up is BENCH_WARMUP.
"""
import concurrent.futures
import os
import secrets
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import oidc_provider as OP  # noqa: E402  (the interop tests' npm oidc-provider)

CLIENT = "rs-basic"            # the resource-server client both modules introspect as
TOKEN_CLIENT = "basic-client"  # the client the tokens are issued to (client_credentials)
TARGET_HIT_VS_JWT = 2.0        # introspection hit <= 2 x mod_claims' JWT (RS256) cache hit
TARGET_MISS_OWN = 50000        # a miss: own instructions, the transfer left out
TRANSFER = ("curl_easy_perform", "curl_multi_perform")
PATH = "/opaque/static.txt"


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


class Settings:
    def __init__(self, st):
        self.enabled = env_int("BENCH_INTROSPECT", 1) != 0
        self.n1 = env_int("BENCH_INTROSPECT_N1", 100)
        self.n2 = env_int("BENCH_INTROSPECT_N2", 300)
        self.miss_n1 = env_int("BENCH_INTROSPECT_MISS_N1", 20)
        self.miss_n2 = env_int("BENCH_INTROSPECT_MISS_N2", 60)
        self.miss_warmup = env_int("BENCH_INTROSPECT_MISS_WARMUP", 16)
        self.warmup = st.warmup
        self.cg_server_limit = st.cg_server_limit
        self.peers = os.environ.get("BENCH_INTROSPECT_PEERS", "auto" if st.peers != "none" else "none")
        if self.enabled and not (0 < self.n1 < self.n2 and 0 < self.miss_n1 < self.miss_n2):
            raise SystemExit("bench: need 0 < N1 < N2 for BENCH_INTROSPECT_N* and BENCH_INTROSPECT_MISS_N*")


def missing():
    """Why the scenario cannot run here (None when it can)."""
    return OP.interop_missing()


class Tokens:
    """Opaque tokens from the provider: one repeated, the miss warm-up's, N1 + N2 for the miss
    phases; all from the same client with the same scope and resource, so of one length."""

    def __init__(self, op, s):
        def mint():
            return op.opaque_access_token(scope="read", client=TOKEN_CLIENT, resource=OP.RESOURCE_OPAQUE)
        self.repeat = mint()
        self.warm = [mint() for _ in range(s.miss_warmup)]
        self.distinct = [mint() for _ in range(s.miss_n1 + s.miss_n2)]
        # never issued, of the same shape: the endpoint answers "active": false
        self.unknown = secrets.token_urlsafe(len(self.repeat) * 3 // 4)[:len(self.repeat)]


def introspections(op):
    """The introspection requests the provider has logged so far."""
    path = "POST /" + op.introspection_endpoint.split("://", 1)[1].split("/", 1)[1]
    return sum(1 for line in op.log().splitlines() if path in line)


def configs(B, op, work, claims_module, with_openidc):
    """The scenario's configurations (bench.Config): baseline, mod_claims, mod_auth_openidc."""
    secret = os.path.join(work, "introspect.secret")
    with open(secret, "w") as f:
        f.write(op.clients[CLIENT].secret + "\n")
    os.chmod(secret, 0o644)
    loc = lambda lines: "<Location /opaque>\n%s\n</Location>\n" % "\n".join("    " + l for l in lines)  # noqa: E731
    out = [B.Config("intro-baseline", ["opaque"], {"opaque": B.H.free_port()}, "")]
    body = ("LoadModule claims_module %s\n<ClaimsIssuer %s>\n    ClaimsIntrospection %s\n"
            "    ClaimsIntrospectionClient %s secret=%s method=client_secret_basic\n    ClaimsCAFile %s\n"
            "    ClaimsAudience %s\n</ClaimsIssuer>\n"
            % (claims_module, op.issuer, op.introspection_endpoint, CLIENT, secret, op.ca, OP.RESOURCE_OPAQUE))
    body += loc(["AuthType claims", "AuthName bench", "Require valid-user", "ClaimsRemoteUser client_id"])
    out.append(B.Config("intro-claims", ["opaque"], {"opaque": B.H.free_port()}, body))
    if with_openidc:
        body = ("LoadModule auth_openidc_module %s/mod_auth_openidc.so\n" % B.MODULES_DIR
                + "OIDCOAuthIntrospectionEndpoint %s\n" % op.introspection_endpoint
                + "OIDCOAuthClientID %s\nOIDCOAuthClientSecret %s\n" % (CLIENT, op.clients[CLIENT].secret)
                + "OIDCOAuthIntrospectionEndpointAuth client_secret_basic\n"
                + "OIDCOAuthSSLValidateServer On\nOIDCCABundlePath %s\n" % op.ca
                + "OIDCOAuthRemoteUserClaim client_id\n"
                + loc(["AuthType oauth20", "Require valid-user"]))
        out.append(B.Config("intro-openidc", ["opaque"], {"opaque": B.H.free_port()}, body))
    return out


def transfer_cost(out_calls):
    """The inclusive cost of libcurl's transfer calls made by the module."""
    return sum(v for k, v in out_calls.items() if k.rsplit(":", 1)[-1] in TRANSFER)


def curl_cost(out_calls):
    """The inclusive cost of every libcurl function the module calls (set-up, transfer, clean-up)."""
    return sum(v for k, v in out_calls.items() if k.startswith("libcurl"))


def run_server(B, cfg, op, tok, s, work, mat, cg_module, log):
    """One configuration under callgrind: sanity checks, warm-up, the hit and the miss phases.
    The provider's log counts introspection calls during each phase (meaningful for a module's
    server only when no other module's server runs meanwhile: see measure)."""
    srv = B.BenchHttpd(cfg, "callgrind", work, mat, cg_module)
    srv.cg_server_limit = s.cg_server_limit
    srv.write_file("htdocs/opaque/static.txt", ("x" * 63 + "\n") * (B.STATIC_BYTES // 64))
    module = B.MODULE_OBJECTS.get(cfg.name.split("-", 1)[1])
    t0 = time.time()
    log("introspect: %s: starting apache2 -X under valgrind" % cfg.name)
    srv.start()
    client = B.Client(srv.port)
    try:
        checks = {"valid": client.get(PATH, tok.repeat)}
        if module is not None:
            checks["none"] = client.get(PATH)
            checks["unknown"] = client.get(PATH, tok.unknown)
        want = {"valid": 200, "none": 401, "unknown": 401}
        if any(checks[k] != want[k] for k in checks):
            raise RuntimeError("introspect: %s: sanity check failed %s\n%s" % (cfg.name, checks, srv.tail()))

        def send(tokens):
            for t in tokens:
                status = client.get(PATH, t)
                if status != 200:
                    raise RuntimeError("introspect: %s: HTTP %s during measurement\n%s" % (cfg.name, status, srv.tail()))

        def dump():
            if client.get("/__bench?dump") != 200:
                raise RuntimeError("introspect: %s: dump request failed" % cfg.name)
            srv.dumps += 1
            return os.path.join(srv.root, "cg", "cg.out.%d" % srv.dumps)

        send([tok.repeat] * s.warmup)
        dump()
        phases = {}
        for phase, first, second in (("hit", [tok.repeat] * s.n1, [tok.repeat] * s.n2),
                                     ("miss", tok.distinct[:s.miss_n1], tok.distinct[s.miss_n1:s.miss_n1 + s.miss_n2])):
            if phase == "miss":
                # right before the misses: the worker threads open their connections to the
                # endpoint now (the provider closes one idle for 5 s, as long as the hit phase
                # can take under valgrind), so both measured phases see the steady state
                send(tok.warm)
            c0 = introspections(op)
            send(first)
            f1 = dump()
            c1 = introspections(op)
            send(second)
            f2 = dump()
            c2 = introspections(op)
            t1, s1, _, o1 = B.parse_callgrind(f1, module or "mod_claims.so")
            t2, s2, _, o2 = B.parse_callgrind(f2, module or "mod_claims.so")
            n = len(second) - len(first)

            def per(a, b):
                # hits: the difference of the two phases (fixed costs cancel); misses: the second
                # phase alone, an average over its requests, because the first can hold more
                # than fixed costs: connections to the endpoint made again (TLS handshakes, in the
                # transfer and outside it), which a difference would take away from every miss
                return B.per_request(a, b, n) if phase == "hit" else b / float(len(second))

            ph = {"n1": len(first), "n2": len(second), "instr_n1": t1, "instr_n2": t2,
                  "instr_per_request": per(t1, t2),
                  "introspections": [c1 - c0, c2 - c1], "_file": f2}
            if module is not None:
                own1, own2 = B.module_cost(s1, o1, module), B.module_cost(s2, o2, module)
                ph["module_per_request"] = per(own1, own2)
                ph["transfer_per_request"] = per(transfer_cost(o1), transfer_cost(o2))
                ph["curl_per_request"] = per(curl_cost(o1), curl_cost(o2))
                ph["module_without_transfer"] = ph["module_per_request"] - ph["transfer_per_request"]
                ph["module_without_curl"] = ph["module_per_request"] - ph["curl_per_request"]
                calls = B.counter_per_request(o1, o2, n)
                ph["calls_out_of_module"] = [{"function": k, "instr_per_request": round(v, 1)} for k, v in
                                             sorted(calls.items(), key=lambda kv: -kv[1])[:12] if v >= 1]
            phases[phase] = ph
        client.close()
    finally:
        client.close()
        srv.stop()
    log("introspect: %s: %.0f instr/request hit, %.0f miss; introspections hit %s, miss %s (%.0f s)"
        % (cfg.name, phases["hit"]["instr_per_request"], phases["miss"]["instr_per_request"],
           phases["hit"]["introspections"], phases["miss"]["introspections"], time.time() - t0))
    return {"checks": checks, "phases": phases}


def check_calls(name, phases):
    """A hit phase makes no introspection call, a miss phase one per request. Not checked for
    the baseline, which has no module to call and runs beside mod_claims' server, whose calls
    the log counts meanwhile."""
    hit, miss = phases["hit"], phases["miss"]
    if name == "intro-baseline":
        return
    if not (hit["introspections"] == [0, 0] and miss["introspections"] == [miss["n1"], miss["n2"]]):
        raise RuntimeError("introspect: %s: introspection calls hit %s, miss %s: not what the phases claim"
                           % (name, hit["introspections"], miss["introspections"]))


def measure(B, st, work, claims_module, mat, cg_module, jobs, log):
    """The scenario; returns its record for latest.json (None when it cannot run here)."""
    s = Settings(st)
    why = missing()
    if why:
        log("introspect: not measured: %s" % why)
        return {"skipped": why}
    with_openidc = s.peers != "none" and os.path.exists(os.path.join(B.MODULES_DIR, "mod_auth_openidc.so"))
    os.makedirs(os.path.join(work, "op"), exist_ok=True)
    op = OP.OidcProvider(directory=os.path.join(work, "op"), log=True, ttl={"ClientCredentials": 3600})
    t0 = time.time()
    with op:
        log("introspect: oidc-provider at %s, minting %d opaque tokens"
            % (op.issuer, 1 + s.miss_warmup + s.miss_n1 + s.miss_n2))
        tok = Tokens(op, s)
        cfgs = configs(B, op, work, claims_module, with_openidc)
        res = {}
        # mod_claims with the baseline beside it, then mod_auth_openidc alone: the provider's
        # log counts each module's introspection calls by itself
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(2, jobs))) as pool:
            futs = {c.name: pool.submit(run_server, B, c, op, tok, s, work, mat, cg_module, log)
                    for c in cfgs if c.name != "intro-openidc"}
            for name, f in futs.items():
                res[name] = f.result()
        for name, r in res.items():
            check_calls(name, r["phases"])
        peer_error = None
        for c in cfgs:
            if c.name == "intro-openidc":
                # as in (a), a peer that fails its checks is reported, not measured
                try:
                    res[c.name] = run_server(B, c, op, tok, s, work, mat, cg_module, log)
                    check_calls(c.name, res[c.name]["phases"])
                except RuntimeError as e:
                    res.pop(c.name, None)
                    peer_error = str(e)[:2000]
                    log("introspect: mod_auth_openidc not measured: %s" % peer_error)
        errors = op.server_errors()
    if errors:
        raise RuntimeError("introspect: oidc-provider reported errors:\n" + "\n".join(errors[:5]))
    out = summarize(s, op, tok, res, time.time() - t0)
    if peer_error is not None:
        out["openidc_not_measured"] = peer_error
    return out


def summarize(s, op, tok, res, elapsed):
    base = res["intro-baseline"]["phases"]
    out = {"settings": {k: v for k, v in vars(s).items()}, "endpoint": op.introspection_endpoint,
           "client": CLIENT, "token_length": len(tok.repeat), "elapsed_s": round(elapsed, 1),
           "baseline": {ph: round(base[ph]["instr_per_request"]) for ph in ("hit", "miss")}, "modules": {}}
    for name, label in (("intro-claims", "mod_claims"), ("intro-openidc", "mod_auth_openidc")):
        if name not in res:
            continue
        m = {"module": label, "checks": res[name]["checks"]}
        for ph in ("hit", "miss"):
            p = res[name]["phases"][ph]
            m[ph] = {"above_baseline": round(p["instr_per_request"] - base[ph]["instr_per_request"]),
                     "own": round(p["module_per_request"]),
                     "own_without_transfer": round(p["module_without_transfer"]),
                     "transfer": round(p["transfer_per_request"]), "curl_all": round(p["curl_per_request"]),
                     "own_without_curl": round(p["module_without_curl"]),
                     "introspections": p["introspections"], "n1": p["n1"], "n2": p["n2"],
                     "calls_out_of_module": p["calls_out_of_module"], "_file": p["_file"]}
        out["modules"][name.split("-", 1)[1]] = m
    return out


def targets(intro, rows):
    """The issue's targets from the scenario's record and the bench's rows (mod_claims' JWT
    cache hit, RS256, of the same run)."""
    if not intro or "modules" not in intro or "claims" not in intro["modules"]:
        return []
    c = intro["modules"]["claims"]
    out = []
    jwt = next((r for r in rows if r["config"] == "claims" and r["alg"] == "RS256" and "unsupported" not in r), None)
    if jwt is not None:
        ratio = c["hit"]["above_baseline"] / float(jwt["instr_above_baseline_repeat"])
        out.append({"target": "introspection hit <= %.0fx JWT RS256 hit (above baseline)" % TARGET_HIT_VS_JWT,
                    "alg": "opaque", "value": round(ratio, 3), "limit": TARGET_HIT_VS_JWT,
                    "met": ratio <= TARGET_HIT_VS_JWT})
    out.append({"target": "introspection miss: own - curl_easy_perform <= %s" % "{:,}".format(TARGET_MISS_OWN),
                "alg": "opaque", "value": c["miss"]["own_without_transfer"], "limit": TARGET_MISS_OWN,
                "met": c["miss"]["own_without_transfer"] <= TARGET_MISS_OWN})
    o = intro["modules"].get("openidc")
    if o is not None:
        for ph in ("hit", "miss"):
            out.append({"target": "introspection %s: fewer instr than mod_auth_openidc (%s)"
                                  % (ph, "{:,}".format(o[ph]["above_baseline"])),
                        "alg": "opaque", "value": c[ph]["above_baseline"], "limit": o[ph]["above_baseline"],
                        "met": c[ph]["above_baseline"] < o[ph]["above_baseline"]})
    return out


def render(intro, rows, fmt_int):
    """The scenario's lines of the table."""
    if not intro:
        return []
    if "skipped" in intro:
        return ["introspection (issue 14): not measured: " + intro["skipped"]]
    s = intro["settings"]
    out = ["introspection (issue 14): opaque tokens (%d characters) from npm oidc-provider, %s (TLS, CA verified, "
           "client_secret_basic as %s); callgrind as (a), hit = the same token N1/N2 = %d/%d, miss = a new token per "
           "request N1/N2 = %d/%d; the baseline receives the same requests (%s / %s instr/request)"
           % (intro["token_length"], intro["endpoint"], intro["client"], s["n1"], s["n2"], s["miss_n1"], s["miss_n2"],
              fmt_int(intro["baseline"]["hit"]), fmt_int(intro["baseline"]["miss"]))]
    head = "  %-17s %10s %9s %11s %11s %11s %11s %9s" % (
        "module", "hit", "(own)", "miss", "(own)", "own-xfer", "transfer", "all curl")
    out += [head, "  " + "-" * (len(head) - 2)]
    for m in intro["modules"].values():
        out.append("  %-17s %10s %9s %11s %11s %11s %11s %9s" % (
            m["module"], fmt_int(m["hit"]["above_baseline"]), fmt_int(m["hit"]["own"]),
            fmt_int(m["miss"]["above_baseline"]), fmt_int(m["miss"]["own"]),
            fmt_int(m["miss"]["own_without_transfer"]), fmt_int(m["miss"]["transfer"]),
            fmt_int(m["miss"]["curl_all"])))
    out.append("  hit, miss: instructions per request above the baseline; (own): the module's code and its calls; "
               "own-xfer: own minus curl_easy_perform's inclusive cost (the HTTP exchange: connection, TLS "
               "handshake, request, answer), what the 50,000 target is about; all curl: every libcurl call of the "
               "module (with easy_init/setopt/cleanup)")
    out.append("  a miss without any libcurl call (own - all curl): %s" % ", ".join(
        "%s %s" % (m["module"], fmt_int(m["miss"]["own_without_curl"])) for m in intro["modules"].values()))
    if "openidc_not_measured" in intro:
        out.append("  mod_auth_openidc not measured: " + intro["openidc_not_measured"].splitlines()[0])
    jwt = next((r for r in rows if r["config"] == "claims" and r["alg"] == "RS256" and "unsupported" not in r), None)
    if jwt is not None:
        c = intro["modules"]["claims"]
        out.append("  mod_claims JWT RS256 cache hit, same run: %s above baseline (own %s); introspection hit / JWT "
                   "hit = %.2fx (own: %.2fx)" % (
                       fmt_int(jwt["instr_above_baseline_repeat"]), fmt_int(jwt["module_instr_repeat"]),
                       c["hit"]["above_baseline"] / float(jwt["instr_above_baseline_repeat"]),
                       c["hit"]["own"] / float(jwt["module_instr_repeat"] or 1)))
    return out


def stem_of(prof_dir, name, phase):
    return os.path.join(prof_dir, "introspect-%s-%s" % (name, phase))


def save_profiles(intro, prof_dir, run_quiet):
    """callgrind dumps of each module's second phases and their callgrind_annotate, as bench.py
    does for (a): introspect-<module>-<hit|miss>.callgrind / .annotate.txt."""
    for name, m in (intro or {}).get("modules", {}).items():
        for ph in ("hit", "miss"):
            src = m[ph].pop("_file", None)  # in the scratch directory: the JSON names the copy
            if not src or not os.path.exists(src):
                continue
            stem = stem_of(prof_dir, name, ph)
            m[ph]["profile"] = os.path.basename(stem) + ".callgrind"
            shutil.copyfile(src, stem + ".callgrind")
            ann = run_quiet(["callgrind_annotate", "--inclusive=yes", "--threshold=99.5", src])
            with open(stem + ".annotate.txt", "w") as f:
                f.write("# callgrind_annotate --inclusive=yes of %d requests (introspection %s, %s)\n%s"
                        % (m[ph]["n2"], ph, m["module"], ann.stdout))
