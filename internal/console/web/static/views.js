// The console's views. Each builds its panels into ctx.main and fills
// them from the API; values go in as text (el, textContent), never markup.
import { el, api, metricFor, scale, unitLabel, fmtNum, pct, andFilter, COLORS, stackedChart, si } from './lib.js';

// Denied and allowed event.action values the firewall parsers write
// (meraki deny/allow, netfilter block/allow, pfSense block/pass, F5
// blocked/passed, MikroTik/Ubiquiti drop, ASA/FTD deny/permit).
const DENIED = ['deny', 'denied', 'block', 'blocked', 'drop', 'dropped', 'reject', 'rejected'];
const ALLOWED = ['allow', 'allowed', 'accept', 'accepted', 'pass', 'passed', 'permit', 'permitted'];
const actions = (vals) => 'event.action:(' + vals.join(' OR ') + ')';
const DENY = actions(DENIED);
const ALLOW = actions(ALLOWED);
const PARSE_FAIL = 'tags:(_grokparsefailure OR _syslogheaderfailure OR _field_conversion_failure)';

const LABELS = {
  'source.ip': 'Top talkers (source.ip)', 'destination.ip': 'Top destinations (destination.ip)',
  'destination.port': 'Destination ports', 'network.transport': 'Protocols', 'network.direction': 'Direction',
  'source.geo.country_iso_code': 'Source countries', 'destination.geo.country_iso_code': 'Destination countries',
  'source.as.number': 'Source AS', 'destination.as.number': 'Destination AS', 'observer.ip': 'Exporters / senders (observer.ip)',
  'netflow.ingress_interface': 'Ingress interfaces', 'netflow.egress_interface': 'Egress interfaces',
  'event.action': 'Actions', 'event.outcome': 'Outcomes', 'event.dataset': 'Datasets (vendor)', 'host.hostname': 'Hosts',
  'process.name': 'Programs', 'log.syslog.severity.name': 'Severities', tags: 'Tags',
  'f5.asm.attack_type': 'Attack types', 'f5.asm.violation_rating': 'Violation rating', 'f5.asm.request_status': 'Request status',
  'f5.asm.sig_names': 'Signatures', 'url.path': 'URLs',
  'dns.question.registered_domain': 'Top registered domains', 'dns.question.name': 'Top names', 'dns.question.type': 'Query types',
  'dns.response_code': 'Response codes', 'sluice.dns.score_band': 'Score bands (sluice.dns.score)', 'sluice.dns.reasons': 'Reasons',
  'threat.enrichments.indicator.provider': 'Blocklists hit',
};

// The DNS page's selections: scores of 50 or more (what an alert rule
// such as sluice.dns.score >= 50 fires on), blocklist hits, resolvers
// outside dns.allowed_resolvers, newly seen domains.
const SUSPICIOUS = 'sluice.dns.score_band:("50-69" OR "70+")';
const BLOCKLISTED = '_exists_:sluice.dns.blocklist';
const UNSANCTIONED = 'sluice.dns.unsanctioned_resolver:true';
const NEW_DOMAIN = 'sluice.dns.new_domain:true';
const NXDOMAIN = 'dns.response_code:NXDOMAIN';

// totalsUnit is the unit of totals over the range (tables, legends):
// syslog lines are counted (a rate of a few lines a minute reads badly);
// charts keep the chosen unit.
function totalsUnit(ctx, kind) {
  return kind !== 'flows' ? 'flows' : ctx.state.unit;
}

function panel(ctx, title, opts = {}) {
  const h = el('h2', null, title);
  const body = el('div', { class: 'body' });
  const p = el('section', { class: 'panel' + (opts.wide ? ' wide' : ''), dataset: { panel: opts.id || title } }, h, body);
  ctx.main.append(p);
  return { p, h, body };
}

function showError(ctx, body, err) {
  if (err.name === 'AbortError') return;
  ctx.reportError(err);
  body.replaceChildren(el('p', { class: 'perr', text: err.message }));
}

function valueLink(ctx, field, key) {
  if (key === '') return el('span', { class: 'muted', text: '(none)' });
  return el('span', { class: 'val', title: 'filter on ' + field, dataset: { field, value: key }, onclick: () => ctx.addFilter(field, key) }, key);
}

