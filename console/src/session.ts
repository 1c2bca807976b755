// Credentials live in sessionStorage only (gone with the tab), never in
// URLs or localStorage.
export interface Credential {
  kind: 'token' | 'apikey';
  secret: string;
}

const KEY = 'datahub.console.credential';

export function load(): Credential | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const c = JSON.parse(raw) as Credential;
    return c && (c.kind === 'token' || c.kind === 'apikey') && typeof c.secret === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function save(c: Credential): void {
  sessionStorage.setItem(KEY, JSON.stringify(c));
}

export function clear(): void {
  sessionStorage.removeItem(KEY);
}

export function headers(c: Credential | null): Record<string, string> {
  if (!c) return {};
  return c.kind === 'token' ? { Authorization: `Bearer ${c.secret}` } : { 'X-API-Key': c.secret };
}

// connectionParams for graphql-ws connection_init.
export function initPayload(c: Credential | null): Record<string, string> {
  if (!c) return {};
  return c.kind === 'token' ? { Authorization: `Bearer ${c.secret}` } : { apiKey: c.secret };
}

// tokenExpiry reads a JWT's exp (no verification: the hub verifies).
export function tokenExpiry(c: Credential | null): Date | null {
  if (!c || c.kind !== 'token') return null;
  try {
    const part = c.secret.split('.')[1];
    const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof json.exp === 'number' ? new Date(json.exp * 1000) : null;
  } catch {
    return null;
  }
}
