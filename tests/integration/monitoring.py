"""Helpers of the status page tests (issue 18): the real monitoring tools (Prometheus, promtool,
headless Chromium; Debian packages, installed by build/deps.sh), a strict reader of the
Prometheus text exposition format, an HTML well-formedness check, and the reference model of
how the page prints untrusted strings.

A missing tool fails the test that needs it with a message saying which package to install:
these tests never skip."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from html.parser import HTMLParser

import pytest
import requests

from conftest import SRC_DIR, free_port

PROMETHEUS_DIR = os.path.join(SRC_DIR, "conf", "prometheus")
ALERTS = os.path.join(PROMETHEUS_DIR, "claims-alerts.yml")
ALERT_TESTS = os.path.join(PROMETHEUS_DIR, "claims-alerts.test.yml")
DASHBOARD = os.path.join(PROMETHEUS_DIR, "grafana-dashboard.json")

STATUS_LOCATION = """
<Location /claims-status>
    SetHandler claims-status
    Require ip 127.0.0.1
</Location>
"""


def tool(name, package):
    """The path of a program from a Debian package; fails (never skips) when it is missing."""
    path = shutil.which(name, path="/usr/bin:/usr/sbin:/bin:/sbin:" + os.environ.get("PATH", ""))
    if path is None:
        pytest.fail("%s not found: install the Debian package %s (build/deps.sh installs it)" % (name, package),
                    pytrace=False)
    return path


def promtool(*args, stdin=None):
    """(returncode, stdout + stderr) of promtool with args."""
    p = subprocess.run([tool("promtool", "prometheus")] + list(args), input=stdin, capture_output=True,
                       timeout=120)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------
# How the page prints untrusted bytes (mod_claims_status_view.c, mc_status_text)

INVISIBLE = set(range(0x200B, 0x2010)) | set(range(0x2028, 0x202F)) | set(range(0x2060, 0x2070)) | {0xFEFF}


def display(data):
    """The text the status page shows for these bytes (str: its UTF-8 encoding)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    out, i = [], 0
    while i < len(data):
        c = data[i]
        if c == 0x5C:
            out.append("\\\\")
            i += 1
            continue
        if 0x20 <= c < 0x7F:
            out.append(chr(c))
            i += 1
            continue
        n = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
        if n and i + n <= len(data):
            try:
                ch = data[i:i + n].decode("utf-8")  # strict: no overlong forms, no surrogates
            except UnicodeDecodeError:
                ch = None
            if ch is not None and len(ch) == 1 and not 0x80 <= ord(ch) <= 0x9F and ord(ch) not in INVISIBLE:
                out.append(ch)
                i += n
                continue
        out.append("\\x%02x" % c)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------------------------------
# The Prometheus text exposition format 0.0.4, read strictly

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
VALUE = re.compile(r"^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$")


def _labels(text, line):
    """{name: value} of the inside of {...}; every value escaped as the format says."""
    labels, i = {}, 0
    while i < len(text):
        m = LABEL_NAME.match(text, i)
        assert m, "bad label name at %r in %r" % (text[i:], line)
        name, i = m.group(0), m.end()
        assert text[i:i + 2] == '="', "label %s: no =\" in %r" % (name, line)
        i += 2
        value = []
        while True:
            assert i < len(text), "unterminated label value in %r" % line
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                assert nxt in ("\\", '"', "n"), "bad escape \\%s in %r" % (nxt, line)
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n", "raw newline in a label value: %r" % line
                value.append(c)
                i += 1
        assert name not in labels, "label %s twice in %r" % (name, line)
        labels[name] = "".join(value)
        if i < len(text):
            assert text[i] == ",", "expected , after label %s in %r" % (name, line)
            i += 1
    return labels


