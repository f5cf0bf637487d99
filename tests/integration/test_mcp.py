"""Apache in front of an MCP server (issue 16), end to end with real parts only:

- the official MCP TypeScript SDK (@modelcontextprotocol/sdk, tests/interop): its client with its
  OAuth support (mcp_client.js) and a server on its Streamable HTTP transport (mcp_server.js);
- npm oidc-provider (tests/interop) as the authorization server, with resource indicators (RFC
  8707) and a pre-registered client_credentials client;
- apache2 over TLS with mod_claims and mod_proxy, configured by conf/examples/mcp.conf itself.

The SDK client is given nothing but the MCP URL and its client credentials: it gets the 401,
reads resource_metadata, fetches the RFC 9728 document, discovers the authorization server,
asks for a token for the resource and calls a tool. Why client_credentials: the SDK's OAuth
support has two ways to a token, the authorization code flow (which needs a browser redirect and
a login) and ClientCredentialsProvider (SEP-1046, for machine clients); the second runs the same
discovery (401, RFC 9728, RFC 8414, resource indicator, scope selection, step-up on 403) headless,
so the test drives the SDK's own code rather than a simulation of a user."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from oidc_provider import NODE, RESOURCE, STANDARD_RESOURCES, oidc_provider  # noqa: E402,F401
from conftest import SRC_DIR, challenge  # noqa: E402
from idp import make_ca_and_cert  # noqa: E402

INTEROP = os.path.join(SRC_DIR, "tests", "interop")
# any resource other than the standard ones (the MCP URL is known only once apache2 has a port)
OIDC_PROVIDER = {"resources": dict(STANDARD_RESOURCES, **{"*": {"scope": "mcp:tools", "format": "jwt"}}),
                 "log": True}
ORIGIN = "https://app.test"
MODULES = ["socache_shmcb", "proxy", "proxy_http", "ssl"]


@pytest.fixture(scope="module")
def files():
    d = tempfile.mkdtemp(prefix="claims-mcp-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def mcp_server():
    """The SDK's MCP server on 127.0.0.1 (stateless Streamable HTTP)."""
    p = subprocess.Popen([NODE, os.path.join(INTEROP, "mcp_server.js"), "0"], cwd=INTEROP,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    try:
        ready = json.loads(line)
    except ValueError:
        p.kill()
        raise RuntimeError("mcp_server.js did not start: %s %s" % (line, p.stderr.read()))
    yield "http://127.0.0.1:%d/mcp" % ready["port"]
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)


def example(op, resource, backend, per_tool=True):
    """conf/examples/mcp.conf with its Define lines set for this run, and the CA of the test's
    authorization server (the example trusts the system's)."""
    with open(os.path.join(SRC_DIR, "conf", "examples", "mcp.conf")) as f:
        conf = f.read()
    for name, value in (("MCP_ISSUER", op.issuer), ("MCP_RESOURCE", resource), ("MCP_BACKEND", backend),
                        ("MCP_ORIGIN", ORIGIN)):
        conf, n = re.subn(r"^Define %s .*$" % name, "Define %s %s" % (name, value), conf, flags=re.M)
        assert n == 1, name
    conf, n = re.subn(r"^(\s*)ClaimsDiscovery$", r"\1ClaimsDiscovery\n\1ClaimsCAFile %s" % op.ca, conf, flags=re.M)
    assert n == 1
    return ("Define MCP_PER_TOOL\n" if per_tool else "") + conf


@pytest.fixture(scope="module")
def gateway(make_module_httpd, oidc_provider, mcp_server, files):
    """apache2 over TLS on 127.0.0.1 with mod_claims, as conf/examples/mcp.conf says."""
    ca, cert, key = make_ca_and_cert(files, name="mod_claims MCP gateway CA")
    h = make_module_httpd("", modules=MODULES, start=False)
    h.resource = "https://127.0.0.1:%d/mcp" % h.port
    h.body = "SSLEngine on\nSSLCertificateFile %s\nSSLCertificateKeyFile %s\n%s" % (
        cert, key, example(oidc_provider, h.resource, mcp_server))
    h.ca = ca
    # trust for the SDK client: the gateway's CA and the authorization server's
    h.cas = os.path.join(files, "cas.pem")
    with open(h.cas, "w") as out:
        for path in (ca, oidc_provider.ca):
            with open(path) as f:
                out.write(f.read())
    h.start()
    h.https = "https://127.0.0.1:%d" % h.port
    return h


