// The "water department" subgraph used by the federation test: what another
// department's own service looks like when it joins the hub's supergraph.
// It owns FloodPoint and adds fields to the hub's entities (Jurisdiction,
// Case and, once the hub serves it, Property), resolving them from the key
// alone, deterministically, so the test can assert exact values.
//
// Shared by compose.mjs (composition) and water-subgraph.mjs (serving).

import { createHash } from "node:crypto";
import { Kind, parse, print } from "graphql";

// Federation version the foreign subgraph links; the hub links its own.
const FEDERATION_LINK = "https://specs.apollo.dev/federation/v2.7";

const BASE_SDL = `
extend schema
  @link(url: "${FEDERATION_LINK}", import: ["@key", "@shareable"])

"A spot that floods in heavy rain, from the water department's register."
type FloodPoint {
  id: ID!
  name: String!
  "Deepest water recorded there, in centimetres."
  maxDepthCm: Int!
}

# The water department adds its flood points to the hub's jurisdictions.
# (No type descriptions on shared entities: the hub's win in composition.)
type Jurisdiction @key(fields: "code") {
  code: String!
  floodPoints: [FloodPoint!]!
}

# The water department rates the flood risk around the hub's cases.
type Case @key(fields: "id") {
  id: ID!
  nearbyFloodRisk: String
}

# The water department pages its register the Relay way, with the standard
# PageInfo: the hub's must compose beside it.
"Relay page information."
type PageInfo @shareable {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

"A page of flood points (Relay connection)."
type FloodPointConnection {
  edges: [FloodPointEdge!]!
  pageInfo: PageInfo!
}

"One flood point of a page."
type FloodPointEdge {
  cursor: String!
  node: FloodPoint!
}

type Query {
  "Flood points of one jurisdiction (the water department's own root field)."
  floodPoints(jurisdiction: String!): [FloodPoint!]!
  "The same flood points, a page at a time."
  floodPointPage(jurisdiction: String!, first: Int, after: String): FloodPointConnection!
}
`;

// ---------------------------------------------------------------------------
// Property: added automatically when the hub's SDL defines `type Property`
// (another engineer adds it to schema/). The key is read from the hub so the
// extension matches whatever @key the hub declares; by default it is
//
//   type Property @key(fields: "id") { id: ID! floodRisk: String }
// ---------------------------------------------------------------------------

/** Whether the hub SDL defines (or extends) an object type Property. */
export function hubHasProperty(hubSdl) {
  return propertyDefinitions(parse(hubSdl)).length > 0;
}

function propertyDefinitions(doc) {
  return doc.definitions.filter(
    (d) =>
      (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) &&
      d.name.value === "Property",
  );
}

/**
 * The key of the hub's Property: the first @key(fields: "<one field>") and
 * that field's type, e.g. { field: "id", type: "ID!" }.
 */
export function propertyKey(hubSdl) {
  const defs = propertyDefinitions(parse(hubSdl));
  for (const def of defs) {
    for (const dir of def.directives ?? []) {
      if (dir.name.value !== "key") continue;
      const arg = dir.arguments?.find((a) => a.name.value === "fields");
      const fields = arg?.value.kind === Kind.STRING ? arg.value.value.trim() : "";
      if (!/^[_A-Za-z][_0-9A-Za-z]*$/.test(fields)) continue; // compound keys: not handled here
      for (const d of defs) {
        const f = d.fields?.find((x) => x.name.value === fields);
        if (f) return { field: fields, type: print(f.type) };
      }
    }
  }
  return { field: "id", type: "ID!" };
}

function propertySdl(key) {
  return `
# The water department rates the flood risk of the hub's properties.
type Property @key(fields: "${key.field}") {
  ${key.field}: ${key.type}
  floodRisk: String
}
`;
}

/**
 * The water subgraph's SDL. With withProperty it also extends Property,
 * keyed like the hub's (pass the hub SDL as hubSdl to read the key).
 */
export function waterTypeDefs({ withProperty = false, hubSdl = "" } = {}) {
  let sdl = BASE_SDL;
  if (withProperty) {
    sdl += propertySdl(hubSdl ? propertyKey(hubSdl) : { field: "id", type: "ID!" });
  }
  return sdl;
}

// ---------------------------------------------------------------------------
// Deterministic data: everything follows from a hash of the entity's key, so
// the Go test can recompute the expected values.
// ---------------------------------------------------------------------------

function h(s) {
  return createHash("sha256").update(String(s)).digest().readUInt32BE(0);
}

const RISKS = ["LOW", "MEDIUM", "HIGH"];

/** Risk for a key: LOW, MEDIUM or HIGH (sha256(prefix+key)[0:4] mod 3). */
export function riskOf(prefix, key) {
  return RISKS[h(prefix + key) % 3];
}

/** Flood points of a jurisdiction: 1 to 3, named "<code> flood point <n>". */
export function floodPointsOf(code) {
  const n = 1 + (h("jurisdiction:" + code) % 3);
  return Array.from({ length: n }, (_, i) => ({
    id: `${code}#fp${i + 1}`,
    name: `${code} flood point ${i + 1}`,
    maxDepthCm: 10 + (h(`${code}#fp${i + 1}`) % 50),
  }));
}

/** A forward Relay page of list: cursors are the items' ids. */
export function pageOf(list, first, after) {
  const start = after ? list.findIndex((p) => p.id === after) + 1 : 0;
  const end = first == null ? list.length : Math.min(list.length, start + first);
  const edges = list.slice(start, end).map((node) => ({ cursor: node.id, node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: end < list.length,
      hasPreviousPage: start > 0,
      startCursor: edges.length ? edges[0].cursor : null,
      endCursor: edges.length ? edges[edges.length - 1].cursor : null,
    },
  };
}

export function waterResolvers({ withProperty = false, hubSdl = "" } = {}) {
  const resolvers = {
    Query: {
      floodPoints: (_, { jurisdiction }) => floodPointsOf(jurisdiction),
      floodPointPage: (_, { jurisdiction, first, after }) => pageOf(floodPointsOf(jurisdiction), first, after),
    },
    Jurisdiction: {
      __resolveReference: (ref) => ({ code: ref.code }),
      floodPoints: (j) => floodPointsOf(j.code),
    },
    Case: {
      __resolveReference: (ref) => ({ id: ref.id }),
      nearbyFloodRisk: (c) => riskOf("case:", c.id),
    },
  };
  if (withProperty) {
    const { field } = hubSdl ? propertyKey(hubSdl) : { field: "id" };
    resolvers.Property = {
      __resolveReference: (ref) => ({ [field]: ref[field] }),
      floodRisk: (p) => riskOf("property:", p[field]),
    };
  }
  return resolvers;
}