def parse_exposition(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; asserts the format: every
    family has HELP and TYPE before its samples, its samples are together, no series twice."""
    families, seen, current = {}, set(), None
    assert text.endswith("\n"), "the exposition does not end with a newline"
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            assert NAME.fullmatch(name), line
            fam = families.setdefault(name, {"samples": []})
            assert kind.lower() not in fam, "%s twice for %s" % (kind, name)
            assert not fam["samples"], "%s of %s after its samples" % (kind, name)
            fam[kind.lower()] = arg
            current = name
            continue
        assert line and not line.startswith("#"), "unexpected line %r" % line
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        assert m, "not a sample line: %r" % line
        name, inner, value = m.group(1), m.group(2), m.group(3)
        assert VALUE.match(value), "bad value in %r" % line
        assert name == current, "sample %s outside its family (current %s)" % (name, current)
        labels = _labels(inner or "", line)
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, "series twice: %r" % line
        seen.add(key)
        families[name]["samples"].append((name, labels, float(value)))
    for name, fam in families.items():
        assert "help" in fam and "type" in fam, "family %s lacks HELP or TYPE" % name
    return families


def samples(families, name, **labels):
    """The values of family name's samples whose labels include these."""
    return [v for _, l, v in families.get(name, {}).get("samples", [])
            if all(l.get(k) == want for k, want in labels.items())]


# ------------------------------------------------------------------------------------------
# HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Reads an HTML page: checks that every element is closed in order (well-formed), keeps the
    set of elements and, per table id, its rows as lists of cell texts."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.elements = [], [], set()
        self.tables, self._table, self._row, self._cell = {}, None, None, None
        self.feed(text)
        self.close()
        if self.stack:
            self.problems.append("unclosed at the end: %s" % self.stack)

    def handle_starttag(self, tag, attrs):
        self.elements.add(tag)
        if tag not in VOID:
            self.stack.append(tag)
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id") or "table%d" % len(self.tables), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_startendtag(self, tag, attrs):
        self.elements.add(tag)
        if tag not in VOID:
            self.problems.append("self-closed <%s/>" % tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append("end tag of void element %s" % tag)
        elif not self.stack or self.stack[-1] != tag:
            self.problems.append("</%s> while open: %s" % (tag, self.stack))
        else:
            self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id):
        """The data rows (the header row left out) of a table, as lists of cell texts."""
        return self.tables.get(table_id, [])[1:]


# The elements the status page is made of: anything else came from the data.
PAGE_ELEMENTS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "tbody", "tr", "th",
                 "td", "a"}


def check_page(text):
    """A Page of a status page's HTML, asserted well-formed and made of the page's own elements."""
    page = Page(text)
    assert not page.problems, page.problems
    assert page.elements <= PAGE_ELEMENTS, "unexpected elements %s" % (page.elements - PAGE_ELEMENTS)
    return page


def chromium_dom(url, timeout=90):
    """The DOM of url as headless Chromium renders it (--dump-dom)."""
    exe = tool("chromium", "chromium")
    profile = tempfile.mkdtemp(prefix="claims-chromium-")
    try:
        p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            "--user-data-dir=" + profile, "--dump-dom", url],
                           capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert p.returncode == 0, "chromium failed (%d): %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-3000:])
    return p.stdout.decode("utf-8")


# ------------------------------------------------------------------------------------------
# A real Prometheus server

class Prometheus:
    """A prometheus server on a free loopback port with its own storage in a temporary
    directory, scraping the status pages of targets (Httpd instances) every second, with the
    project's alerting rules loaded."""

    def __init__(self, targets, path="/claims-status", rule_files=(ALERTS,), interval="1s"):
        exe = tool("prometheus", "prometheus")
        self.dir = tempfile.mkdtemp(prefix="claims-prometheus-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "rule_files": list(rule_files),
            "scrape_configs": [{
                "job_name": "claims",
                "metrics_path": path,
                "params": {"format": ["prometheus"]},
                "static_configs": [{"targets": ["127.0.0.1:%d" % h.port for h in targets]}],
            }],
        }
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn",
                                      "--web.console.templates=" + os.path.join(self.dir, "consoles"),
                                      "--web.console.libraries=" + os.path.join(self.dir, "console_libraries")],
                                     stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: %s" % self.log())
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                raise RuntimeError("prometheus not ready within 30 s: %s" % self.log())
            time.sleep(0.1)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def api(self, path, **params):
        r = requests.get(self.url + "/api/v1/" + path, params=params, timeout=10)
        doc = r.json()
        assert doc.get("status") == "success", "prometheus %s %s: %s" % (path, params, doc)
        return doc["data"]

    def query(self, expr):
        """The instant vector of expr as [(labels, value)]."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def wait(self, expr, check, timeout=30.0):
        """Polls expr until check(result) holds; returns the result (asserts on timeout)."""
        deadline = time.time() + timeout
        while True:
            result = self.query(expr)
            if check(result):
                return result
            if time.time() > deadline:
                raise AssertionError("%s: %r after %.0f s\n%s" % (expr, result, timeout, self.log()))
            time.sleep(0.3)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)