def mcp_client(gw, op, **request):
    """Runs the SDK client (tests/interop/mcp_client.js); returns its JSON answer."""
    c = op.clients["basic-client"]
    # SDK 1.32: a client_credentials token request asks for the scope configured on the client
    # (ClientCredentialsProvider's scope), not for scopes_supported or a 403's scope
    req = {"url": gw.resource, "client_id": c.client_id, "client_secret": c.secret, "issuer": op.issuer,
           "scope": "mcp:tools"}
    req.update(request)
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=gw.cas)
    p = subprocess.run([NODE, os.path.join(INTEROP, "mcp_client.js")], input=json.dumps(req), capture_output=True,
                       text=True, timeout=60, cwd=INTEROP, env=env)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("mcp_client.js said nothing: %s\n%s" % (p.stdout, p.stderr))


def to_mcp(trace, gw):
    return [t for t in trace if t["url"] == gw.resource]


def params_of(entry):
    return challenge(type("R", (), {"headers": {"WWW-Authenticate": entry["www_authenticate"]}})())[1]


def text_of(result):
    return result["result"]["content"][0]["text"]


def gw_get(gw, path="/mcp", **kw):
    return requests.request(kw.pop("method", "POST"), gw.https + path, verify=gw.ca, timeout=10,
                            allow_redirects=False, **kw)


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "Mcp-Method": "initialize"}


# ------------------------------------------------------------------ the SDK, from nothing but the URL

def test_sdk_client_discovers_the_authorization_server_from_the_mcp_url_and_calls_a_tool(gateway, oidc_provider):
    out = mcp_client(gateway, oidc_provider, tool="echo", arguments={"text": "hello"}, routing_headers=True)
    assert out["ok"], out
    assert text_of(out) == "hello"
    assert set(out["tools"]) == {"echo", "whoami", "delete_all"}
    trace = out["trace"]
    first = trace[0]
    # 1. the 401 names the metadata
    assert first["url"] == gateway.resource and first["status"] == 401
    metadata_url = gateway.https + "/.well-known/oauth-protected-resource/mcp"
    assert params_of(first)["resource_metadata"] == metadata_url
    # 2. the RFC 9728 document, fetched by the SDK
    prm = [t for t in trace if t["url"] == metadata_url]
    assert prm and prm[0]["status"] == 200
    doc = json.loads(prm[0]["body"])
    assert doc["resource"] == gateway.resource and doc["authorization_servers"] == [oidc_provider.issuer]
    # 3. the authorization server's metadata, then a token for exactly this resource
    assert any(t["url"].startswith(oidc_provider.issuer + "/.well-known/") and t["status"] == 200 for t in trace)
    token_requests = [t for t in trace if t.get("resource_requested") is not None]
    assert token_requests and token_requests[0]["resource_requested"] == gateway.resource
    assert token_requests[0]["scope_requested"] == "mcp:tools"
    # 4. the MCP requests then pass
    assert all(t["status"] in (200, 202, 405) for t in to_mcp(trace, gateway)[1:])


def test_mcp_server_gets_the_identity_and_never_the_token(gateway, oidc_provider):
    out = mcp_client(gateway, oidc_provider, tool="whoami", routing_headers=True)
    assert out["ok"], out
    seen = json.loads(text_of(out))
    assert seen["authorization"] is None  # ClaimsForwardToken Off: no token passthrough
    assert seen["subject"] == "basic-client"
    assert seen["scope"] == "mcp:tools"


def test_sdk_client_without_sep_2243_headers_works_where_per_tool_rules_are_off(make_httpd, oidc_provider,
                                                                                mcp_server, files, gateway):
    h = make_httpd("", modules=MODULES, start=False)
    ca, cert, key = make_ca_and_cert(tempfile.mkdtemp(dir=files), name="mod_claims MCP gateway CA 2")
    h.resource = "https://127.0.0.1:%d/mcp" % h.port
    h.body = "SSLEngine on\nSSLCertificateFile %s\nSSLCertificateKeyFile %s\n%s" % (
        cert, key, example(oidc_provider, h.resource, mcp_server, per_tool=False))
    h.cas = os.path.join(files, "cas2.pem")
    with open(h.cas, "w") as out:
        out.write(open(ca).read() + open(oidc_provider.ca).read())
    h.start()
    out = mcp_client(h, oidc_provider, tool="echo", arguments={"text": "plain"})
    assert out["ok"], out
    assert text_of(out) == "plain"


# ------------------------------------------------------------------ refusals the SDK meets

def test_token_for_another_resource_is_refused(gateway, oidc_provider):
    other = oidc_provider.jwt_access_token(RESOURCE, scope="read")  # a real token, for https://api.test/orders
    out = mcp_client(gateway, oidc_provider, auth=False, token=other, routing_headers=True)
    assert not out["ok"]
    refused = to_mcp(out["trace"], gateway)[0]
    assert refused["status"] == 401
    params = params_of(refused)
    assert params["error"] == "invalid_token"
    assert params["error_description"] == "token audience is not accepted here"
    assert params["resource_metadata"].endswith("/.well-known/oauth-protected-resource/mcp")
    # the SDK sent Accept: application/json: the body is problem+json, with the same words
    assert refused["content_type"] == "application/problem+json"
    assert json.loads(refused["body"]) == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                           "detail": "token audience is not accepted here", "error": "invalid_token"}


