// The knowledge graph around an entity (GET /v1/graph/entities?name=...),
// drawn with Cytoscape, and a shortest path between two entities
// (GET /v1/graph/path). Every node and edge is also listed as text, for
// keyboard and screen-reader use and for narrow screens.
import cytoscape from 'cytoscape';
import { get } from '../api.js';
import { clear, errorBox, h, params } from '../dom.js';

export const title = 'Graph';

const style = [
  { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'background-color': '#7b93c2', color: '#1d2330', 'text-valign': 'bottom', 'text-margin-y': 4, width: 18, height: 18 } },
  { selector: 'node.center', style: { 'background-color': '#1f5fbf', width: 28, height: 28, 'font-weight': 'bold' } },
  { selector: 'node.dangling', style: { 'background-color': '#c9ced8', 'border-width': 1, 'border-style': 'dashed', 'border-color': '#5a6372' } },
  { selector: 'node.end', style: { 'background-color': '#b3261e', width: 26, height: 26 } },
  { selector: 'edge', style: { label: 'data(label)', 'font-size': 9, width: 1.5, 'line-color': '#9aa3b2', 'target-arrow-color': '#9aa3b2', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', color: '#5a6372', 'text-rotation': 'autorotate', 'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
  { selector: 'edge.path', style: { 'line-color': '#b3261e', 'target-arrow-color': '#b3261e', width: 3 } },
];

let cy = null;

function draw(container, elements, layout) {
  if (cy) cy.destroy();
  cy = cytoscape({ container, elements, style, layout, wheelSensitivity: 0.3, minZoom: 0.2, maxZoom: 3 });
  return cy;
}

export async function render(view) {
  const p = params();
  const entity = h('input', { type: 'search', name: 'entity', value: p.get('entity') || '', placeholder: 'An entity name, e.g. DuckDB', 'data-primary': true });
  const from = h('input', { type: 'text', name: 'from', value: p.get('from') || '', placeholder: 'name or system_id/id', 'aria-label': 'Path from' });
  const to = h('input', { type: 'text', name: 'to', value: p.get('to') || '', placeholder: 'name or system_id/id', 'aria-label': 'Path to' });
  const hops = h('input', { type: 'number', name: 'hops', min: 1, max: 6, value: p.get('hops') || 4, style: 'width:5em', 'aria-label': 'Most hops' });
  const canvas = h('div', { class: 'graph', id: 'graph-canvas', role: 'img', 'aria-label': 'Graph drawing; the same nodes and edges are listed beside it' });
  const side = h('div', { id: 'graph-list', 'aria-live': 'polite' });
  const go = (sp) => { location.hash = '#/graph?' + sp.toString(); };

  clear(view, h('h1', {}, 'Knowledge graph'),
    h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); if (entity.value.trim()) go(new URLSearchParams({ entity: entity.value.trim() })); } },
      h('label', { class: 'grow' }, 'Around an entity', entity), h('button', { type: 'submit', class: 'primary' }, 'Show')),
    h('form', { class: 'row', style: 'margin-top:8px', onsubmit: (ev) => { ev.preventDefault(); if (from.value.trim() && to.value.trim()) go(new URLSearchParams({ from: from.value.trim(), to: to.value.trim(), hops: hops.value })); } },
      h('label', {}, 'Path from', from), h('label', {}, 'to', to), h('label', {}, 'Most hops', hops),
      h('button', { type: 'submit' }, 'Find path')),
    h('div', { class: 'cols', style: 'margin-top:12px' }, canvas, side));

  try {
    if (p.get('from') && p.get('to')) await path(canvas, side, p.get('from'), p.get('to'), p.get('hops') || 4);
    else if (p.get('entity')) await around(canvas, side, p.get('entity'));
    else clear(side, h('p', { class: 'muted' }, 'Name an entity to see its relations across every system, or two to find a path between them.'));
  } catch (e) {
    clear(side, errorBox(e));
  }
}

const nodeHref = (name) => '#/graph?entity=' + encodeURIComponent(name);

