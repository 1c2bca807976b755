#!/usr/bin/env node
// The water department's subgraph (see water-schema.mjs), served with
// @apollo/subgraph + @apollo/server on loopback.
//
// Usage:
//   node water-subgraph.mjs [--port N] [--host H] [--hub-sdl FILE]
//
//   --port     port to listen on (default $PORT, else 0: any free port)
//   --host     address to listen on (default 127.0.0.1)
//   --exit-with-stdin  stop when stdin reaches end of file (test harness)
//   --hub-sdl  the hub's SDL: when it defines `type Property`, the subgraph
//              also extends Property (keyed like the hub's)
//
// Prints "READY <url>" on stdout once it answers; stops on SIGTERM/SIGINT.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";
import { hubHasProperty, waterResolvers, waterTypeDefs } from "./water-schema.mjs";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PORT ?? "0" },
    host: { type: "string", default: "127.0.0.1" },
    "exit-with-stdin": { type: "boolean", default: false },
    "hub-sdl": { type: "string" },
  },
  strict: true,
});

const hubSdl = opts["hub-sdl"] ? readFileSync(opts["hub-sdl"], "utf8") : "";
const withProperty = hubSdl !== "" && hubHasProperty(hubSdl);

const server = new ApolloServer({
  schema: buildSubgraphSchema({
    typeDefs: parse(waterTypeDefs({ withProperty, hubSdl })),
    resolvers: waterResolvers({ withProperty, hubSdl }),
  }),
  plugins: [ApolloServerPluginInlineTraceDisabled()],
});

const { url } = await startStandaloneServer(server, {
  listen: { port: Number(opts.port), host: opts.host },
});
process.stdout.write(`READY ${url}\n`);

const stop = () => server.stop().finally(() => process.exit(0));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, stop);
// A test harness keeps our stdin open; when it dies, stdin ends and we stop
// rather than linger as an orphan holding a port.
if (opts["exit-with-stdin"]) {
  process.stdin.on("end", stop).on("error", stop).resume();
}
