// statsstore: the last five minutes of statistics, fed by `stats` events (or
// polling) from login on, so the charts have history whichever view is open.
// Per service and per site: requests/s and bytes/s (deltas of total_requests
// and bytes_sent over the time between two samples) and current_connections.

export const WINDOW = 300;

const series = new Map();   // 'www' or 'www/default' → {label, points: [{t, req, bytes, conns}]}
const prev = new Map();     // same keys → {t, req, bytes}
let latest = [];            // the last stats array, for the table
const listeners = new Set();

export function scopeKey(s) {
  return s.site === null || s.site === undefined ? s.service : `${s.service}/${s.site}`;
}

/** One sample: {time: EPOCH_SECONDS, stats: [{service, site, counters}]}. */
export function feed(ev) {
  if (!ev || !Array.isArray(ev.stats)) return;
  const t = typeof ev.time === 'number' ? ev.time : Date.now() / 1000;
  latest = ev.stats;
  for (const s of ev.stats) addSample(scopeKey(s), t, s.counters || {});
  for (const [key, sr] of series) {
    while (sr.points.length && sr.points[0].t < t - WINDOW) sr.points.shift();
    if (!sr.points.length && !prev.has(key)) series.delete(key);
  }
  for (const f of listeners) f(ev);
}

function addSample(key, t, c) {
  const req = Number(c.total_requests) || 0;
  const bytes = Number(c.bytes_sent) || 0;
  const p = prev.get(key);
  prev.set(key, { t, req, bytes });
  if (!p || t <= p.t) return;
  const dt = t - p.t;
  // A clear restarts the counters: count from zero rather than a negative rate.
  const dReq = req >= p.req ? req - p.req : req;
  const dBytes = bytes >= p.bytes ? bytes - p.bytes : bytes;
  let sr = series.get(key);
  if (!sr) { sr = { points: [] }; series.set(key, sr); }
  sr.points.push({ t, req: dReq / dt, bytes: dBytes / dt, conns: Number(c.current_connections) || 0 });
}

export function latestStats() { return latest; }

/** The series of the services' own totals (site null). */
export function serviceSeries() {
  return Array.from(series.entries()).filter(([k]) => !k.includes('/'));
}

export function subscribe(f) { listeners.add(f); return () => listeners.delete(f); }

export function resetStore() {
  series.clear();
  prev.clear();
  latest = [];
}
