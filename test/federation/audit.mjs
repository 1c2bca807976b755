// The GraphQL over HTTP audit of graphql-http (the reference implementation
// of the spec, pinned in package.json) against the hub's endpoint.
//
//   node audit.mjs --url http://127.0.0.1:PORT/query
//
// Prints one JSON line: every audit that was not "ok", and the count run.
import { parseArgs } from 'node:util';
import { auditServer } from 'graphql-http';

const { values: args } = parseArgs({ options: { url: { type: 'string' } } });
const results = await auditServer({ url: args.url });
const failed = results.filter((r) => r.status !== 'ok').map((r) => ({ id: r.id, status: r.status, name: r.name, reason: r.reason }));
process.stdout.write(JSON.stringify({ audits: results.length, failed }) + '\n');