def test_sdk_with_a_token_for_another_resource_gets_one_for_this_resource(gateway, oidc_provider):
    other = oidc_provider.jwt_access_token(RESOURCE, scope="read")
    out = mcp_client(gateway, oidc_provider, token=other, tool="echo", arguments={"text": "again"},
                     routing_headers=True)
    assert out["ok"], out
    first = to_mcp(out["trace"], gateway)[0]
    assert first["status"] == 401 and params_of(first)["error"] == "invalid_token"
    assert text_of(out) == "again"


def test_tool_without_its_scope_is_403_with_scope_and_resource_metadata(gateway, oidc_provider):
    out = mcp_client(gateway, oidc_provider, tool="delete_all", routing_headers=True)
    assert not out["ok"]
    denied = [t for t in to_mcp(out["trace"], gateway) if t["status"] == 403]
    assert denied, out
    params = params_of(denied[0])
    assert params["error"] == "insufficient_scope" and params["scope"] == "mcp:admin"
    assert params["resource_metadata"] == gateway.https + "/.well-known/oauth-protected-resource/mcp"
    # the SDK stepped up: it took the 403's resource_metadata and scope, ran discovery again and
    # got a new token, still without mcp:admin (the authorization server never grants it to this
    # client), met the same 403 and gave up: the tool never ran
    assert len(denied) == 2 and denied[1]["www_authenticate"] == denied[0]["www_authenticate"]
    assert len([t for t in out["trace"] if t.get("resource_requested") == gateway.resource]) == 2
    assert "403 after trying upscoping" in out["error"]


def test_routing_header_that_lies_about_the_tool_is_refused_by_the_mcp_server(gateway, oidc_provider):
    # Apache sees Mcp-Name: echo and lets it through; the server compares it with the body
    out = mcp_client(gateway, oidc_provider, tool="delete_all", routing_headers=True, lie_name="echo")
    assert not out["ok"]
    assert any(t["status"] == 400 for t in to_mcp(out["trace"], gateway))
    assert "deleted" not in json.dumps(out)


# ------------------------------------------------------------------ the gateway's own rules

@pytest.fixture(scope="module")
def mcp_token(gateway, oidc_provider):
    return oidc_provider.jwt_access_token(gateway.resource, scope="mcp:tools")


def test_origin_other_than_the_application_is_403(gateway, mcp_token):
    auth = {"Authorization": "Bearer " + mcp_token}
    assert gw_get(gateway, json=INIT, headers=dict(MCP_HEADERS, **auth)).status_code == 200
    assert gw_get(gateway, json=INIT, headers=dict(MCP_HEADERS, Origin=ORIGIN, **auth)).status_code == 200
    r = gw_get(gateway, json=INIT, headers=dict(MCP_HEADERS, Origin="https://evil.test", **auth))
    assert r.status_code == 403
    assert "WWW-Authenticate" not in r.headers  # not a token problem


def test_post_without_mcp_method_is_refused_where_per_tool_rules_are_on(gateway, mcp_token):
    headers = {k: v for k, v in MCP_HEADERS.items() if k != "Mcp-Method"}
    r = gw_get(gateway, json=INIT, headers=dict(headers, Authorization="Bearer " + mcp_token))
    assert r.status_code == 403


def test_token_in_the_query_string_is_never_taken(gateway, mcp_token):
    r = gw_get(gateway, "/mcp?access_token=" + mcp_token, json=INIT, headers=MCP_HEADERS)
    assert r.status_code == 401
    assert "error" not in challenge(r)[1]  # as if no token was sent


def test_metadata_of_the_mcp_resource(gateway, oidc_provider):
    r = gw_get(gateway, "/.well-known/oauth-protected-resource/mcp", method="GET")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.json() == {"resource": gateway.resource, "authorization_servers": [oidc_provider.issuer],
                        "scopes_supported": ["mcp:tools", "mcp:admin"], "bearer_methods_supported": ["header"],
                        # ClaimsDPoP On (the default): DPoP-bound tokens are taken, bearer ones too
                        "dpop_signing_alg_values_supported": ["RS256", "RS384", "RS512", "PS256", "PS384",
                                                              "PS512", "ES256", "ES384", "ES512", "Ed25519",
                                                              "Ed448", "EdDSA"],
                        "dpop_bound_access_tokens_required": False}
