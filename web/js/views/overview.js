// overview: version, uptime, every service and site with its state and
// bindings, and (operator, admin) start/stop/pause/continue per service and site.

import { api, get } from '../api.js';
import { ctx, has, canOperate, cannot, uptimeNow } from '../state.js';
import { h, clear, announce, notice, writeButton, confirmDialog, stateBadge, fmtDuration, fmtValue, table } from '../dom.js';

const DONE = { start: 'started', stop: 'stopped', pause: 'paused', continue: 'continued' };

function actionsFor(state) {
  const pause = has('services.pause');
  if (state === 'started') return pause ? ['stop', 'pause'] : ['stop'];
  if (state === 'paused') return ['continue', 'stop'];
  return ['start'];
}

function label(action) {
  return action[0].toUpperCase() + action.slice(1);
}

async function control(service, site, action, redraw) {
  const what = site ? `Site ${site}` : `Service ${service}`;
  if (action === 'stop' || action === 'pause') {
    const ok = await confirmDialog({
      title: `${label(action)} ${what.toLowerCase()}?`,
      text: action === 'stop'
        ? `${what} closes its listeners and its connections.`
        : `${what} closes its listeners; its connections stay open.`,
      confirmLabel: label(action),
    });
    if (!ok) return;
  }
  const path = site
    ? `/api/v1/services/${encodeURIComponent(service)}/sites/${encodeURIComponent(site)}/${action}`
    : `/api/v1/services/${encodeURIComponent(service)}/${action}`;
  try {
    const r = await api('POST', path, { body: {} });
    const state = r.data && r.data.state;
    announce(`${what} ${action === 'continue' ? 'continued' : (state || DONE[action])}${r.data && r.data.revision ? ` (revision ${r.data.revision})` : ''}`);
    await redraw();
    // The controls were drawn anew: keep the keyboard where it was.
    const key = site ? `${service}/${site}` : service;
    const again = [...document.querySelectorAll('[data-ctl-of]')].find((c) => c.dataset.ctlOf === key);
    if (again && again.firstChild) again.firstChild.focus();
  } catch (e) {
    announce(`${what}: ${e.message}`, 'error');
  }
}

function controls(service, site, state, redraw) {
  if (!has('services') || !canOperate()) return null;
  return h('span', { class: 'controls', dataset: { ctlOf: site ? `${service}/${site}` : service } }, actionsFor(state).map((a) => writeButton(label(a), () => control(service, site, a, redraw), {
    class: a === 'stop' ? 'danger' : '',
    dataset: { action: a, service, site: site || '' },
    'aria-label': `${label(a)} ${site ? `site ${site} of ${service}` : `service ${service}`}`,
  })));
}

async function flush(service) {
  try {
    await api('POST', `/api/v1/cache/flush?service=${encodeURIComponent(service)}`, { body: {} });
    announce(`Cache of ${service} flushed`);
  } catch (e) {
    announce(`Cache flush: ${e.message}`, 'error');
  }
}

function siteRows(svc, redraw) {
  return svc.sites.map((s) => h('tr', { dataset: { service: svc.name, site: s.name } },
    h('th', { scope: 'row' }, h('a', { href: `#/properties/${svc.name}/sites/${s.name}` }, s.name)),
    h('td', { class: 'state-cell' }, stateBadge(s.state, svc.name, s.name)),
    h('td', {}, fmtValue(s.bindings || [])),
    h('td', {}, fmtValue(s.host_names || [])),
    canOperate() && has('services') ? h('td', { class: 'ctl-cell' }, controls(svc.name, s.name, s.state, redraw)) : null));
}

function serviceCard(svc, redraw) {
  const heads = ['Site', 'State', 'Bindings', 'Host names'];
  if (canOperate() && has('services')) heads.push('Control');
  return h('article', { class: 'card service', dataset: { service: svc.name } },
    h('header', { class: 'card-head' },
      h('h2', {}, svc.name),
      stateBadge(svc.state, svc.name, null),
      h('span', { class: 'ctl-service' }, controls(svc.name, null, svc.state, redraw)),
      has('cache.flush') && canOperate()
        ? writeButton('Flush cache', () => flush(svc.name), { 'aria-label': `Flush the file cache of ${svc.name}` })
        : null),
    svc.sites.length
      ? table(null, heads, siteRows(svc, redraw), { 'aria-label': `Sites of ${svc.name}` })
      : h('p', { class: 'muted' }, 'No sites.'));
}

export default {
  title: 'Overview',
  mount(root, rest, app) {
    const head = h('div', { class: 'view-head' }, h('h1', { id: 'h-overview' }, 'Overview'));
    const facts = h('dl', { class: 'facts' });
    const body = h('div', { class: 'cards' });
    root.append(head, facts, body);
    let services = [];
    let drawnOnce = false;
    const upEl = h('dd', { id: 'uptime' });

    function drawFacts() {
      clear(facts).append(
        h('dt', {}, 'Version'), h('dd', {}, ctx.version),
        h('dt', {}, 'Up'), upEl,
        ctx.started ? h('dt', {}, 'Started') : null, ctx.started ? h('dd', {}, ctx.started) : null,
        h('dt', {}, 'Logged in as'), h('dd', {}, ctx.mode === 'cookie' ? `${ctx.identity} (${ctx.role})` : 'bearer token'));
      upEl.textContent = ctx.started || ctx.uptime ? fmtDuration(uptimeNow()) : 'unknown';
    }

    async function load() {
      if (!has('services')) {
        drawFacts();
        clear(body).append(notice(cannot('list its services')));
        app.drawn();
        return;
      }
      try {
        services = (await get('/api/v1/services')).services || [];
      } catch (e) {
        clear(body).append(notice(`Services: ${e.message}`, 'error'));
        return;
      }
      drawFacts();
      clear(body).append(...services.map((s) => serviceCard(s, load)));
      if (!drawnOnce) { drawnOnce = true; app.drawn(); }
    }

    load();
    return {
      refresh: load,
      onStats() { if (ctx.started || ctx.uptime) upEl.textContent = fmtDuration(uptimeNow()); },
      // A state event changes a badge in place and redraws that row's controls.
      onState(ev) {
        const svc = services.find((s) => s.name === ev.service);
        const item = svc && (ev.site ? svc.sites.find((s) => s.name === ev.site) : svc);
        if (!item) return;
        item.state = ev.state;
        const key = ev.site ? `${ev.service}/${ev.site}` : ev.service;
        for (const b of root.querySelectorAll('[data-state-of]')) {
          if (b.dataset.stateOf !== key) continue;
          b.textContent = ev.state;
          b.className = `badge state-${ev.state}`;
        }
        for (const c of root.querySelectorAll('[data-ctl-of]')) {
          if (c.dataset.ctlOf !== key) continue;
          const had = c.contains(document.activeElement);
          const next = controls(ev.service, ev.site || null, ev.state, load);
          c.replaceWith(next);
          if (had && next.firstChild) next.firstChild.focus();
        }
      },
    };
  },
};
