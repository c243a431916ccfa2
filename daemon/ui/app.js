// The web view's shell: sign-in, navigation and the page router (location.hash holds the page
// and its filters; never the token).
import { ApiError, get, session, setUnauthorizedHandler } from './api.js';
import { h, clear, replace } from './dom.js';
import { environmentsPage } from './environments.js';
import { digestPage } from './digest.js';
import { ledgerPage } from './ledger.js';
import { entryPage } from './entry.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const nav = document.getElementById('nav');

// The signed-in principal: {name, roles, operator, recorder, promoter}.
let principal = null;
let renderCount = 0;

function signIn(message) {
  principal = null;
  nav.hidden = true;
  clear(who);
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', id: 'token-error', role: 'alert' }, message ?? '');
  if (message) input.setAttribute('aria-describedby', 'token-error');
  const form = h('form', { class: 'login', 'aria-labelledby': 'signin-title', novalidate: true },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', null, 'Paste an API token (as given by ', h('code', null, 'digestgate token new'), '). It is kept in this tab only and sent to this daemon\'s /v1 API.'),
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'Token'), input),
    error,
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.set(input.value.trim());
    await start();
  });
  replace(main, form);
  document.title = 'Sign in · digestgate';
  input.focus();
}

async function start() {
  if (!session.token()) {
    signIn();
    return;
  }
  try {
    const me = await get('whoami');
    principal = {
      name: me.name,
      roles: me.roles,
      operator: me.roles.includes('operator'),
      recorder: me.roles.includes('recorder'),
      promoter: me.roles.includes('promoter'),
    };
  } catch (e) {
    session.clear();
    signIn(e instanceof ApiError && e.status === 401 ? 'This token was not accepted.' : `Cannot reach the daemon: ${e.message}`);
    return;
  }
  replace(who, 
    h('span', { id: 'principal' }, `Signed in as ${principal.name} (${principal.roles.join(', ')})`),
    h('button', { type: 'button', id: 'sign-out', onclick: () => { session.clear(); signIn(); } }, 'Sign out'));
  nav.hidden = false;
  await route();
}

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'environments', arg: parts[1], params: new URLSearchParams(query ?? '') };
}

async function route() {
  if (!principal) return;
  const { page, arg, params } = parseHash();
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const count = ++renderCount;
  delete document.body.dataset.rendered;
  const target = h('div', { class: 'page', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, target);
  const ctx = { principal, params, rerender: () => route(), isCurrent: () => count === renderCount };
  try {
    if (page === 'digest' && arg) await digestPage(target, arg, ctx);
    else if (page === 'ledger') await ledgerPage(target, ctx);
    else if (page === 'entry' && arg) await entryPage(target, arg, ctx);
    else await environmentsPage(target, ctx);
  } catch (e) {
    if (count !== renderCount) return;
    if (e instanceof ApiError && e.status === 401) return;
    replace(target, h('h1', null, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : e.message));
  }
  if (count !== renderCount) return;
  target.removeAttribute('aria-busy');
  // Tells tests (and assistive technology, through aria-busy) that this page has finished.
  document.body.dataset.rendered = location.hash || '#/environments';
  const heading = target.querySelector('h1');
  if (heading) document.title = `${heading.textContent} · digestgate`;
}

setUnauthorizedHandler(() => {
  session.clear();
  signIn('The token is no longer accepted; sign in again.');
});

window.addEventListener('hashchange', () => {
  route().then(() => main.focus({ preventScroll: true }));
});
start();
