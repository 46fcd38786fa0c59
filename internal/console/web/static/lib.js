// Helpers of the sluice console: DOM building (text only: no value from
// the API is ever parsed as markup), API calls, number formatting and
// charts (uPlot, loaded as a classic script before this module).

// el builds an element. attrs may hold class, text, title, dataset (an
// object) and on<event> handlers; children are nodes or strings (strings
// become text nodes). Never markup.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') throw new Error('el: set styles through classes or element.style');
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

// ApiError is an answer of the API that is not 2xx; message is its
// {"error": ...} text.
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// api GETs /api/v1/<path> with params (empty values left out).
// pending counts the API calls under way in data-pending on <html> (tests
// and screenshots wait for 0).
function pending(d) {
  const root = document.documentElement;
  root.dataset.pending = String((+root.dataset.pending || 0) + d);
}

export async function api(path, params, signal) {
  pending(1);
  try {
    return await apiCall(path, params, signal);
  } finally {
    pending(-1);
  }
}

async function apiCall(path, params, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const url = 'api/v1/' + path + (q.toString() ? '?' + q : '');
  const resp = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    const msg = body && typeof body.error === 'string' ? body.error : resp.status + ' ' + resp.statusText;
    throw new ApiError(resp.status, msg);
  }
  return body;
}

// Units: what the chosen unit means for each kind. A rate divides by
// seconds; bits multiplies bytes by 8.
export const UNITS = {
  bits: { flows: 'bytes', rate: true, mul: 8, suffix: 'b/s', label: 'bits/s' },
  pps: { flows: 'packets', rate: true, mul: 1, suffix: 'p/s', label: 'packets/s' },
  flows: { flows: 'flows', rate: false, mul: 1, suffix: '', label: 'flows' },
  bytes: { flows: 'bytes', rate: false, mul: 1, suffix: 'B', label: 'bytes' },
  packets: { flows: 'packets', rate: false, mul: 1, suffix: '', label: 'packets' },
};

// metricFor is the API metric a panel of kind asks for under unit: DNS
// panels count queries, syslog panels lines.
export function metricFor(kind, unit) {
  if (kind === 'dns') return 'queries';
  return kind === 'flows' ? (UNITS[unit] || UNITS.bits).flows : 'events';
}

// noun is what one document of kind is called.
function noun(kind) {
  return kind === 'dns' ? 'queries' : 'events';
}

// scale turns a sum over seconds into what unit shows.
export function scale(kind, unit, sum, seconds) {
  const u = UNITS[unit] || UNITS.bits;
  if (kind !== 'flows') return u.rate ? sum / seconds : sum;
  return u.rate ? (sum * u.mul) / seconds : sum;
}

export function unitLabel(kind, unit) {
  const u = UNITS[unit] || UNITS.bits;
  if (kind !== 'flows') return u.rate ? noun(kind) + '/s' : noun(kind);
  return u.label;
}

// fmtNum writes a count exactly (grouped digits) and a rate or a large
// byte count with an SI prefix.
export function fmtNum(kind, unit, v) {
  const u = UNITS[unit] || UNITS.bits;
  if (!Number.isFinite(v)) return '-';
  if (u.rate) return si(v) + (kind === 'flows' ? u.suffix : kind === 'dns' ? ' q/s' : ' ev/s');
  if (kind === 'flows' && unit === 'bytes') return si(v, 1024) + 'B';
  return Math.round(v).toLocaleString('en-US');
}

export function si(v, base = 1000) {
  const p = ['', 'k', 'M', 'G', 'T', 'P'];
  let i = 0;
  let x = Math.abs(v);
  while (x >= base && i < p.length - 1) { x /= base; i++; }
  let s;
  if (x === 0 || (i === 0 && Number.isInteger(x))) s = x.toFixed(0);
  else if (x < 1) s = x.toPrecision(2);
  else s = x >= 100 ? x.toFixed(1) : x.toFixed(2);
  return (v < 0 ? '-' : '') + s + ' ' + p[i];
}

export function pct(a, b) {
  if (!b) return '-';
  return ((100 * a) / b).toFixed(1) + '%';
}

// quote writes value as a query-string phrase.
export function quote(value) {
  return '"' + String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

// andFilter joins filters with AND (each in parentheses).
export function andFilter(...parts) {
  const ps = parts.filter((p) => p && p.trim() !== '');
  if (ps.length === 0) return '';
  if (ps.length === 1) return ps[0];
  return ps.map((p) => '(' + p + ')').join(' AND ');
}

export const COLORS = ['#1f6feb', '#e8590c', '#2f9e44', '#c2255c', '#7048e8', '#0c8599', '#f08c00', '#5c940d',
  '#a61e4d', '#364fc7', '#087f5b', '#d9480f', '#862e9c', '#495057'];

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
}

// stackedChart draws series (name, values, color) stacked, largest total
// first, and lines (name, values, color, dashed) on top; xs are unix
// seconds. It returns the uPlot instance (destroy it when done).
export function stackedChart(container, xs, stacked, lines, yLabel, percent = false) {
  const width = Math.max(280, container.clientWidth || 600);
  const height = width < 500 ? 200 : 260;
  const data = [xs];
  const series = [{}];
  // Cumulative sums drawn from the largest down, each filled to zero,
  // read as a stack.
  const cum = [];
  let acc = xs.map(() => 0);
  for (const s of stacked) {
    acc = acc.map((a, i) => a + (s.values[i] || 0));
    cum.push({ name: s.name, values: acc, color: s.color });
  }
  for (let i = cum.length - 1; i >= 0; i--) {
    data.push(cum[i].values);
    series.push({ label: cum[i].name, stroke: cum[i].color, fill: alpha(cum[i].color, 0.55), width: 1, points: { show: false } });
  }
  for (const l of lines) {
    data.push(l.values);
    series.push({ label: l.name, stroke: l.color, width: 1.5, dash: l.dashed ? [6, 4] : undefined, points: { show: !!l.points, size: 6, fill: l.color } });
  }
  const opts = {
    width, height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: percent ? { x: { time: true }, y: { range: [0, 100] } } : { x: { time: true } },
    axes: [{}, { label: yLabel, size: 70, values: (u, vals) => vals.map((v) => si(v)) }],
    series,
  };
  return new window.uPlot(opts, data, container);
}
