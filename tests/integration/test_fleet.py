"""Fleet: remote key sets shared through a real memcached and a real redis-server between the
children of a server and between servers (ARCHITECTURE.md section 7; SECURITY.md CL-89, CL-90).

Contract under test:
- `ClaimsKeyCache memcache:HOST:PORT` / `redis:HOST:PORT` publish an issuer's key set (from
  ClaimsJWKS / ClaimsDiscovery) to the store, where every child and every server of the fleet
  picks it up, so the identity provider is fetched about once for the whole fleet;
- `ClaimsCacheSecret FILE` (>= 32 bytes, the same file on every server) is required with any
  provider but shmcb: without it, or with a missing or short file, apache2 -t fails naming it;
- every record written to the store is authenticated (HMAC-SHA-256 under a key derived from
  that secret) and stored under an opaque keyed digest; a record that fails authentication is
  ignored, logged ("failed authentication") and the key set is fetched again from the IdP;
- records expire (memcached reads an expiry above 30 days as an absolute Unix time);
- a store that goes down never turns a refusal into an acceptance, children keep the set they
  parsed, and the outage is logged once per streak, not per request or per tick.

Servers, the IdP and the helpers come from test_remote (TLS IdP of idp.py, short intervals,
polls against deadlines); the stores from stores.py. Every test gets empty stores of its own."""
import hashlib
import json
import os
import shutil
import struct
import tempfile
import time
import uuid

import pytest

from conftest import free_port, mint
from itest_helpers import secret_bytes
from stores import memcached, redis, store  # noqa: F401 (fixtures)
from test_remote import (AUD, config_block, ec_key, idp, log_lines, make_httpd, make_idp,  # noqa: F401
                         public, remote_conf, wait_status)

PROVIDERS = ["memcache", "redis"]
SECRET_SIZE = 32
SYNC_INTERVAL = 1.0          # children look for a newer published set this often
MEMCACHED_MAX_RELATIVE = 30 * 86400
AUTH_FAILED = "failed authentication"
# A store outage is one streak: mod_claims logs it once. httpd's socache providers add lines of
# their own (memcache AH00790/AH00791, redis AH03478/AH03479): one per failed write and one per
# read that meets the broken connection, in each child. A server that retries once per
# ClaimsUnknownKidInterval (5 s in that test) stays below the bound; one that retries every
# watchdog tick or on every request logs hundreds.
MAX_MODULE_ERRORS_PER_STREAK = 2
MAX_ERRORS_PER_STREAK = 12


# --------------------------------------------------------------------------- fixtures, helpers

@pytest.fixture
def secret_file():
    """Factory: secret_file(size=32) -> path of a new file of `size` random bytes."""
    d = tempfile.mkdtemp(prefix="claims-secret-")
    os.chmod(d, 0o755)

    def write(size=SECRET_SIZE):
        fd, path = tempfile.mkstemp(dir=d, suffix=".secret")
        with os.fdopen(fd, "wb") as f:
            f.write(secret_bytes(size))
        os.chmod(path, 0o644)
        return path

    yield write
    shutil.rmtree(d, ignore_errors=True)


class Fleet:
    """Servers of one fleet: the same declarations, the same store, the same cache secret."""

    def __init__(self, store, idp, make_httpd, secret):
        self.store = store
        self.idp = idp
        self.make_httpd = make_httpd
        self.secret = secret

    def conf(self, secret=None, refresh=3600, kid=1):
        return ("ClaimsKeyCache %s\nClaimsCacheSecret %s\n" % (self.store.socache, secret or self.secret)
                + remote_conf(self.idp, refresh=refresh, kid=kid))

    def server(self, secret=None, refresh=3600, kid=1):
        """A started apache2 of the fleet (a new server root, the fleet's configuration)."""
        return self.make_httpd(self.conf(secret, refresh, kid), modules=["socache_shmcb", self.store.module])


