// sites: the tree of keys (services, sites, home and virtual directories,
// FTP users), each a link to its property sheet; (admin) add a site the way
// `infoadm site add` does (one commit: the site with its bindings, its root
// with the path), add a virtual directory (PUT of the key with `path`), and
// remove a site or directory with its subtree after asking.

import { api, configPath } from '../api.js';
import { ctx, has, canConfigure, cannot } from '../state.js';
import { h, clear, announce, notice, uid, writeButton, confirmDialog, fmtValue } from '../dom.js';
import { loadTree } from '../schema.js';

function value(k, name) {
  const p = k.properties && k.properties[name];
  return p ? p.value : undefined;
}

function describe(k) {
  if (k.kind === 'site') return fmtValue(value(k, 'bindings') || []);
  if (k.kind === 'vdir') return value(k, 'path') || '';
  return '';
}

function removable(k) {
  return (k.kind === 'site') || (k.kind === 'vdir' && !/\/root$/.test(k.key));
}

function field(label, input, hint) {
  const id = input.id || uid('f');
  input.id = id;
  return h('p', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('span', { class: 'how' }, hint) : null);
}

export default {
  title: 'Sites',
  mount(root, rest, app) {
    const treeEl = h('div', { class: 'tree' });
    const forms = h('div', { class: 'forms' });
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-sites' }, 'Sites and virtual directories')), treeEl, forms);
    let alive = true;
    let keys = [];

    async function remove(k) {
      const ok = await confirmDialog({
        title: `Remove ${k.key}?`,
        text: `${k.kind === 'site' ? 'The site' : 'The virtual directory'} and every key below it are removed (you can roll the revision back in History).`,
        confirmLabel: 'Remove',
      });
      if (!ok) return;
      try {
        const r = await api('DELETE', `${configPath(k.key)}?recursive=1`);
        announce(`Removed ${k.key}: revision ${r.data.revision}`);
        load();
      } catch (e) {
        announce(`Remove ${k.key}: ${e.message}`, 'error');
      }
    }

    function node(k, byParent) {
      const kids = byParent.get(k.key) || [];
      return h('li', { dataset: { key: k.key } },
        h('span', { class: 'node' },
          h('a', { href: `#/properties${k.key === '/' ? '/' : k.key}` }, k.key === '/' ? '/ (machine)' : k.key.split('/').pop()),
          h('span', { class: `kind kind-${k.kind}` }, k.kind),
          describe(k) ? h('span', { class: 'muted' }, describe(k)) : null,
          canConfigure() && removable(k) ? writeButton('Remove', () => remove(k), { class: 'danger small', 'aria-label': `Remove ${k.key}` }) : null),
        kids.length ? h('ul', {}, kids.map((c) => node(c, byParent))) : null);
    }

    function drawTree() {
      const byParent = new Map();
      for (const k of keys) {
        if (k.key === '/') continue;
        const parent = k.key.slice(0, k.key.lastIndexOf('/')) || '/';
        if (!byParent.has(parent)) byParent.set(parent, []);
        byParent.get(parent).push(k);
      }
      const top = keys.find((k) => k.key === '/');
      clear(treeEl).append(h('ul', { class: 'keys', 'aria-label': 'Configuration keys' }, top ? node(top, byParent) : null));
    }

    function siteForm() {
      const svc = h('select', { name: 'service' }, ctx.services.map((s) => h('option', { value: s }, s)));
      const name = h('input', { name: 'name', type: 'text', required: true, autocomplete: 'off', pattern: '[^\\/]+' });
      const bindings = h('textarea', { name: 'bindings', rows: 2, required: true, spellcheck: 'false' });
      const hosts = h('textarea', { name: 'host_names', rows: 2, spellcheck: 'false' });
      const path = h('input', { name: 'path', type: 'text', required: true, spellcheck: 'false' });
      const comment = h('input', { name: 'comment', type: 'text', autocomplete: 'off' });
      for (const e of [svc, name, bindings, hosts, path, comment]) e.setAttribute('data-write', '');
      const form = h('form', { class: 'card add-site', 'aria-labelledby': 'h-add-site' },
        h('h2', { id: 'h-add-site' }, 'Add a site'),
        field('Service', svc), field('Name', name),
        field('Bindings', bindings, 'one per line: 127.0.0.1:8081 or https://127.0.0.1:8443'),
        field('Host names', hosts, 'one per line, optional'),
        field('Home directory', path, 'an absolute path on the server'),
        field('Comment', comment),
        h('p', {}, h('button', { type: 'submit', class: 'primary', 'data-write': true }, 'Add site')));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const lines = (t) => t.value.split('\n').map((x) => x.trim()).filter(Boolean);
        const n = name.value.trim();
        if (!n || n.includes('/') || n === '.' || n === '..') { announce('A site name is a plain name, without "/".', 'error'); name.focus(); return; }
        if (!lines(bindings).length) { announce('A site needs at least one binding.', 'error'); bindings.focus(); return; }
        if (!path.value.trim().startsWith('/')) { announce('The home directory must be an absolute path.', 'error'); path.focus(); return; }
        const key = `/${svc.value}/sites/${n}`;
        const set = { bindings: lines(bindings) };
        if (lines(hosts).length) set.host_names = lines(hosts);
        const body = { ops: [{ op: 'create', key, set }, { op: 'create', key: `${key}/root`, set: { path: path.value.trim() } }] };
        body.comment = comment.value.trim() || `site ${n} added to ${svc.value}`;
        try {
          const r = await api('POST', '/api/v1/commits', { body });
          announce(`Site ${n} added to ${svc.value}: revision ${r.data.revision}`);
          form.reset();
          load();
        } catch (e) {
          announce(`Add site ${n}: ${e.message}`, 'error');
        }
      });
      return form;
    }

    function vdirForm() {
      const parents = keys.filter((k) => k.kind === 'vdir');
      const parent = h('select', { name: 'parent' }, parents.map((k) => h('option', { value: k.key }, k.key)));
      const alias = h('input', { name: 'alias', type: 'text', required: true, autocomplete: 'off' });
      const path = h('input', { name: 'path', type: 'text', required: true, spellcheck: 'false' });
      const comment = h('input', { name: 'comment', type: 'text', autocomplete: 'off' });
      for (const e of [parent, alias, path, comment]) e.setAttribute('data-write', '');
      const form = h('form', { class: 'card add-vdir', 'aria-labelledby': 'h-add-vdir' },
        h('h2', { id: 'h-add-vdir' }, 'Add a virtual directory'),
        field('Under', parent, 'a site\'s home directory or another virtual directory'),
        field('Alias', alias, 'a name: docs for /docs'),
        field('Directory', path, 'an absolute path on the server'),
        field('Comment', comment),
        h('p', {}, h('button', { type: 'submit', class: 'primary', 'data-write': true }, 'Add directory')));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const a = alias.value.trim().replace(/^\/+|\/+$/g, '');
        if (!a || a.includes('/')) { announce('An alias is one name, without "/" (add nested ones under their parent).', 'error'); alias.focus(); return; }
        if (!path.value.trim().startsWith('/')) { announce('The directory must be an absolute path.', 'error'); path.focus(); return; }
        const key = `${parent.value}/${a}`;
        const body = { properties: { path: path.value.trim() }, comment: comment.value.trim() || `virtual directory ${a} added` };
        try {
          const r = await api('PUT', configPath(key), { body });
          announce(`Virtual directory ${key} added: revision ${r.data.revision}`);
          form.reset();
          load();
        } catch (e) {
          announce(`Add ${key}: ${e.message}`, 'error');
        }
      });
      return form;
    }

    async function load() {
      if (!has('config')) {
        clear(treeEl).append(notice(cannot('show its configuration')));
        app.drawn();
        return;
      }
      try {
        keys = (await loadTree()).keys;
      } catch (e) {
        clear(treeEl).append(notice(e.message, 'error'));
        return;
      }
      if (!alive) return;
      drawTree();
      if (canConfigure()) clear(forms).append(siteForm(), vdirForm());
      app.drawn();
    }

    load();
    return { refresh: load, unmount() { alive = false; } };
  },
};
