// Operator actions: revoke a digest, roll a repository back. Each asks for a reason, then shows
// what will change and waits for a confirmation before it sends anything.
import { request, get, enc } from './api.js';
import { h, clear, replace, badge, digestLink, announce } from './dom.js';

function dialog(title) {
  const body = h('div');
  const el = h('dialog', { 'aria-labelledby': 'dialog-title' }, h('h2', { id: 'dialog-title' }, title), body);
  el.addEventListener('close', () => el.remove());
  document.body.append(el);
  el.showModal();
  return { el, body };
}

function field(id, labelText, control, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), hint ? h('p', { class: 'muted', id: `${id}-hint` }, hint) : null, control);
}

function reasonsList(reasons) {
  return h('ul', { class: 'reasons' }, (reasons ?? []).map((r) => h('li', null, h('code', { class: 'badge bad' }, r.code), ' ', r.message)));
}

function errorText(r) {
  return r.json?.message ? `${r.status} ${r.json.error}: ${r.json.message}` : `${r.status}: ${r.text}`;
}

// ---- Rollback ----

// Digests approved for `repository` in the environment before (from its history), newest first.
function approvedBefore(history, repository, current) {
  const seen = new Set();
  const out = [];
  for (const e of history) {
    if (e.body?.decision !== 'approved') continue;
    const items = e.kind === 'rollback' ? [e.body] : e.body?.promotions ?? [];
    for (const p of items) {
      if (p.repository === repository && p.digest && p.digest !== current && !seen.has(p.digest)) {
        seen.add(p.digest);
        out.push(p.digest);
      }
    }
  }
  return out;
}

export function openRollback({ environment, repository, slots, history, revoked, done }) {
  const { el, body } = dialog(`Roll back ${repository} in ${environment}`);
  const current = slots.current?.digest;
  const lkg = slots.last_known_good?.digest;
  const choices = approvedBefore(history, repository, current);
  const toLkg = h('input', { type: 'radio', name: 'target', id: 'target-lkg', value: 'lkg', checked: !!lkg, disabled: !lkg });
  const toChosen = h('input', { type: 'radio', name: 'target', id: 'target-chosen', value: 'chosen', checked: !lkg });
  const chosen = h('select', { id: 'target-digest', 'aria-label': 'Digest to roll back to' },
    choices.length ? choices.map((d) => h('option', { value: d }, `${d}${revoked.has(d) ? ' (revoked)' : ''}`)) : h('option', { value: '' }, 'no other digest was approved here'));
  chosen.addEventListener('change', () => { toChosen.checked = true; });
  const reason = h('textarea', { id: 'rollback-reason', required: true, 'aria-describedby': 'rollback-reason-hint' });
  const glass = h('input', { type: 'checkbox', id: 'break-glass' });
  const glassReason = h('textarea', { id: 'break-glass-reason', 'aria-describedby': 'break-glass-reason-hint' });
  const glassField = field('break-glass-reason', 'Break-glass reason', glassReason, 'Why the policy must be overridden. Ledgered with the rollback and shown as break glass.');
  glassField.hidden = true;
  glass.addEventListener('change', () => { glassField.hidden = !glass.checked; glassReason.required = glass.checked; });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { novalidate: true },
    h('p', null, 'Current: ', digestLink(current)),
    h('fieldset', null, h('legend', null, 'Roll back to'),
      h('div', { class: 'radio' }, toLkg, ' ', h('label', { for: 'target-lkg' }, 'its last known-good digest: '), lkg ? h('span', { class: 'digest' }, lkg) : h('span', { class: 'muted' }, 'none')),
      h('div', { class: 'radio' }, toChosen, ' ', h('label', { for: 'target-chosen' }, 'a digest approved here before:')),
      chosen),
    field('rollback-reason', 'Reason', reason, 'Required. Ledgered with the rollback.'),
    h('div', { class: 'check' }, glass, ' ', h('label', { for: 'break-glass' }, 'Break glass: roll back even if the target fails the current policy')),
    glassField,
    error,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', id: 'rollback-review' }, 'Review'),
      h('button', { type: 'button', onclick: () => el.close() }, 'Cancel')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const to = toChosen.checked ? chosen.value : lkg;
    if (!to) { error.textContent = 'Choose a digest to roll back to.'; return; }
    if (!reason.value.trim()) { error.textContent = 'A reason is required.'; reason.focus(); return; }
    if (glass.checked && !glassReason.value.trim()) { error.textContent = 'Breaking glass needs its own reason.'; glassReason.focus(); return; }
    const request = { repository, reason: reason.value.trim() };
    if (toChosen.checked) request.to = to;
    if (glass.checked) request.break_glass = { reason: glassReason.value.trim() };
    confirmRollback(el, body, form, { environment, repository, current, to, revoked, request, done });
  });
  body.append(form);
  (lkg ? reason : chosen).focus();
}

