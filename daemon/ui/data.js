// Reads shared by several pages.
import { get, enc, request } from './api.js';

// Revoked digests: Map digest -> {seq, reason, time}. Reads every revocation entry (1000 a page).
export async function revocations() {
  const out = new Map();
  let after = 0;
  for (let round = 0; round < 100; round++) {
    const page = await get(`entries?kind=revocation&limit=1000&after=${after}`);
    for (const e of page.entries) out.set(e.body.digest, { seq: e.seq, reason: e.body.reason, time: e.time });
    if (page.entries.length < 1000) break;
    after = page.next_after;
  }
  return out;
}

// The current tree size, from the signed checkpoint.
export async function treeSize() {
  const r = await request('checkpoint');
  if (r.status !== 200) throw new Error(`GET /v1/checkpoint answered ${r.status}`);
  const note = r.text;
  return { size: Number(note.split('\n')[1] ?? 0), note };
}

// Entries newest first: up to `count` entries with seq < `before` matching `filters` (kind,
// digest, environment), walking back through the ledger in windows of at most 1000 seqs.
// Resolves to {entries, more} where `more` says older matches may exist.
export async function entriesBefore(before, count, filters = {}) {
  const query = Object.entries(filters).filter(([, v]) => v).map(([k, v]) => `&${k}=${enc(v)}`).join('');
  const filtered = query !== '';
  const found = [];
  let hi = before; // exclusive
  for (let round = 0; round < 200 && found.length < count && hi > 1; round++) {
    const window = filtered ? 1000 : count - found.length;
    const lo = Math.max(0, hi - 1 - window);
    const page = await get(`entries?after=${lo}&limit=${hi - 1 - lo}${query}`);
    const inWindow = page.entries.filter((e) => e.seq < hi).reverse();
    found.push(...inWindow.slice(0, count - found.length));
    hi = lo + 1;
  }
  return { entries: found, more: hi > 1 };
}

export const checkName = (key) => key.replaceAll('_', '-');

// The CLI's one-line summary of an entry (digestgate ledger list).
export function summary(entry) {
  const b = entry.body ?? {};
  const parts = [];
  const push = (x) => { if (x !== undefined && x !== null && x !== '') parts.push(String(x)); };
  switch (entry.kind) {
    case 'promotion':
    case 'rollback': {
      push(b.decision);
      if (b.break_glass) push('(break glass)');
      push(b.environment);
      if (entry.kind === 'rollback') {
        push(b.repository);
        push(b.reference || b.digest);
      } else if (Array.isArray(b.references)) push(b.references.join(' '));
      else if (Array.isArray(b.promotions)) push(b.promotions.map((p) => p.reference).join(' '));
      else push(b.reference);
      const codes = [...new Set((b.reasons ?? []).map((r) => r.code).filter(Boolean))];
      if (codes.length) push(`[${codes.join(', ')}]`);
      break;
    }
    case 'deployment':
      push(b.environment);
      push(b.digest);
      push(b.status);
      if (b.drift === true) push(`(drift: running ${b.running_digest})`);
      break;
    case 'revocation':
      push(b.digest);
      if (b.reason) push(`reason: ${b.reason}`);
      break;
    case 'policy':
      push(b.policy_sha256 ? `sha256 ${b.policy_sha256}` : b.sha256);
      break;
    case 'validation': {
      const subject = b.subject ?? b.record?.subject ?? {};
      const repository = b.repository || subject.name;
      const digest = b.digest || subject.digest;
      push(repository ? `${repository}@${digest}` : digest);
      break;
    }
    default:
      push(b.digest);
  }
  return parts.join('  ');
}
