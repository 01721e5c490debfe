// Small DOM helpers: elements are built with h(), never from HTML strings, so
// record content (which is user data) can never become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const svgNS = 'http://www.w3.org/2000/svg';

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function errorBox(err) {
  const code = err && err.code ? err.code + ': ' : '';
  return h('div', { class: 'error', role: 'alert' }, code + (err && err.message ? err.message : String(err)));
}

const nf = new Intl.NumberFormat('en');
export const num = (n) => (n === null || n === undefined ? '–' : nf.format(n));

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

// ago says how long before now a time was, in the largest whole unit.
export function ago(iso) {
  if (!iso) return '–';
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (!isFinite(s)) return '–';
  const a = Math.abs(s);
  const [v, u] = a < 90 ? [a, 's'] : a < 5400 ? [a / 60, 'min'] : a < 129600 ? [a / 3600, 'h'] : [a / 86400, 'd'];
  return Math.round(v) + ' ' + u + (s >= 0 ? ' ago' : ' ahead');
}

export const shortTime = (iso) => (iso ? String(iso).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : '–');

export function tierBadge(tier) { return h('span', { class: 'badge ' + tier }, tier); }

// params reads the query string of the hash route (#/search?q=x).
export function params() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

// sparkline draws values as an inline SVG line; marks are indexes to dot.
export function sparkline(values, marks = [], w = 120, hgt = 24) {
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('width', w);
  svg.setAttribute('height', hgt);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const max = Math.max(1, ...values);
  const n = Math.max(1, values.length - 1);
  const x = (i) => (i / n) * (w - 4) + 2;
  const y = (v) => hgt - 2 - (v / max) * (hgt - 4);
  const line = document.createElementNS(svgNS, 'polyline');
  line.setAttribute('points', values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1f5fbf');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  for (const i of marks) {
    const c = document.createElementNS(svgNS, 'circle');
    c.setAttribute('cx', x(i)); c.setAttribute('cy', y(values[i])); c.setAttribute('r', 2.5);
    c.setAttribute('fill', '#b3261e');
    svg.append(c);
  }
  return svg;
}
