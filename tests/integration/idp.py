"""A test identity provider: serves OpenID Connect metadata and a JWK Set over TLS on
127.0.0.1 with a CA made for the run, counts the fetches, and can be told to fail, stall or
send garbage, so the tests can assert what mod_claims does with a real HTTPS key source."""
import datetime
import ipaddress
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_ca_and_cert(directory, name="mod_claims test CA"):
    """A CA and a server certificate for 127.0.0.1/localhost; returns (ca_path, cert, key). Two
    CAs trusted together need names of their own (name), or a verifier may pick the wrong one."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {}
    for name, data in (("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
                       ("server.pem", cert.public_bytes(serialization.Encoding.PEM)),
                       ("server.key", key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        paths[name] = path
    return paths["ca.pem"], paths["server.pem"], paths["server.key"]


class IdP:
    """mode: "ok", "error" (HTTP 500), "garbage" (not JSON), "slow" (stalls `delay` seconds),
    "oversized", "wrong-issuer" (discovery names another issuer), "wrong-type" (the JWK Set
    as text/html), "redirect" (the JWK Set answers 302 to /moved/certs, which serves it).
    down() closes the listening socket (connection refused) and up() listens again on the same
    port. delays: {kind: seconds} stalls that kind of document in any mode. jwks_doc, when
    set, is served (dict as JSON, bytes as they are) instead of the public parts of keys."""

    def __init__(self, directory, realm="/realms/test"):
        self.ca, self.cert, self.key = make_ca_and_cert(directory)
        self.mode = "ok"
        self.delay = 0
        self.delays = {}
        self.keys = []
        self.jwks_doc = None
        self.fetches = {"jwks": 0, "discovery": 0, "moved": 0}
        self.history = []                  # (time.time(), kind) of every request, in order
        self.lock = threading.Lock()
        self.max_age = None
        self.server = None
        self.port = 0
        self.up()
        self.base = "https://127.0.0.1:%d" % self.port
        self.issuer = self.base + realm
        self.jwks_path = realm + "/protocol/openid-connect/certs"
        self.jwks_url = self.base + self.jwks_path

    def up(self):
        """Listens (again, on the same port after down())."""
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                idp.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        # a short poll interval: down() and close() wait for the serving loop to notice
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def down(self):
        """Stops listening: connections are refused until up()."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def jwks_body(self):
        if self.jwks_doc is None:
            return json.dumps({"keys": [json.loads(k.export_public()) for k in self.keys]}).encode()
        if isinstance(self.jwks_doc, bytes):
            return self.jwks_doc
        return json.dumps(self.jwks_doc).encode()

    def handle(self, h):
        mode = self.mode
        if h.path.endswith("/.well-known/openid-configuration"):
            kind = "discovery"
            body = json.dumps({"issuer": self.issuer if mode != "wrong-issuer" else self.issuer + "/other",
                               "jwks_uri": self.base + self.jwks_path}).encode()
        elif h.path == self.jwks_path:
            kind = "jwks"
            body = self.jwks_body()
        elif h.path == "/moved/certs":
            kind = "moved"
            body = self.jwks_body()
        else:
            h.send_error(404)
            return
        with self.lock:
            self.fetches[kind] += 1
            self.history.append((time.time(), kind))
        if mode == "slow":
            time.sleep(self.delay)
        if self.delays.get(kind):
            time.sleep(self.delays[kind])
        if mode == "error":
            h.send_error(500)
            return
        if mode == "redirect" and kind == "jwks":
            h.send_response(302)
            h.send_header("Location", self.base + "/moved/certs")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if mode == "garbage" and kind == "jwks":
            body = b"<html>not json</html>"
        if mode == "oversized" and kind == "jwks":
            body = b'{"keys": [], "pad": "' + b"x" * (400 * 1024) + b'"}'
        h.send_response(200)
        h.send_header("Content-Type", "text/html" if mode == "wrong-type" and kind == "jwks"
                      else "application/json")
        if self.max_age is not None:
            h.send_header("Cache-Control", "max-age=%d" % self.max_age)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body)
        except OSError:
            pass

    def count(self, kind="jwks"):
        with self.lock:
            return self.fetches[kind]

    def last(self, kind=None):
        """time.time() of the last request (of that kind), 0 if none."""
        with self.lock:
            times = [t for t, k in self.history if kind is None or k == kind]
        return times[-1] if times else 0.0

    def times(self, kind="jwks"):
        with self.lock:
            return [t for t, k in self.history if k == kind]

    def close(self):
        self.down()
