// dom: element building, the aria-live status region, the confirmation dialog
// and the formatting every view shares. Nothing here talks to the server.

/** An element: h('button', {class: 'x', onclick: f, dataset: {a: 1}}, 'text', child...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'readOnly') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A control that changes something on the server: marked data-write (the tests look for it). */
export function writeButton(label, onclick, attrs = {}) {
  return h('button', { type: 'button', ...attrs, 'data-write': true, onclick }, label);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

let seq = 0;
/** A fresh id for label/for pairs. */
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

/** Say MESSAGE in the aria-live region; kind 'ok', 'error' or 'info'. */
export function announce(message, kind = 'ok') {
  const region = document.getElementById('status');
  if (!region) return;
  const item = h('p', { class: `msg msg-${kind}` }, message);
  region.append(item);
  while (region.children.length > 4) region.firstChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 15000 : 8000);
}

/** An in-page notice saying what this server cannot do. */
export function notice(text, kind = 'info') {
  return h('p', { class: `notice notice-${kind}` }, text);
}

/**
 * Ask before a destructive action, in a <dialog> built for the question and
 * removed after. Resolves to null when cancelled, else to {comment} (the
 * comment field's text when opts.comment is set).
 */
export function confirmDialog({ title, text, confirmLabel = 'OK', comment = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uid('dlg-title');
    const commentId = uid('dlg-comment');
    const input = comment ? h('input', { id: commentId, type: 'text', autocomplete: 'off' }) : null;
    const ok = h('button', { type: 'submit', value: 'ok', id: 'confirm-ok', class: 'danger' }, confirmLabel);
    const cancel = h('button', { type: 'submit', value: 'cancel', id: 'confirm-cancel', formnovalidate: true }, 'Cancel');
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        text ? h('p', {}, text) : null,
        input ? h('p', {}, h('label', { for: commentId }, 'Comment'), input) : null,
        h('div', { class: 'buttons' }, cancel, ok)));
    dlg.addEventListener('close', () => {
      const result = dlg.returnValue === 'ok' ? { comment: input ? input.value.trim() : '' } : null;
      dlg.remove();
      if (opener && typeof opener.focus === 'function' && document.contains(opener)) opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    (input || cancel).focus();
  });
}

// ---- formatting ----------------------------------------------------------

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtNumber(n) {
  if (typeof n !== 'number') return n === undefined || n === null ? '' : String(n);
  return Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en') : n.toFixed(1);
}

export function fmtDuration(seconds) {
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/** An ISO time or epoch seconds as local date and time, with the exact value as title. */
export function timeEl(t) {
  if (t === undefined || t === null || t === '') return h('span', {}, '');
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(t));
  const iso = d.toISOString().replace('.000', '');
  const p2 = (n) => String(n).padStart(2, '0');
  const local = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  return h('time', { datetime: iso, title: `${iso} (UTC)` }, local);
}

/** A value from the API as short text (lists joined, objects as JSON). */
export function fmtValue(v) {
  if (v === undefined) return '';
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ') : '(none)';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A table in a wrapper that scrolls sideways on narrow screens. */
export function table(caption, heads, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows)));
}

/** A state badge (started/stopped/paused) the live `state` events update in place. */
export function stateBadge(state, service, site) {
  return h('span', {
    class: `badge state-${state}`,
    dataset: { stateOf: site ? `${service}/${site}` : service },
  }, state);
}
