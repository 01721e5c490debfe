// Search: one box. Keyword matching runs as SQL over the memories view
// (POST /v1/sql), which also takes every filter, tags included; semantic
// search (POST /v1/search with text) needs the server's embeddings endpoint.
// When both answer, the two rankings are fused by reciprocal rank (hybrid);
// when the server has no embeddings endpoint, the page says so and keeps
// the keyword hits.
import { ApiError, lit, post, sql } from '../api.js';
import { clear, errorBox, h, params, shortTime, tierBadge } from '../dom.js';

export const title = 'Search';

const KINDS = ['conversation', 'reflection', 'memory'];
const K = 20;
const RRF = 60; // the usual reciprocal-rank constant: ranks, not raw scores, are fused

const list = (s) => (s || '').split(',').map((x) => x.trim()).filter(Boolean);

export async function render(view) {
  const p = params();
  const q = h('input', { type: 'search', name: 'q', value: p.get('q') || '', placeholder: 'Search memories… (press / to focus)', 'aria-label': 'Search text', class: 'grow', 'data-primary': true });
  const systems = h('input', { type: 'text', name: 'systems', value: p.get('systems') || '', placeholder: 'laptop-1, ci-runner' });
  const project = h('input', { type: 'text', name: 'project', value: p.get('project') || '' });
  const tags = h('input', { type: 'text', name: 'tags', value: p.get('tags') || '', placeholder: 'any of: go, delta' });
  const from = h('input', { type: 'date', name: 'from', value: p.get('from') || '' });
  const to = h('input', { type: 'date', name: 'to', value: p.get('to') || '' });
  const mode = h('select', { name: 'mode' },
    ['hybrid', 'keyword', 'semantic'].map((m) => h('option', { value: m, selected: (p.get('mode') || 'hybrid') === m }, m)));
  const chosen = new Set(list(p.get('kind')));
  const kinds = KINDS.map((k) => h('input', { type: 'checkbox', name: 'kind', value: k, checked: chosen.has(k) }));
  const out = h('section', { 'aria-live': 'polite', 'aria-label': 'Results' });

  const form = h('form', {
    role: 'search',
    onsubmit: (ev) => {
      ev.preventDefault();
      const sp = new URLSearchParams();
      const set = (k, v) => { if (v) sp.set(k, v); };
      set('q', q.value.trim()); set('systems', systems.value.trim()); set('project', project.value.trim());
      set('tags', tags.value.trim()); set('from', from.value); set('to', to.value);
      set('kind', kinds.filter((c) => c.checked).map((c) => c.value).join(','));
      if (mode.value !== 'hybrid') sp.set('mode', mode.value);
      const next = '#/search?' + sp.toString();
      if (location.hash === next) run(out, sp); else location.hash = next;
    },
  },
  h('div', { class: 'row' }, q, h('button', { type: 'submit', class: 'primary' }, 'Search')),
  h('details', { class: 'filters', open: window.innerWidth > 720 || [...p.keys()].some((k) => k !== 'q') },
    h('summary', {}, 'Filters'),
    h('div', { class: 'row' },
      h('label', {}, 'Systems', systems), h('label', {}, 'Project', project), h('label', {}, 'Tags', tags),
      h('label', {}, 'From', from), h('label', {}, 'To', to), h('label', {}, 'Mode', mode),
      h('fieldset', {}, h('legend', {}, 'Kind'), kinds.map((c) => h('label', {}, c, c.value))))));

  clear(view, h('h1', {}, 'Search'), form, out);
  if (p.get('q')) await run(out, p);
  else q.focus();
}

// filters turns the form's values into the SQL WHERE terms and the search
// endpoint's filter object.
function filters(p) {
  const where = [], filter = {};
  const sys = list(p.get('systems')), kind = list(p.get('kind')), tags = list(p.get('tags'));
  if (sys.length) { where.push('system_id IN (' + sys.map(lit).join(', ') + ')'); filter.system_id = sys; }
  if (p.get('project')) { where.push('project = ' + lit(p.get('project'))); filter.project = p.get('project'); }
  if (kind.length) { where.push('kind IN (' + kind.map(lit).join(', ') + ')'); filter.kind = kind; }
  if (tags.length) where.push('list_has_any(tags, [' + tags.map(lit).join(', ') + '])');
  if (p.get('from')) { where.push('created_at >= ' + lit(p.get('from')) + '::TIMESTAMPTZ'); filter.from = p.get('from') + 'T00:00:00Z'; }
  if (p.get('to')) {
    const end = new Date(p.get('to') + 'T00:00:00Z'); end.setUTCDate(end.getUTCDate() + 1);
    const endISO = end.toISOString().slice(0, 10);
    where.push('created_at < ' + lit(endISO) + '::TIMESTAMPTZ');
    filter.to = endISO + 'T00:00:00Z';
  }
  return { where, filter, tags };
}