function seconds(q) {
  const s = (Date.parse(q.to) - Date.parse(q.from)) / 1000;
  return s > 0 ? s : 1;
}

// stats shows the totals of several requests side by side.
function stats(ctx, title, kind, items, opts = {}) {
  const { body } = panel(ctx, title, { wide: true, id: opts.id || 'stats' });
  const row = el('div', { class: 'stats' });
  body.append(row);
  const results = items.map((it) => {
    const v = el('div', { class: 'v', text: '…', dataset: { stat: it.id } });
    row.append(el('div', { class: 'stat' }, v, el('div', { class: 'l', text: it.label })));
    const params = { kind, ...ctx.timeParams(), filter: andFilter(ctx.state.filter, it.filter), metric: it.metric || metricFor(kind, ctx.state.unit), dim: it.dim, limit: 1 };
    return api('top', params, ctx.signal).then((ans) => {
      const val = it.raw ? ans.total : scale(kind, ctx.state.unit, ans.total, seconds(ans.query));
      v.textContent = it.raw ? Math.round(ans.total).toLocaleString('en-US') : fmtNum(kind, ctx.state.unit, val);
      v.dataset.value = String(ans.total);
      return ans.total;
    }).catch((err) => {
      v.textContent = '-';
      showError(ctx, el('div'), err);
      if (err.name !== 'AbortError') row.append(el('p', { class: 'perr', text: err.message }));
      return null;
    });
  });
  return { body, row, results };
}

// chart draws a series request stacked by `by`, with a dashed line of the
// previous period's total when compare is set.
function chart(ctx, title, kind, opts) {
  const { body, h } = panel(ctx, title, { wide: true, id: opts.id || 'chart' });
  const dims = ctx.dims(kind);
  let by = opts.by;
  if (opts.choose) {
    by = ctx.state.by || opts.by;
    if (!dims.includes(by)) by = opts.by;
    const sel = el('select', { 'aria-label': 'stack by', onchange: (e) => ctx.set({ by: e.target.value }) });
    for (const d of dims) sel.append(el('option', { value: d, text: d }));
    sel.value = by;
    h.append(el('span', { class: 'muted', text: 'by' }), sel);
  }
  const area = el('div', { class: 'chart' });
  const legend = el('table', { class: 'legend' });
  const note = el('p', { class: 'note' });
  body.append(area, legend, note);
  const metric = metricFor(kind, ctx.state.unit);
  const totUnit = totalsUnit(ctx, kind);
  const tp = ctx.timeParams();
  const filter = andFilter(ctx.state.filter, opts.filter);
  (async () => {
    const ans = await api('series', { kind, ...tp, filter, metric, by, limit: opts.limit || 8 }, ctx.signal);
    let prev = null;
    if (opts.compare) {
      const len = Date.parse(ans.query.to) - Date.parse(ans.query.from);
      const pf = new Date(Date.parse(ans.query.from) - len).toISOString();
      try {
        prev = await api('series', { kind, from: pf, to: ans.query.from, filter, metric, step: Math.max(1, Math.round(ans.step / 60)) + 'm' }, ctx.signal);
      } catch (err) {
        if (err.name === 'AbortError') throw err;
        note.textContent = 'previous period: ' + err.message;
      }
    }
    const n = ans.total.length;
    const start = Date.parse(ans.start) / 1000;
    const xs = Array.from({ length: n }, (_, i) => start + i * ans.step);
    const conv = (vals) => vals.map((v) => scale(kind, ctx.state.unit, v, ans.step));
    const stacked = ans.keys.map((k, i) => ({ name: k, values: conv(ans.values[i]), color: COLORS[i % COLORS.length], sum: ans.values[i].reduce((a, b) => a + b, 0), key: k }));
    if (ans.other && ans.other.length && ans.other.some((v) => v > 0)) {
      stacked.push({ name: 'other', values: conv(ans.other), color: '#adb5bd', sum: ans.other.reduce((a, b) => a + b, 0), other: true });
    }
    if (!by) stacked.push({ name: 'total', values: conv(ans.total), color: COLORS[0], sum: ans.total.reduce((a, b) => a + b, 0), other: true });
    const lines = [];
    if (prev) {
      const pv = conv(prev.total);
      lines.push({ name: 'previous period', values: xs.map((_, i) => (i < pv.length ? pv[i] : null)), color: '#212529', dashed: true });
    }
    const total = ans.total.reduce((a, b) => a + b, 0);
    if (total === 0) {
      area.replaceChildren(el('p', { class: 'note', text: 'No data for this range and filter.' }));
    } else {
      const u = stackedChart(area, xs, stacked, lines, unitLabel(kind, ctx.state.unit));
      ctx.onCleanup(() => u.destroy());
    }
    legend.replaceChildren();
    const secs = seconds(ans.query);
    for (const s of stacked) {
      const sw = el('span', { class: 'swatch' });
      sw.style.background = s.color;
      legend.append(el('tr', null,
        el('td', null, sw, s.other ? el('span', { class: 'muted', text: s.name }) : valueLink(ctx, by, s.key)),
        el('td', { class: 'num', dataset: { value: String(s.sum) }, text: fmtNum(kind, totUnit, scale(kind, totUnit, s.sum, secs)) }),
        el('td', { class: 'num muted', text: pct(s.sum, total) })));
    }
    if (prev) {
      const ptotal = prev.total.reduce((a, b) => a + b, 0);
      legend.append(el('tr', { dataset: { prev: '' } }, el('td', { class: 'muted', text: '- - previous period' }),
        el('td', { class: 'num', dataset: { value: String(ptotal) }, text: fmtNum(kind, totUnit, scale(kind, totUnit, ptotal, secs)) }), el('td')));
    }
    if (ans.approx) note.textContent = (note.textContent ? note.textContent + '; ' : '') + 'per-value series are approximate (the store keeps the largest values); the total is exact';
  })().catch((err) => showError(ctx, body, err));
}

