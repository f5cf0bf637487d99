"""valgrind memcheck on a single-process httpd (apache2 -X) with the module, serving a scripted mix
of valid and hostile requests (issue 7): fails on any memcheck error or definite leak, or on an
answer other than the expected one. Run with /usr/bin/python3 (make valgrind-httpd)."""
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import requests  # noqa: E402
from conftest import HTTPD, Httpd, Keys, b64u, issuer_block, mint, now, sign  # noqa: E402
from jwcrypto import jwk  # noqa: E402

kd = tempfile.mkdtemp(prefix="vgkeys-"); os.chmod(kd, 0o755)
keys = Keys(kd)
root = tempfile.mkdtemp(prefix="vghttpd-"); os.chmod(root, 0o755)


class Introspection(BaseHTTPRequestHandler):
    """An RFC 7662 endpoint on plain loopback http, keep-alive (the module's per-thread
    connection is reused): active for opaque-good-*, inactive for opaque-off, not JSON for
    opaque-garbage."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
        token = form.get("token", [""])[0]
        if token.startswith("opaque-good"):
            body = json.dumps({"active": True, "sub": "alice", "iss": "https://idp.vg", "aud": "https://api.vg",
                               "exp": now() + 300, "scope": "read write", "client_id": "c", "n": [1, 2.5, None]})
        elif token == "opaque-garbage":
            body = "<html>not json</html>"
        else:
            body = json.dumps({"active": False})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


endpoint = ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
endpoint.daemon_threads = True
threading.Thread(target=endpoint.serve_forever, daemon=True).start()
secret = os.path.join(kd, "introspect.secret")
with open(secret, "w") as f:
    f.write("valgrind-introspection-secret-0123456789")
os.chmod(secret, 0o644)
h = Httpd(root, issuer_block(keys) + """
<ClaimsIssuer https://idp.vg>
    ClaimsAudience https://api.vg
    ClaimsAllowHTTP On
    ClaimsIntrospection http://127.0.0.1:%d/introspect
    ClaimsIntrospectionClient rs secret=%s
</ClaimsIssuer>
<Location /opaque/>
    AuthType claims
    AuthName api
    ClaimsTrust https://idp.vg
    Require valid-user
</Location>
ScriptAlias /opaque/ %s/cgi-bin/
""" % (endpoint.server_address[1], secret, root) + """
<Location /cgi/>
    AuthType claims
    AuthName api
    ClaimsMaxTokenSize 2048
    Require claim sub alice
</Location>
<Location /static/>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsHeader X-User sub
</Location>
<Location /nonce/>
    AuthType claims
    AuthName api
    Require valid-user
    ClaimsDPoPNonce On
