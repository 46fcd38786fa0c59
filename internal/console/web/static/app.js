// The sluice console: one page, seven views, the whole state in the URL
// hash (#view=traffic&range=1h&filter=...), so a URL can be shared and a
// reload shows the same view. Every number comes from the JSON API under
// /api/v1; every value is inserted as text.
import { el, api, ApiError } from './lib.js';
import { VIEWS } from './views.js';

const DEFAULTS = { view: 'traffic', range: '1h', from: '', to: '', filter: '', unit: 'bits', by: '', kind: 'flows', before: '', dim: '' };
const KEYS = Object.keys(DEFAULTS);

export const state = { ...DEFAULTS };
let meta = null;
let current = null; // { abort: AbortController, cleanup: [] }

function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  for (const k of KEYS) state[k] = q.get(k) ?? DEFAULTS[k];
  if (!VIEWS[state.view]) state.view = DEFAULTS.view;
}

function writeHash() {
  const q = new URLSearchParams();
  for (const k of KEYS) {
    if (state[k] !== DEFAULTS[k] || k === 'view') q.set(k, state[k]);
  }
  const h = '#' + q.toString();
  if (location.hash !== h) history.pushState(null, '', h);
}

// set changes the state, writes the URL and renders the view again.
export function set(changes) {
  Object.assign(state, changes);
  writeHash();
  render();
}

// addFilter adds field:"value" to the filter (clauses side by side must
// all hold) and renders again.
export function addFilter(field, value) {
  const clause = field + ':' + quoteValue(value);
  const f = state.filter.trim();
  let next = clause;
  if (f !== '') next = /\bOR\b/.test(f) ? '(' + f + ') AND ' + clause : f + ' AND ' + clause;
  set({ filter: next, before: '' });
}

function quoteValue(v) {
  return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

// timeParams are the from/to the API is asked for.
export function timeParams() {
  if (state.range === 'custom') return { from: state.from || 'now-1h', to: state.to || 'now' };
  return { from: 'now-' + state.range, to: 'now' };
}

// reportError shows a 400 of the API next to the filter box (the first
// one of a render); other errors stay in their panel.
const errs = { shown: false };
export function reportError(err) {
  if (err instanceof ApiError && err.status === 400 && !errs.shown) {
    errs.shown = true;
    document.getElementById('filter-error').textContent = err.message;
  }
}

function syncControls() {
  document.getElementById('range').value = state.range;
  document.getElementById('custom').classList.toggle('hidden', state.range !== 'custom');
  document.getElementById('from').value = state.from;
  document.getElementById('to').value = state.to;
  document.getElementById('filter').value = state.filter;
  document.getElementById('unit').value = state.unit;
  for (const b of document.querySelectorAll('#tabs button')) {
    b.classList.toggle('active', b.dataset.view === state.view);
  }
  document.getElementById('controls').classList.toggle('hidden', state.view === 'health');
}

let rendered = null; // the hash of the view shown

function render() {
  rendered = location.hash;
  if (current) {
    current.abort.abort();
    for (const f of current.cleanup) f();
  }
  current = { abort: new AbortController(), cleanup: [] };
  errs.shown = false;
  document.getElementById('filter-error').textContent = '';
  syncControls();
  const main = document.getElementById('view');
  main.replaceChildren();
  main.dataset.view = state.view;
  const ctx = {
    state, meta, signal: current.abort.signal, main, set, addFilter, timeParams, reportError,
    onCleanup: (f) => current.cleanup.push(f),
    dims: (kind) => (meta && meta.kinds && meta.kinds[kind] ? meta.kinds[kind].dimensions.map((d) => d.field) : []),
  };
  document.title = 'sluice · ' + state.view;
  try {
    VIEWS[state.view](ctx);
  } catch (e) {
    main.append(el('p', { class: 'perr', text: 'this view failed: ' + e.message }));
    throw e;
  }
}

async function start() {
  readHash();
  const form = document.getElementById('controls');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    set({ filter: document.getElementById('filter').value.trim(), from: document.getElementById('from').value.trim(), to: document.getElementById('to').value.trim(), before: '' });
  });
  document.getElementById('range').addEventListener('change', (e) => {
    const range = e.target.value;
    if (range === 'custom') {
      state.range = 'custom';
      syncControls();
      return; // applied with the from/to fields
    }
    set({ range, before: '' });
  });
  document.getElementById('unit').addEventListener('change', (e) => set({ unit: e.target.value }));
  for (const b of document.querySelectorAll('#tabs button')) {
    b.addEventListener('click', () => set({ view: b.dataset.view, by: '', before: '', dim: '' }));
  }
  // Back/forward and a URL edited by hand (or a link) show their view.
  const follow = () => {
    if (location.hash === rendered) return;
    readHash();
    render();
  };
  window.addEventListener('popstate', follow);
  window.addEventListener('hashchange', follow);
  try {
    meta = await api('meta');
    const be = document.getElementById('backend');
    be.textContent = (meta.backend ? 'store: ' + meta.backend : 'no store') + (meta.version ? ' · ' + meta.version : '');
  } catch (e) {
    document.getElementById('backend').textContent = 'meta failed: ' + e.message;
  }
  render();
}

start();
