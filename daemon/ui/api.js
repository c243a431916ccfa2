// The /v1 API, with the token kept in this tab's session storage (never in a URL or a cookie).
const KEY = 'digestgate.token';

export const session = {
  token: () => sessionStorage.getItem(KEY),
  set: (token) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// Called on a 401: the token is no longer accepted.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// One request. Resolves to {status, json, text} for every HTTP answer; rejects on a network
// failure. `path` is relative to /v1/.
export async function request(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${session.token() ?? ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (res.status === 401) onUnauthorized();
  return { status: res.status, json, text };
}

// A read that must succeed: the parsed body, or an ApiError.
export async function get(path) {
  const r = await request(path);
  if (r.status !== 200) {
    throw new ApiError(r.status, r.json?.error ?? `http-${r.status}`, r.json?.message ?? r.text, r.json);
  }
  return r.json;
}

// A read whose raw text matters (proofs re-serialize entries from it).
export async function getText(path) {
  const r = await request(path);
  if (r.status !== 200) {
    throw new ApiError(r.status, r.json?.error ?? `http-${r.status}`, r.json?.message ?? r.text, r.json);
  }
  return r.text;
}

export const enc = encodeURIComponent;
