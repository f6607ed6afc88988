// app: start-up, login and logout, the navigation and hash routing (#/VIEW/REST),
// and live events dispatched to the view on screen. Each view module exports
// {title, mount(el, rest)} and mount returns {refresh?, onState?, onStats?, unmount?}.

import { api, ApiError, setCsrf, setBearer, usingBearer, onUnauthorized, onWritesSettled,
  writesInFlight, isOwnRevision, lastSeenRevision } from './api.js';
import { startEvents, stopEvents } from './events.js';
import { ctx, has, setDiscovery } from './state.js';
import { $, h, clear, announce, notice } from './dom.js';
import { feed, resetStore } from './statsstore.js';
import overview from './views/overview.js';
import properties from './views/properties.js';
import sites from './views/sites.js';
import sessions from './views/sessions.js';
import statistics from './views/statistics.js';
import historyView from './views/history.js';
import audit from './views/audit.js';
import accounts from './views/accounts.js';

const VIEWS = { overview, properties, sites, sessions, statistics, history: historyView, audit, accounts };
const ORDER = ['overview', 'properties', 'sites', 'sessions', 'statistics', 'history', 'audit', 'accounts'];
// Not the token: only a note that this browser logged in, so that a fresh
// visit does not ask for a session it cannot have (a 401 in the console).
const HINT = 'infosrv-console-session';

// Console features and the capability each needs, for the banner.
const FEATURES = [
  ['console', 'log in with a session cookie (the token is kept in this page only, until it is closed)'],
  ['schema', 'describe its properties (property sheets are read-only)'],
  ['events', 'push live updates (the console polls every 2 s)'],
  ['services.pause', 'pause services and sites'],
  ['sessions.disconnect', 'disconnect sessions'],
  ['stats.clear', 'clear statistics'],
  ['config.diff', 'show the differences between revisions'],
  ['config.rollback', 'roll back to a revision'],
  ['audit', 'show its audit log'],
  ['accounts', 'manage accounts and tokens'],
];

let current = null;        // {id, ctl}
let firstViewPending = false;
let loggedIn = false;
const pendingCommits = [];
const told = new Set();    // revisions already told
let streamBase = 0;        // hello's revision
let recheck = null;

function el(id) { return document.getElementById(id); }

// ---- login -------------------------------------------------------------------

function showLogin(message, kind = 'error') {
  loggedIn = false;
  stopEvents();
  unmountView();
  document.body.classList.remove('logged-in');
  el('nav').hidden = true;
  el('logout').hidden = true;
  el('menu-toggle').hidden = true;
  el('banner').hidden = true;
  clear(el('who'));
  clear(el('server-info'));
  el('login').hidden = false;
  const err = el('login-error');
  err.textContent = message || '';
  err.className = message ? `login-msg login-${kind}` : 'login-msg';
  el('token').value = '';
  el('token').focus();
}

async function submitLogin(ev) {
  ev.preventDefault();
  const token = el('token').value.trim();
  const err = el('login-error');
  if (!token) { err.textContent = 'Enter the token.'; return; }
  el('login-button').disabled = true;
  err.textContent = '';
  delete window.consoleFirstViewMs;
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark('login-start');
  try {
    await login(token);
  } catch (e) {
    showLogin(loginMessage(e));
  } finally {
    el('login-button').disabled = false;
  }
}

function loginMessage(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return 'The token was not accepted.';
    if (e.status === 429) return `Too many failed logins: try again in ${e.retryAfter || 60} s.`;
    return `Login failed: ${e.message}`;
  }
  return `Login failed: ${e.message}`;
}

// The token asks GET /api first (every server takes a bearer token): its
// capabilities say whether the server has the console login.
async function login(token) {
  const disc = await api('GET', '/api', { headers: { Authorization: `Bearer ${token}` }, quiet401: true });
  setDiscovery(disc.data);
  if (has('console')) {
    const r = await api('POST', '/api/v1/login', { body: { token }, quiet401: true });
    await enter(r.data, disc.data);
    localStorage.setItem(HINT, '1'); // after the first view's requests are on their way
  } else {
    setBearer(token);
    await enter(null, disc.data);
  }
}

