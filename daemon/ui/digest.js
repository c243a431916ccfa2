// A digest: all its evidence, where it is current, and every entry that concerns it.
import { ApiError, get, enc } from './api.js';
import { h, clear, replace, badge, digestLink, seqLink, time, facts, table } from './dom.js';
import { entriesBefore, treeSize, checkName, summary } from './data.js';
import { openRevoke } from './actions.js';

export async function digestPage(target, digest, ctx) {
  let d;
  try {
    d = await get(`digests/${enc(digest)}`);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
      replace(target, h('h1', null, 'Unknown digest'), h('p', null, h('span', { class: 'digest' }, digest), ': ', e.message));
      return;
    }
    throw e;
  }
  const { size } = await treeSize();
  const history = await entriesBefore(size + 1, 200, { digest: d.digest });
  if (!ctx.isCurrent()) return;
  replace(target, 
    h('h1', null, 'Digest ', h('span', { class: 'digest' }, d.digest)),
    d.revoked
      ? h('p', { class: 'banner bad', role: 'note' }, 'Revoked: ', d.revoked.reason, ' (', seqLink(d.revoked.seq), ', ', time(d.revoked.time), ')')
      : null,
    ctx.principal.operator && !d.revoked
      ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', id: 'revoke', onclick: () => openRevoke({ digest: d, done: ctx.rerender }) }, 'Revoke…'))
      : null,
    overview(d),
    currentIn(d),
    checks(d),
    gates(d),
    signatures(d),
    provenance(d),
    observations(d, history.entries),
    decisions(history, d.digest));
}

function overview(d) {
  const src = d.source ?? {};
  const build = d.build ?? {};
  return h('section', { class: 'panel', 'aria-labelledby': 'overview' },
    h('h2', { id: 'overview' }, 'Overview'),
    facts([
      ['digest', h('span', { class: 'digest' }, d.digest)],
      ['repository', d.repository ?? d.name],
      ['tags', (d.tags ?? []).join(', ')],
      ['media type', d.media_type],
      ['pushed at', d.pushed_at ? time(d.pushed_at) : null],
      ['source', src.repository ? `${src.repository} commit ${src.commit ?? '?'}${src.ref ? ` (${src.ref})` : ''}` : null],
      ['build', build.run_id || build.run_url ? [`run ${build.run_id ?? ''} `, build.run_url ? h('span', { class: 'mono' }, build.run_url) : ''] : null],
      ['builder', build.builder_id ?? null],
      ['base image', build.base_image ? h('span', { class: 'digest' }, build.base_image) : null],
      ...(d.platforms ?? []).map((p) => ['platform', [h('span', { class: 'mono' }, p.platform), '  ', h('span', { class: 'digest' }, p.digest)]]),
      ...(d.mirrors ?? []).map((m) => ['mirror', [h('span', { class: 'mono' }, m.name), '  ', h('span', { class: 'digest' }, m.digest), m.observed_at ? ` (observed ${m.observed_at})` : '']]),
      ...Object.entries(d.labels ?? {}).map(([k, v]) => ['label', h('span', { class: 'mono' }, `${k}=${v}`)]),
      ['revoked', d.revoked ? badge('revoked', 'bad') : 'no'],
    ]));
}

function currentIn(d) {
  const list = d.current_in ?? [];
  return h('section', { class: 'panel', 'aria-labelledby': 'current-in' },
    h('h2', { id: 'current-in' }, 'Current in'),
    list.length === 0 ? h('p', { class: 'muted' }, 'No environment.') :
      h('ul', { class: 'plain' }, list.map((c) => h('li', null,
        h('a', { href: `#/ledger?environment=${enc(c.environment)}` }, c.environment), ` (${c.repository})`,
        c.seq ? [' since ', time(c.time), ', ', seqLink(c.seq)] : null))));
}

function checks(d) {
  const rows = Object.entries(d.checks ?? {}).map(([name, c]) => [
    h('span', { class: 'mono' }, checkName(name)),
    badge(c.ok ? 'ok' : 'failed', c.ok ? 'ok' : 'bad'),
    (c.problems ?? []).length ? h('ul', { class: 'plain' }, c.problems.map((p) => h('li', null, p))) : h('span', { class: 'muted' }, 'none'),
  ]);
  return h('section', { class: 'panel', 'aria-labelledby': 'checks' },
    h('h2', { id: 'checks' }, 'Checks'),
    rows.length ? table(['Check', 'Result', 'Problems'], rows) : h('p', { class: 'muted' }, 'None recorded.'));
}

function findings(f) {
  if (!f || Object.keys(f).length === 0) return h('span', { class: 'muted' }, 'none');
  return h('span', { class: 'mono' }, Object.keys(f).sort().map((k) => `${k} ${f[k]}`).join(', '));
}

