"""The documentation is the contract: every directive of the module's command table is in
README.md and in conf/claims.conf, and neither names a directive the module does not have;
the example configurations pass apache2 -t."""
import os
import re

import pytest

from conftest import SRC_DIR

CMD = re.compile(r'AP_INIT_[A-Z0-9_]+\("(<?Claims[A-Za-z]+)"')
NAME = re.compile(r"(?<![A-Za-z_])<?(Claims[A-Z][A-Za-z]+)")


def read(rel):
    with open(os.path.join(SRC_DIR, rel), encoding="utf-8") as f:
        return f.read()


def command_table():
    names = set()
    for fn in os.listdir(SRC_DIR):
        if fn.startswith("mod_claims") and fn.endswith(".c"):
            names |= {n.lstrip("<") for n in CMD.findall(read(fn))}
    return names


def mentioned(text):
    # ClaimsIssuer appears as <ClaimsIssuer>; other Claims* words in prose are directive names
    return set(NAME.findall(text))


def test_command_table_is_found():
    assert {"ClaimsIssuer", "ClaimsKeyFile", "ClaimsAudience", "ClaimsHeader"} <= command_table()


@pytest.mark.parametrize("doc", ["README.md", "conf/claims.conf"])
def test_every_directive_is_documented(doc):
    missing = command_table() - mentioned(read(doc))
    assert not missing, "%s does not document %s" % (doc, sorted(missing))


@pytest.mark.parametrize("doc", ["README.md", "conf/claims.conf"])
def test_no_documented_directive_is_unknown(doc):
    unknown = mentioned(read(doc)) - command_table()
    assert not unknown, "%s names directives the module lacks: %s" % (doc, sorted(unknown))


@pytest.mark.parametrize("example", ["keycloak.conf", "entra-id.conf", "auth0.conf", "mcp.conf"])
def test_example_configuration_passes_configtest(make_httpd, example):
    h = make_httpd(read(os.path.join("conf", "examples", example)),
                   modules=["socache_shmcb", "proxy", "proxy_http"], start=False)
    rc, out = h.configtest()
    assert rc == 0, out
