// The console's shell: login, a hash router (#/search, #/sql, ...: every
// page is a link that survives a reload, and the server serves one file),
// and the pages. The SQL and graph pages load their libraries (CodeMirror,
// uPlot, Cytoscape) on first use, so the first page stays small.
import './style.css';
import 'uplot/dist/uPlot.min.css';
import { ApiError, session, setUnauthorizedHandler, sql } from './api.js';
import { clear, errorBox, h } from './dom.js';
import * as search from './pages/search.js';
import * as record from './pages/record.js';
import * as fleet from './pages/fleet.js';
import * as lake from './pages/lake.js';

const pages = {
  search: () => search,
  record: () => record,
  fleet: () => fleet,
  lake: () => lake,
  sql: () => import('./pages/sql.js'),
  graph: () => import('./pages/graph.js'),
};

const view = document.getElementById('view');
const who = document.getElementById('who');
let authOff = false; // akosha serve --dev: no credential needed
let rendering = 0;

// probe asks for the least thing a viewer may read. With token undefined it
// checks the session's credential, or whether the server wants one at all.
const probe = (token) => sql('SELECT 1 AS ok', 1, token === undefined ? {} : { token });

function route() {
  const [path] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').map(decodeURIComponent);
  return { name: parts[0] || 'search', args: parts.slice(1) };
}

async function render() {
  const n = ++rendering;
  const { name, args } = route();
  if (name === 'login' || (!authOff && !session.token)) {
    showLogin();
    return;
  }
  const load = pages[name];
  for (const a of document.querySelectorAll('.top nav a')) {
    if (a.dataset.page === name || (name === 'record' && a.dataset.page === 'search')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  showWho();
  if (!load) {
    clear(view, h('h1', {}, 'Not found'), h('p', {}, 'No page ', h('code', {}, name), '. ', h('a', { href: '#/search' }, 'Search')));
    return;
  }
  try {
    const mod = await load();
    if (n !== rendering) return; // another navigation came first
    document.title = (mod.title || name) + ' · Akosha';
    await mod.render(view, args);
  } catch (e) {
    if (n === rendering) clear(view, errorBox(e));
  }
}

function showWho() {
  if (authOff) {
    clear(who, h('span', { class: 'badge warn', title: 'akosha serve --dev: auth is off' }, 'dev: no auth'));
    return;
  }
  clear(who, h('span', {}, 'signed in'),
    h('button', { type: 'button', onclick: () => { session.clear(); location.hash = '#/login'; } }, 'Sign out'));
}

function showLogin() {
  for (const a of document.querySelectorAll('.top nav a')) a.removeAttribute('aria-current');
  clear(who);
  document.title = 'Sign in · Akosha';
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, class: 'grow', 'aria-describedby': 'token-help' });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'card', style: 'max-width:520px',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      clear(status, h('p', { class: 'muted' }, 'Checking…'));
      try {
        await probe(token);
        session.set(token);
        const back = sessionStorage.getItem('akosha.after') || '#/search';
        sessionStorage.removeItem('akosha.after');
        location.hash = back === '#/login' ? '#/search' : back;
        if (location.hash === back) render();
      } catch (e) {
        const msg = e instanceof ApiError && e.status === 401 ? 'That API key or token was not accepted.'
          : e instanceof ApiError && e.status === 403 ? 'That credential may not read (it needs at least the viewer role).' : null;
        clear(status, msg ? h('div', { class: 'error', role: 'alert' }, msg) : errorBox(e));
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('label', { for: 'token' }, 'API key or JWT', input),
  h('p', { id: 'token-help', class: 'muted' }, 'Kept for this browser tab\'s session only. The viewer role is enough.'),
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  status);
  clear(view, form);
  input.focus();
}

setUnauthorizedHandler(() => {
  if (authOff) return;
  if (location.hash !== '#/login') sessionStorage.setItem('akosha.after', location.hash);
  session.clear();
  location.hash = '#/login';
});

// "/" focuses the page's main box, as on most search pages.
document.addEventListener('keydown', (ev) => {
  if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  const box = view.querySelector('[data-primary]');
  if (box) { ev.preventDefault(); box.focus(); }
});

window.addEventListener('hashchange', () => { render(); view.focus({ preventScroll: true }); });

async function boot() {
  if (!session.token) {
    try {
      await probe(undefined);
      authOff = true;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) { clear(view, errorBox(e)); return; }
      if (location.hash && location.hash !== '#/login') sessionStorage.setItem('akosha.after', location.hash);
    }
  }
  render();
}
boot();
