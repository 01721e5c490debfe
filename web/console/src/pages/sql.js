// SQL: an editor (CodeMirror 6, SQL highlighting, completion of the three
// views' columns as the server reports them), the answer as a paged table,
// downloads in the server's own CSV and Parquet encodings, and a chart when
// the answer has a time or category column beside numbers.
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder } from '@codemirror/view';
import { EditorState } from '@codemirror/state';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { autocompletion, completionKeymap, closeBrackets } from '@codemirror/autocomplete';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching } from '@codemirror/language';
import { sql as sqlLang, PostgreSQL } from '@codemirror/lang-sql';
import uPlot from 'uplot';
import { ApiError, request, sql } from '../api.js';
import { clear, errorBox, h, num } from '../dom.js';

export const title = 'SQL';

const VIEWS = ['memories', 'entities', 'relations'];
const PAGE = 50;
const EXAMPLE = 'SELECT day, tier, count(*) AS records\nFROM memories\nGROUP BY ALL\nORDER BY day';
let schema = null; // {view: [{label, detail}]}, asked for once per page load
let lastSQL = null;

// columns asks the server for each view's columns (an empty answer names
// them with their types), so completion matches the running version.
async function columns() {
  if (schema) return schema;
  const out = {};
  await Promise.all(VIEWS.map(async (v) => {
    try {
      // No system is named '.' (system ids are letters, digits, _ and -):
      // pruning keeps no file, so this costs nothing however large the lake.
      const r = await sql('SELECT * FROM ' + v + " WHERE system_id = '.' LIMIT 0", 1);
      out[v] = r.columns.map((c) => ({ label: c.name, type: 'property', detail: c.type }));
    } catch { out[v] = []; }
  }));
  schema = out;
  return out;
}

// viewColumns completes unqualified column names from the views the
// statement names after FROM or JOIN, or from all three before it names
// one (lang-sql's own completion offers a single default table's). A name
// after a dot is lang-sql's: it completes that view's columns itself.
function viewColumns(cols) {
  return (context) => {
    const word = context.matchBefore(/\w+/);
    if (!word && !context.explicit) return null;
    const from = word ? word.from : context.pos;
    if (from > 0 && context.state.sliceDoc(from - 1, from) === '.') return null;
    const named = new Set();
    for (const m of context.state.doc.toString().matchAll(/\b(?:from|join)\s+(memories|entities|relations)\b/gi)) {
      named.add(m[1].toLowerCase());
    }
    const byName = new Map();
    for (const v of (named.size ? VIEWS.filter((x) => named.has(x)) : VIEWS)) {
      for (const c of cols[v] || []) {
        const o = byName.get(c.label);
        if (o) o.detail += ', ' + v;
        else byName.set(c.label, { label: c.label, type: 'property', detail: c.detail + ' · ' + v });
      }
    }
    return { from, options: [...byName.values()], validFor: /^\w*$/ };
  };
}

const isTime = (t) => /^(DATE|TIMESTAMP)/.test(t);
const isNum = (t) => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL|REAL)/.test(t);
const isCat = (t) => /^(VARCHAR|BOOLEAN|ENUM|UUID)/.test(t);

// chartOf picks a chart from the answer's types: time and numbers make a
// line chart, a category and numbers a bar chart; anything else none.
export function chartOf(cols) {
  const nums = cols.map((c, i) => [c, i]).filter(([c]) => isNum(c.type)).slice(0, 4);
  if (!nums.length) return null;
  const t = cols.findIndex((c) => isTime(c.type));
  if (t >= 0) return { kind: 'line', x: t, ys: nums.map(([, i]) => i) };
  const c = cols.findIndex((c) => isCat(c.type));
  if (c >= 0) return { kind: 'bar', x: c, ys: nums.map(([, i]) => i) };
  return null;
}

const palette = ['#1f5fbf', '#b3261e', '#1e7a3c', '#8a5a00'];

function drawChart(el, res, pick) {
  clear(el);
  if (!pick) return;
  const width = Math.max(280, Math.min(el.clientWidth || 900, 1200));
  const rows = res.rows.slice(0, 2000);
  let xs, cats = null;
  let data;
  if (pick.kind === 'line') {
    const sorted = rows.map((r) => [Date.parse(r[pick.x]) / 1000, r]).filter(([t]) => isFinite(t)).sort((a, b) => a[0] - b[0]);
    // Several rows at one time (say, one per tier): their values add up.
    const at = new Map();
    for (const [t, r] of sorted) {
      const acc = at.get(t) || pick.ys.map(() => 0);
      pick.ys.forEach((y, j) => { acc[j] += Number(r[y]) || 0; });
      at.set(t, acc);
    }
    xs = [...at.keys()];
    data = [xs, ...pick.ys.map((_, j) => xs.map((t) => at.get(t)[j]))];
  } else {
    const at = new Map();
    for (const r of rows) {
      const k = String(r[pick.x]);
      const acc = at.get(k) || pick.ys.map(() => 0);
      pick.ys.forEach((y, j) => { acc[j] += Number(r[y]) || 0; });
      at.set(k, acc);
    }
    cats = [...at.keys()].slice(0, 60);
    xs = cats.map((_, i) => i);
    data = [xs, ...pick.ys.map((_, j) => cats.map((k) => at.get(k)[j]))];
  }
  const bars = pick.kind === 'bar' ? uPlot.paths.bars({ size: [0.6, 80] }) : undefined;
  const opts = {
    width, height: 260,
    title: (pick.kind === 'line' ? 'Line: ' : 'Bar: ') + pick.ys.map((i) => res.columns[i].name).join(', ') + ' by ' + res.columns[pick.x].name,
    // Bars stand on zero, each category a whole slot with its label.
    scales: pick.kind === 'line' ? { x: { time: true } } : {
      x: { time: false, range: () => [-0.5, xs.length - 0.5] },
      y: { range: (u, lo, hi) => [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1] },
    },
    axes: [
      pick.kind === 'bar' ? { splits: () => xs, values: (u, splits) => splits.map((v) => cats[v] ?? '') } : {},
      {},
    ],
    series: [{}, ...pick.ys.map((i, j) => ({
      label: res.columns[i].name, stroke: palette[j], width: 2,
      fill: pick.kind === 'bar' ? palette[j] + '99' : undefined, paths: bars, points: { show: pick.kind === 'line' && xs.length < 60 },
    }))],
  };
  el.setAttribute('data-kind', pick.kind);
  new uPlot(opts, data, el);
}

