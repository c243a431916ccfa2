// Environments: each repository's current and last known-good digest, its latest deployment and
// drift, its latest observation, revoked marks, and the time since promotion.
import { get, enc } from './api.js';
import { h, add, clear, replace, badge, digestLink, seqLink, time, ago, table } from './dom.js';
import { revocations } from './data.js';
import { openRollback } from './actions.js';
import { openRecord, openPromote } from './intake.js';

const HISTORY = 500;

export async function environmentsPage(target, ctx) {
  const [list, revoked] = await Promise.all([get('environments'), revocations()]);
  const details = await Promise.all(list.environments.map((env) =>
    get(`environments/${enc(env.name)}?limit=${HISTORY}`)));
  if (!ctx.isCurrent()) return;
  replace(target, h('h1', null, 'Environments'), intakeActions(list, ctx));
  if (list.environments.length === 0) {
    target.append(h('p', null, 'No environment yet: the policy names none.'));
    return;
  }
  list.environments.forEach((env, i) => target.append(environmentSection(env, details[i], revoked, ctx)));
}

function intakeActions(list, ctx) {
  const { recorder, promoter } = ctx.principal;
  if (!recorder && !promoter) return null;
  const names = list.environments.filter((e) => e.in_policy !== false).map((e) => e.name);
  return h('div', { class: 'actions' },
    recorder ? h('button', { type: 'button', id: 'record', onclick: () => openRecord({ done: ctx.rerender }) }, 'Record evidence…') : null,
    promoter && names.length ? h('button', { type: 'button', id: 'promote', onclick: () => openPromote({ environments: names, done: ctx.rerender }) }, 'Promote…') : null);
}

function revokedMark(digest, revoked) {
  const r = digest && revoked.get(digest);
  return r ? [' ', h('a', { href: `#/entry/${r.seq}`, class: 'badge bad', title: `revoked: ${r.reason}` }, 'revoked')] : null;
}

function latestDeployment(history, repository) {
  return history.find((e) => e.kind === 'deployment' && e.body?.repository === repository);
}

function deploymentCell(deployment) {
  if (!deployment) return h('span', { class: 'muted' }, `none reported (newest ${HISTORY} entries)`);
  const b = deployment.body;
  return h('div', null,
    badge(b.status, b.status === 'succeeded' ? 'ok' : 'bad'), ' ',
    b.drift ? badge('drift', 'warn') : null, ' ', seqLink(deployment.seq),
    h('div', null, digestLink(b.digest)),
    b.drift ? h('div', null, 'running ', digestLink(b.running_digest)) : null,
    h('div', { class: 'muted' }, time(deployment.time)));
}

function observedCell(observed) {
  if (!observed) return h('span', { class: 'muted' }, 'none');
  return h('div', null,
    badge(observed.ok ? 'ok' : 'problems', observed.ok ? 'ok' : 'bad'), ' ',
    observed.seq ? seqLink(observed.seq) : null,
    observed.time ? h('div', { class: 'muted' }, time(observed.time)) : null,
    (observed.problems ?? []).length ? h('ul', { class: 'plain' }, observed.problems.map((p) => h('li', null, p))) : null);
}

function slotCell(slot, revoked, withAge) {
  if (!slot) return h('span', { class: 'muted' }, 'none');
  return h('div', null,
    digestLink(slot.digest), revokedMark(slot.digest, revoked),
    h('div', { class: 'muted' }, seqLink(slot.seq), ' · since ', time(slot.time), withAge ? ` (${ago(slot.time)})` : ''));
}

function environmentSection(env, detail, revoked, ctx) {
  const repositories = Object.entries(detail.repositories ?? env.repositories ?? {});
  const section = h('section', { class: 'panel', 'aria-labelledby': `env-${env.name}` },
    h('h2', { id: `env-${env.name}` }, env.name, ' ', env.in_policy === false ? badge('not in policy', 'warn') : null));
  if (repositories.length === 0) {
    section.append(h('p', { class: 'muted' }, 'Nothing promoted here yet.'));
    return section;
  }
  const history = detail.history ?? [];
  const headers = ['Repository', 'Current', 'Last known-good', 'Latest deployment', 'Observed'];
  if (ctx.principal.operator) headers.push('Actions');
  const rows = repositories.map(([repository, slots]) => {
    const observed = slots.observed ?? detail.observed?.[repository];
    const cells = [
      h('span', { class: 'mono' }, repository),
      slotCell(slots.current, revoked, true),
      slotCell(slots.last_known_good, revoked, false),
      deploymentCell(latestDeployment(history, repository)),
      observedCell(observed),
    ];
    if (ctx.principal.operator) {
      cells.push(h('button', {
        type: 'button', class: 'rollback',
        'aria-label': `Roll back ${repository} in ${env.name}`,
        onclick: () => openRollback({ environment: env.name, repository, slots, history, revoked, done: ctx.rerender }),
        disabled: slots.current ? null : true,
      }, 'Roll back…'));
    }
    return cells;
  });
  section.append(table(headers, rows));
  return add(section, []);
}
