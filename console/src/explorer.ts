// The API explorer served at the hub's root: GraphiQL bundled from npm into
// the embedded build, so it works with no network beyond the hub itself
// (no CDN). Queries and subscriptions go to the hub's own /query; a token
// goes in the Headers tab as {"Authorization": "Bearer …"}.
import 'graphiql/graphiql.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';

const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const fetcher = createGraphiQLFetcher({
  url: `${location.origin}/query`,
  subscriptionUrl: `${wsScheme}//${location.host}/query`,
});

const defaultQuery = `# Fengcheng Data Hub. Put a token in Headers: {"Authorization": "Bearer …"}
# Anonymous callers see the public datasets, such as the case classes:
{
  caseClasses(kind: EVENT) {
    minorCode
    minorName
    minorNameEn
    emergency
  }
}
`;

const root = document.getElementById('graphiql');
if (root) {
  root.textContent = '';
  createRoot(root).render(createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: true }));
}
