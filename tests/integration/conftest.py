"""
Integration harness for mod_claims: each test module writes its own httpd.conf into a
temporary server root, starts a real apache2 (-DFOREGROUND) on a free 127.0.0.1 port with the
module from the build tree, talks HTTP to it, stops it, and fails on unexpected [error] lines
in its error log. Tokens are minted here with jwcrypto; keys are generated per run.
Run with Debian's /usr/bin/python3 (python3-pytest, python3-requests, python3-jwcrypto).
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.environ.get("CLAIMS_SRC_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD_DIR = os.environ.get("CLAIMS_BUILD_DIR", SRC_DIR)
MODULE = os.environ.get("CLAIMS_MODULE", os.path.join(BUILD_DIR, ".libs", "mod_claims.so"))
HTTPD = os.environ.get("CLAIMS_HTTPD", shutil.which("apache2", path="/usr/sbin:/usr/bin") or "apache2")
APACHE_MODULES = os.environ.get("CLAIMS_APACHE_MODULES", "/usr/lib/apache2/modules")

ISSUER = "https://idp.test/realms/main"
OTHER_ISSUER = "https://other-idp.test"
AUDIENCE = "https://api.test"

# CLAIMS_TEST_CACHE=off: every server runs with the verified-token cache off (ClaimsCache Off),
# so the suite shows the same answers with and without it (issue 6); tests of the cache itself
# are skipped then (requires_cache).
CACHE_OFF = os.environ.get("CLAIMS_TEST_CACHE", "on").lower() == "off"
requires_cache = pytest.mark.skipif(CACHE_OFF, reason="tests the verified-token cache (CLAIMS_TEST_CACHE=off)")

BASE_MODULES = [
    "authn_core", "authz_core", "authz_host", "authz_user", "auth_basic", "authn_file",
    "alias", "mime", "dir", "env", "setenvif", "headers", "cgid", "include", "rewrite",
]

# Drains stdin first: a CGI that exits with an unread request body makes mod_cgid's socket
# reset, and httpd then fails the response (AH00574).
ENV_CGI = """#!/usr/bin/python3
import json, os, sys
sys.stdin.buffer.read()
sys.stdout.write("Content-Type: application/json\\r\\n\\r\\n")
sys.stdout.write(json.dumps(dict(os.environ), sort_keys=True))
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now():
    return int(time.time())


class Keys:
    """Keys of two issuers, written as JWK Sets and PEM files into a directory."""

    def __init__(self, directory):
        self.dir = directory
        self.rsa = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1", alg="RS256", use="sig")
        self.rsa2 = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-2", alg="RS256", use="sig")
        self.pss = jwk.JWK.generate(kty="RSA", size=2048, kid="pss-1", alg="PS256", use="sig")
        self.ec = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1", alg="ES256", use="sig")
        self.ec384 = jwk.JWK.generate(kty="EC", crv="P-384", kid="ec-384", alg="ES384", use="sig")
        self.ed = jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="ed-1", alg="EdDSA", use="sig")
        self.other = jwk.JWK.generate(kty="RSA", size=2048, kid="other-1", alg="RS256", use="sig")
        self.attacker = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1", alg="RS256", use="sig")
        self.secret = os.urandom(32)
        self.hs = jwk.JWK(kty="oct", k=jwk.base64url_encode(self.secret), kid="hs-1", alg="HS256")
        self.jwks_path = self.write_jwks("issuer.jwks.json", [self.rsa, self.rsa2, self.pss, self.ec,
                                                             self.ec384, self.ed])
        self.other_jwks_path = self.write_jwks("other.jwks.json", [self.other])
        self.rsa_pem_path = self.write("rsa.pem", self.rsa.export_to_pem())
        self.secret_path = self.write("hs256.key", self.secret)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(path, mode) as f:
            f.write(data)
        os.chmod(path, 0o644)
        return path

    def write_jwks(self, name, keys):
        return self.write(name, json.dumps({"keys": [json.loads(k.export_public()) for k in keys]}))


def mint(key, claims=None, alg=None, header=None, **overrides):
    """A compact JWS over claims (defaults: valid for ISSUER/AUDIENCE for 5 minutes)."""
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now(), "exp": now() + 300}
    if claims is not None:
        payload.update(claims)
    for k, v in overrides.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    prot = {"alg": alg or key.get("alg", "RS256")}
    if key.get("kid") is not None:
        prot["kid"] = key.get("kid")
    if header:
        prot.update(header)
        prot = {k: v for k, v in prot.items() if v is not None}
    token = jws.JWS(json.dumps(payload).encode())
    token.add_signature(key, alg=prot["alg"], protected=json_encode(prot))
    return token.serialize(compact=True)


