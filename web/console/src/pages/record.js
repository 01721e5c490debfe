// A record: its latest version (GET /v1/memories/{system_id}/{id}) and
// every version the lake still holds (.../versions): a re-sent record keeps
// its older rows until compaction merges them.
import { get } from '../api.js';
import { clear, errorBox, h, shortTime, tierBadge } from '../dom.js';

export const title = 'Record';

const SHOWN = ['system_id', 'id', 'kind', 'project', 'namespace', 'session_id', 'user_id', 'category', 'subcategory',
  'tags', 'importance', 'source_type', 'created_at', 'tier', 'day'];

function value(k, v) {
  if (v === null || v === undefined) return h('span', { class: 'null' }, 'null');
  if (k === 'tier') return tierBadge(v);
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return h('code', {}, JSON.stringify(v));
  return String(v);
}

export async function render(view, [sys, id]) {
  const path = '/v1/memories/' + encodeURIComponent(sys || '') + '/' + encodeURIComponent(id || '');
  clear(view, h('p', { class: 'muted' }, 'Loading…'));
  let rec;
  try {
    rec = await get(path);
  } catch (e) {
    clear(view, h('h1', {}, 'Record ' + id), errorBox(e), h('p', {}, h('a', { href: '#/search' }, 'Back to search')));
    return;
  }
  const versions = h('section', { 'aria-label': 'Versions' }, h('p', { class: 'muted' }, 'Loading versions…'));
  const emb = Array.isArray(rec.embedding) ? rec.embedding.length + ' floats' : 'none';
  clear(view,
    h('p', {}, h('button', { type: 'button', onclick: () => history.back() }, '← Back')),
    h('h1', {}, rec.id, ' ', h('span', { class: 'badge' }, rec.system_id)),
    h('div', { class: 'cols' },
      h('div', {}, h('h2', {}, 'Content'), h('pre', { class: 'content', id: 'record-content' }, rec.content ?? '')),
      h('div', {}, h('h2', {}, 'Fields'),
        h('dl', { class: 'fields' },
          SHOWN.filter((k) => k in rec).map((k) => [h('dt', {}, k), h('dd', {}, value(k, rec[k]))]),
          h('dt', {}, 'embedding'), h('dd', {}, emb),
          h('dt', {}, 'metadata'), h('dd', {}, value('metadata', rec.metadata))))),
    h('h2', {}, 'Versions'), versions);
  try {
    const res = await get(path + '/versions');
    clear(versions,
      h('p', { class: 'muted' }, res.versions.length === 1 ? 'One version: the record was stored once (or compaction kept only the latest).'
        : res.versions.length + ' versions are stored; the newest (first) is the one SQL and search answer.'),
      h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'versions' },
        h('thead', {}, h('tr', {}, ['stored (ingested_at)', 'created_at', 'tier', 'kind', 'content'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, res.versions.map((v, i) => h('tr', {},
          h('td', {}, shortTime(v.ingested_at), i === 0 ? [' ', h('span', { class: 'badge ok' }, 'latest')] : ''),
          h('td', {}, shortTime(v.created_at)), h('td', {}, tierBadge(v.tier)), h('td', {}, v.kind ?? ''),
          h('td', { class: 'cell', title: v.content }, v.content)))))));
  } catch (e) {
    clear(versions, errorBox(e));
  }
}