function gates(d) {
  const rows = Object.entries(d.gates ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, g]) => [
    h('span', { class: 'mono' }, name),
    badge(g.result ?? '?', g.result === 'pass' ? 'ok' : 'bad'),
    g.tool ? `${g.tool.name ?? ''} ${g.tool.version ?? ''}` : h('span', { class: 'muted' }, 'none'),
    h('div', null, h('div', null, 'started ', time(g.started_at)), h('div', null, 'finished ', time(g.finished_at))),
    findings(g.findings),
    (g.artifacts ?? []).length
      ? h('ul', { class: 'plain' }, g.artifacts.map((a) => h('li', null, h('span', { class: 'mono' }, a.name), ' ', h('span', { class: 'hash' }, `sha256 ${a.sha256}`), a.created_at ? [' created ', time(a.created_at)] : null)))
      : h('span', { class: 'muted' }, 'none'),
    h('div', null, g.target ? h('div', { class: 'digest' }, g.target) : null, g.seq ? seqLink(g.seq) : null),
  ]);
  return h('section', { class: 'panel', 'aria-labelledby': 'gates' },
    h('h2', { id: 'gates' }, 'Gates (latest result of each)'),
    rows.length ? table(['Gate', 'Result', 'Tool', 'Time', 'Findings', 'Artifacts', 'Target'], rows) : h('p', { class: 'muted' }, 'None recorded.'));
}

// Fields a signature, attestation or Sigstore bundle may carry, in the order shown.
const SIG_FIELDS = ['kind', 'issuer', 'trusted_root', 'predicate_type', 'builder_id', 'source_repository', 'source_commit',
  'manifest_digest', 'docker_reference', 'log_index', 'integrated_time', 'seq', 'error'];

function signer(s) {
  if (s.key) return `key ${s.key}`;
  if (s.identity) return `identity ${s.identity}`;
  return s.kind ? 'Sigstore bundle' : 'no trusted key';
}

function sigFacts(s) {
  const pairs = SIG_FIELDS.filter((k) => s[k] !== undefined && s[k] !== null && s[k] !== '')
    .map((k) => [k.replaceAll('_', ' '), String(s[k])]);
  for (const [k, v] of Object.entries(s.github ?? {})) pairs.push([k.replaceAll('_', ' '), String(v)]);
  return facts(pairs);
}

function sigList(list) {
  return h('ul', { class: 'plain' }, list.map((s) => h('li', null,
    badge(s.verified ? 'verified' : 'not verified', s.verified ? 'ok' : 'bad'), ' ', signer(s), sigFacts(s))));
}

const isProvenance = (b) => /slsa\.dev\/provenance/.test(b.predicate_type ?? '');

function signatures(d) {
  const list = [...(d.signatures ?? []), ...(d.bundles ?? []).filter((b) => !isProvenance(b))];
  return h('section', { class: 'panel', 'aria-labelledby': 'signatures' },
    h('h2', { id: 'signatures' }, 'Signatures'),
    list.length ? sigList(list) : h('p', { class: 'muted' }, 'none'));
}

function provenance(d) {
  const list = [...(d.attestations ?? []), ...(d.bundles ?? []).filter(isProvenance)];
  return h('section', { class: 'panel', 'aria-labelledby': 'provenance' },
    h('h2', { id: 'provenance' }, 'Provenance and attestations'),
    list.length ? sigList(list) : h('p', { class: 'muted' }, 'none'));
}

function observations(d, entries) {
  const observed = entries.filter((e) => e.kind === 'observation');
  const rows = observed.map((e) => [
    seqLink(e.seq), time(e.body?.observed_at ?? e.time),
    h('ul', { class: 'plain' }, (e.body?.registries ?? []).map((r) => h('li', null,
      badge(r.present ? 'present' : r.error ? 'error' : 'absent', r.present ? 'ok' : 'bad'), ' ',
      h('span', { class: 'mono' }, r.name), r.error ? ` (${r.error})` : '')))]);
  return h('section', { class: 'panel', 'aria-labelledby': 'observations' },
    h('h2', { id: 'observations' }, 'Observations'),
    rows.length ? table(['Entry', 'Observed at', 'Registries'], rows) : h('p', { class: 'muted' }, 'none'));
}

function decisions(history, digest) {
  const rows = history.entries.map((e) => [seqLink(e.seq), time(e.time), e.kind, e.actor, h('span', { class: 'summary' }, summary(e))]);
  return h('section', { class: 'panel', 'aria-labelledby': 'entries' },
    h('h2', { id: 'entries' }, 'Decisions and entries (newest first)'),
    rows.length ? table(['Seq', 'Time', 'Kind', 'Actor', 'Summary'], rows) : h('p', { class: 'muted' }, 'none'),
    history.more ? h('p', null, h('a', { href: `#/ledger?digest=${enc(digest)}` }, 'Older entries in the ledger')) : null);
}
