// Every call the console makes to weir's HTTP API. The credentials the user signed
// in with (an `Authorization` header value) live in sessionStorage: they last as
// long as the tab and are sent only to this origin.

const KEY = 'weir.authorization';

/** The API answered 401: the user must sign in (again). */
export class Unauthenticated extends Error {}

/** The API refused a request: `status`, the error `code` and its message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The stored `Authorization` value, or null. */
export function authorization() {
  return sessionStorage.getItem(KEY);
}

/** Stores Basic credentials for `user` and `password`. */
export function useBasic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  sessionStorage.setItem(KEY, `Basic ${btoa(binary)}`);
}

/** Stores a bearer token. */
export function useToken(token) {
  sessionStorage.setItem(KEY, `Bearer ${token.trim()}`);
}

/** Forgets the credentials. */
export function signOut() {
  sessionStorage.removeItem(KEY);
}

/**
 * `method` on `path` with an optional JSON `body`; resolves to the parsed JSON
 * answer, rejects with Unauthenticated (401) or ApiError (any other failure).
 */
export async function api(method, path, body) {
  // The marker header tells the server not to offer Basic in a 401's challenge, so
  // the browser keeps its own password dialog away from the console's form.
  const headers = { Accept: 'application/json', 'X-Weir-Console': '1' };
  const auth = authorization();
  if (auth) headers.Authorization = auth;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (res.status === 401) {
    throw new Unauthenticated(json?.error?.message ?? 'sign in to use the console');
  }
  if (!res.ok) {
    const message = json?.error?.message ?? json?.message ?? (text || res.statusText);
    throw new ApiError(res.status, json?.error?.code ?? String(res.status), message);
  }
  return json;
}

/** GET `path`. */
export const get = (path) => api('GET', path);

/** `/v1/...` with each segment escaped. */
export function v1(...segments) {
  return `/v1/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}
