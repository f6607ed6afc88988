// properties: the property sheet of one key (#/properties/KEY). Every property
// valid on the key (GET /api/v1/config/KEY answers exactly those) with a typed
// input from the schema, where an inherited value comes from, Override and
// Reset to inherited, write-only secrets, and one Commit (PATCH with If-Match).
// Readers and operators see the values as text; a server without `schema`
// shows them read-only as JSON.

import { api, configPath } from '../api.js';
import { has, canConfigure, cannot } from '../state.js';
import { h, clear, announce, notice, uid, writeButton, fmtValue } from '../dom.js';
import { loadSchema, loadTree } from '../schema.js';

const DEFAULT_KEY = '/www/sites/default';

function sourceText(p) {
  if (p.secret) return p.set ? 'set' : 'not set';
  if (!p.inherited) return 'set here';
  return p.source === 'default' || !p.source ? 'default' : `inherited from ${p.source}`;
}

function listText(v) {
  return Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n') : '';
}

function mapText(v) {
  if (!v || typeof v !== 'object') return '';
  return Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`).join('\n');
}

// ---- one input per type ------------------------------------------------------

class FieldError extends Error {}

function makeInput(id, def, value) {
  const t = def.type;
  if (t === 'boolean') {
    const el = h('input', { id, type: 'checkbox', checked: value === true });
    return { el, focusEl: el, read: () => el.checked, set: (v) => { el.checked = v === true; } };
  }
  if (t === 'integer') {
    const el = h('input', { id, type: 'number', step: 1, min: def.min, max: def.max, value: value ?? '', inputmode: 'numeric' });
    return {
      el,
      focusEl: el,
      read: () => {
        const n = Number(el.value);
        if (el.value.trim() === '' || !Number.isInteger(n)) throw new FieldError('a whole number is needed');
        return n;
      },
      set: (v) => { el.value = v ?? ''; },
    };
  }
  if (t === 'enum' && Array.isArray(def.values)) {
    const el = h('select', { id }, def.values.map((v) => h('option', { value: v }, v)));
    el.value = value;
    return { el, focusEl: el, read: () => el.value, set: (v) => { el.value = v; } };
  }
  if ((t === 'string_list' || t === 'address_list') && Array.isArray(def.values)) return fixedList(id, def, value);
  if (t === 'string_list' || t === 'address_list') {
    const el = h('textarea', { id, rows: 3, spellcheck: 'false', 'aria-describedby': `${id}-how` });
    el.value = listText(value);
    return {
      el: h('div', {}, el, h('span', { class: 'how', id: `${id}-how` }, 'one item per line')),
      focusEl: el,
      read: () => el.value.split('\n').map((x) => x.trim()).filter((x) => x !== ''),
      set: (v) => { el.value = listText(v); },
    };
  }
  if (t === 'map') {
    const el = h('textarea', { id, rows: 3, spellcheck: 'false', 'aria-describedby': `${id}-how` });
    el.value = mapText(value);
    return {
      el: h('div', {}, el, h('span', { class: 'how', id: `${id}-how` }, 'one key=value per line')),
      focusEl: el,
      read: () => readMap(el.value),
      set: (v) => { el.value = mapText(v); },
    };
  }
  if (t === 'string' || t === 'path' || t === 'enum') {
    const el = h('input', { id, type: 'text', value: value ?? '', spellcheck: 'false' });
    return { el, focusEl: el, read: () => el.value, set: (v) => { el.value = v ?? ''; } };
  }
  // A type this console does not know: edit it as JSON.
  const el = h('textarea', { id, rows: 2, spellcheck: 'false' });
  el.value = JSON.stringify(value);
  return {
    el,
    focusEl: el,
    read: () => {
      try { return JSON.parse(el.value); } catch (e) { throw new FieldError('not valid JSON'); }
    },
    set: (v) => { el.value = JSON.stringify(v); },
  };
}

function readMap(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new FieldError(`"${line.trim()}" is not key=value`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

// A list whose items are fixed (tls_protocols): a checkbox per item.
function fixedList(id, def, value) {
  const boxes = def.values.map((v) => {
    const bid = `${id}-${v.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const box = h('input', { id: bid, type: 'checkbox', value: v, checked: Array.isArray(value) && value.includes(v) });
    return { v, box, wrap: h('span', { class: 'check' }, box, h('label', { for: bid }, v)) };
  });
  const el = h('div', { class: 'checks', id, role: 'group' }, boxes.map((b) => b.wrap));
  return {
    el,
    focusEl: boxes.length ? boxes[0].box : el,
    boxes: boxes.map((b) => b.box),
    read: () => boxes.filter((b) => b.box.checked).map((b) => b.v),
    set: (v) => { for (const b of boxes) b.box.checked = Array.isArray(v) && v.includes(b.v); },
  };
}