// table shows the top values of dim.
function table(ctx, kind, dim, opts = {}) {
  if (!ctx.dims(kind).includes(dim)) return;
  const { body } = panel(ctx, opts.title || LABELS[dim] || dim, { id: opts.id || dim });
  body.append(el('p', { class: 'note', text: 'loading…' }));
  const metric = metricFor(kind, ctx.state.unit);
  const totUnit = totalsUnit(ctx, kind);
  api('top', { kind, ...ctx.timeParams(), filter: andFilter(ctx.state.filter, opts.filter), metric, dim, limit: opts.limit || 10 }, ctx.signal).then((ans) => {
    const secs = seconds(ans.query);
    if (ans.rows.length === 0) {
      body.replaceChildren(el('p', { class: 'note', text: 'No data for this range and filter.' }));
      return;
    }
    const max = ans.rows[0].value || 1;
    const tb = el('tbody');
    for (const r of ans.rows) {
      const labels = [];
      for (const k of ['country', 'as', 'org', 'reasons']) {
        if (r.labels && r.labels[k]) labels.push(el('span', { class: 'lbl' + (k === 'reasons' ? ' reasons' : ''), text: (k === 'as' ? 'AS' : '') + r.labels[k], dataset: { label: k } }));
      }
      const bar = el('div', { class: 'bar' });
      bar.style.width = Math.max(1, (100 * r.value) / max).toFixed(1) + '%';
      tb.append(el('tr', { dataset: { key: r.key } },
        el('td', null, valueLink(ctx, dim, r.key), ...labels, bar),
        el('td', { class: 'num', dataset: { value: String(r.value) }, text: fmtNum(kind, totUnit, scale(kind, totUnit, r.value, secs)) }),
        el('td', { class: 'num muted hide-narrow', text: pct(r.value, ans.total) })));
    }
    const foot = el('tfoot', null,
      el('tr', null, el('td', { class: 'muted', text: 'other' }), el('td', { class: 'num', dataset: { value: String(ans.other) }, text: fmtNum(kind, totUnit, scale(kind, totUnit, ans.other, secs)) }), el('td', { class: 'hide-narrow' })),
      el('tr', null, el('td', { class: 'muted', text: 'total' }), el('td', { class: 'num', dataset: { value: String(ans.total), total: '' }, text: fmtNum(kind, totUnit, scale(kind, totUnit, ans.total, secs)) }), el('td', { class: 'hide-narrow' })));
    body.replaceChildren(el('table', { class: 'top' }, el('thead', null, el('tr', null, el('th', { text: dim }), el('th', { class: 'num', text: unitLabel(kind, totUnit) }), el('th', { class: 'num hide-narrow', text: 'share' }))), tb, foot));
    if (ans.approx) body.append(el('p', { class: 'note', text: 'approximate: the store keeps the largest values per minute' }));
  }).catch((err) => showError(ctx, body, err));
}

