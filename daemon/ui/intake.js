// Recording evidence and promoting, for principals with the recorder or promoter role: the web
// form of `digestgate record` and `digestgate promote`. A promotion is asked as a dry run first,
// which shows the decision and what would change; only a confirmation sends the real one.
import { request, enc } from './api.js';
import { h, clear, replace, badge, digestLink, seqLink, announce } from './dom.js';
import { checkName } from './data.js';

function dialog(title) {
  const body = h('div');
  const el = h('dialog', { 'aria-labelledby': 'dialog-title' }, h('h2', { id: 'dialog-title' }, title), body);
  el.addEventListener('close', () => el.remove());
  document.body.append(el);
  el.showModal();
  return { el, body };
}

function errorText(r) {
  return r.json?.message ? `${r.status} ${r.json.error}: ${r.json.message}` : `${r.status}: ${r.text}`;
}

export function openRecord({ done }) {
  const { el, body } = dialog('Record evidence');
  const record = h('textarea', { id: 'evidence', rows: 12, spellcheck: 'false', 'aria-describedby': 'evidence-hint' });
  const file = h('input', { type: 'file', id: 'evidence-file', accept: '.json,application/json' });
  file.addEventListener('change', async () => {
    if (file.files[0]) record.value = await file.files[0].text();
  });
  const result = h('div', { role: 'status', id: 'record-result' });
  const send = h('button', { type: 'submit', class: 'primary', id: 'record-send' }, 'Record');
  const form = h('form', { novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'evidence-file' }, 'Load a file'), file),
    h('div', { class: 'field' }, h('label', { for: 'evidence' }, 'Evidence record (JSON)'),
      h('p', { class: 'muted', id: 'evidence-hint' }, 'The record CI sends to POST /v1/validations (docs/examples/evidence.json). Recorded facts cannot be changed later.'),
      record),
    result,
    h('div', { class: 'actions' }, send, h('button', { type: 'button', onclick: () => el.close() }, 'Close')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(record.value);
    } catch (e) {
      replace(result, h('p', { class: 'error' }, `Not JSON: ${e.message}`));
      return;
    }
    send.disabled = true;
    const r = await request('validations', { method: 'POST', body: parsed });
    send.disabled = false;
    if (r.status !== 201) {
      replace(result, h('p', { class: 'error' }, errorText(r)));
      return;
    }
    announce(`Recorded ${r.json.digest} (seq ${r.json.seq}).`);
    replace(result,
      h('p', null, badge('recorded', 'ok'), ' ', digestLink(r.json.digest), ' ', seqLink(r.json.seq)),
      h('ul', { class: 'plain' }, Object.entries(r.json.checks ?? {}).map(([name, c]) => h('li', null,
        h('code', null, checkName(name)), ' ', badge(c.ok ? 'ok' : 'failed', c.ok ? 'ok' : 'bad'),
        (c.problems ?? []).length ? `: ${c.problems.join('; ')}` : ''))));
    done();
  });
  body.append(form);
  record.focus();
}

function decisionView(r) {
  const j = r.json ?? {};
  const promotions = j.promotions ?? [j];
  return h('div', { id: 'promote-decision' },
    h('p', null, badge(j.decision ?? '?', j.decision === 'approved' ? 'ok' : 'bad'), ' ',
      j.dry_run ? 'dry run: nothing was ledgered' : j.seq ? ['ledgered as ', seqLink(j.seq)] : ''),
    j.decision === 'approved'
      ? h('ul', { class: 'plain' }, promotions.map((p) => h('li', { class: 'change' },
        h('div', null, h('strong', null, j.environment), ' · ', h('span', { class: 'mono' }, p.reference?.split('@')[0] ?? '')),
        h('div', null, 'from ', digestLink(p.previous_digest)),
        h('div', null, '→ to ', digestLink(p.digest)))))
      : h('ul', { class: 'reasons' }, (j.reasons ?? []).map((x) => h('li', null, h('code', { class: 'badge bad' }, x.code), ' ', x.message))));
}

export function openPromote({ environments, done }) {
  const { el, body } = dialog('Promote');
  const env = h('select', { id: 'promote-env' }, environments.map((e) => h('option', { value: e }, e)));
  const refs = h('textarea', { id: 'promote-refs', rows: 3, spellcheck: 'false', 'aria-describedby': 'promote-refs-hint' });
  const result = h('div', { role: 'status' });
  const review = h('button', { type: 'submit', class: 'primary', id: 'promote-review' }, 'Dry run');
  const form = h('form', { novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'promote-env' }, 'Environment'), env),
    h('div', { class: 'field' }, h('label', { for: 'promote-refs' }, 'References'),
      h('p', { class: 'muted', id: 'promote-refs-hint' }, 'name@sha256:… — one a line; several make a bundle, approved all or nothing.'), refs),
    result,
    h('div', { class: 'actions' }, review, h('button', { type: 'button', onclick: () => el.close() }, 'Close')));
  const ask = (dryRun) => {
    const references = refs.value.split('\n').map((s) => s.trim()).filter(Boolean);
    const req = { environment: env.value, dry_run: dryRun };
    if (references.length === 1) req.reference = references[0];
    else req.references = references;
    return request('promotions', { method: 'POST', body: req });
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!refs.value.trim()) { replace(result, h('p', { class: 'error' }, 'A reference is required.')); return; }
    review.disabled = true;
    const r = await ask(true);
    review.disabled = false;
    if (r.status !== 200 && !(r.status === 403 && r.json?.decision)) {
      replace(result, h('p', { class: 'error' }, errorText(r)));
      return;
    }
    replace(result, h('p', null, 'This will change:'), decisionView(r));
    if (r.json.decision !== 'approved') {
      result.append(h('p', null, 'A promotion now would be refused for these reasons.'));
      return;
    }
    const confirm = h('button', { type: 'button', class: 'danger', id: 'promote-confirm' }, `Confirm promotion to ${env.value}`);
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      const real = await ask(false);
      if (real.status === 200) {
        announce(`Promoted to ${env.value} (seq ${real.json.seq}).`);
        el.close();
        done();
        return;
      }
      replace(result, real.json?.decision ? decisionView(real) : h('p', { class: 'error' }, errorText(real)));
    });
    result.append(h('div', { class: 'actions' }, confirm));
    confirm.focus();
  });
  body.append(form);
  refs.focus();
}
