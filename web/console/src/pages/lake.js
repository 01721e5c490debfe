// Lake and jobs (GET /v1/lake): each table's version and last commit, files,
// bytes and records per tier, the operations of its recent commits, the
// vector indexes, and the last run of each job with its result.
import { get } from '../api.js';
import { ago, bytes, clear, errorBox, h, num, shortTime, tierBadge } from '../dom.js';

export const title = 'Lake';

const JOBS = ['compact', 'age', 'index', 'vacuum', 'import'];
const RESULT = { ok: 'ok', partial: 'warn', failed: 'bad', leased: 'warn' };

export async function render(view) {
  clear(view, h('h1', {}, 'Lake and jobs'), h('p', { class: 'muted' }, 'Loading…'));
  let s;
  try {
    s = await get('/v1/lake');
  } catch (e) {
    clear(view, h('h1', {}, 'Lake and jobs'), errorBox(e));
    return;
  }
  const runs = new Map(s.jobs.map((j) => [j.job, j]));
  clear(view, h('h1', {}, 'Lake and jobs'),
    h('h2', {}, 'Tables'),
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'lake-tables' },
      h('thead', {}, h('tr', {}, ['table', 'version', 'last commit', 'tier', 'files', 'bytes', 'records'].map((c, i) => h('th', { scope: 'col', class: i === 1 || i >= 4 ? 'num' : '' }, c)))),
      h('tbody', {}, s.tables.flatMap((t) => {
        const tiers = Object.keys(t.tiers).sort();
        const rows = (tiers.length ? tiers : ['']).map((tier, i) => h('tr', {},
          i === 0 ? [h('th', { scope: 'row', rowspan: tiers.length || 1 }, t.name),
            h('td', { rowspan: tiers.length || 1, class: 'num' }, num(t.version)),
            h('td', { rowspan: tiers.length || 1 }, t.last_commit ? [t.last_commit.operation, ' ', h('span', { class: 'muted', title: shortTime(t.last_commit.timestamp) }, ago(t.last_commit.timestamp))] : '–')] : '',
          h('td', {}, tier ? tierBadge(tier) : h('span', { class: 'muted' }, 'empty')),
          h('td', { class: 'num' }, tier ? num(t.tiers[tier].files) : '0'),
          h('td', { class: 'num' }, tier ? bytes(t.tiers[tier].bytes) : '0'),
          h('td', { class: 'num' }, tier ? num(t.tiers[tier].records) : '0')));
        return rows;
      })))),
    h('h2', {}, 'Jobs'),
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'lake-jobs' },
      h('thead', {}, h('tr', {}, ['job', 'last run', 'result', 'took', 'did', 'last success'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, JOBS.map((name) => {
        const j = runs.get(name);
        if (!j) return h('tr', {}, h('th', { scope: 'row' }, name), h('td', { colspan: 5, class: 'muted' }, 'no run recorded'));
        const did = Object.entries(j.items || {}).filter(([, n]) => n).map(([k, n]) => k + ' ' + num(n));
        if (j.bytes_out) did.push(bytes(j.bytes_out) + ' written');
        return h('tr', { dataset: { job: name } }, h('th', { scope: 'row' }, name),
          h('td', { title: shortTime(j.ended_at) }, ago(j.ended_at)),
          h('td', {}, h('span', { class: 'badge ' + (RESULT[j.result] || '') }, j.result), j.error ? h('div', { class: 'muted' }, j.error) : ''),
          h('td', {}, j.duration_seconds.toFixed(1) + ' s'),
          h('td', {}, did.join(', ') || 'nothing to do'),
          h('td', { title: shortTime(j.last_success_at) }, ago(j.last_success_at)));
      })))),
    h('h2', {}, 'Recent commits by operation'),
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'lake-ops' },
      h('thead', {}, h('tr', {}, ['table', 'operation', 'last version', 'when', 'commits'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, s.tables.flatMap((t) => t.operations.map((o) => h('tr', {},
        h('td', {}, t.name), h('td', {}, o.operation), h('td', { class: 'num' }, num(o.version)),
        h('td', { title: shortTime(o.timestamp) }, ago(o.timestamp)), h('td', { class: 'num' }, num(o.commits)))))))),
    h('p', { class: 'muted' }, 'Operations are counted over each table\'s last ' + num(s.commits_scanned) + ' commits at most.'),
    h('h2', {}, 'Vector indexes'),
    h('p', {}, s.indexes.length ? s.indexes.map((x) => h('span', { class: 'stat', style: 'display:inline-block;margin-right:8px' },
      h('span', { class: 'muted' }, x.table), h('b', {}, num(x.objects) + ' objects, ' + bytes(x.bytes)), h('span', { class: 'muted' }, 'newest ' + ago(x.newest)))) : h('span', { class: 'muted' }, 'none built yet')),
    // The segments a search visits per tier: the index job keeps each tier to a few.
    segmentsTable(s.indexes),
    h('p', { class: 'muted' }, 'As of ' + shortTime(s.as_of) + ' (' + s.elapsed_ms + ' ms).'));
}

function segmentsTable(indexes) {
  const rows = indexes.flatMap((x) => (x.segments || []).map((g) => ({ table: x.table, ...g })));
  if (!rows.length) return h('span', {});
  return h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'lake-segments' },
    h('thead', {}, h('tr', {}, ['table', 'tier', 'segments', 'vectors', 'with full text'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {},
      h('td', {}, r.table), h('td', {}, r.tier), h('td', { class: 'num' }, num(r.segments)),
      h('td', { class: 'num' }, num(r.vectors)), h('td', { class: 'num' }, num(r.full_text)))))));
}
