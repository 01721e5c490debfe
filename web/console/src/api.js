// The console's only way to the server: the public HTTP API, with the
// credential the user entered once, kept in sessionStorage (so it ends with
// the browser tab's session and never lands in localStorage or a cookie).

const KEY = 'akosha.token';

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ''; },
  set(token) { sessionStorage.setItem(KEY, token); },
  clear() { sessionStorage.removeItem(KEY); },
};

// ApiError is an answer other than 2xx, with the API's error code and message
// ({"error": {"code", "message"}}), shown to the user as the server wrote it.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// request sends one call; body (an object) goes as JSON. opts.accept asks for
// another format and opts.raw returns the Response instead of parsed JSON.
export async function request(method, path, body, opts = {}) {
  const headers = {};
  const token = opts.token ?? session.token;
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.accept) headers.Accept = opts.accept;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'the server did not answer: ' + e.message);
  }
  if (!r.ok) {
    let code = 'http_' + r.status, message = r.statusText || 'request failed';
    try {
      const j = await r.json();
      if (j && j.error) { code = j.error.code; message = j.error.message; }
    } catch { /* not the error body: keep the status */ }
    if (r.status === 401 && !opts.token) onUnauthorized();
    throw new ApiError(r.status, code, message);
  }
  return opts.raw ? r : r.json();
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);

// sql runs one statement through POST /v1/sql.
export const sql = (statement, limit, opts) => post('/v1/sql', { sql: statement, limit }, opts);

// lit makes a SQL string literal: a quote is doubled, nothing else is special
// in DuckDB's standard strings. Every value a user types reaches SQL this way.
export const lit = (s) => "'" + String(s).replace(/'/g, "''") + "'";