function setEnabled(input, on) {
  const els = input.boxes || [input.focusEl];
  for (const e of els) e.disabled = !on;
}

// ---- a row ---------------------------------------------------------------------

// mode: 'inherited' (shown, not ours), 'local' (set on this key), 'override'
// (will be set here), 'reset' (will be unset: inherit again).
function editableRow(name, p, def, sheet) {
  const id = uid(`p-${name}`);
  const errId = `${id}-err`;
  const row = { name, p, def, mode: p.inherited ? 'inherited' : 'local', changed: false };
  const src = h('span', { class: 'source' }, sourceText(p));
  const err = h('p', { class: 'field-error', id: errId, role: 'alert' });
  const actions = h('span', { class: 'prop-actions' });
  row.err = err;
  if (p.secret) {
    const el = h('input', { id, type: 'password', autocomplete: 'new-password', placeholder: p.set ? '(set: type to replace)' : '(not set)', 'data-write': true, 'aria-describedby': errId });
    row.input = { el, focusEl: el, read: () => el.value, set: () => { el.value = ''; } };
    row.pending = () => (row.mode === 'reset' ? { unset: true } : el.value !== '' ? { value: el.value } : null);
    el.addEventListener('input', () => sheet.dirty());
    if (p.set && !p.inherited) {
      actions.append(writeButton('Clear', () => { row.mode = row.mode === 'reset' ? 'local' : 'reset'; src.textContent = row.mode === 'reset' ? 'will be cleared' : sourceText(p); sheet.dirty(); }, { 'aria-label': `Clear ${name}` }));
    }
  } else {
    row.input = makeInput(id, def, p.value);
    for (const e of row.input.boxes || [row.input.focusEl]) {
      e.setAttribute('data-write', '');
      e.setAttribute('aria-describedby', [e.getAttribute('aria-describedby'), errId].filter(Boolean).join(' '));
      e.addEventListener('input', () => { row.changed = true; sheet.dirty(); });
      e.addEventListener('change', () => { row.changed = true; sheet.dirty(); });
    }
    row.pending = () => {
      if (row.mode === 'reset') return { unset: true };
      if (row.mode === 'override' || (row.mode === 'local' && row.changed)) return { value: row.input.read() };
      return null;
    };
    const draw = () => {
      setEnabled(row.input, row.mode === 'override' || row.mode === 'local');
      src.textContent = row.mode === 'override' ? `overridden here (was ${sourceText(p)})`
        : row.mode === 'reset' ? 'will inherit again' : sourceText(p);
      clear(actions);
      if (row.mode === 'inherited') {
        actions.append(writeButton('Override', () => { row.mode = 'override'; draw(); row.input.focusEl.focus(); sheet.dirty(); }, { dataset: { role: 'override' }, 'aria-label': `Override ${name} here` }));
      } else if (row.mode === 'override') {
        actions.append(writeButton('Keep inherited', () => { row.mode = 'inherited'; row.input.set(p.value); draw(); }, { dataset: { role: 'cancel-override' }, 'aria-label': `Keep ${name} inherited` }));
      } else if (row.mode === 'local') {
        const word = def.inherit === false ? 'default' : 'inherited';
        actions.append(writeButton(`Reset to ${word}`, () => { row.mode = 'reset'; draw(); sheet.dirty(); }, { dataset: { role: 'reset' }, 'aria-label': `Reset ${name} to ${word}` }));
      } else if (row.mode === 'reset') {
        actions.append(writeButton('Keep this value', () => { row.mode = 'local'; draw(); }, { dataset: { role: 'cancel-reset' }, 'aria-label': `Keep ${name} set here` }));
      }
    };
    draw();
  }
  const labelEl = row.input.boxes ? h('span', { class: 'prop-name', id: `${id}-label` }, name) : h('label', { class: 'prop-name', for: id }, name);
  if (row.input.boxes) row.input.el.setAttribute('aria-labelledby', `${id}-label`);
  row.el = h('div', { class: 'prop', dataset: { prop: name, type: def.type } },
    h('div', { class: 'prop-head' }, labelEl,
      def.apply === 'restart' ? h('span', { class: 'tag restart', title: 'takes effect when the server restarts' }, 'applies on restart') : null,
      src),
    def.doc ? h('p', { class: 'doc' }, def.doc) : null,
    h('div', { class: 'prop-input' }, row.input.el, actions),
    err);
  return row;
}

