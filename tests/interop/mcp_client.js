// mcp_client.js - the official MCP TypeScript SDK's client (@modelcontextprotocol/sdk) with its
// OAuth support, as an MCP host would run it (tests/integration/test_mcp.py).
//
//   node mcp_client.js REQUEST.json      (or the request on stdin)
//
// The request (JSON):
//   url            the MCP server's URL (the only thing the client is told about the server)
//   client_id, client_secret, issuer
//                  a client pre-registered at the authorization server (client_credentials,
//                  client_secret_basic: the SDK's ClientCredentialsProvider). issuer is the
//                  authorization server the credentials belong to (the SDK refuses to send them
//                  to any other the resource names)
//   scope          scope the client asks for when nothing else says (optional)
//   auth           false: no OAuth provider, only the token below (default true)
//   token          a token to start with (e.g. one issued for another resource)
//   tool, arguments   the tool to call after initialize (default: tools/list only)
//   routing_headers   true: send SEP-2243 Mcp-Method / Mcp-Name headers on each POST
//   lie_name       with routing_headers: an Mcp-Name that is not the body's (to show the server
//                  refuses such a request)
//
// It prints one JSON line: {"ok": bool, "tools": [...], "result": ..., "error": "...",
// "trace": [{"method", "url", "status", "www_authenticate", "content_type", "scope_requested",
//           "resource_requested", "body"}]} where trace lists every HTTP exchange the SDK made (the
// token endpoint's requests show the resource and scope asked for; problem+json bodies and the
// metadata document are kept). The CA of the servers comes from NODE_EXTRA_CA_CERTS.
import * as fs from 'node:fs';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const input = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : fs.readFileSync(0, 'utf8');
const req = JSON.parse(input);
const trace = [];

function routed(init) {
  if (!req.routing_headers || !init || typeof init.body !== 'string') return init;
  let msg;
  try {
    msg = JSON.parse(init.body);
  } catch {
    return init;
  }
  const headers = new Headers(init.headers);
  if (msg && !Array.isArray(msg) && msg.method) {
    headers.set('Mcp-Method', msg.method);
    const name = msg.params?.name ?? msg.params?.uri;
    if (name !== undefined) headers.set('Mcp-Name', req.lie_name ?? String(name));
  }
  return { ...init, headers };
}

// Every exchange, as the SDK makes it.
async function tracingFetch(url, init) {
  const sent = routed(init);
  const entry = { method: sent?.method ?? 'GET', url: String(url) };
  if (sent?.body instanceof URLSearchParams || typeof sent?.body === 'string') {
    const form = new URLSearchParams(String(sent.body));
    if (form.has('grant_type')) {
      entry.resource_requested = form.get('resource');
      entry.scope_requested = form.get('scope');
    }
  }
  let res;
  try {
    res = await fetch(url, sent);
  } catch (e) {
    entry.failed = String(e?.cause?.message ?? e?.message ?? e);
    trace.push(entry);
    throw e;
  }
  entry.status = res.status;
  entry.www_authenticate = res.headers.get('www-authenticate');
  entry.content_type = res.headers.get('content-type');
  const ct = entry.content_type ?? '';
  if (ct.startsWith('application/problem+json') || String(url).includes('/.well-known/oauth-protected-resource')) {
    entry.body = await res.clone().text();
  }
  trace.push(entry);
  return res;
}

async function main() {
  const out = { ok: false, trace };
  const opts = { fetch: tracingFetch };
  if (req.auth !== false) {
    const provider = new ClientCredentialsProvider({
      clientId: req.client_id, clientSecret: req.client_secret, expectedIssuer: req.issuer, scope: req.scope,
    });
    if (req.token) provider.saveTokens({ access_token: req.token, token_type: 'Bearer' });
    opts.authProvider = provider;
  } else if (req.token) {
    opts.requestInit = { headers: { Authorization: `Bearer ${req.token}` } };
  }
  const client = new Client({ name: 'mod-claims-test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(req.url), opts);
  try {
    await client.connect(transport);
    out.tools = (await client.listTools()).tools.map((t) => t.name);
    if (req.tool) out.result = await client.callTool({ name: req.tool, arguments: req.arguments ?? {} });
    out.ok = true;
  } catch (e) {
    out.error = String(e?.message ?? e) + (e?.cause ? ` (${e.cause.message ?? e.cause})` : '');
    if (e?.code !== undefined) out.code = e.code;
  } finally {
    await client.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e?.stack ?? e), trace }) + '\n');
  process.exit(1);
});
