// Apollo Client's persisted-query link (APQ) against the hub, as a front-end
// would use it: the first run of a query sends its hash only, the hub
// answers PersistedQueryNotFound and the link retries with the text; the
// next run of the same query sends the hash alone.
//
//   node apq.mjs --url http://127.0.0.1:PORT/query
//
// Prints one JSON line with what was sent and received.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const { values: args } = parseArgs({ options: { url: { type: 'string' } } });
const sent = [];
const recordingFetch = async (url, init) => {
  const body = init && init.body ? JSON.parse(init.body) : {};
  sent.push({ method: (init && init.method) || 'GET', hasQuery: typeof body.query === 'string', hasHash: !!body.extensions?.persistedQuery });
  return fetch(url, init);
};
const sha256 = (q) => createHash('sha256').update(q).digest('hex');
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: args.url, fetch: recordingFetch })),
});
const query = gql`query ApqClasses { caseClasses(kind: EVENT) { minorCode emergency } }`;
const result = { ok: false };
try {
  const first = await client.query({ query, fetchPolicy: 'network-only' });
  result.firstRequests = sent.splice(0);
  const second = await client.query({ query, fetchPolicy: 'network-only' });
  result.secondRequests = sent.splice(0);
  result.classes = second.data.caseClasses.length;
  result.ok = first.data.caseClasses.length > 0 && result.classes === first.data.caseClasses.length;
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
}
process.stdout.write(JSON.stringify(result) + '\n');