async function resume() {
  if (localStorage.getItem(HINT) !== '1') return false;
  try {
    const r = await api('GET', '/api/v1/login', { quiet401: true });
    await enter(r.data, null);
    return true;
  } catch (e) {
    localStorage.removeItem(HINT);
    return false;
  }
}

// Logged in: SESSION is the login object (null in bearer mode), DISC the
// discovery when already read.
async function enter(session, disc) {
  setCsrf(session ? session.csrf : null);
  ctx.mode = session ? 'cookie' : 'bearer';
  ctx.identity = session ? session.identity || '' : '';
  ctx.account = session ? session.account || '' : '';
  ctx.role = session ? session.role || '' : '';
  setDiscovery(disc || (await api('GET', '/api')).data);
  loggedIn = true;
  el('login').hidden = true;
  document.body.classList.add('logged-in');
  drawChrome();
  resetStore();
  firstViewPending = performance.getEntriesByName('login-start').length > 0;
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/overview');
  // The view's requests go first (the server answers API calls one at a time).
  route();
  startLive();
  // The revision we start from, so that hello can tell what the stream missed.
  if (has('config.history')) api('GET', '/api/v1/revisions?limit=1').catch(() => {});
}

async function logout() {
  stopEvents();
  try {
    if (usingBearer()) setBearer(null);
    else await api('POST', '/api/v1/logout', { body: {}, quiet401: true });
  } catch (e) {
    announce(`Logout: ${e.message}`, 'error');
  }
  localStorage.removeItem(HINT);
  setCsrf(null);
  showLogin('Logged out.', 'info');
}

function drawChrome() {
  const info = clear(el('server-info'));
  info.append(`version ${ctx.version}`);
  const who = clear(el('who'));
  who.append(ctx.mode === 'cookie' ? `${ctx.account || ctx.identity} (${ctx.role})` : 'token (role unknown)');
  el('logout').hidden = false;
  el('menu-toggle').hidden = false;
  el('nav').hidden = false;
  drawBanner();
}

function drawBanner() {
  const missing = FEATURES.filter(([cap]) => !has(cap)).map(([, what]) => what);
  const b = clear(el('banner'));
  b.hidden = missing.length === 0 && ctx.mode === 'cookie';
  if (b.hidden) return;
  b.append(h('strong', {}, `This server (version ${ctx.version}) cannot:`),
    h('ul', {}, missing.map((m) => h('li', {}, m))));
  if (ctx.mode === 'bearer') {
    b.append(h('p', {}, 'It cannot say which role this token has: every control is offered, and the server refuses what the role does not allow.'));
  }
}

// ---- live events ---------------------------------------------------------------

function startLive() {
  const stream = has('events') && ctx.mode === 'cookie';
  startEvents(onEvent, { useStream: stream, pollRevisions: has('config.history') });
}

function onEvent(type, data) {
  if (!loggedIn) return;
  if (type === 'stats') {
    feed(data);
    if (current && current.ctl.onStats) current.ctl.onStats(data);
  } else if (type === 'state') {
    if (current && current.ctl.onState) current.ctl.onState(data);
  } else if (type === 'commit') {
    onCommit(data, true);
  } else if (type === 'hello') {
    streamBase = data.revision;
    const seen = lastSeenRevision();
    if (seen > 0 && data.revision > seen) catchUp(seen, data.revision);
    // Look once more a little later: a commit made as the stream opened may
    // not be streamed (seen with the 0.9.0 admin listener).
    clearTimeout(recheck);
    recheck = setTimeout(() => { if (loggedIn) catchUp(data.revision, Infinity); }, 1500);
  } else if (type === 'reset') {
    announce('The server restarted or the event stream fell behind: everything is reloaded.', 'info');
    reloadAll();
  } else if (type === 'lost') {
    checkSession();
  }
}

// Each revision is told once, whether it came by the stream, by polling or
// by catching up; the stream's commits up to hello's revision are old news.
function onCommit(c, fromStream) {
  if (told.has(c.revision) || (fromStream && c.revision <= streamBase)) return;
  told.add(c.revision);
  pendingCommits.push(c);
  if (writesInFlight() === 0) flushCommits();
}

