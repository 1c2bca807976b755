#!/usr/bin/env node
// A standard federation gateway (@apollo/gateway behind @apollo/server) over
// a composed supergraph (compose.mjs). It forwards the caller's credentials
// to the hub, so the hub's access rules (row scopes, masking, grants, audit)
// apply to every request that comes through the gateway.
//
// Usage:
//   node gateway.mjs --supergraph FILE [--port N] [--host H] [--forward-to hub]
//
//   --supergraph  supergraph SDL from compose.mjs (subgraph URLs inside)
//   --port        port to listen on (default $PORT, else 0: any free port)
//   --host        address to listen on (default 127.0.0.1)
//   --exit-with-stdin  stop when stdin reaches end of file (test harness)
//   --forward-to  comma-separated subgraph names that receive the caller's
//                 credential headers (default: hub). Other subgraphs never see
//                 the hub's tokens.
//
// Prints "READY <url>" on stdout once it answers; stops on SIGTERM/SIGINT.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

// The JS gateway reports anonymous usage metrics to Apollo unless told not
// to; a government data hub's gateway does not phone home.
process.env.APOLLO_TELEMETRY_DISABLED ??= "true";

const { ApolloGateway, RemoteGraphQLDataSource } = await import("@apollo/gateway");
const { ApolloServer } = await import("@apollo/server");
const { startStandaloneServer } = await import("@apollo/server/standalone");

const { values: opts } = parseArgs({
  options: {
    supergraph: { type: "string" },
    port: { type: "string", default: process.env.PORT ?? "0" },
    host: { type: "string", default: "127.0.0.1" },
    "exit-with-stdin": { type: "boolean", default: false },
    "forward-to": { type: "string", default: "hub" },
  },
  strict: true,
});
if (!opts.supergraph) {
  process.stderr.write("gateway: --supergraph is required\n");
  process.exit(2);
}

// The hub's credential headers (internal/auth) and its request id.
const FORWARDED = ["authorization", "x-api-key", "x-citizen-id", "x-request-id"];
const forwardTo = new Set(opts["forward-to"].split(",").map((s) => s.trim()).filter(Boolean));

class CredentialForwardingDataSource extends RemoteGraphQLDataSource {
  constructor(name, config) {
    super(config);
    this.forward = forwardTo.has(name);
  }

  willSendRequest({ request, context }) {
    if (!this.forward || !context?.headers) return;
    for (const h of FORWARDED) {
      // Every value as sent, so the hub still sees (and refuses) a repeated
      // credential header.
      for (const v of context.headers[h] ?? []) request.http.headers.append(h, v);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(opts.supergraph, "utf8"),
  buildService: ({ name, url }) => new CredentialForwardingDataSource(name, { url }),
});

const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(opts.port), host: opts.host },
  context: async ({ req }) => ({ headers: req.headersDistinct }),
});
process.stdout.write(`READY ${url}\n`);

const stop = () => server.stop().finally(() => process.exit(0));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, stop);
// A test harness keeps our stdin open; when it dies, stdin ends and we stop
// rather than linger as an orphan holding a port.
if (opts["exit-with-stdin"]) {
  process.stdin.on("end", stop).on("error", stop).resume();
}