@pytest.fixture
def fleet(store, secret_file, idp, make_httpd):
    """Servers on one store (memcached, then redis). Requested in this order so that the
    servers stop before their IdP closes, their secret goes and their store stops."""
    return Fleet(store, idp, make_httpd, secret_file())


def fresh(idp, key=None, **claims):
    """A token of the IdP never sent before (a unique jti): a verified-token cache hit can
    never stand in for a verification with the key set in use."""
    c = {"iss": idp.issuer, "aud": AUD, "jti": uuid.uuid4().hex}
    c.update(claims)
    return mint(key or idp.keys[0], c)


def status(h, tok):
    return h.get("/cgi/env.py", tok).status_code


def find_jwks(value, idp):
    """(start, end) of the JWK Set document inside a record, or None."""
    body = idp.jwks_body()
    i = value.find(body)
    if i >= 0:
        return i, i + len(body)
    i = value.find(b'{"keys"')
    if i < 0:
        return None
    try:
        _, n = json.JSONDecoder().raw_decode(value[i:].decode("latin-1"))
    except ValueError:
        return None
    return i, i + n


def wait_published(store, idp, timeout=5.0):
    """(every record {key: bytes}, [keys of the records holding the IdP's JWK Set]) once the
    set is in the store."""
    deadline = time.time() + timeout
    while True:
        records = store.records()
        docs = [k for k, v in records.items() if find_jwks(v, idp) is not None]
        if docs or time.time() > deadline:
            assert docs, "after %.0f s no record in the store holds the IdP's JWK Set (keys: %s)" % (
                timeout, sorted(records))
            return records, docs
        time.sleep(0.1)


def tail(h, n=12):
    """The last n lines of a server's error log above debug level (for assertion messages)."""
    lines = [l for l in h.log().splitlines() if ":debug]" not in l]
    return "\n".join(lines[-n:])


def no_keys(h, idp):
    return "no 200 within 5 s of start (IdP key set fetched %d times); the log ends:\n%s" % (
        idp.count("jwks"), tail(h))


def error_lines(h):
    return [l for l in h.log().splitlines()
            if any(t in l for t in ("[error]", ":error]", ":crit]", ":alert]", ":emerg]"))]


def crash_lines(h):
    return [l for l in h.log().splitlines() if "exit signal" in l or "AH00060" in l]


# --------------------------------------------------------------------------- configuration

@pytest.mark.parametrize("provider", PROVIDERS)
def test_external_key_cache_without_cache_secret_fails_configtest(make_httpd, provider):
    body = "ClaimsKeyCache %s:127.0.0.1:%d\n" % (provider, free_port())
    h = make_httpd(body + config_block(["ClaimsJWKS https://idp.test/certs"]), start=False,
                   modules=["socache_shmcb", "socache_" + provider])
    rc, out = h.configtest()
    assert rc != 0 and "ClaimsCacheSecret" in out, out