// Commits made after our data was read but before the stream was connected
// (or while it was reconnecting without a Last-Event-ID) are told by hello's
// revision: fetch them and tell them as if they had been streamed.
async function catchUp(seen, upTo) {
  if (!has('config.history')) return;
  try {
    const d = (await api('GET', '/api/v1/revisions?limit=20')).data;
    const missed = (d.revisions || []).filter((r) => r.revision > seen && r.revision <= upTo).reverse();
    for (const r of missed) onCommit(r, false);
  } catch (e) {
    announce(`Revisions: ${e.message}`, 'error');
  }
}

// A commit event may come before the answer to our own write: wait until no
// write is in flight, then tell only about the revisions others made.
function flushCommits() {
  let others = false;
  while (pendingCommits.length) {
    const c = pendingCommits.shift();
    if (isOwnRevision(c.revision)) continue;
    others = true;
    announce(`Revision ${c.revision} by ${c.identity}${c.comment ? `: ${c.comment}` : ''}`, 'info');
  }
  if (others && current && current.ctl.refresh) current.ctl.refresh({ external: true });
}

async function reloadAll() {
  try {
    setDiscovery((await api('GET', '/api')).data);
    drawChrome();
    resetStore();
    route();
  } catch (e) {
    announce(e.message, 'error');
  }
}

async function checkSession() {
  if (ctx.mode !== 'cookie') return;
  try {
    await api('GET', '/api/v1/login', { quiet401: true });
    setTimeout(() => { if (loggedIn) startLive(); }, 2000);
  } catch (e) {
    if (e.status === 401) showLogin('Your session has ended: log in again.');
  }
}

// ---- routing -------------------------------------------------------------------

function unmountView() {
  if (current && current.ctl.unmount) current.ctl.unmount();
  current = null;
  delete el('view').dataset.ready;
  clear(el('view'));
}

function route() {
  if (!loggedIn) return;
  const hash = location.hash;
  if (!hash.startsWith('#/')) return;
  const path = decodeURIComponent(hash.slice(2));
  const slash = path.indexOf('/');
  const id = slash < 0 ? path : path.slice(0, slash);
  const rest = slash < 0 ? '' : path.slice(slash);
  const view = VIEWS[id];
  unmountView();
  const root = el('view');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  closeMenu();
  if (!view) {
    root.append(h('h1', {}, 'Not found'), notice(`There is no view "${id}".`));
    return;
  }
  document.title = `${view.title} — infosrv console`;
  const section = h('section', { class: `view view-${id}`, 'aria-labelledby': `h-${id}` });
  root.append(section);
  delete root.dataset.ready;
  current = { id, ctl: {}, section };
  current.ctl = view.mount(section, rest, { drawn: () => { if (current && current.section === section) viewDrawn(id); } }) || {};
}

// Each view calls this once its data is on screen: the first one after login
// closes the login-to-first-view measure.
function viewDrawn(id) {
  el('view').dataset.ready = id;
  if (!firstViewPending) return;
  firstViewPending = false;
  requestAnimationFrame(() => {
    performance.mark('first-view');
    const m = performance.measure('login-to-first-view', 'login-start', 'first-view');
    window.consoleFirstViewMs = Math.round(m.duration * 10) / 10;
  });
}

function closeMenu() {
  el('menu-toggle').setAttribute('aria-expanded', 'false');
  el('nav').classList.remove('open');
}

function buildNav() {
  const ul = h('ul');
  for (const id of ORDER) ul.append(h('li', {}, h('a', { href: `#/${id}`, dataset: { view: id } }, VIEWS[id].title)));
  el('nav').append(ul);
  el('menu-toggle').addEventListener('click', () => {
    const open = el('menu-toggle').getAttribute('aria-expanded') !== 'true';
    el('menu-toggle').setAttribute('aria-expanded', String(open));
    el('nav').classList.toggle('open', open);
  });
}

async function boot() {
  buildNav();
  $('#login-form').addEventListener('submit', submitLogin);
  el('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  onUnauthorized(() => { if (loggedIn) showLogin('Your session has ended: log in again.'); });
  onWritesSettled(() => { if (pendingCommits.length) flushCommits(); });
  el('loading').remove();
  if (!(await resume())) showLogin('');
}

boot();
