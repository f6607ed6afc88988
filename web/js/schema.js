// schema: GET /api/v1/schema, read once per login (capability `schema`), and
// the key list of the configuration tree that the property and site views share.

import { get } from './api.js';
import { has } from './state.js';

let schema = null;

/** {kinds, byName: Map} or null when the server cannot describe its properties. */
export async function loadSchema() {
  if (!has('schema')) return null;
  if (schema) return schema;
  const d = await get('/api/v1/schema');
  const byName = new Map();
  for (const p of d.properties || []) byName.set(p.name, p);
  schema = { kinds: d.kinds || [], byName };
  return schema;
}

export function forgetSchema() {
  schema = null;
}

/** The whole tree, flat, parents first: [{key, kind, properties, children}]. */
export async function loadTree() {
  const d = await get('/api/v1/config?recursive=1');
  const root = { ...d };
  delete root.subkeys;
  return { revision: d.revision, keys: [root, ...(d.subkeys || [])] };
}