function traffic(ctx) {
  stats(ctx, 'Flows', 'flows', [
    { id: 'total', label: 'total (' + unitLabel('flows', ctx.state.unit) + ')', dim: 'network.transport' },
    { id: 'flows', label: 'flows', metric: 'flows', dim: 'network.transport', raw: true },
    { id: 'bytes', label: 'bytes', metric: 'bytes', dim: 'network.transport', raw: true },
    { id: 'packets', label: 'packets', metric: 'packets', dim: 'network.transport', raw: true },
  ]);
  chart(ctx, 'Traffic over time', 'flows', { by: 'destination.port', choose: true, compare: true });
  for (const d of ['source.ip', 'destination.ip', 'source.geo.country_iso_code', 'destination.geo.country_iso_code', 'source.as.number',
    'destination.as.number', 'destination.port', 'network.transport', 'network.direction', 'observer.ip', 'netflow.ingress_interface', 'netflow.egress_interface']) {
    table(ctx, 'flows', d);
  }
}

function firewall(ctx) {
  const s = stats(ctx, 'Firewall (syslog lines with an allow or deny action)', 'syslog', [
    { id: 'denied', label: 'denied', filter: DENY, dim: 'event.action', metric: 'events', raw: true },
    { id: 'allowed', label: 'allowed', filter: ALLOW, dim: 'event.action', metric: 'events', raw: true },
  ], { id: 'fwstats' });
  const ratio = el('div', { class: 'v', text: '…', dataset: { stat: 'ratio' } });
  s.row.append(el('div', { class: 'stat' }, ratio, el('div', { class: 'l', text: 'denied share' })));
  Promise.all(s.results).then(([d, a]) => { ratio.textContent = d === null || a === null ? '-' : pct(d, d + a); });
  chart(ctx, 'Allowed vs denied', 'syslog', { id: 'allowdeny', by: 'event.action', filter: actions(DENIED.concat(ALLOWED)) });
  denyRatio(ctx);
  chart(ctx, 'Denied per destination port', 'syslog', { id: 'denyports', by: 'destination.port', filter: DENY });
  for (const d of ['destination.port', 'network.transport', 'destination.geo.country_iso_code', 'source.ip', 'source.geo.country_iso_code', 'source.as.number', 'observer.ip']) {
    table(ctx, 'syslog', d, { filter: DENY, title: 'Denied: ' + (LABELS[d] || d), id: 'deny-' + d });
  }
  ctx.main.append(el('p', { class: 'note panel wide', text: 'Denied means event.action is one of deny, block(ed), drop(ped), reject(ed); allowed one of allow(ed), accept(ed), pass(ed), permit(ted). Flows carry no action; firewall parsers of syslog (Meraki, netfilter/UFW, pfSense, ASA, ...) set it.' }));
}

// denyRatio draws the denied share of allow+deny lines per bucket.
function denyRatio(ctx) {
  const { body } = panel(ctx, 'Denied share over time', { wide: true, id: 'denyratio' });
  const area = el('div', { class: 'chart' });
  body.append(area);
  api('series', { kind: 'syslog', ...ctx.timeParams(), filter: andFilter(ctx.state.filter, actions(DENIED.concat(ALLOWED))), metric: 'events', by: 'event.action', limit: 50 }, ctx.signal).then((ans) => {
    const n = ans.total.length;
    const denied = new Array(n).fill(0);
    ans.keys.forEach((k, i) => {
      if (DENIED.includes(k)) ans.values[i].forEach((v, j) => { denied[j] += v; });
    });
    const ratio = ans.total.map((t, j) => (t > 0 ? (100 * denied[j]) / t : null));
    if (!ratio.some((v) => v !== null)) {
      area.replaceChildren(el('p', { class: 'note', text: 'No allowed or denied lines in this range and filter.' }));
      return;
    }
    const start = Date.parse(ans.start) / 1000;
    const xs = Array.from({ length: n }, (_, i) => start + i * ans.step);
    const u = stackedChart(area, xs, [], [{ name: 'denied %', values: ratio, color: '#c92a2a', points: true }], 'denied %', true);
    ctx.onCleanup(() => u.destroy());
  }).catch((err) => showError(ctx, body, err));
}

