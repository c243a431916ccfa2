// One ledger entry: its proof checked step by step, and for a decision every reason with its
// message.
import { ApiError, get, getText, enc } from './api.js';
import { h, clear, replace, badge, digestLink, seqLink, time, facts, table } from './dom.js';
import { summary } from './data.js';
import { checkEntry } from './proof.js';

export async function entryPage(target, seqText, ctx) {
  let text;
  try {
    text = await getText(`entries/${enc(seqText)}`);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
      replace(target, h('h1', null, `No entry ${seqText}`), h('p', null, e.message));
      return;
    }
    throw e;
  }
  const key = await get('keys');
  const check = await checkEntry(text, key);
  if (!ctx.isCurrent()) return;
  const entry = JSON.parse(text).entry;
  const seq = entry.seq;
  replace(target, 
    h('h1', null, `Entry ${seq}: ${entry.kind}`),
    proofBanner(check),
    h('nav', { class: 'pager', 'aria-label': 'Neighbouring entries' },
      seq > 1 ? h('a', { href: `#/entry/${seq - 1}` }, `← seq ${seq - 1}`) : null,
      h('a', { href: `#/entry/${seq + 1}` }, `seq ${seq + 1} →`)),
    facts([
      ['seq', String(seq)],
      ['kind', entry.kind],
      ['time', time(entry.time)],
      ['actor', entry.actor],
      ['summary', summary(entry)],
    ]),
    decision(entry),
    proofPanel(check),
    h('section', { class: 'panel', 'aria-labelledby': 'body' },
      h('h2', { id: 'body' }, 'Body'),
      h('pre', { tabindex: '0', 'aria-label': 'entry body' }, JSON.stringify(entry.body, null, 2))));
}

// A failed proof is said first: nothing shown below it can be trusted.
function proofBanner(c) {
  if (c.ok) return null;
  return h('p', { class: 'banner bad', role: 'alert', id: 'proof-banner' },
    h('strong', null, 'Inclusion proof FAILED.'), ' What the daemon sent for this entry is not the entry the signed ledger holds; do not trust what is shown below. ',
    h('button', { type: 'button', onclick: () => document.getElementById('proof').scrollIntoView() }, 'See why'));
}

function proofPanel(c) {
  return h('section', { class: 'panel', 'aria-labelledby': 'proof' },
    h('h2', { id: 'proof' }, 'Inclusion proof'),
    h('p', { id: 'proof-result', 'data-result': c.ok ? 'verified' : 'failed', role: 'status' },
      c.ok ? badge('verified', 'ok') : badge('FAILED', 'bad'), ' ',
      c.ok ? `This entry is leaf ${c.index} of the tree of size ${c.size} whose root the checkpoint below signs.`
        : 'This entry could not be shown to be in the signed ledger:'),
    c.ok ? null : h('ul', { class: 'reasons', id: 'proof-problems' }, c.problems.map((p) => h('li', null, p))),
    facts([
      ['leaf hash (recomputed)', c.leaf ? h('span', { class: 'hash' }, c.leaf) : null],
      ['tree size', c.size !== undefined ? String(c.size) : null],
      ['root (checkpoint)', c.root ? h('span', { class: 'hash' }, c.root) : null],
      ['signature', c.signature ? [badge(c.signature.ok ? 'verified' : c.signature.ok === null ? 'not checked' : 'FAILED', c.signature.ok ? 'ok' : c.signature.ok === null ? 'warn' : 'bad'), ' ', c.signature.message] : null],
    ]),
    c.note ? h('pre', { class: 'note', tabindex: '0', 'aria-label': 'checkpoint note' }, c.note) : null);
}

function decision(entry) {
  if (entry.kind !== 'promotion' && entry.kind !== 'rollback') return null;
  const b = entry.body ?? {};
  const approved = b.decision === 'approved';
  const promotions = Array.isArray(b.promotions) ? b.promotions : [b];
  const reasons = b.reasons ?? [];
  const glass = b.break_glass;
  return h('section', { class: 'panel', 'aria-labelledby': 'decision' },
    h('h2', { id: 'decision' }, 'Decision'),
    h('p', { id: 'decision-outcome' }, badge(b.decision ?? '?', approved ? 'ok' : 'bad'), ' ',
      entry.kind === 'rollback' ? 'rollback of ' : 'promotion to ',
      b.environment ? h('a', { href: `#/ledger?environment=${enc(b.environment)}` }, b.environment) : '?'),
    glass ? h('div', { class: 'banner warn', id: 'break-glass' },
      h('strong', null, 'Break glass'), ': ', glass.reason ?? String(glass),
      glass.overridden ? [' — overrode ', glass.overridden.map((r) => r.code ?? r).join(', ')] : null,
      glass.used === false ? ' (not needed: nothing failed)' : null) : null,
    b.reason ? facts([['reason', b.reason]]) : null,
    table(['Repository', 'Reference', 'Digest', 'Previous digest'], promotions.map((p) => [
      h('span', { class: 'mono' }, p.repository ?? ''),
      h('span', { class: 'digest' }, p.reference ?? p.input ?? ''),
      digestLink(p.digest),
      digestLink(p.previous_digest ?? p.from_digest)])),
    h('h3', null, reasons.length ? `Reasons (${reasons.length})` : 'Reasons'),
    reasons.length === 0 ? h('p', { class: 'muted' }, 'none: every requirement passed')
      : h('ul', { class: 'reasons', id: 'reasons' }, reasons.map((r) => h('li', null,
        h('code', { class: 'badge bad' }, r.code), r.gate ? [' gate ', h('code', null, r.gate)] : null,
        r.reference ? [' ', h('span', { class: 'digest muted' }, r.reference)] : null,
        h('div', null, r.message)))),
    b.policy_sha256 ? h('p', { class: 'muted' }, 'policy sha256 ', h('span', { class: 'hash' }, b.policy_sha256)) : null);
}
