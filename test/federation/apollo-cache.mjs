// Apollo Client set up as the README's "Using the hub from a front-end"
// shows it (persisted-query link, Authorization header, keyFields for the
// types without id, relayStylePagination on the lists), used the way a
// front-end pages a list and refetches one record:
//
//   node apollo-cache.mjs --url http://127.0.0.1:PORT/query --token T
//
// Prints one JSON line with what the cache holds after each step.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';

const { values: args } = parseArgs({ options: { url: { type: 'string' }, token: { type: 'string' } } });
const sha256 = (q) => createHash('sha256').update(q).digest('hex');

const client = new ApolloClient({
  link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({
    uri: args.url,
    headers: { authorization: `Bearer ${args.token}` },
  })),
  cache: new InMemoryCache({
    typePolicies: {
      CaseClass: { keyFields: ['kind', 'minorCode'] },
      CatalogDataset: { keyFields: ['name'] },
      AuditRecord: { keyFields: ['seq'] },
      Query: { fields: {
        cases: relayStylePagination(['filter', 'orderBy']),
        violations: relayStylePagination(['filter', 'orderBy']),
      } },
    },
  }),
});

const CASES = gql`query CachePages($after: String) {
  cases(first: 2, after: $after) {
    edges { cursor node { id caseNo status } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const NODE = gql`query CacheNode($id: ID!) { node(id: $id) { id ... on Case { caseNo status } } }`;
const CLASSES = gql`query CacheClasses { caseClasses(kind: EVENT) { kind minorCode emergency } }`;

const result = { ok: false };
try {
  const first = await client.query({ query: CASES });
  const end = first.data.cases.pageInfo.endCursor;
  // The next page from the network (what fetchMore does), merged on write.
  await client.query({ query: CASES, variables: { after: end }, fetchPolicy: 'network-only' });
  // relayStylePagination merges the second page into the first list.
  const merged = client.readQuery({ query: CASES });
  result.firstIds = first.data.cases.edges.map((e) => e.node.id);
  result.mergedIds = merged.cases.edges.map((e) => e.node.id);
  result.mergedHasNext = merged.cases.pageInfo.hasNextPage;
  // node(id:) lands on the same normalised Case.
  const id = result.mergedIds[0];
  const node = await client.query({ query: NODE, variables: { id } });
  result.nodeId = node.data.node && node.data.node.id;
  result.cacheKey = client.cache.identify({ __typename: 'Case', id });
  result.normalised = !!client.cache.extract()[result.cacheKey];
  // A type without id, under its keyFields.
  const classes = await client.query({ query: CLASSES });
  const c = classes.data.caseClasses[0];
  result.classKey = client.cache.identify({ __typename: 'CaseClass', kind: c.kind, minorCode: c.minorCode });
  result.ok = true;
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
}
process.stdout.write(JSON.stringify(result) + '\n');
