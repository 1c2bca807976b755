// The console's only way to the hub: its GraphQL API at /query (HTTP for
// queries and mutations, graphql-transport-ws for subscriptions), with the
// signed-in user's credentials.
import { Client, fetchExchange, subscriptionExchange, type AnyVariables, type TypedDocumentNode } from '@urql/core';
import { createClient as createWS, type Client as WSClient } from 'graphql-ws';
import * as session from './session';

export class ApiError extends Error {
  constructor(message: string, readonly code: string, readonly field?: string) {
    super(message);
  }
}

let client: Client | null = null;
let ws: WSClient | null = null;

function wsURL(): string {
  const u = new URL('/query', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

export function reset(): void {
  ws?.dispose();
  ws = null;
  client = null;
}

function get(): Client {
  if (client) return client;
  const cred = session.load();
  ws = createWS({ url: wsURL(), connectionParams: () => session.initPayload(session.load()), lazy: true, retryAttempts: 3 });
  const sock = ws;
  client = new Client({
    url: '/query',
    requestPolicy: 'network-only',
    preferGetMethod: false,
    fetchOptions: () => ({ headers: session.headers(cred), credentials: 'omit' as RequestCredentials }),
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = sock.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return client;
}

function toError(err: { graphQLErrors: { message: string; extensions?: Record<string, unknown> }[]; networkError?: Error; message: string }): ApiError {
  const g = err.graphQLErrors[0];
  if (g) {
    const code = String(g.extensions?.code ?? 'INTERNAL');
    return new ApiError(g.message, code, g.extensions?.field as string | undefined);
  }
  return new ApiError(err.networkError?.message ?? err.message, 'NETWORK');
}

export async function query<D, V extends AnyVariables>(doc: TypedDocumentNode<D, V>, vars: V): Promise<D> {
  const r = await get().query(doc, vars).toPromise();
  if (r.error && !r.data) throw toError(r.error);
  if (r.error && r.error.graphQLErrors.some((e) => e.extensions?.code !== 'FORBIDDEN')) throw toError(r.error);
  return r.data as D;
}

export async function mutate<D, V extends AnyVariables>(doc: TypedDocumentNode<D, V>, vars: V): Promise<D> {
  const r = await get().mutation(doc, vars).toPromise();
  if (r.error) throw toError(r.error);
  return r.data as D;
}

// subscribe calls next on every event until the returned stop is called.
export function subscribe<D, V extends AnyVariables>(doc: TypedDocumentNode<D, V>, vars: V, next: (d: D) => void): () => void {
  const sub = get().subscription(doc, vars).subscribe((r) => {
    if (r.data) next(r.data as D);
  });
  return () => sub.unsubscribe();
}
