// Fleet: every system from GET /v1/systems (the log's statistics: no data is
// read), filtered, sorted and paged here, so that a fleet of 10,000 systems
// renders one page of rows. Trends and anomalies are asked for the systems
// on the shown page only (GET /v1/analytics/trends and /anomalies with
// their system_id), one request each per page.
import { get } from '../api.js';
import { ago, bytes, clear, errorBox, h, num, shortTime, sparkline, tierBadge } from '../dom.js';

export const title = 'Fleet';

const PAGE = 25;
const TIERS = ['hot', 'warm', 'cold'];
const COLS = [
  ['system_id', 'System'], ['total', 'Memories', true], ['tiers', 'Tiers'], ['entities', 'Entities', true],
  ['relations', 'Relations', true], ['bytes', 'Bytes', true], ['last_push', 'Last push'], ['trend', 'Last 30 days'],
];

let cache = null; // {at, data}: the fleet, reused for 10 s while paging

export async function render(view) {
  clear(view, h('h1', {}, 'Fleet'), h('p', { class: 'muted' }, 'Loading systems…'));
  let data;
  try {
    if (!cache || Date.now() - cache.at > 10000) cache = { at: Date.now(), data: await get('/v1/systems') };
    data = cache.data;
  } catch (e) {
    clear(view, h('h1', {}, 'Fleet'), errorBox(e));
    return;
  }
  const systems = data.systems;
  const state = { filter: '', sort: 'total', desc: true, page: 0 };
  const sum = (f) => systems.reduce((a, s) => a + (f(s) || 0), 0);
  const tierSum = (t) => sum((s) => s.records[t]);
  const stats = h('div', { class: 'stats' },
    stat('Systems', num(systems.length)), stat('Memories', num(sum((s) => s.total))),
    TIERS.map((t) => stat(t, num(tierSum(t)))), stat('Entities', num(sum((s) => s.entities))),
    stat('Relations', num(sum((s) => s.relations))), stat('Bytes', bytes(sum((s) => s.bytes))));
  const filter = h('input', { type: 'search', placeholder: 'Filter systems', 'aria-label': 'Filter systems', 'data-primary': true });
  const body = h('tbody');
  const head = h('tr');
  const pager = h('div', { class: 'pager' });
  const table = h('table', { class: 'grid', id: 'fleet' }, h('thead', {}, head), body);
  filter.addEventListener('input', () => { state.filter = filter.value.trim().toLowerCase(); state.page = 0; draw(); });

  let token = 0;
  function rowsOf() {
    let rows = state.filter ? systems.filter((s) => s.system_id.toLowerCase().includes(state.filter)) : systems.slice();
    const key = state.sort;
    const v = (s) => (key === 'system_id' || key === 'last_push' ? (s[key] || '') : (s[key] || 0));
    rows.sort((a, b) => (v(a) < v(b) ? -1 : v(a) > v(b) ? 1 : a.system_id < b.system_id ? -1 : 1) * (state.desc ? -1 : 1));
    return rows;
  }
  function draw() {
    const rows = rowsOf();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const shown = rows.slice(state.page * PAGE, state.page * PAGE + PAGE);
    clear(head, COLS.map(([k, label, numeric]) => h('th', { scope: 'col', class: numeric ? 'num' : '', 'aria-sort': state.sort === k ? (state.desc ? 'descending' : 'ascending') : undefined },
      k === 'tiers' || k === 'trend' ? label : h('button', { type: 'button', onclick: () => { state.desc = state.sort === k ? !state.desc : k !== 'system_id'; state.sort = k; draw(); } },
        label, state.sort === k ? (state.desc ? ' ▼' : ' ▲') : ''))));
    const trendCells = new Map();
    clear(body, shown.map((s) => {
      const cell = h('td', { class: 'trend' }, h('span', { class: 'muted' }, '…'));
      trendCells.set(s.system_id, cell);
      return h('tr', { dataset: { system: s.system_id } },
        h('td', {}, h('a', { href: '#/search?systems=' + encodeURIComponent(s.system_id) + '&mode=keyword' }, s.system_id)),
        h('td', { class: 'num' }, num(s.total)),
        h('td', {}, TIERS.filter((t) => s.records[t]).map((t) => [tierBadge(t + ' ' + num(s.records[t])), ' '])),
        h('td', { class: 'num' }, num(s.entities)), h('td', { class: 'num' }, num(s.relations)),
        h('td', { class: 'num' }, bytes(s.bytes)),
        h('td', { title: 'pushed ' + shortTime(s.last_push) + '; latest record created ' + shortTime(s.last) }, ago(s.last_push)),
        cell);
    }));
    clear(pager,
      h('button', { type: 'button', disabled: state.page === 0, onclick: () => { state.page--; draw(); } }, '← Previous'),
      h('span', { id: 'fleet-page' }, 'Page ' + (state.page + 1) + ' of ' + pages + ' · ' + num(rows.length) + ' systems'),
      h('button', { type: 'button', disabled: state.page >= pages - 1, onclick: () => { state.page++; draw(); } }, 'Next →'));
    trends(shown.map((s) => s.system_id), trendCells, ++token);
  }

  // trends fills the shown rows' sparklines and flags their anomalies from
  // one answer (the anomalies answer carries every point), then adds each
  // series' direction from the trends answer; a newer page's answers win
  // over older ones still in flight.
  async function trends(ids, cells, mine) {
    if (!ids.length) return;
    const q = 'group_by=system&bucket=day&window=30d&min_points=2&limit=' + ids.length + '&system_id=' + encodeURIComponent(ids.join(','));
    const direction = get('/v1/analytics/trends?' + q).catch(() => null);
    try {
      const an = await get('/v1/analytics/anomalies?' + q);
      if (mine !== token) return;
      const bySys = new Map(an.series.map((s) => [s.key, s]));
      for (const [id, cell] of cells) {
        const s = bySys.get(id);
        if (!s) { clear(cell, h('span', { class: 'muted' }, 'quiet')); continue; }
        const found = s.anomalies || [];
        const idx = found.map((a) => s.points.findIndex((p) => p.t === a.t)).filter((i) => i >= 0);
        const spark = sparkline(s.points.map((p) => p.value), idx);
        spark.setAttribute('aria-label', 'records per day over 30 days');
        clear(cell, spark, h('span', { class: 'dir' }),
          found.length ? [' ', h('span', { class: 'badge bad anomaly', title: found.map((a) => shortTime(a.t) + ': ' + a.value + ' (z ' + a.z.toFixed(1) + ', ' + a.kind + ')').join('\n') },
            '⚠ ' + found.length + ' anomal' + (found.length === 1 ? 'y' : 'ies'))] : '');
        if (found.length) cell.parentElement.classList.add('anomalous');
      }
    } catch (e) {
      if (mine !== token) return;
      for (const cell of cells.values()) clear(cell, h('span', { class: 'muted', title: e.message }, 'n/a'));
      return;
    }
    const tr = await direction;
    if (!tr || mine !== token) return;
    for (const s of tr.series) {
      const slot = cells.get(s.key)?.querySelector('.dir');
      if (slot) clear(slot, ' ', h('span', { class: 'badge', title: 'least-squares trend over 30 days' }, s.direction || 'flat'));
    }
  }

  clear(view, h('h1', {}, 'Fleet'), stats,
    h('div', { class: 'row', style: 'margin-top:12px' }, filter),
    pager, h('div', { class: 'scroll' }, table),
    h('p', { class: 'muted' }, 'Counts come from the Delta log\'s file statistics (a re-sent record counts twice until compaction). ',
      'Anomalies: days whose count is more than 3 standard deviations from the system\'s 30-day mean.'));
  draw();
}

function stat(label, value) { return h('div', { class: 'stat' }, h('span', { class: 'muted' }, label), h('b', {}, value)); }
