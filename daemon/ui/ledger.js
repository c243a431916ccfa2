// The ledger, newest first, filtered by kind, digest and environment; each shown entry's inclusion
// proof is checked here against the signed checkpoint.
import { get, getText, enc } from './api.js';
import { h, clear, replace, badge, seqLink, time, table } from './dom.js';
import { entriesBefore, treeSize, summary } from './data.js';
import { checkEntry, parseCheckpoint, verifyCheckpoint } from './proof.js';

const PAGE = 20;
const KINDS = ['validation', 'promotion', 'rollback', 'deployment', 'revocation', 'policy', 'observation'];

export async function ledgerPage(target, ctx) {
  const p = ctx.params;
  const filters = { kind: p.get('kind') ?? '', digest: p.get('digest') ?? '', environment: p.get('environment') ?? '' };
  const [{ size, note }, key, envs] = await Promise.all([treeSize(), get('keys'), get('environments')]);
  const before = Number(p.get('before')) || size + 1;
  const page = await entriesBefore(before, PAGE, filters);
  if (!ctx.isCurrent()) return;
  replace(target, 
    h('h1', null, 'Ledger'),
    checkpointPanel(note, key),
    filterForm(filters, envs.environments.map((e) => e.name)),
    h('p', { class: 'muted', id: 'ledger-count' }, page.entries.length === 0 ? 'No entry matches.' :
      `Entries ${page.entries[0].seq} to ${page.entries.at(-1).seq} of ${size}, newest first${Object.values(filters).some(Boolean) ? ', filtered' : ''}.`));
  const rows = page.entries.map((e) => {
    const cell = h('span', { class: 'proof', 'data-seq': e.seq }, badge('checking…', 'neutral'));
    checkProof(e.seq, key, cell);
    return [h('a', { href: `#/entry/${e.seq}` }, String(e.seq)), time(e.time), e.kind, e.actor, h('span', { class: 'summary' }, summary(e)), cell];
  });
  if (rows.length) target.append(table(['Seq', 'Time', 'Kind', 'Actor', 'Summary', 'Inclusion proof'], rows));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const link = (extra) => {
    const q = new URLSearchParams(Object.entries({ ...filters, ...extra }).filter(([, v]) => v));
    return `#/ledger${q.toString() ? `?${q}` : ''}`;
  };
  if (before <= size) pager.append(h('a', { href: link({}) }, 'Newest'));
  if (page.more && page.entries.length) pager.append(h('a', { href: link({ before: page.entries.at(-1).seq }), rel: 'next' }, 'Older'));
  target.append(pager);
}

async function checkProof(seq, key, cell) {
  let result;
  try {
    result = await checkEntry(await getText(`entries/${seq}`), key);
  } catch (e) {
    result = { ok: false, problems: [e.message] };
  }
  const tone = result.ok ? 'ok' : 'bad';
  replace(cell, h('a', { href: `#/entry/${seq}`, class: `badge ${tone}`, title: result.ok ? `included in the tree of size ${result.size}` : result.problems.join('; ') },
    result.ok ? 'verified' : 'FAILED'));
  cell.dataset.result = result.ok ? 'verified' : 'failed';
}

function checkpointPanel(note, key) {
  const status = h('span', { id: 'checkpoint-signature' }, badge('checking…', 'neutral'));
  (async () => {
    try {
      const r = await verifyCheckpoint(parseCheckpoint(note), key);
      replace(status, badge(r.ok ? 'signature verified' : r.ok === null ? 'signature not checked' : 'signature FAILED', r.ok ? 'ok' : r.ok === null ? 'warn' : 'bad'), ' ', r.message);
    } catch (e) {
      replace(status, badge('unreadable', 'bad'), ' ', e.message);
    }
  })();
  return h('section', { class: 'panel', 'aria-labelledby': 'checkpoint' },
    h('h2', { id: 'checkpoint' }, 'Signed checkpoint'),
    h('pre', { class: 'note', id: 'checkpoint-note', tabindex: '0', 'aria-label': 'checkpoint note' }, note),
    h('p', null, status),
    h('p', { class: 'muted' }, 'Ledger key ', h('span', { class: 'hash' }, key.verifier), '. Compare it with the verifier you published; each proof below is checked against this checkpoint.'));
}

function filterForm(filters, environments) {
  const kind = h('select', { id: 'filter-kind', name: 'kind' },
    h('option', { value: '' }, 'any kind'),
    KINDS.map((k) => h('option', { value: k, selected: filters.kind === k }, k)));
  const digest = h('input', { id: 'filter-digest', name: 'digest', type: 'text', value: filters.digest, placeholder: 'sha256:…', size: 30, spellcheck: 'false', autocomplete: 'off' });
  const env = h('select', { id: 'filter-environment', name: 'environment' },
    h('option', { value: '' }, 'any environment'),
    environments.map((e) => h('option', { value: e, selected: filters.environment === e }, e)));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the ledger' },
    h('div', null, h('label', { for: 'filter-kind' }, 'Kind'), kind),
    h('div', null, h('label', { for: 'filter-digest' }, 'Digest'), digest),
    h('div', null, h('label', { for: 'filter-environment' }, 'Environment'), env),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
    h('a', { href: '#/ledger' }, 'Clear'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (kind.value) q.set('kind', kind.value);
    if (digest.value.trim()) q.set('digest', digest.value.trim());
    if (env.value) q.set('environment', env.value);
    location.hash = `#/ledger${q.toString() ? `?${q}` : ''}`;
  });
  return form;
}
