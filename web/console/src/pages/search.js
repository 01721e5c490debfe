// Search: one box, answered by POST /v1/search. Keyword is the server's BM25
// full-text mode (text), semantic its vector mode (the text embedded by the
// server's embeddings endpoint), hybrid both fused by reciprocal rank. Every
// filter, tags included, goes to the server, so the ranking is over exactly
// the records the filter admits. When the server has no embeddings endpoint,
// hybrid says so and answers with the keyword ranking.
import { ApiError, post } from '../api.js';
import { clear, errorBox, h, params, shortTime, tierBadge } from '../dom.js';

export const title = 'Search';

const KINDS = ['conversation', 'reflection', 'memory'];
const K = 20;

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

// filters turns the form's values into the search endpoint's filter object.
function filters(p) {
  const filter = {};
  const sys = list(p.get('systems')), kind = list(p.get('kind')), tags = list(p.get('tags'));
  if (sys.length) filter.system_id = sys;
  if (p.get('project')) filter.project = p.get('project');
  if (kind.length) filter.kind = kind;
  if (tags.length) filter.tags = tags;
  if (p.get('from')) filter.from = p.get('from') + 'T00:00:00Z';
  if (p.get('to')) {
    const end = new Date(p.get('to') + 'T00:00:00Z'); end.setUTCDate(end.getUTCDate() + 1);
    filter.to = end.toISOString().slice(0, 10) + 'T00:00:00Z';
  }
  return filter;
}

// The page's modes and the server's.
const SERVER_MODE = { hybrid: 'hybrid', keyword: 'text', semantic: 'vector' };

async function run(out, p) {
  const text = (p.get('q') || '').trim();
  if (!text) { clear(out); return; }
  const mode = SERVER_MODE[p.get('mode')] ? p.get('mode') : 'hybrid';
  clear(out, h('p', { class: 'muted' }, 'Searching…'));
  const filter = filters(p);
  const started = performance.now();
  const notes = [];
  let res, how = mode;
  try {
    try {
      res = await post('/v1/search', { text, mode: SERVER_MODE[mode], k: K, filter });
    } catch (e) {
      // Hybrid needs the text embedded; without an embeddings endpoint the
      // keyword ranking alone still answers.
      if (!(mode === 'hybrid' && e instanceof ApiError && e.code === 'text_search_unavailable')) throw e;
      notes.push('Semantic search is unavailable (the server has no embeddings endpoint): keyword matches only.');
      res = await post('/v1/search', { text, mode: 'text', k: K, filter });
      how = 'keyword';
    }
  } catch (e) {
    clear(out, errorBox(e));
    return;
  }
  const hits = res.results || [];
  const ms = Math.round(performance.now() - started);
  clear(out,
    notes.map((n) => h('p', { class: 'notice' }, n)),
    h('p', { class: 'muted', id: 'hit-count' }, hits.length + ' hit' + (hits.length === 1 ? '' : 's') + ' (' + how + ', ' + ms + ' ms)'),
    hits.length ? h('ol', { class: 'hits' }, hits.map((r) => hit(r, how))) : h('p', {}, 'Nothing matched.'));
}

// scores names each score a hit carries: the cosine of the vector ranking,
// BM25 of the text ranking, and in hybrid mode the fused score and rank.
function scores(r, how) {
  const out = [];
  const cosine = how === 'semantic' ? r.score : r.vector_score;
  if (cosine !== undefined && cosine !== null) out.push('cosine ' + Number(cosine).toFixed(3));
  if (r.bm25 !== undefined && r.bm25 !== null) out.push('bm25 ' + Number(r.bm25).toFixed(2));
  if (how === 'hybrid') out.push('fused ' + (Number(r.score) * 100).toFixed(2));
  if (r.rank) out.push('#' + r.rank);
  return out.join(' · ');
}

function hit(r, how) {
  const href = '#/record/' + encodeURIComponent(r.system_id) + '/' + encodeURIComponent(r.id);
  return h('li', { class: 'hit' },
    h('div', { class: 'hit-head' },
      h('a', { href }, r.id),
      h('span', { class: 'badge' }, r.system_id),
      r.kind && h('span', {}, r.kind),
      r.project && h('span', {}, 'project ' + r.project),
      r.tier && tierBadge(r.tier),
      h('time', { datetime: r.created_at }, shortTime(r.created_at)),
      h('span', { class: 'score', title: 'score' }, scores(r, how))),
    h('div', { class: 'hit-body' }, String(r.content || '').slice(0, 400)));
}
