// events: live updates. With capability `events` (and the session cookie) an
// EventSource on /api/v1/events; otherwise GET /api/v1/stats every 2 s, and
// the newest revision every 2 s to notice commits. Either way the handler gets
// (type, data) for 'hello', 'commit', 'state', 'stats', 'reset', 'lost'.

import { api } from './api.js';

let source = null;
let timer = null;
let lastRevision = null;

/** Start delivering events to HANDLER; useStream false means polling. */
export function startEvents(handler, { useStream, pollRevisions }) {
  stopEvents();
  if (useStream) startStream(handler);
  else startPolling(handler, pollRevisions);
  return useStream ? 'stream' : 'polling';
}

export function stopEvents() {
  if (source) { source.close(); source = null; }
  if (timer) { clearInterval(timer); timer = null; }
  lastRevision = null;
}

function startStream(handler) {
  const es = new EventSource('/api/v1/events');
  source = es;
  for (const type of ['hello', 'commit', 'state', 'stats', 'reset']) {
    es.addEventListener(type, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      handler(type, data);
    });
  }
  es.addEventListener('error', () => {
    // EventSource reconnects by itself (sending Last-Event-ID); CLOSED means
    // it gave up (the session ended, or the server refused the stream).
    if (source === es && es.readyState === EventSource.CLOSED) {
      source = null;
      handler('lost', null);
    }
  });
}

function startPolling(handler, pollRevisions) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const s = await api('GET', '/api/v1/stats');
      handler('stats', { time: Date.now() / 1000, stats: s.data.stats || [] });
      if (pollRevisions) await pollRevision(handler);
    } catch (e) {
      if (e.status === 401) handler('lost', null);
    } finally {
      busy = false;
    }
  };
  timer = setInterval(tick, 2000);
  tick();
}

async function pollRevision(handler) {
  const r = await api('GET', '/api/v1/revisions?limit=1');
  const newest = (r.data.revisions || [])[0];
  if (!newest) return;
  if (lastRevision !== null && newest.revision > lastRevision) handler('commit', newest);
  lastRevision = newest.revision;
}