async function around(canvas, side, name) {
  clear(side, h('p', { class: 'muted' }, 'Loading…'));
  const res = await get('/v1/graph/entities?limit=100&name=' + encodeURIComponent(name));
  const nodes = new Map([[res.node, { data: { id: res.node, label: res.entity ? res.entity.name : name }, classes: 'center' }]]);
  const edges = [];
  res.neighbours.forEach((n, i) => {
    if (!nodes.has(n.node)) nodes.set(n.node, { data: { id: n.node, label: n.name }, classes: n.entity ? '' : 'dangling' });
    const [s, t] = n.direction === 'out' ? [res.node, n.node] : [n.node, res.node];
    edges.push({ data: { id: 'e' + i, source: s, target: t, label: n.relation_type } });
  });
  const g = draw(canvas, [...nodes.values(), ...edges], { name: 'concentric', concentric: (n) => (n.hasClass('center') ? 2 : 1), levelWidth: () => 1, minNodeSpacing: 30, animate: false });
  g.on('tap', 'node', (ev) => { const label = ev.target.data('label'); if (label) location.hash = nodeHref(label); });
  const e = res.entity;
  clear(side,
    h('h2', {}, e ? e.name : name, ' ', e ? h('span', { class: 'badge' }, e.entity_type) : h('span', { class: 'badge' }, 'relation end only')),
    res.entities.length ? h('p', { class: 'muted' }, 'In ' + res.entities.length + ' system' + (res.entities.length === 1 ? '' : 's') + ': ' + res.entities.map((x) => x.system_id).join(', ')) : '',
    e && e.observations && e.observations.length ? h('ul', { class: 'plain' }, e.observations.slice(0, 10).map((o) => h('li', {}, o))) : '',
    h('h2', {}, res.total + ' relation' + (res.total === 1 ? '' : 's') + (res.truncated ? ' (first ' + res.count + ')' : '')),
    h('ul', { class: 'plain', id: 'neighbours' }, res.neighbours.map((n) => h('li', {},
      n.direction === 'out' ? '→ ' : '← ', h('span', { class: 'muted' }, n.relation_type), ' ',
      h('a', { href: nodeHref(n.name) }, n.name), ' ', h('span', { class: 'badge' }, n.relation.system_id)))));
}

async function path(canvas, side, from, to, hops) {
  clear(side, h('p', { class: 'muted' }, 'Searching…'));
  const res = await get('/v1/graph/path?' + new URLSearchParams({ from, to, max_hops: hops }).toString());
  if (!res.found) {
    draw(canvas, [], { name: 'grid' });
    clear(side, h('p', { class: 'notice', id: 'path-result' }, res.message || 'No path within ' + res.max_hops + ' hops.'));
    return;
  }
  const last = res.path.length - 1;
  const nodes = res.path.map((n, i) => ({ data: { id: n.node, label: n.name }, classes: i === 0 || i === last ? 'end' : n.entity ? '' : 'dangling' }));
  const edges = res.edges.map((e, i) => {
    const [s, t] = e.direction === 'out' ? [e.from, e.to] : [e.to, e.from];
    return { data: { id: 'p' + i, source: s, target: t, label: e.relation_type }, classes: 'path' };
  });
  draw(canvas, [...nodes, ...edges], { name: 'breadthfirst', roots: [res.path[0].node], directed: false, spacingFactor: 1.1, animate: false });
  clear(side, h('h2', { id: 'path-result' }, res.hops + ' hop' + (res.hops === 1 ? '' : 's') + ' from ' + res.path[0].name + ' to ' + res.path[last].name),
    h('ol', { class: 'plain', id: 'path' }, res.path.map((n, i) => h('li', {}, h('a', { href: nodeHref(n.name) }, n.name),
      i < res.edges.length ? [' ', h('span', { class: 'muted' }, (res.edges[i].direction === 'out' ? '—' + res.edges[i].relation_type + '→' : '←' + res.edges[i].relation_type + '—'))] : ''))));
}