class Httpd:
    """One apache2 instance with a generated configuration. A subclass can replace the lines
    that fit the functional tests (site_lines), the command (command) and the time limits
    (tests/bench/bench.py does, to run apache2 -X under callgrind)."""

    start_timeout = 15  # seconds for the server to answer after it is started
    stop_timeout = 15   # seconds for it to exit after SIGTERM, before SIGKILL

    def __init__(self, root, body, modules=(), mpm="event", loglevel="claims:debug", claims_module=MODULE):
        """claims_module: the mod_claims.so to load (None: the configuration loads none)."""
        self.root = root
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.body = body
        self.modules = list(BASE_MODULES) + list(modules)
        self.mpm = mpm
        self.loglevel = loglevel
        self.claims_module = claims_module
        self.proc = None
        self.error_log = os.path.join(root, "logs", "error.log")
        # httpd itself logs every authorization failure at error level
        self.allowed_errors = ["AH01631:", "AH01630:"]
        if os.environ.get("CLAIMS_PRELOAD"):
            # the event MPM under a preloaded sanitizer runtime now and then loses a keep-alive
            # socket at shutdown; httpd's own, seen with and without requests to this module
            self.allowed_errors.append("AH03093:")
        for d in ("logs", "htdocs", "cgi-bin", "run"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
            os.chmod(os.path.join(root, d), 0o755)
        self.write_file("htdocs/index.html", "hello\n")
        self.write_file("cgi-bin/env.py", ENV_CGI, mode=0o755)

    def write_file(self, rel, text, mode=0o644):
        path = os.path.join(self.root, rel)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            os.chmod(parent, 0o755)
        with open(path, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def config(self):
        lines = ["ServerRoot %s" % self.root, "ServerName 127.0.0.1",
                 "Listen 127.0.0.1:%d" % self.port,
                 "PidFile %s/run/httpd.pid" % self.root,
                 "ErrorLog %s" % self.error_log,
                 ("LogLevel warn %s" % self.loglevel).rstrip(),
                 "LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (self.mpm, APACHE_MODULES, self.mpm)]
        for m in self.modules:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m))
        if self.claims_module:
            lines.append("LoadModule claims_module %s" % self.claims_module)
        if os.getuid() == 0:
            lines += ["User nobody", "Group nogroup"]
        return "\n".join(lines + self.site_lines()) + "\n" + self.body + "\n"

    def site_lines(self):
        """The functional tests' setting: CGI and SSI under the root, a small MPM, short
        timeouts, and ClaimsCache Off under CLAIMS_TEST_CACHE=off."""
        lines = [
            "ScriptSock %s/run/cgid.sock" % self.root,
            "TypesConfig /etc/mime.types",
            "DocumentRoot %s/htdocs" % self.root,
            "ScriptAlias /cgi/ %s/cgi-bin/" % self.root,
            "<Directory %s>" % self.root, "  Require all granted", "  Options +ExecCGI +Includes", "</Directory>",
            "StartServers 1", "ServerLimit 2", "MaxRequestWorkers 50" if self.mpm != "prefork" else "MaxRequestWorkers 10",
            "Timeout 10", "KeepAliveTimeout 2",
        ]
        if self.mpm != "prefork":
            # MinSpareThreads must stay below MaxRequestWorkers, else the MPM logs AH10159 at error
            lines += ["ThreadsPerChild 25", "MinSpareThreads 5", "MaxSpareThreads 50"]
        if CACHE_OFF and not re.search(r"^\s*ClaimsCache\s", self.body, re.M):
            lines.append("ClaimsCache Off")
        return lines

    def conf_path(self):
        path = os.path.join(self.root, "httpd.conf")
        with open(path, "w") as f:
            f.write(self.config())
        return path

    def env(self):
        """apache2's environment: with CLAIMS_PRELOAD (an ASan build of the module), the
        sanitizer runtime is preloaded into the unsanitized httpd and reports go to logs/."""
        env = dict(os.environ)
        preload = os.environ.get("CLAIMS_PRELOAD")
        if preload:
            logs = os.path.join(self.root, "logs")
            env["LD_PRELOAD"] = preload
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:log_path=%s/asan" % logs
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:log_path=%s/ubsan" % logs
        return env

    def sanitizer_reports(self):
        logs = os.path.join(self.root, "logs")
        found = []
        for fn in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            if fn.startswith("asan") or fn.startswith("ubsan"):
                with open(os.path.join(logs, fn), errors="replace") as f:
                    found.append("%s:\n%s" % (fn, f.read()[:4000]))
        return found

    def configtest(self):
        """(returncode, output) of apache2 -t on the configuration."""
        p = subprocess.run([HTTPD, "-t", "-f", self.conf_path()], capture_output=True, text=True,
                           timeout=30, env=self.env())
        return p.returncode, p.stdout + p.stderr

    def start(self):
        conf = self.conf_path()
        rc, out = self.configtest()
        if rc != 0:
            raise RuntimeError("configtest failed:\n" + out)
        # a session of its own: the worker MPM signals its whole process group on shutdown
        self.stdout_path = os.path.join(self.root, "logs", "stdout.log")
        self.stdout = open(self.stdout_path, "ab")  # a file, not a pipe nobody drains
        self.proc = subprocess.Popen(self.command(conf),
                                     stdout=self.stdout, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env())
        # The port listens before post_config has run (and can still fail): wait for an answer.
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                with open(self.stdout_path, errors="replace") as f:
                    said = f.read()
                raise RuntimeError("apache2 exited: %s\n%s" % (said, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.settimeout(2)
                    s.sendall(b"HEAD /__ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("apache2 did not start answering within %d s" % self.start_timeout)

    def command(self, conf):
        """The command that runs the server on configuration file conf, in the foreground."""
        return [HTTPD, "-DFOREGROUND", "-f", conf]

    def try_start(self):
        """Starts the server; (True, "") when it listens, else (False, what it said and logged)."""
        try:
            self.start()
            return True, ""
        except RuntimeError as e:
            self.stop()
            return False, str(e) + "\n" + self.log()

    def graceful(self):
        self.conf_path()
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(1.0)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            # let the server see the clients' closes first: the event MPM can crash in its own
            # keep-alive socket handling (apr_os_sock_get) when SIGTERM meets a closing connection
            time.sleep(0.15)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the server and its children: start() made the group
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return ""

    def unexpected_errors(self):
        bad = self.sanitizer_reports()
        for line in self.log().splitlines():
            if ("[error]" in line or ":error]" in line or ":crit]" in line or ":emerg]" in line
                    or "exit signal" in line):
                if not any(a in line for a in self.allowed_errors):
                    bad.append(line)
        return bad

    def get(self, path, token=None, headers=None, **kw):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        return requests.get(self.url + path, headers=h, timeout=10, allow_redirects=False, **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, **kw)


@pytest.fixture(scope="session")
def keys():
    d = tempfile.mkdtemp(prefix="claims-keys-")
    os.chmod(d, 0o755)
    k = Keys(d)
    yield k
    shutil.rmtree(d, ignore_errors=True)


def issuer_block(keys, issuer=ISSUER, audience=AUDIENCE, extra=""):
    return """
<ClaimsIssuer %s>
    ClaimsKeyFile %s
    ClaimsAudience %s
%s
</ClaimsIssuer>
""" % (issuer, keys.jwks_path, audience, extra)


class Servers:
    """Starts Httpd instances and, when done, stops them, removes their roots and reports
    unexpected [error] lines of their error logs."""

    def __init__(self):
        self.servers = []

    def __call__(self, body, start=True, setup=None, **kw):
        """setup(h), when given, runs before the start (e.g. to write files into the root)."""
        root = tempfile.mkdtemp(prefix="claims-httpd-")
        os.chmod(root, 0o755)
        h = Httpd(root, body, **kw)
        self.servers.append(h)
        if setup is not None:
            setup(h)
        if start:
            h.start()
        return h

    def finish(self):
        failures = []
        for h in self.servers:
            h.stop()
            bad = h.unexpected_errors()
            if bad:
                failures.append("unexpected errors in %s:\n%s" % (h.error_log, "\n".join(bad)))
            shutil.rmtree(h.root, ignore_errors=True)
        if failures:
            pytest.fail("\n".join(failures))


@pytest.fixture
def make_httpd():
    """Factory: make_httpd(body, **kw) -> started Httpd; stopped and checked after the test."""
    servers = Servers()
    yield servers
    servers.finish()


@pytest.fixture(scope="module")
def make_module_httpd():
    """Like make_httpd, for servers shared by the tests of one module (stopped and checked at
    the end of the module)."""
    servers = Servers()
    yield servers
    servers.finish()


def _parse_challenge(v):
    scheme, _, rest = v.strip().partition(" ")
    params = {}
    for m in re.finditer(r'([a-zA-Z_]+)="([^"]*)"', rest):
        assert m.group(1) not in params, "attribute %s twice in %r" % (m.group(1), v)
        params[m.group(1)] = m.group(2)
    return scheme, params


def split_challenges(value):
    """The challenges of one WWW-Authenticate value, which may hold several joined with ", "
    (as requests and fetch() join repeated fields): split where a new scheme begins."""
    return [c for c in re.split(r",\s*(?=[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+[A-Za-z_]+=)", value) if c.strip()]


def _www_authenticate(resp):
    raw = getattr(resp, "raw", None)
    if raw is not None and hasattr(raw, "headers") and hasattr(raw.headers, "getlist"):
        values = raw.headers.getlist("WWW-Authenticate")
    else:
        v = resp.headers.get("WWW-Authenticate")
        values = [v] if v is not None else []
    return [c for v in values for c in split_challenges(v)]


def challenges(resp):
    """Every WWW-Authenticate challenge of resp, parsed: {scheme: {param: value}}; each scheme
    (Bearer, DPoP: RFC 9449 section 7.1) at most once, each attribute at most once."""
    out = {}
    for v in _www_authenticate(resp):
        scheme, params = _parse_challenge(v)
        assert scheme not in out, "two %s challenges: %r" % (scheme, _www_authenticate(resp))
        out[scheme] = params
    return out


def challenge(resp):
    """The first WWW-Authenticate challenge (the Bearer one, where there is one) parsed into
    (scheme, {param: value}). resp: a requests response, or anything with .headers."""
    values = _www_authenticate(resp)
    if not values:
        return None, {}
    all_ = challenges(resp)
    if "Bearer" in all_:
        return "Bearer", all_["Bearer"]
    return _parse_challenge(values[0])


# ---------------------------------------------------------------------------------------------
# Hand-made tokens: full control over header and payload bytes (jwcrypto refuses to produce
# most of the hostile tokens the tests need).

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_bytes(obj):
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        return obj.encode()
    return json.dumps(obj, separators=(",", ":")).encode()


def raw_signature(key, alg, signing_input):
    """The JWS signature of signing_input (bytes) with a jwcrypto JWK (private) or raw HMAC
    secret (bytes), computed for alg regardless of what the key says."""
    if isinstance(key, bytes):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return hmac.new(key, signing_input, digest).digest()
    priv = key.get_op_key("sign")
    if alg in ("EdDSA", "Ed25519", "Ed448"):
        return priv.sign(signing_input)
    hashes_by_bits = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    h = hashes_by_bits[alg[2:]]
    if alg.startswith("RS"):
        return priv.sign(signing_input, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        return priv.sign(signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    if alg.startswith("ES"):
        der = priv.sign(signing_input, ec.ECDSA(h))
        r, s_ = decode_dss_signature(der)
        size = (priv.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s_.to_bytes(size, "big")
    raise ValueError("cannot sign with %r" % alg)


def sign(key, header, payload, alg=None):
    """A compact JWS with exactly these header and payload bytes (dicts are JSON-encoded,
    str/bytes taken as they are). alg: the signing algorithm (default: header["alg"])."""
    if alg is None:
        alg = header["alg"]
    signing_input = (b64u(_json_bytes(header)) + "." + b64u(_json_bytes(payload))).encode()
    return signing_input.decode() + "." + b64u(raw_signature(key, alg, signing_input))


def std_claims(**overrides):
    """The default valid payload (as mint() uses) with overrides; a None value removes a claim."""
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now(), "exp": now() + 300}
    for k, v in overrides.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    return payload


def header_values(resp, name):
    """Every value of a response header as sent (requests folds repeated headers into one)."""
    return resp.raw.headers.getlist(name)


def raw_http(h, data, timeout=10):
    """Sends raw request bytes; returns (status, [(name, value)], body bytes). Tolerates the
    server closing early (e.g. on an oversized header)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", h.port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else None
    hdrs = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
    return status, hdrs, body


class Listener:
    """A loopback TCP listener that records whether anything connected to it (used to show
    that a token's jku/x5u never makes the server fetch anything)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port

    def connections(self):
        n = 0
        while True:
            try:
                c, _ = self.sock.accept()
                c.close()
                n += 1
            except (BlockingIOError, InterruptedError):
                return n

    def close(self):
        self.sock.close()


def location(path, *lines, realm="orders-api", match=False):
    """A <Location> (or <LocationMatch>) protected by AuthType claims with extra lines."""
    tag = "LocationMatch" if match else "Location"
    return "<%s %s>\n    AuthType claims\n    AuthName \"%s\"\n%s\n</%s>\n" % (
        tag, path, realm, "\n".join("    " + l for l in lines), tag)