</Location>
ScriptAlias /nonce/ %s/cgi-bin/
""" % root, modules=["socache_shmcb"])
conf = h.conf_path()
log = os.path.join(root, "valgrind.log")
p = subprocess.Popen(["valgrind", "--error-exitcode=9", "--leak-check=full", "--errors-for-leak-kinds=definite",
                      "--show-leak-kinds=definite", "--log-file=" + log, HTTPD, "-X", "-f", conf],
                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
deadline = time.time() + 60
while time.time() < deadline:
    try:
        requests.get(h.url + "/", timeout=2); break
    except Exception:
        time.sleep(0.5)
good = mint(keys.rsa)
cases = [("valid", good, 200), ("valid-ec", mint(keys.ec), 200), ("valid-ed", mint(keys.ed), 200),
         ("expired", mint(keys.rsa, exp=now() - 600, iat=now() - 900), 401),
         ("forged", good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"), 401),
         ("wrong-sub", mint(keys.rsa, sub="mallory"), 403), ("garbage", "a.b.c", 401),
         ("jwe", "a.b.c.d.e", 401), ("none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", 401),
         ("too-large", "A" * 3000 + ".b.c", 401),  # over ClaimsMaxTokenSize
         ("huge", "A" * 9000 + ".b.c", 400)]  # over httpd's own header limit
bad = 0
for i in range(3):
    for name, tok, want in cases:
        r = requests.get(h.url + "/cgi/env.py", headers={"Authorization": "Bearer " + tok}, timeout=30)
        if r.status_code != want:
            bad += 1; print("MISMATCH", name, r.status_code, want)
    for v in ["Bearer", "Bearer a b", "Basic eA==", "Bearer {x}"]:
        requests.get(h.url + "/cgi/env.py", headers={"Authorization": v}, timeout=30)
    requests.get(h.url + "/static/index.html", headers={"Authorization": "Bearer " + good, "X-User": "evil"}, timeout=30)

# DPoP (issue 15): a bound token with good, replayed, hostile and nonce-less proofs
dkey = jwk.JWK.generate(kty="EC", crv="P-256")
bound = mint(keys.rsa, cnf={"jkt": dkey.thumbprint()})


def proof(path, nonce=None, **over):
    payload = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": h.url + path, "iat": now(),
               "ath": b64u(hashlib.sha256(bound.encode()).digest())}
    if nonce:
        payload["nonce"] = nonce
    payload.update(over)
    return sign(dkey, {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(dkey.export_public())}, payload)


for i in range(3):
    used = proof("/cgi/env.py")
    for name, pr, want in [("dpop", used, 200), ("replay", used, 401), ("htm", proof("/cgi/env.py", htm="PUT"), 401),
                           ("garbage", "x.y.z", 401), ("none", None, 401)]:
        hdr = {"Authorization": "DPoP " + bound}
        if pr is not None:
            hdr["DPoP"] = pr
        r = requests.get(h.url + "/cgi/env.py", headers=hdr, timeout=30)
        if r.status_code != want:
            bad += 1; print("MISMATCH", name, r.status_code, want)
    r = requests.get(h.url + "/nonce/env.py", headers={"Authorization": "DPoP " + bound, "DPoP": proof("/nonce/env.py")},
                     timeout=30)
    nonce = r.headers.get("DPoP-Nonce")
    r2 = requests.get(h.url + "/nonce/env.py", headers={"Authorization": "DPoP " + bound,
                                                        "DPoP": proof("/nonce/env.py", nonce)}, timeout=30)
    if r.status_code != 401 or not nonce or r2.status_code != 200:
        bad += 1; print("MISMATCH nonce", r.status_code, nonce, r2.status_code)
    if requests.get(h.url + "/cgi/env.py", headers={"Authorization": "Bearer " + bound}, timeout=30).status_code != 401:
        bad += 1; print("MISMATCH bearer downgrade")
# opaque tokens (issue 14): misses over a kept connection, hits from the process's own level,
# an inactive answer, an answer that is not JSON
for i in range(3):
    for name, tok, want in [("opaque", "opaque-good-1", 200), ("opaque-again", "opaque-good-1", 200),
                            ("opaque-new", "opaque-good-%d-%s" % (i, secrets.token_hex(4)), 200),
                            ("opaque-off", "opaque-off", 401), ("opaque-garbage", "opaque-garbage", 503)]:
        r = requests.get(h.url + "/opaque/env.py", headers={"Authorization": "Bearer " + tok}, timeout=30)
        if r.status_code != want or (want == 200 and r.json().get("CLAIM_SUB") != "alice"):
            bad += 1; print("MISMATCH", name, r.status_code, want)
# stop the server once it is idle: SIGTERM while the event MPM still closes the last connections
# makes apache2 -X itself crash at exit now and then, in one of the MPM's own pool cleanups (seen
# in 2 of 18 runs, with and without this module's opaque-token cases; 0 of 28 after a pause)
time.sleep(2)
p.send_signal(signal.SIGTERM)
rc = p.wait(timeout=120)
text = open(log).read()
summary = [l for l in text.splitlines() if "ERROR SUMMARY" in l or "definitely lost" in l]
print("requests mismatched:", bad, "valgrind rc:", rc)
print("\n".join(summary[-3:]))
ok = bad == 0 and rc == 0  # --error-exitcode: any memcheck error or definite leak makes rc 9
print("valgrind-httpd: %s" % ("PASS" if ok else "FAIL (log: %s)" % log))
sys.exit(0 if ok else 1)
