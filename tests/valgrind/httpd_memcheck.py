"""valgrind memcheck on a single-process httpd (apache2 -X) with the module, serving a scripted mix
of valid and hostile requests (issue 7): fails on any memcheck error or definite leak, or on an
answer other than the expected one. Run with /usr/bin/python3 (make valgrind-httpd)."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import requests  # noqa: E402
from conftest import HTTPD, Httpd, Keys, issuer_block, mint, now  # noqa: E402

kd = tempfile.mkdtemp(prefix="vgkeys-"); os.chmod(kd, 0o755)
keys = Keys(kd)
root = tempfile.mkdtemp(prefix="vghttpd-"); os.chmod(root, 0o755)
h = Httpd(root, issuer_block(keys) + """
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
""")
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
p.send_signal(signal.SIGTERM)
rc = p.wait(timeout=120)
text = open(log).read()
summary = [l for l in text.splitlines() if "ERROR SUMMARY" in l or "definitely lost" in l]
print("requests mismatched:", bad, "valgrind rc:", rc)
print("\n".join(summary[-3:]))
ok = bad == 0 and rc == 0  # --error-exitcode: any memcheck error or definite leak makes rc 9
print("valgrind-httpd: %s" % ("PASS" if ok else "FAIL (log: %s)" % log))
sys.exit(0 if ok else 1)