// keyword ranks records by the share of the query's words their content
// holds (case-insensitive), newest first among equals.
async function keyword(text, f) {
  const words = [...new Set(text.toLowerCase().split(/\s+/).filter(Boolean))].slice(0, 8);
  const hits = words.map((w) => 'CASE WHEN contains(lower(content), ' + lit(w) + ') THEN 1 ELSE 0 END');
  const score = '(' + hits.join(' + ') + ') / ' + words.length + '.0';
  const where = [...f.where, '(' + words.map((w) => 'contains(lower(content), ' + lit(w) + ')').join(' OR ') + ')'];
  const stmt = 'SELECT system_id, id, kind, project, tier, created_at, left(content, 400) AS content, ' + score + ' AS score\n' +
    'FROM memories WHERE ' + where.join(' AND ') + '\nORDER BY score DESC, created_at DESC LIMIT ' + K;
  const res = await sql(stmt, K);
  return res.rows.map((r) => Object.fromEntries(res.columns.map((c, i) => [c.name, r[i]])));
}

async function semantic(text, f) {
  const res = await post('/v1/search', { text, k: f.tags.length ? K * 5 : K, filter: f.filter });
  let hits = res.results;
  if (f.tags.length && hits.length) {
    // The search endpoint has no tags filter: keep the hits whose tags match.
    const keys = hits.map((r) => lit(r.system_id + '/' + r.id));
    const sysIn = [...new Set(hits.map((r) => lit(r.system_id)))];
    const ok = await sql('SELECT system_id, id FROM memories WHERE system_id IN (' + sysIn.join(', ') + ') AND system_id || \'/\' || id IN (' +
      keys.join(', ') + ') AND ' + f.where.find((w) => w.startsWith('list_has_any')), hits.length);
    const keep = new Set(ok.rows.map((r) => r[0] + '/' + r[1]));
    hits = hits.filter((r) => keep.has(r.system_id + '/' + r.id));
  }
  return hits.slice(0, K);
}

function fuse(kw, sem) {
  const by = new Map();
  const add = (list, field) => list.forEach((r, i) => {
    const key = r.system_id + '/' + r.id;
    const e = by.get(key) || { ...r, fused: 0 };
    e.fused += 1 / (RRF + i + 1);
    e[field] = r.score;
    by.set(key, e);
  });
  add(sem, 'cosine'); add(kw, 'match');
  return [...by.values()].sort((a, b) => b.fused - a.fused).slice(0, K);
}

async function run(out, p) {
  const text = (p.get('q') || '').trim();
  if (!text) { clear(out); return; }
  const mode = p.get('mode') || 'hybrid';
  clear(out, h('p', { class: 'muted' }, 'Searching…'));
  const f = filters(p);
  const started = performance.now();
  const notes = [];
  let kw = [], sem = [];
  try {
    const jobs = [];
    if (mode !== 'semantic') jobs.push(keyword(text, f).then((r) => { kw = r; }));
    if (mode !== 'keyword') {
      jobs.push(semantic(text, f).then((r) => { sem = r; }, (e) => {
        if (e instanceof ApiError && e.code === 'text_search_unavailable') {
          notes.push(mode === 'semantic' ? e : 'Semantic search is unavailable (the server has no embeddings endpoint): keyword matches only.');
        } else throw e;
      }));
    }
    await Promise.all(jobs);
  } catch (e) {
    clear(out, errorBox(e));
    return;
  }
  const fatal = notes.find((n) => n instanceof ApiError);
  if (fatal) { clear(out, errorBox(fatal)); return; }
  let hits, how;
  if (mode === 'keyword' || (mode === 'hybrid' && !sem.length)) {
    hits = kw.map((r) => ({ ...r, match: r.score })); how = 'keyword';
  } else if (mode === 'semantic' || !kw.length) {
    hits = sem.map((r) => ({ ...r, cosine: r.score })); how = 'semantic';
  } else {
    hits = fuse(kw, sem); how = 'hybrid';
  }
  const ms = Math.round(performance.now() - started);
  clear(out,
    notes.map((n) => h('p', { class: 'notice' }, n)),
    h('p', { class: 'muted', id: 'hit-count' }, hits.length + ' hit' + (hits.length === 1 ? '' : 's') + ' (' + how + ', ' + ms + ' ms)'),
    hits.length ? h('ol', { class: 'hits' }, hits.map(hit)) : h('p', {}, 'Nothing matched.'));
}

function hit(r) {
  const href = '#/record/' + encodeURIComponent(r.system_id) + '/' + encodeURIComponent(r.id);
  const scores = [];
  if (r.cosine !== undefined) scores.push('cosine ' + Number(r.cosine).toFixed(3));
  if (r.match !== undefined) scores.push('match ' + Number(r.match).toFixed(2));
  if (r.fused !== undefined) scores.push('fused ' + (r.fused * 100).toFixed(2));
  return h('li', { class: 'hit' },
    h('div', { class: 'hit-head' },
      h('a', { href }, r.id),
      h('span', { class: 'badge' }, r.system_id),
      r.kind && h('span', {}, r.kind),
      r.project && h('span', {}, 'project ' + r.project),
      r.tier && tierBadge(r.tier),
      h('time', { datetime: r.created_at }, shortTime(r.created_at)),
      h('span', { class: 'score', title: 'score' }, scores.join(' · '))),
    h('div', { class: 'hit-body' }, String(r.content || '').slice(0, 400)));
}