function waf(ctx) {
  const f5 = 'event.dataset:"f5.asm"';
  const dims = ctx.dims('syslog');
  if (!dims.includes('f5.asm.attack_type')) {
    ctx.main.append(el('p', { class: 'panel wide', text: 'This store has no F5 ASM dimensions (/api/v1/meta lists none for syslog).' }));
    return;
  }
  const s = stats(ctx, 'F5 ASM (WAF)', 'syslog', [{ id: 'total', label: 'ASM requests logged', filter: f5, dim: 'f5.asm.request_status', metric: 'events', raw: true }], { id: 'wafstats' });
  s.results[0].then((n) => {
    if (n === 0) s.body.append(el('p', { class: 'note', dataset: { empty: 'waf' }, text: 'No WAF (F5 ASM) events in this range and filter.' }));
  });
  chart(ctx, 'Attacks over time by type', 'syslog', { id: 'attacks', by: 'f5.asm.attack_type', filter: f5 });
  for (const d of ['f5.asm.attack_type', 'f5.asm.violation_rating', 'f5.asm.request_status', 'source.ip', 'source.geo.country_iso_code', 'url.path', 'f5.asm.sig_names']) {
    table(ctx, 'syslog', d, { filter: f5, title: d === 'source.ip' ? 'Top clients (source.ip)' : undefined, id: 'waf-' + d });
  }
}

// dns is the DNS page: every DNS event (captured, from Beats, from the
// resolvers' query logs) and the DNS checks' verdicts.
function dns(ctx) {
  if (!ctx.dims('dns').includes('dns.question.name')) {
    ctx.main.append(el('p', { class: 'panel wide', text: 'This store has no DNS dimensions (/api/v1/meta lists none for dns).' }));
    return;
  }
  const q = (id, label, filter) => ({ id, label, filter, dim: 'dns.response_code', metric: 'queries', raw: true });
  const s = stats(ctx, 'DNS (captured, Beats and resolver logs)', 'dns', [
    q('total', 'queries'), q('nxdomain', 'NXDOMAIN', NXDOMAIN), q('suspicious', 'score 50 or more', SUSPICIOUS),
    q('blocklisted', 'blocklist hits', BLOCKLISTED), q('unsanctioned', 'to unsanctioned resolvers', UNSANCTIONED), q('new', 'newly seen domains', NEW_DOMAIN),
  ], { id: 'dnsstats' });
  s.results[0].then((n) => {
    if (n === 0) s.body.append(el('p', { class: 'note', dataset: { empty: 'dns' }, text: 'No DNS events in this range and filter.' }));
  });
  chart(ctx, 'Queries over time', 'dns', { id: 'queries', by: 'dns.response_code', choose: true });
  table(ctx, 'dns', 'dns.question.registered_domain');
  table(ctx, 'dns', 'source.ip', { title: 'Top clients (source.ip)', id: 'dns-source.ip' });
  table(ctx, 'dns', 'dns.question.type');
  table(ctx, 'dns', 'source.ip', { filter: NXDOMAIN, title: 'NXDOMAIN by client', id: 'nxdomain-clients' });
  table(ctx, 'dns', 'dns.question.name', { filter: SUSPICIOUS, title: 'Suspicious names (score 50 or more), with reasons', id: 'suspicious', limit: 15 });
  table(ctx, 'dns', 'dns.question.name', { filter: BLOCKLISTED, title: 'Blocklist hits', id: 'blocklisted' });
  table(ctx, 'dns', 'threat.enrichments.indicator.provider', { filter: BLOCKLISTED, id: 'blocklists' });
  table(ctx, 'dns', 'destination.ip', { filter: UNSANCTIONED, title: 'Queries to unsanctioned resolvers', id: 'unsanctioned' });
  table(ctx, 'dns', 'dns.question.registered_domain', { filter: NEW_DOMAIN, title: 'Newly seen domains', id: 'new-domains' });
  table(ctx, 'dns', 'event.dataset', { title: 'By source (event.dataset)', id: 'dns-event.dataset' });
  table(ctx, 'dns', 'dns.response_code');
  table(ctx, 'dns', 'sluice.dns.score_band');
  table(ctx, 'dns', 'destination.ip', { title: 'Resolvers asked (destination.ip)', id: 'dns-destination.ip' });
  table(ctx, 'dns', 'process.name', { title: 'Programs (process.name: the asking program from Sysmon, the resolver from its log)', id: 'dns-process.name' });
  ctx.main.append(el('p', { class: 'note panel wide', text: 'A DNS event is any document with a dns.question.name: passive capture (event.dataset sluice.dns), Beats (Packetbeat, Sysmon event 22) and resolver query logs over syslog (dnsmasq, BIND, unbound; also counted on the Syslog page). Scores, reasons, blocklists, unsanctioned resolvers and new domains come from the DNS checks (enrich/dnscheck).' }));
}

