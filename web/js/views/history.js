// history: the revisions (newest first, with their summaries), two of them
// picked to show their diff, and (admin) Roll back to a revision after asking.

import { api, get } from '../api.js';
import { has, canConfigure, cannot } from '../state.js';
import { h, clear, announce, notice, writeButton, confirmDialog, timeEl, fmtValue } from '../dom.js';

const PAGE = 50;

function summaryText(r) {
  const items = (r.summary || []).map((c) => `${c.change} ${c.key}${c.name ? ` ${c.name}` : ''}`);
  const more = typeof r.changes_count === 'number' && r.changes_count > items.length ? r.changes_count - items.length : 0;
  if (!items.length) return typeof r.changes_count === 'number' ? `${r.changes_count} change${r.changes_count === 1 ? '' : 's'}` : '';
  return more ? `${items.join('; ')}; and ${more} more` : items.join('; ');
}

function changeRow(c) {
  const has2 = (k) => Object.prototype.hasOwnProperty.call(c, k);
  const before = has2('from') ? c.from : has2('old') ? c.old : undefined;
  const after = has2('to') ? c.to : has2('new') ? c.new : has2('set') ? c.set : undefined;
  return h('tr', {}, h('td', {}, c.change), h('td', {}, h('code', {}, c.key)), h('td', {}, c.name || ''),
    h('td', {}, before === undefined ? '' : fmtValue(before)), h('td', {}, after === undefined ? '' : fmtValue(after)));
}

export default {
  title: 'History',
  mount(root, rest, app) {
    const diffEl = h('div', { class: 'diff', 'aria-live': 'polite' });
    const listEl = h('div');
    const more = h('p');
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-history' }, 'History')), listEl, more, diffEl);
    if (!has('config.history')) {
      clear(root).append(h('h1', { id: 'h-history' }, 'History'), notice(cannot('keep a history of revisions')));
      app.drawn();
      return {};
    }
    let revisions = [];
    let newest = null;
    let alive = true;

    async function showDiff() {
      const from = root.querySelector('input[name="diff-from"]:checked');
      const to = root.querySelector('input[name="diff-to"]:checked');
      if (!from || !to) { announce('Pick a revision in "From" and one in "To".', 'error'); return; }
      if (!has('config.diff')) { clear(diffEl).append(notice(cannot('show differences between revisions'))); return; }
      try {
        const d = await get(`/api/v1/diff?from=${encodeURIComponent(from.value)}&to=${encodeURIComponent(to.value)}`);
        const changes = d.changes || [];
        clear(diffEl).append(h('h2', { id: 'h-diff' }, `Changes from revision ${d.from} to ${d.to}`),
          changes.length
            ? h('div', { class: 'table-wrap' }, h('table', { 'aria-labelledby': 'h-diff' },
              h('thead', {}, h('tr', {}, ['Change', 'Key', 'Property', 'Before', 'After'].map((x) => h('th', { scope: 'col' }, x)))),
              h('tbody', {}, changes.map(changeRow))))
            : h('p', {}, 'No differences.'));
      } catch (e) {
        announce(`Diff: ${e.message}`, 'error');
      }
    }

    async function rollback(r) {
      const ok = await confirmDialog({
        title: `Roll back to revision ${r.revision}?`,
        text: `A new revision restores the configuration as it was at revision ${r.revision}${r.comment ? ` ("${r.comment}")` : ''}, and it is applied at once.`,
        confirmLabel: 'Roll back',
        comment: true,
      });
      if (!ok) return;
      try {
        const d = (await api('POST', '/api/v1/rollback', { body: { to: r.revision, comment: ok.comment || `rollback to revision ${r.revision}` } })).data;
        announce(`Rolled back to revision ${r.revision}: revision ${d.revision}`);
        load();
      } catch (e) {
        announce(`Roll back: ${e.message}`, 'error');
      }
    }

    function row(r, i) {
      const write = canConfigure() && has('config.rollback') && r.revision !== newest;
      return h('tr', { dataset: { revision: String(r.revision) } },
        h('td', {}, h('input', { type: 'radio', name: 'diff-from', value: r.revision, checked: i === 1, 'aria-label': `Diff from revision ${r.revision}` })),
        h('td', {}, h('input', { type: 'radio', name: 'diff-to', value: r.revision, checked: i === 0, 'aria-label': `Diff to revision ${r.revision}` })),
        h('th', { scope: 'row' }, String(r.revision)), h('td', {}, timeEl(r.time)), h('td', {}, r.identity || ''),
        h('td', {}, r.address || ''), h('td', {}, r.comment || ''), h('td', { class: 'summary' }, summaryText(r)),
        canConfigure() && has('config.rollback') ? h('td', {}, write ? writeButton('Roll back', () => rollback(r), {
          class: 'small', dataset: { action: 'rollback', revision: String(r.revision) }, 'aria-label': `Roll back to revision ${r.revision}`,
        }) : h('span', { class: 'muted' }, 'current')) : null);
    }

    function draw() {
      const heads = ['From', 'To', 'Revision', 'Time', 'Who', 'From address', 'Comment', 'Changes'];
      if (canConfigure() && has('config.rollback')) heads.push('Roll back');
      clear(listEl).append(
        h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Revisions' },
          h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', {}, revisions.map(row)))),
        h('p', {}, h('button', { type: 'button', onclick: showDiff, id: 'show-diff' }, 'Show the differences')));
      clear(more);
      const last = revisions[revisions.length - 1];
      if (last && last.revision > 1 && revisions.length % PAGE === 0) {
        more.append(h('button', { type: 'button', onclick: () => page(last.revision) }, 'Older revisions'));
      }
    }

    async function page(before) {
      try {
        const d = await get(`/api/v1/revisions?before=${before}&limit=${PAGE}`);
        revisions = revisions.concat(d.revisions || []);
        draw();
      } catch (e) {
        announce(e.message, 'error');
      }
    }

    async function load() {
      try {
        const d = await get(`/api/v1/revisions?limit=${PAGE}`);
        if (!alive) return;
        revisions = d.revisions || [];
        newest = revisions.length ? revisions[0].revision : null;
        draw();
      } catch (e) {
        clear(listEl).append(notice(e.message, 'error'));
      }
      app.drawn();
    }

    load();
    return { refresh: load, unmount() { alive = false; } };
  },
};