function confirmRollback(el, body, form, { environment, repository, current, to, revoked, request: req, done }) {
  form.hidden = true;
  const result = h('div', { role: 'status' });
  const confirm = h('button', { type: 'button', class: 'danger', id: 'rollback-confirm' }, `Confirm rollback of ${environment}`);
  const back = h('button', { type: 'button', onclick: () => { review.remove(); form.hidden = false; } }, 'Back');
  const review = h('div', { id: 'rollback-summary' },
    h('p', null, 'This will change:'),
    h('div', { class: 'change' },
      h('div', null, h('strong', null, environment), ' · ', h('span', { class: 'mono' }, repository)),
      h('div', null, 'from ', h('span', { class: 'digest', id: 'rollback-from' }, current)),
      h('div', null, h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→ '), 'to ', h('span', { class: 'digest', id: 'rollback-to' }, to),
        revoked.has(to) ? [' ', badge('revoked', 'bad')] : null)),
    h('p', null, 'Reason: ', req.reason),
    req.break_glass ? h('p', { class: 'banner warn' }, h('strong', null, 'Break glass'), ': ', req.break_glass.reason,
      '. If the target fails the current policy it is approved anyway, and the ledger records the reasons overridden.') : null,
    h('p', { class: 'muted' }, 'The target is checked against the current policy (except stage order and evidence age); a refusal is ledgered too.'),
    result,
    h('div', { class: 'actions' }, confirm, back));
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    back.disabled = true;
    const r = await request(`environments/${enc(environment)}/rollback`, { method: 'POST', body: req });
    clear(result);
    if (r.status === 200) {
      announce(`Rolled back ${repository} in ${environment} (seq ${r.json.seq}).`);
      el.close();
      done();
      return;
    }
    if (r.status === 403 && r.json?.decision === 'refused') {
      result.append(h('p', { class: 'error' }, `Refused (ledgered as seq ${r.json.seq}): the target fails the current policy.`), reasonsList(r.json.reasons),
        h('p', null, 'Go back and break glass with a reason to roll back anyway.'));
    } else {
      result.append(h('p', { class: 'error' }, errorText(r)));
    }
    back.disabled = false;
  });
  body.append(review);
  confirm.focus();
}

// ---- Revocation ----

export async function openRevoke({ digest: d, done }) {
  const { el, body } = dialog('Revoke a digest');
  const envs = await get('environments');
  const lkgOf = (env, repo) => envs.environments.find((e) => e.name === env)?.repositories?.[repo]?.last_known_good?.digest;
  const reason = h('textarea', { id: 'revoke-reason', required: true, 'aria-describedby': 'revoke-reason-hint' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { novalidate: true },
    h('p', null, h('span', { class: 'digest' }, d.digest), d.repository ? ` (${d.repository})` : ''),
    field('revoke-reason', 'Reason', reason, 'Required. Ledgered with the revocation.'),
    error,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', id: 'revoke-review' }, 'Review'),
      h('button', { type: 'button', onclick: () => el.close() }, 'Cancel')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!reason.value.trim()) { error.textContent = 'A reason is required.'; reason.focus(); return; }
    form.hidden = true;
    const current = d.current_in ?? [];
    const result = h('div', { role: 'status' });
    const confirm = h('button', { type: 'button', class: 'danger', id: 'revoke-confirm' }, 'Confirm revocation');
    const back = h('button', { type: 'button', onclick: () => { review.remove(); form.hidden = false; } }, 'Back');
    const review = h('div', { id: 'revoke-summary' },
      h('p', null, 'This will change:'),
      h('div', { class: 'change' },
        h('p', null, h('span', { class: 'digest' }, d.digest), ' will be refused everywhere from now on, and skipped by rollback.'),
        current.length === 0 ? h('p', null, 'It is current in no environment.')
          : [h('p', null, 'It stays current, until rolled back, in:'),
            h('ul', null, current.map((c) => h('li', null, h('strong', null, c.environment), ` (${c.repository}); its last known-good there: `,
              digestLink(lkgOf(c.environment, c.repository)))))]),
      h('p', null, 'Reason: ', reason.value.trim()),
      result,
      h('div', { class: 'actions' }, confirm, back));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      back.disabled = true;
      const r = await request('revocations', { method: 'POST', body: { digest: d.digest, reason: reason.value.trim() } });
      if (r.status === 201) {
        announce(`Revoked ${d.digest} (seq ${r.json.seq}).`);
        el.close();
        done();
        return;
      }
      replace(result, h('p', { class: 'error' }, errorText(r)));
      back.disabled = false;
    });
    body.append(review);
    confirm.focus();
  });
  body.append(form);
  reason.focus();
}
