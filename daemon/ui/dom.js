// Small DOM helpers: elements are built with h(), never from HTML strings.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  add(el, children);
  return el;
}

export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Replaces the children of `el` (null, undefined and false children are left out).
export function replace(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

export const text = (s) => document.createTextNode(s);

export function badge(label, tone = 'neutral') {
  return h('span', { class: `badge ${tone}` }, label);
}

// A digest, linked to its page.
export function digestLink(digest) {
  if (!digest) return h('span', { class: 'muted' }, 'none');
  return h('a', { class: 'digest', href: `#/digest/${digest}` }, digest);
}

export function seqLink(seq) {
  return h('a', { href: `#/entry/${seq}` }, `seq ${seq}`);
}

// "3 h 12 min ago" from an RFC 3339 time.
export function ago(time, now = Date.now()) {
  const then = Date.parse(time);
  if (Number.isNaN(then)) return '';
  let s = Math.max(0, Math.round((now - then) / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hr = Math.floor(s / 3600);
  s -= hr * 3600;
  const min = Math.floor(s / 60);
  s -= min * 60;
  if (d > 0) return `${d} d ${hr} h ago`;
  if (hr > 0) return `${hr} h ${min} min ago`;
  if (min > 0) return `${min} min ago`;
  return `${s} s ago`;
}

export function time(t) {
  if (!t) return h('span', { class: 'muted' }, 'none');
  return h('time', { datetime: t, title: ago(t) }, t);
}

// A definition list of [term, value] pairs; pairs with an undefined value are left out.
export function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [term, value] of pairs) {
    if (value === undefined) continue;
    dl.append(h('dt', null, term), h('dd', null, value === null || value === '' ? h('span', { class: 'muted' }, 'none') : value));
  }
  return dl;
}

// A table that becomes one labelled card per row on narrow screens.
export function table(headers, rows, caption) {
  return h('table', { class: 'cards' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows.map((cells) =>
      h('tr', null, cells.map((cell, i) => h('td', { 'data-label': headers[i] }, cell))))));
}

let statusTimer = 0;
export function announce(message) {
  const el = document.getElementById('status');
  el.textContent = message;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { el.textContent = ''; }, 6000);
}
