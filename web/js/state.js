// state: what the console knows about the server it talks to and who is
// logged in. Every decision about what to offer reads the capabilities here,
// never the version number.

export const ctx = {
  version: '',
  started: null,
  uptime: 0,
  uptimeAt: 0,        // performance.now() when uptime was read
  capabilities: new Set(),
  mode: 'cookie',     // 'cookie' (console login) or 'bearer' (older server)
  identity: '',
  account: '',
  role: '',           // 'reader', 'operator', 'admin'; '' when the server cannot say
  services: [],       // names of the services the server runs
};

/** True when the server lists capability NAME. */
export function has(name) {
  return ctx.capabilities.has(name);
}

/** Service control, disconnect, cache flush, statistics clear. */
export function canOperate() {
  return ctx.role === 'operator' || ctx.role === 'admin' || ctx.role === '';
}

/** Configuration writes, rollback, accounts. */
export function canConfigure() {
  return ctx.role === 'admin' || ctx.role === '';
}

/** "this server (version X) cannot do Y" */
export function cannot(what) {
  return `This server (version ${ctx.version || 'unknown'}) cannot ${what}.`;
}

/** Seconds the server has been up, now. */
export function uptimeNow() {
  return ctx.uptime + (performance.now() - ctx.uptimeAt) / 1000;
}

export function setDiscovery(d) {
  ctx.version = d.version || '';
  ctx.capabilities = new Set(Array.isArray(d.capabilities) ? d.capabilities : []);
  ctx.started = d.started || null;
  ctx.uptime = typeof d.uptime === 'number' ? d.uptime : 0;
  ctx.uptimeAt = performance.now();
  ctx.services = ['www'];
  for (const c of ctx.capabilities) if (c.startsWith('services.') && c !== 'services.pause') ctx.services.push(c.slice(9));
}
