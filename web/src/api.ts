// Calls to the dashboard app. Same origin, the session cookie goes along by itself.
import type { DashboardHub, Deleted, InstallAnswer, NodeAndHistory, NodeAndInstall, NodeAnswer, RegisterBody, SessionState } from './types.js';

/** A refused request: the server's {error, message, field?}, or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'the hub did not answer (is wgvm serve running?)');
  }
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => null)) as (T & { error?: string; message?: string; field?: string }) | null;
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/session') window.dispatchEvent(new Event('wgvm:signed-out'));
    throw new ApiError(res.status, data?.error ?? 'http', data?.message ?? `the hub answered ${res.status}`, data?.field);
  }
  return data as T;
}

export const api = {
  session: () => call<SessionState>('GET', '/api/session'),
  signIn: (secret: string) => call<void>('POST', '/api/session', { secret }),
  signOut: () => call<void>('DELETE', '/api/session'),
  hub: () => call<DashboardHub>('GET', '/api/hub'),
  register: (input: RegisterBody) => call<NodeAndInstall>('POST', '/api/nodes', input),
  node: (id: string) => call<NodeAndHistory>('GET', `/api/nodes/${encodeURIComponent(id)}`),
  remove: (id: string) => call<Deleted>('DELETE', `/api/nodes/${encodeURIComponent(id)}`),
  setEnabled: (id: string, on: boolean) => call<NodeAnswer>('POST', `/api/nodes/${encodeURIComponent(id)}/${on ? 'enable' : 'disable'}`),
  rotateKeys: (id: string) => call<NodeAndInstall>('POST', `/api/nodes/${encodeURIComponent(id)}/rotate-keys`),
  update: (id: string, body: { isolated?: boolean; direct_paths?: boolean }) => call<NodeAnswer>('PATCH', `/api/nodes/${encodeURIComponent(id)}`, body),
  revokeAgent: (id: string) => call<NodeAnswer>('DELETE', `/api/nodes/${encodeURIComponent(id)}/agent`),
  installLink: (id: string) => call<InstallAnswer>('POST', `/api/nodes/${encodeURIComponent(id)}/install-link`),
};
