// Every call to Sightline's HTTP API goes through here, so that each one
// carries the tenant chosen in the shell.

let tenant = '';

export function setTenant(t: string) {
  tenant = t;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function api<T = any>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (tenant) headers.set('X-Scope-OrgID', tenant);
  const resp = await fetch(path, { ...init, headers });
  const text = await resp.text();
  let body: any = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: an error written as text, or an empty 404
  }
  if (!resp.ok) {
    const msg = (body && (body.error || body.message)) || text.trim() || resp.statusText;
    throw new ApiError(`${resp.status}: ${msg}`, resp.status);
  }
  return body as T;
}

// qs builds a query string, leaving out empty values.
export function qs(params: Record<string, string | number | undefined>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') sp.set(k, String(v));
  return sp.toString();
}
