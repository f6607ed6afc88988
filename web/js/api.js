// api: the one way the console talks to the admin API. Adds the CSRF token to
// every write made with the session cookie (or the bearer token, held here in
// memory only, for servers without the console login), and turns JSON errors
// into ApiError messages that name the property when the server says which.

let csrf = null;
let bearer = null;
let unauthorizedHandler = null;
let inflight = 0;
const settledHandlers = new Set();
const ownRevisions = new Set();
let seenRevision = 0;

export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.property = this.details.property || null;
    this.retryAfter = retryAfter;
  }
}

export function setCsrf(token) { csrf = token || null; }
/** For servers without the console login: the token, kept in memory only. */
export function setBearer(token) { bearer = token || null; }
export function usingBearer() { return bearer !== null; }
/** F() runs when a request made while logged in is answered 401. */
export function onUnauthorized(f) { unauthorizedHandler = f; }
/** F() runs each time no write is in flight any more. */
export function onWritesSettled(f) { settledHandlers.add(f); }
export function writesInFlight() { return inflight; }
function noteRevision(rev) {
  if (Number.isInteger(rev) && rev > seenRevision) seenRevision = rev;
}

/** The newest configuration revision an answer has shown this console (0: none yet). */
export function lastSeenRevision() { return seenRevision; }
/** True when revision N was made by a write of this console. */
export function isOwnRevision(n) { return ownRevisions.has(n); }

/** The API URL of a metabase key: "/www/sites/a b" → "/api/v1/config/www/sites/a%20b". */
export function configPath(key) {
  const parts = key.split('/').filter((x) => x !== '');
  return `/api/v1/config/${parts.map(encodeURIComponent).join('/')}`;
}

function messageOf(status, err) {
  let msg = (err && err.message) || `the server answered HTTP ${status}`;
  const prop = err && err.details && err.details.property;
  if (prop && !msg.includes(prop)) msg = `${prop}: ${msg}`;
  return msg;
}

/**
 * METHOD PATH with an optional JSON body; resolves to {status, data, etag},
 * rejects with ApiError. opts: body, ifMatch (a revision), headers, quiet401
 * (a 401 is expected: do not treat it as the end of the session).
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const write = method !== 'GET' && method !== 'HEAD';
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (write && csrf) headers['X-CSRF-Token'] = csrf;
  if (bearer && !headers.Authorization) headers.Authorization = `Bearer ${bearer}`;
  if (opts.ifMatch !== undefined && opts.ifMatch !== null) headers['If-Match'] = `"${opts.ifMatch}"`;
  if (write) inflight += 1;
  try {
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach the server (${e.message})`);
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const ra = resp.headers.get('Retry-After');
      const e = new ApiError(resp.status, err.code || `http_${resp.status}`, messageOf(resp.status, err),
        err.details, ra !== null ? Number(ra) : null);
      if (resp.status === 401 && !opts.quiet401 && unauthorizedHandler) unauthorizedHandler(e);
      throw e;
    }
    if (write && data && typeof data.revision === 'number') ownRevisions.add(data.revision);
    let etag = resp.headers.get('ETag');
    etag = etag ? etag.replace(/^W\//, '').replace(/"/g, '') : null;
    noteRevision(write && data && typeof data.revision === 'number' ? data.revision : Number(etag));
    if (!write && data && Array.isArray(data.revisions) && data.revisions.length) noteRevision(data.revisions[0].revision);
    return { status: resp.status, data, etag };
  } finally {
    if (write) {
      inflight -= 1;
      if (inflight === 0) for (const f of settledHandlers) f();
    }
  }
}

export const get = (path, opts) => api('GET', path, opts).then((r) => r.data);
