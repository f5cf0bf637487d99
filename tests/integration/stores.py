"""Real shared stores for the fleet tests (ARCHITECTURE.md section 7; SECURITY.md CL-89, CL-90):
Debian's memcached and redis-server, started on a free 127.0.0.1 port with a temporary
directory, waited for until they answer, stopped (and started again on the same port, to test a
store that goes down) -- plus a tiny raw-protocol client for each, so a test can list, read,
overwrite and delete the records the module wrote, and read their expiries. The clients talk to
the real servers; nothing here imitates a store.

A daemon that is not installed fails the test that needs it with a message saying what to
install: CI installs both, a missing one must never look like a pass.

Fixtures: `memcached`, `redis` (function scope: every test gets an empty store) and `store`
(parametrized over both, ids "memcached" and "redis"). Each yields a running daemon object and
stops it afterwards, whatever the test did to it:

    store.socache        "memcache:127.0.0.1:PORT" / "redis:127.0.0.1:PORT" (ClaimsKeyCache value)
    store.module         "socache_memcache" / "socache_redis" (for Httpd(modules=...))
    store.port, .dir     its port (kept across stop/start) and temporary directory
    store.start()        starts it (again, on the same port, empty) and waits until it answers
    store.stop()         stops it: connections are refused until start()
    store.running        whether the process is alive
    store.keys()         [key, ...] of every record (memcached: lru_crawler metadump all)
    store.get(key)       the record's bytes, or None
    store.set(key, value, ttl=3600)   writes a record (ttl in seconds)
    store.delete(key)
    store.records()      {key: bytes} of every record
    store.ttls()         {key: seconds until it expires (float), or None when it never expires}
    store.client()       a new protocol client (MemcacheClient / RedisClient), to close()
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from conftest import free_port

MEMCACHED = os.environ.get("CLAIMS_MEMCACHED", "/usr/bin/memcached")
REDIS_SERVER = os.environ.get("CLAIMS_REDIS_SERVER", "/usr/bin/redis-server")


class StoreError(Exception):
    """The store answered something the client did not expect."""


class _Conn:
    """A blocking loopback connection with line and exact-length reads."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise StoreError("the store closed the connection")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class MemcacheClient:
    """memcached's text protocol: get / set / delete / flush_all / version, and the key listing
    of `lru_crawler metadump all` (one line per item: key=<url-encoded> exp=<unix time or -1>
    la=... cas=... fetch=... cls=... size=...)."""

    def __init__(self, port):
        self.conn = _Conn(port)

    def _simple(self, command, ok):
        self.conn.send(command)
        answer = self.conn.line()
        if answer not in ok:
            raise StoreError("%r answered %r" % (command[:60], answer))
        return answer

    def version(self):
        self.conn.send(b"version\r\n")
        answer = self.conn.line()
        if not answer.startswith(b"VERSION "):
            raise StoreError("version answered %r" % answer)
        return answer[8:].decode()

    def get(self, key):
        self.conn.send(b"get " + key.encode() + b"\r\n")
        value = None
        while True:
            line = self.conn.line()
            if line == b"END":
                return value
            parts = line.split()
            if len(parts) < 4 or parts[0] != b"VALUE":
                raise StoreError("get answered %r" % line)
            value = self.conn.exact(int(parts[3]))
            if self.conn.exact(2) != b"\r\n":
                raise StoreError("get: value not followed by CRLF")

    def set(self, key, value, ttl=3600, flags=0):
        """ttl: seconds (memcached reads values above 30 days as an absolute Unix time)."""
        self._simple(b"set %s %d %d %d\r\n" % (key.encode(), flags, ttl, len(value)) + value + b"\r\n",
                     (b"STORED",))

    def delete(self, key):
        return self._simple(b"delete " + key.encode() + b"\r\n", (b"DELETED", b"NOT_FOUND")) == b"DELETED"

    def flush_all(self):
        self._simple(b"flush_all\r\n", (b"OK",))

    def metadump(self):
        """[{field: value}] of every item (key URL-decoded, exp an int: Unix time or -1).
        memcached 1.6's crawler now and then answers an empty dump for a store that holds
        items (seen right after another dump): an empty answer is asked again a few times."""
        items = []
        for _ in range(5):
            items = self._metadump_once()
            if items:
                break
            time.sleep(0.1)
        return items

    def _metadump_once(self):
        for _ in range(50):
            self.conn.send(b"lru_crawler metadump all\r\n")
            # item lines end in a bare LF, the closing END (or an error) in CRLF
            text = self.conn.line()
            if text.startswith(b"BUSY"):
                time.sleep(0.05)  # another crawl runs
                continue
            items = []
            for line in text.split(b"\n"):
                if line == b"END":
                    return items
                if not line.startswith(b"key="):
                    raise StoreError("lru_crawler metadump answered %r" % line)
                fields = dict(f.split(b"=", 1) for f in line.split() if b"=" in f)
                item = {k.decode(): v.decode() for k, v in fields.items()}
                item["key"] = urllib.parse.unquote(item["key"])
                item["exp"] = int(item["exp"])
                items.append(item)
            raise StoreError("lru_crawler metadump: no END in %r" % text[-200:])
        raise StoreError("lru_crawler stayed busy")

    def keys(self):
        return [item["key"] for item in self.metadump()]

    def close(self):
        self.conn.close()