function readonlyRow(name, p, def, why) {
  const shown = p.secret ? (p.set ? '(secret, set)' : '(secret, not set)') : fmtValue(p.value);
  return h('div', { class: 'prop readonly', dataset: { prop: name } },
    h('div', { class: 'prop-head' }, h('span', { class: 'prop-name' }, name),
      def && def.apply === 'restart' ? h('span', { class: 'tag restart' }, 'applies on restart') : null,
      h('span', { class: 'source' }, sourceText(p))),
    def && def.doc ? h('p', { class: 'doc' }, def.doc) : null,
    h('p', { class: 'value' }, def ? shown : JSON.stringify(p.secret ? { secret: true, set: p.set } : p.value)),
    why ? h('p', { class: 'muted' }, why) : null);
}

// ---- the sheet -------------------------------------------------------------------

export default {
  title: 'Properties',
  mount(root, rest, app) {
    const key = rest && rest !== '/' ? rest : (rest === '/' ? '/' : DEFAULT_KEY);
    const picker = h('div', { class: 'key-picker' });
    const body = h('div', { class: 'sheet' });
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-properties' }, 'Properties of ', h('code', {}, key))), picker, body);
    let state = { dirty: false, rows: [], revision: null };
    let alive = true;

    async function drawPicker() {
      try {
        const tree = await loadTree();
        if (!alive) return;
        const id = uid('key');
        const sel = h('select', { id }, tree.keys.map((k) => h('option', { value: k.key }, `${k.key} (${k.kind})`)));
        sel.value = key;
        const go = h('button', { type: 'button', onclick: () => { location.hash = `#/properties${sel.value === '/' ? '/' : sel.value}`; } }, 'Open');
        clear(picker).append(h('label', { for: id }, 'Key'), sel, go);
      } catch (e) {
        clear(picker).append(notice(`Keys: ${e.message}`, 'error'));
      }
    }

    async function load() {
      let doc;
      let schema;
      try {
        [doc, schema] = await Promise.all([api('GET', configPath(key)), loadSchema()]);
      } catch (e) {
        clear(body).append(notice(e.status === 404 ? `There is no key ${key}.` : e.message, 'error'));
        app.drawn();
        return;
      }
      if (!alive) return;
      const d = doc.data;
      state = { dirty: false, rows: [], revision: doc.etag || d.revision };
      clear(body).append(sheetFor(d, schema));
      app.drawn();
    }

    function sheetFor(d, schema) {
      const entries = Object.entries(d.properties || {});
      const header = h('p', { class: 'muted' }, `Kind ${d.kind}, revision ${state.revision}.`);
      if (!schema) {
        return h('div', {}, header, notice(cannot('describe its properties (no schema)') + ' The values are shown read-only, as JSON.'),
          entries.map(([n, p]) => readonlyRow(n, p, null, null)));
      }
      const writable = canConfigure() && has('config');
      if (!writable) {
        return h('div', {}, header, entries.map(([n, p]) => readonlyRow(n, p, schema.byName.get(n) || null, null)));
      }
      const sheet = { dirty: () => { state.dirty = true; } };
      const rows = [];
      const out = [];
      for (const [n, p] of entries) {
        const def = schema.byName.get(n);
        if (!def) { out.push(readonlyRow(n, p, null, 'Not in the schema: read-only.')); continue; }
        if (def.capability && !has(def.capability)) {
          out.push(readonlyRow(n, p, def, cannot(`use ${n} (no ${def.capability})`)));
          continue;
        }
        const row = editableRow(n, p, def, sheet);
        rows.push(row);
        out.push(row.el);
      }
      state.rows = rows;
      const commentId = uid('comment');
      const comment = h('input', { id: commentId, type: 'text', autocomplete: 'off', 'data-write': true });
      const stale = h('div', { class: 'stale', role: 'alert' });
      const form = h('form', { class: 'props', 'aria-label': `Properties of ${d.key}`, novalidate: true },
        header, out, stale,
        h('div', { class: 'commit-bar' },
          h('label', { for: commentId }, 'Comment'), comment,
          h('button', { type: 'submit', class: 'primary', 'data-write': true }, 'Commit')));
      form.addEventListener('submit', (ev) => { ev.preventDefault(); commit(comment.value.trim(), stale); });
      return form;
    }

    async function commit(comment, stale) {
      const set = {};
      const unset = [];
      let bad = null;
      for (const r of state.rows) {
        r.err.textContent = '';
        let p;
        try { p = r.pending(); } catch (e) {
          if (!(e instanceof FieldError)) throw e;
          r.err.textContent = `${r.name}: ${e.message}`;
          bad = bad || r;
          continue;
        }
        if (!p) continue;
        if (p.unset) unset.push(r.name);
        else set[r.name] = p.value;
      }
      if (bad) { bad.input.focusEl.focus(); announce(bad.err.textContent, 'error'); return; }
      if (!Object.keys(set).length && !unset.length) { announce('Nothing to commit: no property was changed.', 'info'); return; }
      const body = { set, unset };
      if (comment) body.comment = comment;
      try {
        const r = await api('PATCH', configPath(key), { body, ifMatch: state.revision });
        announce(r.data.changed === false ? `Nothing changed (revision ${r.data.revision})` : `Committed revision ${r.data.revision}`);
        await load();
      } catch (e) {
        if (e.status === 412) {
          clear(stale).append(h('p', {}, 'Someone else changed the configuration since this sheet was loaded: nothing was committed. ',
            h('button', { type: 'button', onclick: () => load() }, 'Reload the sheet')), h('p', { class: 'muted' }, 'Reloading discards your changes.'));
          announce('Not committed: someone else changed the configuration. Reload the sheet.', 'error');
          return;
        }
        const row = e.property && state.rows.find((x) => x.name === e.property);
        if (row) {
          row.err.textContent = e.message;
          row.input.focusEl.focus();
        }
        announce(`Not committed: ${e.message}`, 'error');
      }
    }

    drawPicker();
    load();
    return {
      refresh() {
        if (state.dirty) {
          const s = body.querySelector('.stale');
          if (s && !s.firstChild) s.append(h('p', {}, 'The configuration changed since this sheet was loaded. ', h('button', { type: 'button', onclick: () => load() }, 'Reload the sheet')));
          return;
        }
        load();
      },
      unmount() { alive = false; },
    };
  },
};
