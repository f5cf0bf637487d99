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


def make_ca_and_cert(directory):
    """A CA and a server certificate for 127.0.0.1/localhost; returns (ca_path, cert, key)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mod_claims test CA")])
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
    """mode: "ok", "down" (connection refused: server stopped), "error" (HTTP 500),
    "garbage" (not JSON), "slow" (stalls `delay` seconds), "oversized", "wrong-issuer"."""

    def __init__(self, directory, realm="/realms/test"):
        self.ca, cert, key = make_ca_and_cert(directory)
        self.mode = "ok"
        self.delay = 0
        self.keys = []
        self.fetches = {"jwks": 0, "discovery": 0}
        self.lock = threading.Lock()
        self.max_age = None
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                idp.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base = "https://127.0.0.1:%d" % self.port
        self.issuer = self.base + realm
        self.jwks_path = realm + "/protocol/openid-connect/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, h):
        if h.path.endswith("/.well-known/openid-configuration"):
            kind = "discovery"
            doc = {"issuer": self.issuer if self.mode != "wrong-issuer" else self.issuer + "/other",
                   "jwks_uri": self.base + self.jwks_path}
        elif h.path == self.jwks_path:
            kind = "jwks"
            doc = {"keys": [json.loads(k.export_public()) for k in self.keys]}
        else:
            h.send_error(404)
            return
        with self.lock:
            self.fetches[kind] += 1
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "error":
            h.send_error(500)
            return
        body = json.dumps(doc).encode()
        if mode == "garbage" and kind == "jwks":
            body = b"<html>not json</html>"
        if mode == "oversized" and kind == "jwks":
            body = b'{"keys": [], "pad": "' + b"x" * (400 * 1024) + b'"}'
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
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

    def close(self):
        self.server.shutdown()
        self.server.server_close()