class RedisClient:
    """RESP over a socket: command(*args) sends any command and returns the decoded reply
    (bytes, int, list, None; an error reply raises StoreError); plus the few used here."""

    def __init__(self, port):
        self.conn = _Conn(port)

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = str(a)
            if isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.conn.send(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.conn.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise StoreError("redis: %s" % rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.conn.exact(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise StoreError("redis: unexpected reply %r" % line)

    def ping(self):
        return self.command("PING") == b"PONG"

    def get(self, key):
        return self.command("GET", key)

    def set(self, key, value, ttl=3600):
        if self.command("SET", key, value, "EX", ttl) != b"OK":
            raise StoreError("SET %s failed" % key)

    def delete(self, key):
        return self.command("DEL", key) == 1

    def keys(self):
        cursor, found = b"0", []
        while True:
            cursor, batch = self.command("SCAN", cursor, "COUNT", 1000)
            found += [k.decode() for k in batch]
            if cursor == b"0":
                return sorted(set(found))

    def pttl(self, key):
        """Milliseconds until the key expires; -1: never; -2: no such key."""
        return self.command("PTTL", key)

    def flushall(self):
        self.command("FLUSHALL")

    def close(self):
        self.conn.close()


class _Daemon:
    """A store daemon on a fixed free port with its own temporary directory."""

    binary = None
    package = None
    provider = None

    def __init__(self):
        if not os.access(self.binary, os.X_OK):
            pytest.fail("%s not found at %s: the fleet tests need Debian's %s (apt-get install %s; CI "
                        "installs it)" % (self.package, self.binary, self.package, self.package),
                        pytrace=False)
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="claims-%s-" % self.package)
        os.chmod(self.dir, 0o777)  # daemons that drop privileges still write their files here
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.proc = None

    @property
    def socache(self):
        """The ClaimsKeyCache value that points at this store."""
        return "%s:127.0.0.1:%d" % (self.provider, self.port)

    @property
    def module(self):
        return "socache_%s" % self.provider

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def argv(self):
        raise NotImplementedError

    def client(self):
        raise NotImplementedError

    def _answers(self):
        c = self.client()
        try:
            return self._ping(c)
        finally:
            c.close()

    def start(self, timeout=10.0):
        """Starts the daemon (empty) on self.port and waits until it answers."""
        if self.running:
            return self
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.package, self.proc.returncode, self.log()))
            try:
                if self._answers():
                    return self
            except (OSError, StoreError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not answer on 127.0.0.1:%d within %.0f s:\n%s"
                           % (self.package, self.port, timeout, self.log()))

    def stop(self):
        """Stops the daemon (its records are gone: neither store persists here)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # one-shot helpers: a fresh connection per call, so a test never holds a stale socket
    def _with(self, fn):
        c = self.client()
        try:
            return fn(c)
        finally:
            c.close()

    def keys(self):
        return self._with(lambda c: c.keys())

    def get(self, key):
        return self._with(lambda c: c.get(key))

    def set(self, key, value, ttl=3600):
        return self._with(lambda c: c.set(key, value, ttl))

    def delete(self, key):
        return self._with(lambda c: c.delete(key))

    def records(self):
        def read(c):
            found = {}
            for k in c.keys():
                v = c.get(k)
                if v is not None:
                    found[k] = v
            return found
        return self._with(read)


class Memcached(_Daemon):
    binary = MEMCACHED
    package = "memcached"
    provider = "memcache"

    def argv(self):
        argv = [self.binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16", "-c", "512",
                "-t", "2"]
        if os.getuid() == 0:
            argv += ["-u", "nobody"]  # memcached refuses to run as root
        return argv

    def client(self):
        return MemcacheClient(self.port)

    def _ping(self, c):
        return bool(c.version())

    def ttls(self):
        """{key: seconds until expiry, None when it never expires}, from metadump's exp=
        (memcached reports the absolute Unix time of expiry, -1 for none)."""
        items = self._with(lambda c: c.metadump())
        now = time.time()
        return {i["key"]: (None if i["exp"] < 0 else i["exp"] - now) for i in items}

    def flush(self):
        self._with(lambda c: c.flush_all())


class Redis(_Daemon):
    binary = REDIS_SERVER
    package = "redis-server"
    provider = "redis"

    def argv(self):
        # no persistence at all: a stopped store comes back empty, and nothing is written
        # outside the temporary directory
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log"), "--databases", "1"]

    def log(self):
        text = super().log()
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                text += f.read()
        except OSError:
            pass
        return text

    def client(self):
        return RedisClient(self.port)

    def _ping(self, c):
        return c.ping()

    def ttls(self):
        """{key: seconds until expiry, None when it never expires} (PTTL)."""
        def read(c):
            found = {}
            for k in c.keys():
                ms = c.pttl(k)
                if ms == -2:
                    continue  # expired meanwhile
                found[k] = None if ms == -1 else ms / 1000.0
            return found
        return self._with(read)

    def flush(self):
        self._with(lambda c: c.flushall())


STORES = {"memcached": Memcached, "redis": Redis}


def _run(cls):
    daemon = cls()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.close()


@pytest.fixture
def memcached():
    """A running memcached of its own (empty), stopped after the test."""
    yield from _run(Memcached)


@pytest.fixture
def redis():
    """A running redis-server of its own (empty, no persistence), stopped after the test."""
    yield from _run(Redis)


@pytest.fixture(params=list(STORES))
def store(request):
    """Each of memcached and redis-server in turn (test ids [memcached] and [redis])."""
    yield from _run(STORES[request.param])
