// statistics: the counters of every service and site (a table, from the
// latest `stats` event or GET /api/v1/stats), live charts of requests/s,
// bytes/s and current connections over the last five minutes, and (operator,
// admin) Clear per service or site.

import { api, get } from '../api.js';
import { has, canOperate, cannot } from '../state.js';
import { h, clear, announce, notice, writeButton, confirmDialog, fmtBytes, fmtNumber, timeEl } from '../dom.js';
import { WINDOW, latestStats, serviceSeries, subscribe } from '../statsstore.js';
import { drawChart, colorOf } from '../chart.js';

const FIRST = ['total_requests', 'get_requests', 'head_requests', 'other_requests', 'bytes_sent',
  'bytes_received', 'files_sent', 'files_received', 'current_connections', 'max_connections',
  'total_connections', 'connection_attempts', 'not_found_errors'];

const CHARTS = [
  { id: 'req', title: 'Requests per second', pick: (p) => p.req, format: (v) => fmtNumber(v), floor: 4 },
  { id: 'bytes', title: 'Bytes sent per second', pick: (p) => p.bytes, format: (v) => `${fmtBytes(v)}/s`, floor: 1024 },
  { id: 'conns', title: 'Current connections', pick: (p) => p.conns, format: (v) => fmtNumber(v), floor: 4 },
];

function counterNames(stats) {
  const all = new Set();
  for (const s of stats) for (const k of Object.keys(s.counters || {})) all.add(k);
  return [...FIRST.filter((k) => all.has(k)), ...[...all].filter((k) => !FIRST.includes(k)).sort()];
}

function fmtCounter(name, v) {
  return name.startsWith('bytes_') ? fmtBytes(v) : fmtNumber(v);
}

export default {
  title: 'Statistics',
  mount(root, rest, app) {
    const chartsEl = h('div', { class: 'charts' });
    const tableEl = h('div', { class: 'stats-table' });
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-statistics' }, 'Statistics')), chartsEl, tableEl);
    if (!has('stats')) {
      clear(root).append(h('h1', { id: 'h-statistics' }, 'Statistics'), notice(cannot('report statistics')));
      app.drawn();
      return {};
    }
    const canvases = CHARTS.map((c) => {
      const canvas = h('canvas', { role: 'img', 'aria-label': `${c.title}, last ${WINDOW / 60} minutes, a line per service`, dataset: { chart: c.id } });
      const legend = h('ul', { class: 'legend' });
      chartsEl.append(h('figure', { class: 'chart card' }, h('figcaption', {}, c.title), canvas, legend));
      return { ...c, canvas, legend };
    });
    let clearedAt = new Map();

    function drawCharts() {
      const now = Date.now() / 1000;
      const svc = serviceSeries();
      for (const c of canvases) {
        const lines = svc.map(([key, sr], i) => ({ key, color: colorOf(i), points: sr.points.map((p) => ({ t: p.t, v: c.pick(p) })) }));
        const latestT = Math.max(now, ...svc.map(([, sr]) => (sr.points.length ? sr.points[sr.points.length - 1].t : 0)));
        drawChart(c.canvas, lines, { now: latestT, window: WINDOW, format: c.format, floor: c.floor });
        clear(c.legend).append(...lines.map((l) => {
          const last = l.points.length ? l.points[l.points.length - 1].v : 0;
          const sw = h('span', { class: 'swatch' });
          sw.style.background = l.color;
          return h('li', {}, sw, `${l.key}: ${c.format(last)}`);
        }));
      }
    }

    async function clearStats(s) {
      const what = s.site ? `site ${s.site} of ${s.service}` : `service ${s.service} and its sites`;
      const ok = await confirmDialog({ title: `Clear the statistics of ${what}?`, text: 'The counters restart from zero.', confirmLabel: 'Clear' });
      if (!ok) return;
      const q = `service=${encodeURIComponent(s.service)}${s.site ? `&site=${encodeURIComponent(s.site)}` : ''}`;
      try {
        await api('DELETE', `/api/v1/stats?${q}`);
        announce(`Statistics of ${what} cleared`);
        await load();
      } catch (e) {
        announce(`Clear statistics: ${e.message}`, 'error');
      }
    }

    function drawTable(stats) {
      const n = counterNames(stats);
      const write = has('stats.clear') && canOperate();
      const heads = ['Service', 'Site', ...n.map((x) => x.replace(/_/g, ' ')), 'Since'];
      if (write) heads.push('Clear');
      const rows = stats.map((s) => h('tr', { dataset: { service: s.service, site: s.site || '' } },
        h('th', { scope: 'row' }, s.service), h('td', {}, s.site || '(all sites)'),
        n.map((k) => h('td', { class: 'num' }, fmtCounter(k, (s.counters || {})[k]))),
        h('td', {}, timeEl(s.cleared_at ?? clearedAt.get(`${s.service}/${s.site}`))),
        write ? h('td', {}, writeButton('Clear', () => clearStats(s), { class: 'small', 'aria-label': `Clear the statistics of ${s.site ? `site ${s.site} of ` : 'service '}${s.service}` })) : null));
      // Redraw only when the shape changes; otherwise update the numbers in place.
      const shape = JSON.stringify([n, stats.map((s) => `${s.service}/${s.site}`)]);
      const tbl = tableEl.querySelector('table');
      if (tbl && tbl.dataset.shape === shape) {
        const old = tbl.tBodies[0].rows;
        rows.forEach((r, i) => { for (let c = 2; c < 2 + n.length; c += 1) old[i].cells[c].textContent = r.cells[c].textContent; });
        return;
      }
      clear(tableEl).append(h('h2', {}, 'Counters'), h('div', { class: 'table-wrap' },
        h('table', { 'aria-label': 'Counters per service and site', dataset: { shape } },
          h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, rows))));
    }

    async function load() {
      try {
        const d = await get('/api/v1/stats');
        clearedAt = new Map((d.stats || []).map((s) => [`${s.service}/${s.site}`, s.cleared_at]));
        drawTable(d.stats || []);
      } catch (e) {
        clear(tableEl).append(notice(e.message, 'error'));
      }
      drawCharts();
      app.drawn();
    }

    const onResize = () => drawCharts();
    window.addEventListener('resize', onResize);
    const unsub = subscribe(() => {
      const s = latestStats();
      if (s.length) drawTable(s);
      drawCharts();
    });
    load();
    return { unmount() { unsub(); window.removeEventListener('resize', onResize); } };
  },
};