@pytest.mark.parametrize("size", [None, 0, SECRET_SIZE - 1], ids=["missing", "empty", "31-bytes"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_external_key_cache_refuses_unusable_cache_secret(make_httpd, secret_file, provider, size):
    path = "/nonexistent/claims-cache.secret" if size is None else secret_file(size)
    body = "ClaimsKeyCache %s:127.0.0.1:%d\nClaimsCacheSecret %s\n" % (provider, free_port(), path)
    h = make_httpd(body + config_block(["ClaimsJWKS https://idp.test/certs"]), start=False,
                   modules=["socache_shmcb", "socache_" + provider])
    rc, out = h.configtest()
    assert rc != 0 and "ClaimsCacheSecret" in out, out
    assert "Invalid command" not in out, out  # refused for its file, not as an unknown directive


@pytest.mark.parametrize("provider", PROVIDERS)
def test_external_key_cache_with_shared_cache_secret_passes_configtest(make_httpd, secret_file, provider):
    body = "ClaimsKeyCache %s:127.0.0.1:%d\nClaimsCacheSecret %s\n" % (provider, free_port(), secret_file())
    h = make_httpd(body + config_block(["ClaimsJWKS https://idp.test/certs"]), start=False,
                   modules=["socache_shmcb", "socache_" + provider])
    rc, out = h.configtest()
    assert rc == 0, out


@pytest.mark.parametrize("cache", ["", "ClaimsKeyCache shmcb\n", "ClaimsKeyCache shmcb:(1048576)\n"],
                         ids=["default", "shmcb", "shmcb-args"])
def test_shmcb_key_cache_needs_no_cache_secret(make_httpd, cache):
    h = make_httpd(cache + config_block(["ClaimsJWKS https://idp.test/certs"]), start=False,
                   modules=["socache_shmcb"])
    rc, out = h.configtest()
    assert rc == 0, out


# --------------------------------------------------------------------------- the set sticks

def test_key_set_in_store_sticks_so_tokens_pass_and_idp_is_fetched_rarely(fleet):
    idp = fleet.idp
    started = time.time()
    h = fleet.server(refresh=3600, kid=1)
    assert wait_status(h, fresh(idp), 200, timeout=5).status_code == 200, no_keys(h, idp)
    # keep the server busy until 5 s after its start: the set must stay in the store meanwhile
    while time.time() < started + 5:
        assert status(h, fresh(idp)) == 200
        time.sleep(0.2)
    fetched = idp.count("jwks")
    assert fetched <= 3, ("the IdP's key set was fetched %d times in %.1f s at ClaimsRefreshInterval 3600: "
                          "the published set does not stay in %s" % (fetched, time.time() - started,
                                                                      fleet.store.package))


def test_store_records_expire_within_30_days(fleet):
    idp = fleet.idp
    h = fleet.server()
    assert wait_status(h, fresh(idp), 200, timeout=5).status_code == 200, no_keys(h, idp)
    wait_published(fleet.store, idp)
    ttls = fleet.store.ttls()
    assert ttls, "no record in the store"
    for key, ttl in ttls.items():
        assert ttl is not None, "record %s never expires" % key
        assert 0 < ttl <= MEMCACHED_MAX_RELATIVE, (
            "record %s expires in %.0f s, beyond memcached's relative-expiry limit of 30 days" % (key, ttl))


def test_store_record_keys_are_digests_keyed_by_the_cache_secret(fleet, secret_file):
    idp = fleet.idp
    a = fleet.server()
    assert wait_status(a, fresh(idp), 200, timeout=5).status_code == 200, no_keys(a, idp)
    wait_published(fleet.store, idp)
    keys_a = set(fleet.store.keys())
    iss = idp.issuer.encode()
    # never the issuer: not as it is, not hex-encoded (as the socache providers encode ids),
    # not as an unkeyed digest anyone can compute
    telltales = [iss.hex(), hashlib.sha256(iss).hexdigest(), hashlib.sha1(iss).hexdigest()]
    for key in keys_a:
        assert idp.issuer not in key, key
        for t in telltales:
            assert t not in key.lower(), "record key %s is derived from the issuer without the secret" % key
    a.stop()
    # another fleet (another secret) on the same store: other keys
    b = fleet.server(secret=secret_file())
    b.allowed_errors.append(AUTH_FAILED)  # if it read the first fleet's records, the assert says why
    assert wait_status(b, fresh(idp), 200, timeout=5).status_code == 200, no_keys(b, idp)
    new = set(fleet.store.keys()) - keys_a
    assert new, ("a server with another ClaimsCacheSecret wrote under the same record keys %s: the keys "
                 "are not keyed by the secret" % sorted(keys_a))


# --------------------------------------------------------------------------- one fetch per fleet

def test_two_servers_share_one_fetch_of_the_key_set_through_the_store(fleet):
    idp = fleet.idp
    a = fleet.server()
    assert wait_status(a, fresh(idp), 200, timeout=5).status_code == 200, no_keys(a, idp)
    b = fleet.server()
    assert wait_status(b, fresh(idp), 200, timeout=5).status_code == 200, no_keys(b, idp)
    until = time.time() + 3
    while time.time() < until:
        assert status(a, fresh(idp)) == 200
        assert status(b, fresh(idp)) == 200
        time.sleep(0.1)
    fetched = idp.count("jwks")
    assert fetched <= 2, ("two servers on one %s fetched the IdP's key set %d times: the second did not "
                          "use the set the first published" % (fleet.store.package, fetched))


# --------------------------------------------------------------------------- key set injection

# mc_meta_t of mod_claims_remote.c before authenticated records (LP64, no padding: 1328 bytes):
# magic, gen, fetched_at, expires_at, attempt_at, wanted_at (apr_time_t, us), fetches,
# last_status, last_error[256], jwks_uri[1024]
LEGACY_META = struct.Struct("<IIqqqqIi256s1024s")
LEGACY_MAGIC = 0x434C4D31


def forge_legacy_layout(records, doc_keys, idp, attacker):
    """A well-formed forgery in the unauthenticated layout: each doc record = 4-byte LE
    generation + the attacker's JWK Set; every other record = a meta record announcing that
    generation (fresh, next refresh in an hour, no refresh wanted)."""
    gen = 0x40000000
    for k, v in records.items():
        if k not in doc_keys and len(v) == LEGACY_META.size and LEGACY_META.unpack(v)[0] == LEGACY_MAGIC:
            gen = LEGACY_META.unpack(v)[1] + 1
    now_us = int(time.time() * 1e6)
    meta = LEGACY_META.pack(LEGACY_MAGIC, gen, now_us, now_us + 3600 * 10**6, now_us, 0, 1, 0, b"",
                            idp.jwks_url.encode())
    doc = struct.pack("<I", gen) + json.dumps({"keys": [public(attacker)]}).encode()
    return {k: (doc if k in doc_keys else meta) for k in records}


def swap_jwks(records, doc_keys, idp, attacker):
    """The real doc records with the IdP key's x and y replaced by the attacker's (same kid,
    same length): every byte outside the JWK Set, and every other record, kept."""
    real, fake = public(idp.keys[0]), public(attacker)
    forged = {}
    for k in doc_keys:
        value = forged[k] = records[k]
        for member in ("x", "y"):
            forged[k] = forged[k].replace(real[member].encode(), fake[member].encode())
        assert forged[k] != value and len(forged[k]) == len(value)
    return forged


def flip_kid_byte(records, doc_keys, idp, attacker):
    """The real doc records with one byte flipped: the kid "k1" becomes "k0" (still a valid
    key set, so only a MAC can tell)."""
    forged = {}
    for k in doc_keys:
        value = records[k]
        start, end = find_jwks(value, idp)
        i = value.find(b'"k1"', start, end)
        assert i >= 0, value[start:end]
        i += 2
        forged[k] = value[:i] + bytes([value[i] ^ 0x01]) + value[i + 1:]
    return forged


TAMPER = {"forged-legacy-layout": forge_legacy_layout, "jwks-swapped": swap_jwks, "kid-byte-flipped": flip_kid_byte}


@pytest.mark.parametrize("tamper", list(TAMPER))
def test_key_set_injected_into_store_is_refused_logged_and_refetched(fleet, tamper):
    idp, store = fleet.idp, fleet.store
    attacker = ec_key(idp.keys[0].get("kid"))  # the kid the set already holds

    def attack_token():
        return fresh(idp, attacker, sub="mallory")

    a = fleet.server(kid=1)
    a.allowed_errors.append(AUTH_FAILED)
    assert wait_status(a, fresh(idp), 200, timeout=5).status_code == 200, no_keys(a, idp)
    assert status(a, attack_token()) == 401
    records, doc_keys = wait_published(store, idp)
    before = idp.count("jwks")
    for key, value in TAMPER[tamper](records, doc_keys, idp, attacker).items():
        store.set(key, value, ttl=3600)
    tampered_at = time.time()
    # a server that starts now reads the tampered records first thing
    b = fleet.server(kid=1)
    b.allowed_errors.append(AUTH_FAILED)

    # past the children's sync interval and a refresh: never the attacker's key, and the real set back
    settled_after = tampered_at + SYNC_INTERVAL + 2
    deadline = tampered_at + 10
    while True:
        for h in (a, b):
            r = h.get("/cgi/env.py", attack_token())
            assert r.status_code == 401, ("%s: the attacker's token got %d (REMOTE_USER %r) after the store's "
                                          "records were tampered with (%s)" % (
                                              "first server" if h is a else "server started after",
                                              r.status_code, r.json().get("REMOTE_USER") if r.ok else None,
                                              tamper))
        real = [status(h, fresh(idp)) for h in (a, b)]
        logged = log_lines(a, AUTH_FAILED) + log_lines(b, AUTH_FAILED)
        fetched = idp.count("jwks") - before
        if time.time() >= settled_after and real == [200, 200] and logged and fetched > 0:
            break
        if time.time() > deadline:
            break
        time.sleep(0.2)
    assert real == [200, 200], "tokens of the IdP's key got %s" % real
    assert logged, "no %r in the error logs; they end:\n%s\n--\n%s" % (AUTH_FAILED, tail(a), tail(b))
    assert fetched > 0, "the key set was not fetched again from the IdP"


# --------------------------------------------------------------------------- store down

def test_store_down_running_server_keeps_keys_and_new_server_fails_closed(fleet):
    idp, store = fleet.idp, fleet.store
    kid_interval = 5  # a server retries a failing fetch or store at most this often
    attacker = ec_key("k1")
    a = fleet.server(kid=kid_interval)
    assert wait_status(a, fresh(idp), 200, timeout=5).status_code == 200, no_keys(a, idp)
    wait_published(store, idp)
    errors_before = len(error_lines(a))

    store.stop()
    b = fleet.server(kid=kid_interval)  # starts while the store is down
    until = time.time() + 3
    seen_b = set()
    while time.time() < until:
        # the running server's children hold the set they parsed
        assert status(a, fresh(idp)) == 200, tail(a)
        # the new one never accepts a token of a key nobody published
        assert status(b, fresh(idp, attacker, sub="mallory")) == 401
        assert status(b, fresh(idp, ec_key("never-published"), sub="mallory")) == 401
        seen_b.add(status(b, fresh(idp)))  # with or without keys: an answer, not an error
        time.sleep(0.1)
    assert seen_b <= {200, 401}, seen_b
    assert a.proc.poll() is None and b.proc.poll() is None

    store.start()  # the same port, empty
    deadline = time.time() + 15
    while True:
        answers = (status(a, fresh(idp)), status(b, fresh(idp)))
        assert status(b, fresh(idp, attacker, sub="mallory")) == 401
        if answers == (200, 200) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert answers == (200, 200), "15 s after the store came back: %s; the new server's log ends:\n%s" % (
        answers, tail(b))

    # the streak: from the store's stop until both servers verified with the set again
    streak = {"first server": error_lines(a)[errors_before:], "server started after": error_lines(b)}
    # counted here, so the harness's check at teardown only reports what comes on top
    a.allowed_errors += streak["first server"]
    b.allowed_errors += streak["server started after"]
    for h in (a, b):
        assert not crash_lines(h), crash_lines(h)
    for who, lines in streak.items():
        mine = [l for l in lines if "[claims:" in l]
        assert len(mine) <= MAX_MODULE_ERRORS_PER_STREAK, (
            "%s: %d error lines of mod_claims for one outage of the store (once per streak):\n%s"
            % (who, len(mine), "\n".join(mine[:12])))
        assert len(lines) <= MAX_ERRORS_PER_STREAK, (
            "%s: %d error lines for one outage of the store (IdP fetched %d times):\n%s"
            % (who, len(lines), idp.count("jwks"), "\n".join(lines[:12])))
