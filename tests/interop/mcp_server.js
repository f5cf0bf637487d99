// mcp_server.js - a small MCP server built with the official TypeScript SDK
// (@modelcontextprotocol/sdk), Streamable HTTP transport, stateless, JSON answers, on 127.0.0.1.
// It stands for the MCP server that apache2 + mod_claims protect (tests/integration/test_mcp.py).
//
//   node mcp_server.js [PORT]      (0 or none: the system picks a free port)
//
// Prints one stdout line when listening: {"ready": true, "port": PORT}. SIGTERM stops it.
//
// Tools:
//   echo {text}     returns the text
//   whoami          returns what reached the server from the proxy: whether an Authorization
//                   header came through, and the X-Mcp-Subject / X-Mcp-Scope headers
//   delete_all      an "administrative" tool (the test's Apache rules ask for another scope)
//
// SEP-2243 (MCP 2026-07-28): when a request carries Mcp-Method / Mcp-Name headers, they must say
// what its JSON-RPC body says, or the request is refused with 400. A gateway that authorizes on
// those headers (Require expr in Apache) relies on the server doing exactly this check.
import * as http from 'node:http';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const port = Number(process.argv[2] ?? 0);

function buildServer() {
  const server = new McpServer({ name: 'mod-claims-test-mcp', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo the text', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('whoami', { description: 'What the proxy passed on' }, async (extra) => {
    const h = extra.requestInfo?.headers ?? {};
    const seen = {
      authorization: h.authorization ?? null,
      subject: h['x-mcp-subject'] ?? null,
      scope: h['x-mcp-scope'] ?? null,
    };
    return { content: [{ type: 'text', text: JSON.stringify(seen) }] };
  });
  server.registerTool('delete_all', { description: 'An administrative tool' },
    async () => ({ content: [{ type: 'text', text: 'deleted' }] }));
  return server;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// SEP-2243: the routing headers, when present, match the body (one JSON-RPC message).
function routingMismatch(req, body) {
  const method = req.headers['mcp-method'];
  const name = req.headers['mcp-name'];
  if (method === undefined && name === undefined) return null;
  if (Array.isArray(body) || typeof body !== 'object' || body === null) return 'batch or non-object body';
  if (method !== undefined && method !== body.method) return 'Mcp-Method does not match the body';
  const bodyName = body.params?.name ?? body.params?.uri ?? '';
  if (name !== undefined && name !== bodyName) return 'Mcp-Name does not match the body';
  return null;
}

const httpServer = http.createServer(async (req, res) => {
  try {
    if (!req.url.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST') {
      // stateless: no standalone SSE stream (GET) and no session to end (DELETE), as the SDK's
      // stateless examples answer
      res.writeHead(405, { allow: 'POST', 'content-type': 'application/json' })
        .end('{"jsonrpc":"2.0","error":{"code":-32000,"message":"Method not allowed."},"id":null}');
      return;
    }
    const text = await readBody(req);
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"not JSON"}');
      return;
    }
    const why = routingMismatch(req, parsed);
    if (why) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: why }));
      return;
    }
    // stateless: one server and transport per request
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, parsed);
  } catch (e) {
    process.stderr.write(`mcp_server: ${e.stack ?? e}\n`);
    if (!res.headersSent) res.writeHead(500).end();
  }
});

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: httpServer.address().port }) + '\n');
});
process.on('SIGTERM', () => httpServer.close(() => process.exit(0)));
