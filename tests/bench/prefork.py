"""
The prefork scenario of the benchmark (issue 17): one apache2 with the prefork MPM and a fixed
set of children (32 by default), and many distinct tokens (2,000), each sent as many times
(32) in an order that gives every child every token once: client connection c (keep-alive, so
pinned to one child) sends the tokens in rounds, token i in round r when (i + r) % connections
== c. Run twice, with the verified-token cache at its default and with ClaimsCache Off.

Reported: signatures computed (claims_signature_verifications_total from the status page),
requests and their answers, and the children's memory after the run: the sum of their RSS
(VmRSS: shared pages count once per child that touched them) and of their PSS (shared pages
divided among the processes that map them), with the cache and without.
"""
import http.client
import os
import re
import threading
import time

import conftest as H


def children_of(pid):
    """The pids whose parent is pid."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p))
        except (OSError, IndexError, ValueError):
            continue
    return out


def memory_kib(pid):
    """(VmRSS, Pss, RssAnon, RssShmem) of a process in KiB (0 for what cannot be read)."""
    fields = {"VmRSS:": 0, "RssAnon:": 0, "RssShmem:": 0, "Pss:": 0}
    for name in ("/proc/%d/status" % pid, "/proc/%d/smaps_rollup" % pid):
        try:
            with open(name) as f:
                for line in f:
                    key = line.split(":", 1)[0] + ":"
                    if key in fields and not fields[key]:
                        fields[key] = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return fields["VmRSS:"], fields["Pss:"], fields["RssAnon:"], fields["RssShmem:"]


def send_share(port, path, tokens, c, conns, answers, errors):
    """Connection c's share: every token once, round by round (see the module's docstring)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    n = len(tokens)
    try:
        for r in range(conns):
            for i in range((c - r) % conns, n, conns):
                conn.request("GET", path, headers={"Authorization": "Bearer " + tokens[i]})
                resp = conn.getresponse()
                resp.read()
                answers[resp.status] = answers.get(resp.status, 0) + 1
    except (OSError, http.client.HTTPException) as e:
        errors.append(repr(e))
    finally:
        conn.close()


def scenario_config(server_cls, cfg, children):
    """The mod_claims configuration of cfg for prefork with `children` children, plus the status
    page, as server_cls ("prefork" mode of BenchHttpd) runs it."""
    body = cfg.body + "<Location /claims-status>\n    SetHandler claims-status\n</Location>\n"
    return body, ["StartServers %d" % children, "MinSpareServers %d" % children,
                  "MaxSpareServers %d" % children, "ServerLimit %d" % children,
                  "MaxRequestWorkers %d" % children]


def verifications(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/claims-status?format=prometheus")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^claims_signature_verifications_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def run_one(srv, tokens, children, log):
    """Sends the scenario's requests to srv (started) and measures; returns a dict."""
    path = "/rs256/static.txt"
    answers, errors, threads = {}, [], []
    t0 = time.time()
    for c in range(children):
        t = threading.Thread(target=send_share, args=(srv.port, path, tokens, c, children, answers, errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    time.sleep(0.5)
    kids = children_of(srv.proc.pid)
    mem = [memory_kib(p) for p in kids]
    out = {"requests": sum(answers.values()), "answers": {str(k): v for k, v in answers.items()},
           "errors": errors[:5], "seconds": round(elapsed, 1), "children": len(kids),
           "verifications": verifications(srv.port),
           "rss_kib_sum": sum(m[0] for m in mem), "pss_kib_sum": sum(m[1] for m in mem),
           "rss_anon_kib_sum": sum(m[2] for m in mem), "rss_shmem_kib_sum": sum(m[3] for m in mem)}
    log("prefork: %s: %d requests in %.1f s, %s verifications, %d children, RSS %.1f MiB (anonymous %.1f, "
        "shared memory %.1f), PSS %.1f MiB" % (srv.cfg.name, out["requests"], elapsed, out["verifications"], len(kids),
                                              out["rss_kib_sum"] / 1024.0, out["rss_anon_kib_sum"] / 1024.0,
                                              out["rss_shmem_kib_sum"] / 1024.0, out["pss_kib_sum"] / 1024.0))
    return out
