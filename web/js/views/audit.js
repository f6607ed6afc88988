// audit: who did what, from where and when (GET /api/v1/audit), newest first.

import { get } from '../api.js';
import { has, cannot } from '../state.js';
import { h, clear, announce, notice, timeEl } from '../dom.js';

const PAGE = 100;

export default {
  title: 'Audit log',
  mount(root, rest, app) {
    const listEl = h('div');
    const more = h('p');
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-audit' }, 'Audit log')), listEl, more);
    if (!has('audit')) {
      clear(root).append(h('h1', { id: 'h-audit' }, 'Audit log'), notice(cannot('show an audit log')));
      app.drawn();
      return {};
    }
    let entries = [];

    function draw() {
      const heads = ['Time', 'Who', 'From', 'Action', 'Target', 'Result', 'Detail'];
      clear(listEl).append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Audit log' },
        h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, entries.map((e) => h('tr', { class: e.result && e.result !== 'ok' ? 'refused' : '' },
          h('td', {}, timeEl(e.time)), h('td', {}, e.identity || ''), h('td', {}, e.address || ''),
          h('td', {}, e.action || ''), h('td', {}, e.target || ''), h('td', {}, e.result || ''),
          h('td', { class: 'detail' }, e.detail || '')))))));
      clear(more);
      const last = entries[entries.length - 1];
      if (last && entries.length % PAGE === 0) more.append(h('button', { type: 'button', onclick: () => page(last.id) }, 'Older entries'));
    }

    async function page(before) {
      try {
        entries = entries.concat((await get(`/api/v1/audit?before=${before}&limit=${PAGE}`)).entries || []);
        draw();
      } catch (e) {
        announce(e.message, 'error');
      }
    }

    async function load() {
      try {
        entries = (await get(`/api/v1/audit?limit=${PAGE}`)).entries || [];
        draw();
      } catch (e) {
        clear(listEl).append(notice(e.message, 'error'));
      }
      app.drawn();
    }

    load();
    return { refresh: load };
  },
};
