// accounts: admin accounts and their roles; (admin) create one (its token is
// shown once), give one a new token, delete one, each destructive step asked.

import { api, get } from '../api.js';
import { ctx, has, canConfigure, cannot } from '../state.js';
import { h, clear, announce, notice, uid, writeButton, confirmDialog, timeEl } from '../dom.js';

const ROLES = ['reader', 'operator', 'admin'];

export default {
  title: 'Accounts',
  mount(root, rest, app) {
    const listEl = h('div');
    const tokenEl = h('div', { class: 'token-box', 'aria-live': 'polite' });
    const formEl = h('div');
    root.append(h('div', { class: 'view-head' }, h('h1', { id: 'h-accounts' }, 'Accounts and tokens')), tokenEl, listEl, formEl);
    if (!has('accounts')) {
      clear(root).append(h('h1', { id: 'h-accounts' }, 'Accounts and tokens'), notice(cannot('manage accounts')));
      app.drawn();
      return {};
    }
    const write = canConfigure();

    function showToken(name, token) {
      const id = uid('tok');
      const out = h('input', { id, type: 'text', readOnly: true, value: token, class: 'token', spellcheck: 'false' });
      clear(tokenEl).append(h('div', { class: 'card token-card' },
        h('p', {}, h('label', { for: id }, `Token of ${name}`), out),
        h('p', { class: 'notice notice-info' }, 'It is shown this once: copy it now. The server keeps only its hash.'),
        h('button', { type: 'button', onclick: () => clear(tokenEl) }, 'Done')));
      out.focus();
      out.select();
    }

    async function newToken(a) {
      const ok = await confirmDialog({ title: `New token for ${a.name}?`, text: `The current token of ${a.name} stops working at once, and its sessions end.`, confirmLabel: 'New token' });
      if (!ok) return;
      try {
        const d = (await api('POST', `/api/v1/accounts/${encodeURIComponent(a.name)}/token`, { body: {} })).data;
        announce(`New token for ${a.name}`);
        showToken(a.name, d.token);
      } catch (e) {
        announce(`New token for ${a.name}: ${e.message}`, 'error');
      }
    }

    async function remove(a) {
      const self = a.name === ctx.account;
      const ok = await confirmDialog({ title: `Delete the account ${a.name}?`, text: self ? 'This is your own account: you will be logged out.' : `${a.name} can no longer log in.`, confirmLabel: 'Delete' });
      if (!ok) return;
      try {
        await api('DELETE', `/api/v1/accounts/${encodeURIComponent(a.name)}`);
        announce(`Account ${a.name} deleted`);
        load();
      } catch (e) {
        announce(`Delete ${a.name}: ${e.message}`, 'error');
      }
    }

    function drawList(accounts) {
      const heads = ['Name', 'Role', 'Created'];
      if (write) heads.push('Token', 'Delete');
      clear(listEl).append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Accounts' },
        h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, accounts.map((a) => h('tr', { dataset: { account: a.name } },
          h('th', { scope: 'row' }, a.name), h('td', {}, a.role), h('td', {}, timeEl(a.created)),
          write ? h('td', {}, writeButton('New token', () => newToken(a), { class: 'small', 'aria-label': `New token for ${a.name}` })) : null,
          write ? h('td', {}, writeButton('Delete', () => remove(a), { class: 'danger small', 'aria-label': `Delete the account ${a.name}` })) : null))))));
    }

    function drawForm() {
      if (!write) return;
      const nameId = uid('acc');
      const roleId = uid('role');
      const name = h('input', { id: nameId, type: 'text', required: true, autocomplete: 'off', 'data-write': true });
      const role = h('select', { id: roleId, 'data-write': true }, ROLES.map((r) => h('option', { value: r }, r)));
      const form = h('form', { class: 'card', 'aria-labelledby': 'h-new-account' },
        h('h2', { id: 'h-new-account' }, 'New account'),
        h('p', { class: 'field' }, h('label', { for: nameId }, 'Name'), name),
        h('p', { class: 'field' }, h('label', { for: roleId }, 'Role'), role),
        h('p', {}, h('button', { type: 'submit', class: 'primary', 'data-write': true }, 'Create account')));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const n = name.value.trim();
        if (!n) { name.focus(); return; }
        try {
          const d = (await api('POST', '/api/v1/accounts', { body: { name: n, role: role.value } })).data;
          announce(`Account ${d.name} created with role ${d.role}`);
          showToken(d.name, d.token);
          form.reset();
          load();
        } catch (e) {
          announce(`Create ${n}: ${e.message}`, 'error');
        }
      });
      clear(formEl).append(form);
    }

    async function load() {
      try {
        drawList((await get('/api/v1/accounts')).accounts || []);
      } catch (e) {
        clear(listEl).append(notice(e.message, 'error'));
      }
      app.drawn();
    }

    drawForm();
    load();
    return { refresh: load };
  },
};
