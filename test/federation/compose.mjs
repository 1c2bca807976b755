#!/usr/bin/env node
// Composes the hub's subgraph SDL with the water department's subgraph using
// the standard Federation v2 composition library (@apollo/composition), and
// prints the supergraph SDL, or the composition errors (exit 1).
//
// Usage:
//   node compose.mjs --hub-sdl FILE|- --hub-url URL --water-url URL
//                    [--water-sdl FILE] [--out FILE] [--hints]
//
//   --hub-sdl    the hub's SDL as served at { _service { sdl } }
//                (`datahub schema print`); - reads stdin
//   --hub-url    where the gateway reaches the hub, e.g. http://127.0.0.1:8080/query
//   --water-url  where the gateway reaches the water subgraph
//   --water-sdl  use this SDL for the water subgraph instead of the built-in
//                one (which extends Property when the hub SDL has it)
//   --out        write the supergraph SDL here instead of stdout
//   --hints      also print composition hints on stderr
//
// Subgraph names in the supergraph: "hub" and "water".

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { hubHasProperty, waterTypeDefs } from "./water-schema.mjs";

function fail(msg) {
  process.stderr.write(`compose: ${msg}\n`);
  process.exit(2);
}

const { values: opts } = parseArgs({
  options: {
    "hub-sdl": { type: "string" },
    "hub-url": { type: "string" },
    "water-url": { type: "string" },
    "water-sdl": { type: "string" },
    out: { type: "string" },
    hints: { type: "boolean", default: false },
  },
  strict: true,
});
for (const k of ["hub-sdl", "hub-url", "water-url"]) {
  if (!opts[k]) fail(`--${k} is required`);
}

const hubSdl = readFileSync(opts["hub-sdl"] === "-" ? 0 : opts["hub-sdl"], "utf8");
const withProperty = hubHasProperty(hubSdl);
const waterSdl = opts["water-sdl"]
  ? readFileSync(opts["water-sdl"], "utf8")
  : waterTypeDefs({ withProperty, hubSdl });

const services = [];
for (const [name, url, sdl] of [
  ["hub", opts["hub-url"], hubSdl],
  ["water", opts["water-url"], waterSdl],
]) {
  try {
    services.push({ name, url, typeDefs: parse(sdl) });
  } catch (e) {
    process.stderr.write(`compose: subgraph "${name}": SDL does not parse: ${e.message}\n`);
    process.exit(1);
  }
}

const result = composeServices(services);
if (opts.hints) {
  for (const hint of result.hints ?? []) {
    process.stderr.write(`hint [${hint.definition.code}]: ${hint.message}\n`);
  }
}
if (result.errors?.length) {
  process.stderr.write(`composition failed with ${result.errors.length} error(s):\n`);
  for (const e of result.errors) {
    const code = e.extensions?.code ? `[${e.extensions.code}] ` : "";
    process.stderr.write(`  ${code}${e.message}\n`);
  }
  process.exit(1);
}

process.stderr.write(
  `composed subgraphs hub + water${withProperty ? " (with the Property extension)" : ""}\n`,
);
if (opts.out) {
  writeFileSync(opts.out, result.supergraphSdl);
} else {
  process.stdout.write(result.supergraphSdl);
}
