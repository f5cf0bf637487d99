"""Helpers shared by the issue-5 integration tests (backend headers, ap_expr, token sources,
optional authentication, coexistence): a loopback echo backend for mod_proxy and small CGI
scripts. Servers come from conftest's make_module_httpd."""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


# A CGI that answers with its environment and the exact bytes it read from stdin.
STDIN_CGI = """#!/usr/bin/python3
import base64, json, os, sys
body = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: application/json\\r\\n\\r\\n")
sys.stdout.write(json.dumps({"env": dict(os.environ),
                             "body_b64": base64.b64encode(body).decode()}, sort_keys=True))
"""


class EchoBackend:
    """An HTTP/1.1 server on a free 127.0.0.1 port that answers every request with JSON:
    {"method", "path", "headers": [[name, value], ...] (exactly as received, repeated headers
    kept, values latin-1 decoded), "body_b64"}. Counts the requests it received."""

    def __init__(self):
        backend = self
        self.hits = 0
        self.lock = threading.Lock()
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                record = {"method": self.command, "path": self.path,
                          "headers": [[k, v] for k, v in self.headers.items()],
                          "body_b64": __import__("base64").b64encode(body).decode()}
                with backend.lock:
                    backend.hits += 1
                    backend.requests.append(record)
                data = json.dumps(record).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_HEAD = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return self.hits

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def received(resp):
    """The backend's record of a proxied request (from its JSON answer)."""
    assert resp.status_code == 200, (resp.status_code, resp.headers, resp.text[:300])
    return resp.json()


def header_list(record, name):
    """All values the backend received for a header name (case-insensitive, exact spelling)."""
    return [v for k, v in record["headers"] if k.lower() == name.lower()]


def norm(name):
    """A header name normalised like the module does (upper-case, non-alphanumerics '_')."""
    return "".join(c.upper() if c.isalnum() else "_" for c in name)


def names_like(record, normalised_prefix):
    """(name, value) pairs the backend received whose normalised name starts with the prefix."""
    return [(k, v) for k, v in record["headers"] if norm(k).startswith(normalised_prefix)]


@pytest.fixture(scope="module")
def echo_backend():
    b = EchoBackend()
    yield b
    b.close()


def wait_for_line(path, needle, timeout=5.0):
    """The first line of a file containing needle, waiting for it to be written (access logs are
    written after the response is sent); None when it does not appear."""
    deadline = time.time() + timeout
    while True:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if needle in line:
                        return line.rstrip("\n")
        except OSError:
            pass
        if time.time() > deadline:
            return None
        time.sleep(0.05)


def raw_request(h, method, path, headers, body=b"", timeout=10):
    """Sends one HTTP/1.1 request with exactly these (name, value) header lines (repeats and odd
    spellings kept); returns (status, [(name, value)], body bytes)."""
    import socket
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % h.port, "Connection: close"]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    chunks = []
    with socket.create_connection(("127.0.0.1", h.port), timeout=timeout) as s:
        s.sendall(data)
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    hl = head.decode("latin-1").split("\r\n")
    status = int(hl[0].split()[1])
    hdrs = [tuple(x.strip() for x in l.split(":", 1)) for l in hl[1:] if ":" in l]
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in hdrs):
        out, buf = b"", rest
        while buf:
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, buf = out + buf[:size], buf[size + 2:]
        rest = out
    return status, hdrs, rest


def secret_bytes(size=32):
    """size random bytes for a shared-secret file. The module drops one trailing newline of
    such a file (as editors and `echo` leave it), so random bytes that happened to end in LF
    would read one byte short: the last byte is never LF."""
    data = bytearray(os.urandom(size))
    if data and data[-1] == 0x0A:
        data[-1] = 0x0B
    return bytes(data)