function cell(v) {
  if (v === null || v === undefined) return h('td', { class: 'cell' }, h('span', { class: 'null' }, 'NULL'));
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return h('td', { class: typeof v === 'number' ? 'num' : 'cell', title: s.length > 60 ? s.slice(0, 2000) : undefined }, s.length > 300 ? s.slice(0, 300) + '…' : s);
}

export async function render(view) {
  const out = h('section', { 'aria-live': 'polite', 'aria-label': 'Answer' });
  const status = h('span', { class: 'muted', id: 'sql-status' });
  const host = h('div', { class: 'editor', id: 'sql-editor' });
  const runBtn = h('button', { type: 'button', class: 'primary', id: 'run-sql', title: 'Ctrl+Enter' }, 'Run');
  const csvBtn = h('button', { type: 'button', id: 'download-csv', disabled: true }, 'Download CSV');
  const pqBtn = h('button', { type: 'button', id: 'download-parquet', disabled: true }, 'Download Parquet');
  clear(view, h('h1', {}, 'SQL'),
    h('p', { class: 'muted' }, 'One read-only SELECT over the views memories, entities and relations. Ctrl+Enter runs it; Ctrl+Space completes.'),
    host, h('div', { class: 'row', style: 'margin:8px 0' }, runBtn, csvBtn, pqBtn, status), out);

  const cols = await columns();
  const completionSchema = {};
  for (const v of VIEWS) completionSchema[v] = cols[v];
  const lang = sqlLang({ dialect: PostgreSQL, schema: completionSchema, upperCaseKeywords: true });
  const runKey = { key: 'Mod-Enter', run: () => { run(); return true; }, preventDefault: true };
  const editor = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: lastSQL ?? EXAMPLE,
      extensions: [
        lineNumbers(), history(), drawSelection(), highlightActiveLine(), bracketMatching(), closeBrackets(),
        syntaxHighlighting(defaultHighlightStyle), placeholder('SELECT …'),
        lang, lang.language.data.of({ autocomplete: viewColumns(cols) }),
        autocompletion(), EditorView.lineWrapping,
        keymap.of([runKey, ...completionKeymap, ...historyKeymap, ...defaultKeymap, indentWithTab]),
        EditorView.contentAttributes.of({ 'aria-label': 'SQL statement', 'data-primary': 'true' }),
      ],
    }),
  });
  editor.contentDOM.setAttribute('data-primary', '');
  editor.focus();

  async function download(accept, ext) {
    const text = editor.state.doc.toString();
    try {
      const r = await request('POST', '/v1/sql', { sql: text }, { accept, raw: true });
      const url = URL.createObjectURL(await r.blob());
      const a = h('a', { href: url, download: 'akosha-query.' + ext });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { clear(out, errorBox(e)); }
  }
  csvBtn.addEventListener('click', () => download('text/csv', 'csv'));
  pqBtn.addEventListener('click', () => download('application/vnd.apache.parquet', 'parquet'));
  runBtn.addEventListener('click', run);

  async function run() {
    const text = editor.state.doc.toString();
    lastSQL = text;
    runBtn.disabled = true;
    clear(status, 'Running…');
    try {
      const res = await sql(text);
      clear(status, num(res.row_count) + ' row' + (res.row_count === 1 ? '' : 's') + ' in ' + res.elapsed_ms + ' ms' + (res.truncated ? ' (truncated by the row limit)' : ''));
      csvBtn.disabled = pqBtn.disabled = false;
      show(res);
    } catch (e) {
      clear(status);
      // The sandbox's own message, as the server wrote it.
      clear(out, errorBox(e instanceof ApiError ? e : new ApiError(0, 'error', String(e))));
    } finally {
      runBtn.disabled = false;
    }
  }

  function show(res) {
    const pick = chartOf(res.columns);
    const chart = h('div', { class: 'chart', id: 'sql-chart' });
    const table = h('table', { class: 'grid', id: 'sql-result' });
    const pager = h('div', { class: 'pager' });
    let page = 0;
    const pages = Math.max(1, Math.ceil(res.rows.length / PAGE));
    function drawPage() {
      clear(table,
        h('thead', {}, h('tr', {}, res.columns.map((c) => h('th', { scope: 'col', title: c.type }, c.name, h('span', { class: 'muted hide-narrow' }, ' ' + c.type.toLowerCase()))))),
        h('tbody', {}, res.rows.slice(page * PAGE, page * PAGE + PAGE).map((r) => h('tr', {}, r.map(cell)))));
      clear(pager,
        h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; drawPage(); } }, '← Previous'),
        h('span', { id: 'sql-page' }, 'Rows ' + (res.rows.length ? page * PAGE + 1 : 0) + '–' + Math.min(res.rows.length, page * PAGE + PAGE) + ' of ' + num(res.rows.length)),
        h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page++; drawPage(); } }, 'Next →'));
    }
    drawPage();
    clear(out, pick ? chart : '', pages > 1 ? pager : '', h('div', { class: 'scroll' }, table));
    if (pick) drawChart(chart, res, pick);
  }
}
