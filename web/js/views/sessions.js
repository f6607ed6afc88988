// sessions: every connection of every service (GET /api/v1/sessions), refreshed
// every 2 s in place (rows keyed by id), with (operator, admin) Disconnect per
// row and Disconnect all per service.

import { api, get } from '../api.js';
import { ctx, has, canOperate, cannot } from '../state.js';
import { h, clear, announce, notice, uid, writeButton, confirmDialog, fmtBytes, timeEl } from '../dom.js';

const REFRESH_MS = 2000;

function canDisconnect() {
  return has('sessions.disconnect') && canOperate();
}

function protocolOf(s) {
  if (s.protocol) return s.streams !== undefined ? `${s.protocol} (${s.streams} streams)` : s.protocol;
  return s.service + (s.tls ? ' (TLS)' : '');
}

function requestOf(s) {
  if (s.request) return s.request;
  if (s.file) return s.file;
  return '';
}

function cells(s) {
  return [
    s.service, s.site || '', s.user || (s.anonymous ? 'anonymous' : ''), s.client || '', protocolOf(s),
    requestOf(s), fmtBytes(s.bytes_sent), fmtBytes(s.bytes_received),
  ];
}

export default {
  title: 'Sessions',
  mount(root, rest, app) {
    const filterId = uid('svc');
    const filter = h('select', { id: filterId },
      h('option', { value: '' }, 'every service'), ctx.services.map((s) => h('option', { value: s }, s)));
    const allBar = h('div', { class: 'bar' });
    const count = h('p', { class: 'muted', 'aria-live': 'off' });
    const tbody = h('tbody');
    const heads = ['Service', 'Site', 'User', 'Client', 'Protocol', 'Request / command', 'Sent', 'Received', 'Since'];
    if (canDisconnect()) heads.push('Disconnect');
    const tableEl = h('table', { 'aria-label': 'Sessions' },
      h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))), tbody);
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-sessions' }, 'Sessions')),
      h('div', { class: 'bar' }, h('label', { for: filterId }, 'Service'), filter), allBar, count,
      h('div', { class: 'table-wrap' }, tableEl));
    const rows = new Map();
    // Made once and updated in place, so a refresh never takes the focus away.
    const allButtons = new Map(canDisconnect() ? ctx.services.map((svc) => [svc,
      writeButton(`Disconnect all ${svc}`, () => disconnectAll(svc), {
        class: 'danger', dataset: { action: 'disconnect-all', service: svc },
        'aria-label': `Disconnect every ${svc} session`,
      })]) : []);
    allBar.append(...allButtons.values());
    let timer = null;
    let drawnOnce = false;

    async function disconnect(s) {
      const ok = await confirmDialog({
        title: `Disconnect ${s.client}?`,
        text: `The ${s.service} session of ${s.client}${s.user ? ` (${s.user})` : ''} is closed by the server.`,
        confirmLabel: 'Disconnect',
      });
      if (!ok) return;
      try {
        const r = await api('DELETE', `/api/v1/sessions/${encodeURIComponent(s.id)}`);
        announce(`Disconnected ${s.client} (${r.data.disconnected} session${r.data.disconnected === 1 ? '' : 's'})`);
        load();
      } catch (e) {
        announce(`Disconnect ${s.client}: ${e.message}`, 'error');
      }
    }

    async function disconnectAll(service) {
      const ok = await confirmDialog({
        title: `Disconnect every ${service} session?`,
        text: `Every client connected to ${service} is disconnected.`,
        confirmLabel: 'Disconnect all',
      });
      if (!ok) return;
      try {
        const r = await api('DELETE', `/api/v1/sessions?service=${encodeURIComponent(service)}`);
        announce(`Disconnected ${r.data.disconnected} ${service} session${r.data.disconnected === 1 ? '' : 's'}`);
        load();
      } catch (e) {
        announce(`Disconnect all of ${service}: ${e.message}`, 'error');
      }
    }

    function rowFor(s) {
      const tr = h('tr', { dataset: { session: String(s.id), client: s.client || '', service: s.service } });
      tr.cellsEl = cells(s).map((c) => h('td', {}, c));
      tr.since = h('td', {}, timeEl(s.since));
      tr.append(...tr.cellsEl, tr.since);
      if (canDisconnect()) {
        tr.append(h('td', {}, writeButton('Disconnect', () => disconnect(tr.session), {
          class: 'danger small', dataset: { action: 'disconnect' }, 'aria-label': `Disconnect ${s.client}`,
        })));
      }
      return tr;
    }

    function draw(list) {
      const seen = new Set();
      for (const s of list) {
        const id = String(s.id);
        seen.add(id);
        let tr = rows.get(id);
        if (!tr) { tr = rowFor(s); rows.set(id, tr); }
        tr.session = s;
        cells(s).forEach((c, i) => { if (tr.cellsEl[i].textContent !== c) tr.cellsEl[i].textContent = c; });
        tbody.append(tr);
      }
      for (const [id, tr] of rows) if (!seen.has(id)) { tr.remove(); rows.delete(id); }
      count.textContent = `${list.length} session${list.length === 1 ? '' : 's'}`;
      for (const [svc, b] of allButtons) {
        b.hidden = filter.value !== '' && filter.value !== svc;
        b.disabled = !list.some((s) => s.service === svc);
      }
    }

    async function load() {
      if (!has('sessions')) {
        clear(root).append(h('h1', { id: 'h-sessions' }, 'Sessions'), notice(cannot('list its sessions')));
        app.drawn();
        return;
      }
      try {
        const q = filter.value ? `?service=${encodeURIComponent(filter.value)}` : '';
        draw((await get(`/api/v1/sessions${q}`)).sessions || []);
      } catch (e) {
        count.textContent = e.message;
      }
      if (!drawnOnce) { drawnOnce = true; app.drawn(); }
    }

    filter.addEventListener('change', load);
    load();
    if (has('sessions')) timer = setInterval(load, REFRESH_MS);
    return { refresh: load, unmount() { clearInterval(timer); } };
  },
};