function syslog(ctx) {
  stats(ctx, 'Syslog', 'syslog', [{ id: 'total', label: 'lines', dim: 'log.syslog.severity.name', metric: 'events', raw: true }]);
  chart(ctx, 'Lines over time by severity', 'syslog', { by: 'log.syslog.severity.name', id: 'severity' });
  for (const d of ['host.hostname', 'process.name', 'event.dataset', 'log.syslog.severity.name', 'observer.ip']) table(ctx, 'syslog', d);
  table(ctx, 'syslog', 'tags', { filter: PARSE_FAIL, title: 'Parse failures by tag', id: 'parse-failures' });
  if (ctx.meta && ctx.meta.backend === 'elasticsearch') {
    table(ctx, 'syslog', 'event.dataset', { filter: PARSE_FAIL, title: 'Parse failures by vendor (event.dataset)', id: 'parse-failures-vendor' });
  }
}

// get reads a dotted path from a stored document (nested objects, or
// keys that contain dots).
function get(doc, path) {
  if (doc == null) return undefined;
  if (Object.prototype.hasOwnProperty.call(doc, path)) return doc[path];
  const i = path.indexOf('.');
  if (i < 0) return undefined;
  for (let j = i; j > 0; j = path.indexOf('.', j + 1)) {
    const head = path.slice(0, j);
    if (doc[head] && typeof doc[head] === 'object') {
      const v = get(doc[head], path.slice(j + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

function flatten(v, prefix, out) {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const k of Object.keys(v).sort()) flatten(v[k], prefix ? prefix + '.' + k : k, out);
  } else if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) {
    v.forEach((x, i) => flatten(x, prefix + '[' + i + ']', out));
  } else {
    out.push([prefix, Array.isArray(v) ? v.map(String).join(', ') : String(v)]);
  }
  return out;
}

function summary(kind, d) {
  const s = (p) => { const v = get(d, p); return v === undefined || v === null ? '' : String(v); };
  if (kind === 'flows' || get(d, 'netflow') || get(d, 'sflow')) {
    return [s('source.ip') + (s('source.port') ? ':' + s('source.port') : ''), '→', s('destination.ip') + (s('destination.port') ? ':' + s('destination.port') : ''),
      s('network.transport'), s('network.bytes') ? s('network.bytes') + ' B' : '', s('network.packets') ? s('network.packets') + ' pkts' : ''].filter(Boolean).join(' ');
  }
  if (kind === 'dns') {
    return [s('source.ip'), s('process.name') ? '(' + s('process.name') + ')' : '', s('dns.question.type'), s('dns.question.name'), '→',
      s('dns.response_code') || s('dns.type'), s('sluice.dns.reasons') ? '[' + s('sluice.dns.reasons') + ']' : ''].filter(Boolean).join(' ');
  }
  return [s('host.hostname'), s('process.name') ? s('process.name') + ':' : '', s('message')].filter(Boolean).join(' ');
}

function docRows(ctx, kind, d) {
  const ts = get(d, '@timestamp');
  const row = el('tr', { class: 'doc' }, el('td', { class: 'time', text: ts === undefined ? '' : String(ts) }), el('td', { class: 'msg', text: summary(kind, d) }));
  const detail = el('tr', { class: 'fields hidden' }, el('td', { colspan: '2' }));
  row.addEventListener('click', () => {
    if (detail.firstChild.childNodes.length === 0) {
      const tb = el('tbody');
      for (const [k, v] of flatten(d, '', [])) {
        tb.append(el('tr', null, el('td', { text: k }), el('td', null, k.startsWith('_') ? el('span', { text: v }) : valueLink(ctx, k.replace(/\[\d+\]/g, ''), v))));
      }
      detail.firstChild.append(el('table', { class: 'fieldtab' }, tb));
    }
    detail.classList.toggle('hidden');
  });
  return [row, detail];
}

function events(ctx) {
  const kind = ['syslog', 'dns'].includes(ctx.state.kind) ? ctx.state.kind : 'flows';
  const { body, h } = panel(ctx, 'Events', { wide: true, id: 'events' });
  const ksel = el('select', { 'aria-label': 'kind', onchange: (e) => ctx.set({ kind: e.target.value, before: '' }) },
    el('option', { value: 'flows', text: 'flows' }), el('option', { value: 'syslog', text: 'syslog' }), el('option', { value: 'dns', text: 'dns' }));
  ksel.value = kind;
  h.append(ksel);
  const liveBox = el('input', { type: 'checkbox', id: 'live' });
  const liveNote = el('span', { class: 'note', id: 'live-note' });
  const newest = el('button', { type: 'button', text: 'Newest', onclick: () => ctx.set({ before: '' }) });
  const older = el('button', { type: 'button', text: 'Older', id: 'older', disabled: 'disabled' });
  const info = el('span', { class: 'note', id: 'events-info' });
  body.append(el('div', { class: 'toolbar' }, newest, older, el('label', null, liveBox, ' live tail'), liveNote, info));
  const liveBody = el('tbody', { id: 'live-docs' });
  const docsBody = el('tbody', { id: 'docs' });
  body.append(el('table', { class: 'events' }, el('thead', null, el('tr', null, el('th', { text: '@timestamp' }), el('th', { text: 'document (click for every field)' }))), liveBody, docsBody));

  let es = null;
  const stopLive = () => { if (es) { es.close(); es = null; } };
  ctx.onCleanup(stopLive);
  liveBox.addEventListener('change', () => {
    stopLive();
    if (!liveBox.checked) { liveNote.textContent = ''; return; }
    const q = new URLSearchParams({ kind });
    if (ctx.state.filter) q.set('filter', ctx.state.filter);
    es = new EventSource('api/v1/tail?' + q);
    liveNote.textContent = 'connecting…';
    es.addEventListener('open', () => { liveNote.textContent = 'live'; liveNote.className = 'note live'; });
    es.addEventListener('message', (e) => {
      let d;
      try { d = JSON.parse(e.data); } catch (err) { return; }
      const [r, det] = docRows(ctx, kind, d);
      r.classList.add('tailed');
      liveBody.prepend(r, det);
      while (liveBody.childNodes.length > 400) liveBody.lastChild.remove();
    });
    es.addEventListener('dropped', (e) => {
      let n = 0;
      try { n = JSON.parse(e.data).dropped; } catch (err) { n = 0; }
      liveNote.textContent = 'live; ' + n + ' documents left out (too fast to show)';
    });
    es.addEventListener('end', () => { stopLive(); liveNote.textContent = 'sluice stopped; the tail ended'; liveBox.checked = false; });
    es.addEventListener('error', () => {
      if (es && es.readyState === EventSource.CLOSED) {
        liveNote.textContent = 'the live tail was refused (a bad filter, or too many tails open)';
        liveNote.className = 'note error';
        stopLive();
        liveBox.checked = false;
      } else {
        liveNote.textContent = 'reconnecting…';
      }
    });
  });

  api('events', { kind, ...ctx.timeParams(), filter: ctx.state.filter, limit: 50, before: ctx.state.before }, ctx.signal).then((ans) => {
    for (const d of ans.docs) docsBody.append(...docRows(ctx, kind, d));
    info.textContent = ans.docs.length + ' documents' + (ans.truncated ? ' (the scan stopped at its bound; there may be more)' : '');
    info.dataset.count = String(ans.docs.length);
    if (ans.docs.length === 0) docsBody.append(el('tr', null, el('td', { colspan: '2', class: 'note', text: 'No documents for this range and filter.' })));
    if (ans.next) {
      older.removeAttribute('disabled');
      older.addEventListener('click', () => ctx.set({ before: ans.next }));
    }
  }).catch((err) => showError(ctx, body, err));
}

const prevSamples = new Map();

function health(ctx) {
  const summaryBox = panel(ctx, 'sluice', { wide: true, id: 'health-summary' });
  const sections = ['listeners', 'exporters', 'outputs', 'drops', 'queues', 'elasticsearch', 'geoip', 'retention', 'alerts', 'console', 'process'];
  const titles = { listeners: 'Rates in, per listener', exporters: 'Exporters', outputs: 'Rates out, per output', drops: 'Drops by stage and reason',
    queues: 'Queues', elasticsearch: 'Elasticsearch (spool, backlog, dead letters)', geoip: 'GeoIP databases', retention: 'Retention runs',
    alerts: 'Alert rules', console: 'Console', process: 'Process' };
  const boxes = {};
  for (const s of sections) boxes[s] = panel(ctx, titles[s], { id: 'health-' + s, wide: s === 'listeners' || s === 'drops' });
  let timer = null;
  ctx.onCleanup(() => clearTimeout(timer));
  const load = () => api('health', {}, ctx.signal).then((ans) => {
    const now = Date.parse(ans.time) / 1000;
    const sm = ans.summary || {};
    const kv = el('tbody');
    const add = (k, v, id) => kv.append(el('tr', null, el('td', { text: k }), el('td', { class: 'num', text: v, dataset: id ? { stat: id, value: String(v) } : {} })));
    add('version', ans.version || '-');
    add('uptime', sm.uptime_seconds !== undefined ? Math.round(sm.uptime_seconds) + ' s' : '-');
    add('events in', sm.events_in !== undefined ? String(sm.events_in) : '-', 'events_in');
    for (const [o, v] of Object.entries(sm.events_out_by_output || {})) add('events out: ' + o, String(v));
    add('dropped in the pipeline', sm.pipeline_dropped !== undefined ? String(sm.pipeline_dropped) : '0');
    if (sm.elasticsearch_spool_documents !== undefined) add('Elasticsearch spool (documents)', String(sm.elasticsearch_spool_documents));
    const errors = (ans.errors || []).map((e) => el('p', { class: 'perr', text: e }));
    summaryBox.body.replaceChildren(el('table', { class: 'kv' }, kv), ...errors);
    for (const s of sections) {
      const fams = (ans.metrics && ans.metrics[s]) || {};
      const names = Object.keys(fams).sort();
      const tb = el('tbody');
      for (const name of names) {
        for (const smp of fams[name]) {
          const labels = Object.entries(smp.labels || {}).map(([k, v]) => k + '=' + v).join(' ');
          const key = name + '{' + labels + '}';
          const val = smp.value !== undefined ? smp.value : smp.count;
          let rate = '';
          const prev = prevSamples.get(key);
          if (name.endsWith('_total') && prev && now > prev.t && val >= prev.v) rate = si((val - prev.v) / (now - prev.t)) + '/s';
          prevSamples.set(key, { t: now, v: val });
          if (val === undefined) continue;
          tb.append(el('tr', { title: (ans.help && ans.help[name]) || '' },
            el('td', null, el('span', { text: name.replace(/^sluice_/, '') }), labels ? el('span', { class: 'lbl', text: labels }) : null),
            el('td', { class: 'num', dataset: { value: String(val) }, text: Number.isInteger(val) ? val.toLocaleString('en-US') : si(val) }),
            el('td', { class: 'num muted', text: rate })));
        }
      }
      if (tb.childNodes.length === 0) boxes[s].body.replaceChildren(el('p', { class: 'note', text: 'nothing reported' }));
      else boxes[s].body.replaceChildren(el('table', null, el('thead', null, el('tr', null, el('th', { text: 'metric' }), el('th', { class: 'num', text: 'value' }), el('th', { class: 'num', text: 'rate' }))), tb));
    }
    timer = setTimeout(load, 5000);
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    summaryBox.body.replaceChildren(el('p', { class: 'perr', text: err.message }));
    timer = setTimeout(load, 5000);
  });
  load();
}

export const VIEWS = { traffic, firewall, waf, syslog, dns, events, health };
