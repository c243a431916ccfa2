// The web view (/ui/) in a real browser: Debian's chromium or firefox-esr, headless, driven by
// puppeteer-core, against the real digestgated and CLI of a build tree, on a loopback port.
//
//   scripts/browser-test build/ci    (npm ci, then this file in each browser)
//
// Environment: DG_BUILD_DIR (default build/dev), DG_BROWSER (chromium or firefox),
// CHROMIUM (default /usr/bin/chromium), FIREFOX (default /usr/bin/firefox-esr),
// DG_SCREENSHOTS=DIR writes a screenshot of each page at 1280 and 390 pixels wide into DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = path.resolve(root, process.env.DG_BUILD_DIR ?? 'build/dev');
const daemonBin = path.join(build, 'daemon/digestgated');
const cliBin = path.join(build, 'cli/digestgate');
// DG_BROWSER=firefox runs the same tests in Debian's firefox-esr (WebDriver BiDi).
const firefox = process.env.DG_BROWSER === 'firefox';
const shots = process.env.DG_SCREENSHOTS ? path.resolve(process.env.DG_SCREENSHOTS) : null;

const OPS = 'ops-token-for-the-browser-tests';
const VIEWER = 'viewer-token-for-the-browser-tests';
const D1 = 'sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426';
const D2 = `sha256:${createHash('sha256').update('digestgate browser test v1.4.3').digest('hex')}`;
const D3 = `sha256:${createHash('sha256').update('digestgate browser test v1.4.4').digest('hex')}`;
const REPO = 'ghcr.io/acme/app';

const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let dir;
let daemon;
let url;
let browser;
let page;
const problems = []; // console errors, page errors and CSP violations seen by any page
const httpErrors = []; // "STATUS METHOD PATH" of every answer >= 400 to any page

const sha256hex = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cli(args, token = OPS) {
  try {
    const out = execFileSync(cliBin, ['--url', url, ...args], {
      env: { ...process.env, DIGESTGATE_TOKEN: token },
      encoding: 'utf8',
      timeout: 30000,
    });
    return { code: 0, out };
  } catch (e) {
    return { code: e.status, out: e.stdout, err: e.stderr };
  }
}

function cliJson(args, token = OPS) {
  const r = cli(['--json', ...args], token);
  return JSON.parse(r.out);
}

async function startDaemon() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-browser-'));
  const state = path.join(dir, 'state');
  fs.mkdirSync(state, { mode: 0o700 });
  execFileSync(daemonBin, ['init', '--state-dir', state], { stdio: 'ignore' });
  // The demo policy, trusting a key that signs the second digest (cosign simple signing).
  const policy = JSON.parse(fs.readFileSync(path.join(root, 'docs/examples/demo-policy.json'), 'utf8'));
  policy.trusted_keys = { 'ci-signer': { public_key_pem: signer.publicKey.export({ type: 'spki', format: 'pem' }) } };
  fs.writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(policy, null, 2));
  const config = {
    listen: '127.0.0.1:0',
    state_dir: state,
    policy: path.join(dir, 'policy.json'),
    origin: 'digestgate.test/ledger',
    principals: [
      { name: 'ops', roles: ['operator', 'promoter', 'recorder'], token_sha256: sha256hex(OPS) },
      { name: 'viewer', roles: ['reader'], token_sha256: sha256hex(VIEWER) },
    ],
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  daemon = spawn(daemonBin, ['--config', path.join(dir, 'config.json')], { stdio: ['ignore', log, log] });
  const addressFile = path.join(state, 'listen-address');
  for (let i = 0; i < 200; i++) {
    if (daemon.exitCode !== null) break;
    if (fs.existsSync(addressFile) && fs.readFileSync(addressFile, 'utf8').trim()) {
      url = `http://${fs.readFileSync(addressFile, 'utf8').trim()}`;
      try {
        if ((await fetch(`${url}/healthz`)).ok) return;
      } catch {
        // not yet
      }
    }
    await sleep(50);
  }
  throw new Error(`digestgated did not start:\n${fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8')}`);
}

// The README's walkthrough (docs/examples/evidence.json to staging, then production), then a
// second digest promoted the same way after the first was reported healthy in production.
function walkthrough() {
  assert.equal(cli(['record', '--evidence', path.join(root, 'docs/examples/evidence.json')]).code, 0);
  assert.equal(cli(['promote', '--env', 'staging', '--ref', `${REPO}@${D1}`]).code, 0);
  assert.equal(cli(['promote', '--env', 'production', '--ref', `${REPO}:v1.4.2`]).code, 1);
  assert.equal(cli(['promote', '--env', 'production', '--ref', `${REPO}@${D1}`]).code, 0);
  assert.equal(cli(['report', '--env', 'production', '--digest', D1, '--status', 'succeeded']).code, 0);

  const evidence = JSON.parse(fs.readFileSync(path.join(root, 'docs/examples/evidence.json'), 'utf8')
    .replaceAll(D1, D2).replaceAll('v1.4.2', 'v1.4.3'));
  const payload = Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': REPO }, image: { 'docker-manifest-digest': D2 }, type: 'cosign container image signature' },
    optional: null,
  }));
  // Labels whose keys sort differently by UTF-8 bytes (the ledger's order) than by UTF-16 code
  // units (JavaScript's), and values with escapes, so the proofs check the page's canonical bytes.
  Object.assign(evidence.subject.labels, {
    '\u{1F600}.emoji': 'grinning \u{1F600}',
    '\uE000.private-use': 'sorts before the emoji in UTF-16, after it in UTF-8',
    'Äpfel': 'caf\u00e9 \u2028 line separator',
    'ctl': 'bell \u0007 quote " backslash \\ slash / tab \t </script>',
  });
  evidence.signatures = [{ payload: payload.toString('base64'), signature: sign('sha256', payload, signer.privateKey).toString('base64') }];
  const second = path.join(dir, 'evidence-v1.4.3.json');
  fs.writeFileSync(second, JSON.stringify(evidence));
  assert.equal(cli(['record', '--evidence', second]).code, 0);
  assert.equal(cli(['promote', '--env', 'staging', '--ref', `${REPO}@${D2}`]).code, 0);
  assert.equal(cli(['promote', '--env', 'production', '--ref', `${REPO}@${D2}`]).code, 0);
  const running = 'sha256:54caece6dd3102d492d97a6071d1e163e3ce9b60d1761ee3f95d9ee943b01b5c';
  assert.equal(cli(['report', '--env', 'production', '--digest', D2, '--status', 'succeeded', '--running-digest', running]).code, 0);
}

// Firefox ESR 140 (Debian 12's bookworm main, without bookworm-security) has no WebDriver BiDi
// emulation.setScreenOrientationOverride, which puppeteer sends beside browsingContext.setViewport.
// The viewport itself is set by the other command, so only that one refusal is tolerated.
async function setViewport(p, viewport) {
  try {
    await p.setViewport(viewport);
  } catch (e) {
    if (!(firefox && e.message.includes('setScreenOrientationOverride') && e.message.includes('unknown command'))) throw e;
  }
}

async function newPage(context) {
  const p = await context.newPage();
  await setViewport(p, { width: 1280, height: 900 });
  // Chromium logs every answer >= 400 as a console error; those are checked in httpErrors.
  p.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  p.on('response', (r) => {
    if (r.status() >= 400) httpErrors.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await p.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  return p;
}

async function signIn(p, token) {
  await p.goto(`${url}/ui/`);
  await p.waitForSelector('#token');
  await p.type('#token', token);
  await Promise.all([p.waitForSelector('#principal'), p.keyboard.press('Enter')]);
}

// Polls fn in the page until it returns a truthy value (30 s at most, like waitForFunction).
// puppeteer's waitForFunction builds its predicate with new Function() inside the page, which the
// web view's CSP (script-src 'self') refuses in Firefox ESR 140; page.evaluate hands the function
// over through the protocol instead. An evaluation cut short by a navigation is retried.
async function waitFor(p, fn, ...args) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let failure;
    try {
      const value = await p.evaluate(fn, ...args);
      if (value) return value;
    } catch (e) {
      failure = e;
    }
    if (Date.now() > deadline) throw failure ?? new Error(`timed out waiting for ${fn}`);
    await sleep(25);
  }
}

// Waits until the page shown is the one of the location's hash, fully rendered.
const rendered = (p) => waitFor(p, () => document.body.dataset.rendered === (location.hash || '#/environments'));

// Navigate inside the page (hash routing) and wait for the page to finish loading.
async function open(p, hash) {
  await p.evaluate((h) => {
    for (const d of document.querySelectorAll('dialog[open]')) d.close(); // left by a failed test
    delete document.body.dataset.rendered;
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  await rendered(p);
}

async function screenshot(p, name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await p.screenshot({ path: path.join(shots, `${name}-desktop.png`) });
  // Not isMobile: puppeteer reloads the page to change it, which would close an open dialog.
  await setViewport(p, { width: 390, height: 844 });
  await sleep(100);
  await p.screenshot({ path: path.join(shots, `${name}-phone.png`) });
  await setViewport(p, { width: 1280, height: 900 });
  await sleep(100);
}

const textOf = (p, selector) => p.$eval(selector, (el) => el.textContent);

// Every form control has a label, every button and link a name, and the page one h1.
async function assertAccessible(p) {
  const unnamed = await p.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.labels.length === 0 && !el.getAttribute('aria-label')) out.push(el.outerHTML.slice(0, 80));
    }
    for (const el of document.querySelectorAll('button, a')) {
      if (!el.textContent.trim() && !el.getAttribute('aria-label')) out.push(el.outerHTML.slice(0, 80));
    }
    if (document.querySelectorAll('main h1').length !== 1) out.push('not exactly one h1');
    return out;
  });
  assert.deepEqual(unnamed, []);
}

before(async () => {
  await startDaemon();
  walkthrough();
  browser = firefox
    ? await puppeteer.launch({ browser: 'firefox', executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr', headless: true })
    : await puppeteer.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'],
    });
  page = await newPage(browser.defaultBrowserContext());
});

after(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => { daemon.once('exit', r); setTimeout(r, 10000); });
  }
  if (dir && !process.env.DG_BROWSER_KEEP) fs.rmSync(dir, { recursive: true, force: true });
});

test('the page comes with its security headers and signs in with a token kept in session storage only', async () => {
  const res = await page.goto(`${url}/ui/`);
  const headers = res.headers();
  assert.match(headers['content-security-policy'], /default-src 'none'; script-src 'self'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  await page.waitForSelector('#token');
  assert.equal(await page.$eval('#token', (el) => el.labels[0].textContent), 'Token');
  await screenshot(page, 'sign-in');

  // A wrong token is refused and forgotten.
  await page.type('#token', 'not-a-token');
  await page.keyboard.press('Enter');
  await waitFor(page, () => document.querySelector('#token-error')?.textContent.includes('not accepted'));
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  await signIn(page, OPS);
  assert.equal(await textOf(page, '#principal'), 'Signed in as ops (operator, promoter, recorder)');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('digestgate.token')), OPS);
  assert.equal(await page.evaluate(() => document.cookie), '');
  assert.ok(!page.url().includes(OPS));
  // A reload keeps the session (same tab), and a reload of the files costs 304s.
  const reloaded = [];
  const onResponse = (r) => { if (r.url().includes('/ui/')) reloaded.push(r.status()); };
  page.on('response', onResponse);
  await page.reload();
  await page.waitForSelector('#principal');
  page.off('response', onResponse);
  assert.ok(reloaded.length > 0 && reloaded.every((s) => s === 304 || s === 200), `statuses ${reloaded}`);
  assert.ok(reloaded.includes(304), `no 304 among ${reloaded}`);
});

test('environments show the walkthrough: current and last known-good digests, deployments and drift', async () => {
  await open(page, '#/environments');
  const env = cliJson(['env', 'production']);
  assert.equal(env.repositories[REPO].current.digest, D2);
  const rows = await page.$$eval('section[aria-labelledby="env-production"] tbody tr', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.equal(rows.length, 1);
  const [repository, current, lkg, deployment] = rows[0];
  assert.equal(repository, REPO);
  assert.ok(current.includes(D2) && current.includes(`seq ${env.repositories[REPO].current.seq}`), current);
  assert.match(current, /ago/);
  assert.ok(lkg.includes(D1), lkg);
  assert.ok(deployment.includes('succeeded') && deployment.includes('drift'), deployment);
  const staging = await page.$eval('section[aria-labelledby="env-staging"] tbody tr td:nth-child(2)', (td) => td.textContent);
  assert.ok(staging.includes(D2));
  // An operator gets the rollback button.
  assert.equal(await page.$$eval('button.rollback', (b) => b.length), 2);
  await assertAccessible(page);
  await screenshot(page, 'environments');
});

test('a digest shows all its evidence and where it is current', async () => {
  await open(page, '#/environments');
  await page.click(`section[aria-labelledby="env-staging"] a[href="#/digest/${D2}"]`);
  await waitFor(page, (d) => document.body.dataset.rendered === `#/digest/${d}`, D2);
  const h1 = await textOf(page, 'h1');
  assert.equal(h1, `Digest ${D2}`);
  const gates = await textOf(page, 'section[aria-labelledby="gates"]');
  for (const s of ['vuln-scan', 'trivy 0.58.1', 'syft 1.18.1', 'critical 0, high 0, low 9, medium 2', 'trivy.sarif', 'sbom.spdx.json', '2026-11-20T10:05:00Z']) {
    assert.ok(gates.includes(s), `gates lack ${s}`);
  }
  const signatures = await textOf(page, 'section[aria-labelledby="signatures"]');
  assert.ok(signatures.includes('verified key ci-signer'), signatures);
  const current = await textOf(page, 'section[aria-labelledby="current-in"]');
  assert.ok(current.includes('production') && current.includes('staging'), current);
  const checks = await textOf(page, 'section[aria-labelledby="checks"]');
  assert.ok(checks.includes('digest-bound') && checks.includes('registry-parity'), checks);
  const overview = await textOf(page, 'section[aria-labelledby="overview"]');
  assert.ok(overview.includes('https://github.com/acme/app commit 4f9c2d1e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e (refs/tags/v1.4.3)'), overview);
  assert.ok(overview.includes('linux/arm64'));
  const decisions = await page.$$eval('section[aria-labelledby="entries"] tbody tr', (trs) => trs.length);
  const status = cliJson(['status', D2]);
  assert.equal(decisions, status.entries.length);
  await assertAccessible(page);
  await screenshot(page, 'digest');
});

test('the ledger is newest first, verifies each proof, and filters by kind, digest and environment', async () => {
  await open(page, '#/ledger');
  await waitFor(page, () => [...document.querySelectorAll('.proof')].every((c) => c.dataset.result));
  const seqs = await page.$$eval('tbody tr td:first-child', (tds) => tds.map((td) => Number(td.textContent)));
  const size = Number(cli(['ledger', 'checkpoint']).out.split('\n')[1]);
  assert.deepEqual(seqs, Array.from({ length: size }, (_, i) => size - i));
  const results = await page.$$eval('.proof', (cells) => cells.map((c) => c.dataset.result));
  assert.ok(results.every((r) => r === 'verified'), results.join());
  await waitFor(page, () => document.querySelector('#checkpoint-signature')?.textContent.includes('signature verified'));
  assert.equal((await textOf(page, '#checkpoint-note')).trim(), cli(['ledger', 'checkpoint']).out.trim());
  await assertAccessible(page);
  await screenshot(page, 'ledger');

  await page.select('#filter-kind', 'promotion');
  await page.click('form.filters button[type="submit"]');
  await waitFor(page, () => document.body.dataset.rendered === '#/ledger?kind=promotion');
  const promotions = await page.$$eval('tbody tr td:first-child', (tds) => tds.map((td) => Number(td.textContent)));
  const listed = cliJson(['ledger', 'list', '--kind', 'promotion']);
  const cliSeqs = (listed.entries ?? listed).map((e) => e.seq).reverse();
  assert.deepEqual(promotions, cliSeqs);

  await page.select('#filter-environment', 'production');
  await page.type('#filter-digest', D1);
  await page.click('form.filters button[type="submit"]');
  await waitFor(page, () => document.body.dataset.rendered?.includes('environment=production'));
  const rows = await page.$$eval('tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.equal(rows.length, 1, rows.join('\n'));
  assert.ok(rows[0].includes(`approved  production  ${REPO}@${D1}`), rows[0]);
});

test('a refused decision shows every reason with its message', async () => {
  await open(page, '#/entry/4');
  assert.equal(await textOf(page, 'h1'), 'Entry 4: promotion');
  assert.match(await textOf(page, '#decision-outcome'), /^refused promotion to production/);
  const reasons = await page.$$eval('#reasons li', (lis) => lis.map((li) => li.textContent));
  const shown = JSON.parse(cli(['--json', 'ledger', 'show', '4']).out);
  const expected = (shown.entry ?? shown).body.reasons;
  assert.equal(reasons.length, expected.length);
  for (const [i, r] of expected.entries()) {
    assert.ok(reasons[i].includes(r.code) && reasons[i].includes(r.message), reasons[i]);
  }
  assert.equal(await page.$eval('#proof-result', (el) => el.dataset.result), 'verified');
  await assertAccessible(page);
  await screenshot(page, 'decision');
});

test('a proof fails when the entry the page is shown has been tampered with', async () => {
  await page.setRequestInterception(true);
  let tampered = 0;
  const handler = async (req) => {
    if (!req.url().endsWith('/v1/entries/4')) {
      req.continue();
      return;
    }
    const res = await fetch(req.url(), { headers: req.headers() });
    const body = await res.text();
    // One byte of the ledgered decision: "refused" becomes "refuses".
    const at = body.indexOf('"decision":"refused"') + '"decision":"refuse'.length;
    assert.ok(at > 20);
    const altered = `${body.slice(0, at)}s${body.slice(at + 1)}`;
    tampered++;
    req.respond({ status: 200, contentType: 'application/json', body: altered });
  };
  page.on('request', handler);
  try {
    await open(page, '#/entry/3');
    await open(page, '#/entry/4');
    assert.ok(tampered >= 1);
    assert.equal(await page.$eval('#proof-result', (el) => el.dataset.result), 'failed');
    assert.match(await textOf(page, '#proof-banner'), /^Inclusion proof FAILED/);
    const why = await textOf(page, '#proof-problems');
    assert.match(why, /hash to [0-9a-f]{64}, not to the leaf hash given/);
    assert.match(why, /not to the checkpoint's root/);
    await screenshot(page, 'proof-failed');

    await open(page, '#/ledger');
    await waitFor(page, () => document.querySelector('.proof[data-seq="4"]')?.dataset.result);
    const results = await page.$$eval('.proof', (cells) => Object.fromEntries(cells.map((c) => [c.dataset.seq, c.dataset.result])));
    assert.equal(results['4'], 'failed');
    assert.ok(Object.entries(results).every(([seq, r]) => seq === '4' || r === 'verified'));
  } finally {
    page.off('request', handler);
    await page.setRequestInterception(false);
  }
  await open(page, '#/environments');
  await open(page, '#/entry/4');
  assert.equal(await page.$eval('#proof-result', (el) => el.dataset.result), 'verified');
});

test('an operator rolls production back through the page, and the CLI sees the same ledger', async () => {
  await open(page, '#/environments');
  await page.click(`button[aria-label="Roll back ${REPO} in production"]`);
  await page.waitForSelector('dialog[open] #rollback-reason');
  assert.equal(await page.$eval('#target-lkg', (el) => el.checked), true);
  // Nothing is sent without a reason.
  await page.click('#rollback-review');
  assert.match(await page.$eval('dialog[open] .error', (el) => el.textContent), /reason is required/);
  await page.type('#rollback-reason', 'v1.4.3 breaks checkout');
  await page.click('#rollback-review');
  await page.waitForSelector('#rollback-summary');
  const summary = await textOf(page, '#rollback-summary');
  assert.equal(await textOf(page, '#rollback-from'), D2);
  assert.equal(await textOf(page, '#rollback-to'), D1);
  assert.ok(summary.includes('v1.4.3 breaks checkout'));
  await screenshot(page, 'rollback-confirm');
  await page.click('#rollback-confirm');
  await waitFor(page, () => !document.querySelector('dialog[open]'));
  await rendered(page);
  await waitFor(page, (d1) => document.querySelector('section[aria-labelledby="env-production"] tbody td:nth-child(2)')?.textContent.includes(d1), D1);

  const env = cliJson(['env', 'production']);
  assert.equal(env.repositories[REPO].current.digest, D1);
  const rollbacks = cliJson(['ledger', 'list', '--kind', 'rollback']);
  const entries = rollbacks.entries ?? rollbacks;
  assert.equal(entries.length, 1);
  const body = entries[0].body;
  assert.equal(entries[0].actor, 'ops');
  assert.equal(body.decision, 'approved');
  assert.equal(body.digest, D1);
  assert.equal(body.from_digest, D2);
  assert.equal(body.reason, 'v1.4.3 breaks checkout');
  assert.equal(env.repositories[REPO].current.seq, entries[0].seq);
});

test('an operator revokes a digest through the page, and the CLI sees the revocation', async () => {
  await open(page, `#/digest/${D2}`);
  await page.click('#revoke');
  await page.waitForSelector('dialog[open] #revoke-reason');
  await page.type('#revoke-reason', 'critical CVE in libfoo');
  await page.click('#revoke-review');
  await page.waitForSelector('#revoke-summary');
  const summary = await textOf(page, '#revoke-summary');
  assert.ok(summary.includes('will be refused everywhere'), summary);
  assert.ok(summary.includes('staging'), summary); // still current there
  assert.ok(summary.includes(D1), summary); // staging's last known-good
  await screenshot(page, 'revoke-confirm');
  await page.click('#revoke-confirm');
  await waitFor(page, () => document.querySelector('.banner.bad')?.textContent.startsWith('Revoked: critical CVE in libfoo'));
  assert.equal(await page.$('#revoke'), null);

  const status = cliJson(['status', D2]);
  assert.equal(status.revoked.reason, 'critical CVE in libfoo');
  const revocations = cliJson(['ledger', 'list', '--kind', 'revocation']);
  const entries = revocations.entries ?? revocations;
  assert.equal(entries.length, 1);
  assert.equal(entries[0].body.digest, D2);
  assert.equal(entries[0].actor, 'ops');
  // The environments page marks it revoked where it is still current.
  await open(page, '#/environments');
  const staging = await page.$eval('section[aria-labelledby="env-staging"] tbody td:nth-child(2)', (td) => td.textContent);
  assert.ok(staging.includes('revoked'), staging);
});

test('break glass needs its own reason and the ledger shows it as such', async () => {
  await open(page, '#/environments');
  await page.click(`button[aria-label="Roll back ${REPO} in staging"]`);
  await page.waitForSelector('dialog[open] #rollback-reason');
  await page.type('#rollback-reason', 'take staging off the revoked digest');
  await page.click('#break-glass');
  await page.click('#rollback-review');
  assert.match(await page.$eval('dialog[open] .error', (el) => el.textContent), /Breaking glass needs its own reason/);
  await page.type('#break-glass-reason', 'incident 42, approved by the on-call lead');
  await page.click('#rollback-review');
  const summary = await textOf(page, '#rollback-summary');
  assert.ok(summary.includes('Break glass: incident 42'), summary);
  await page.click('#rollback-confirm');
  await waitFor(page, () => !document.querySelector('dialog[open]'));
  await rendered(page);
  const rollbacks = cliJson(['ledger', 'list', '--kind', 'rollback']);
  const entry = (rollbacks.entries ?? rollbacks).at(-1);
  assert.equal(entry.body.break_glass.reason, 'incident 42, approved by the on-call lead');
  await open(page, `#/entry/${entry.seq}`);
  assert.match(await textOf(page, '#break-glass'), /^Break glass: incident 42, approved by the on-call lead/);
});

test('the actions work from the keyboard, and a refused rollback shows its reasons', async () => {
  await open(page, '#/environments');
  // Keyboard only: Enter on the focused button opens the form with the focus inside, Escape closes it.
  await page.focus(`button[aria-label="Roll back ${REPO} in staging"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  assert.ok(await page.evaluate(() => document.querySelector('dialog[open]').contains(document.activeElement)));
  await assertAccessible(page);
  await page.keyboard.press('Escape');
  await waitFor(page, () => !document.querySelector('dialog[open]'));

  // A chosen digest that was revoked is refused, and the refusal is ledgered with its reasons.
  await page.click(`button[aria-label="Roll back ${REPO} in staging"]`);
  await page.waitForSelector('dialog[open] #target-digest');
  const options = await page.$$eval('#target-digest option', (os) => os.map((o) => o.textContent));
  assert.deepEqual(options, [`${D2} (revoked)`]);
  await page.select('#target-digest', D2);
  assert.equal(await page.$eval('#target-chosen', (el) => el.checked), true);
  await page.type('#rollback-reason', 'try the revoked one');
  await page.keyboard.press('Tab'); // leaves the text area; the form is submitted by its button
  await page.click('#rollback-review');
  assert.equal(await textOf(page, '#rollback-to'), D2);
  await page.click('#rollback-confirm');
  await waitFor(page, () => !!document.querySelector('#rollback-summary .reasons li'));
  const refusal = await textOf(page, '#rollback-summary');
  assert.match(refusal, /Refused \(ledgered as seq \d+\)/);
  assert.ok(refusal.includes('revoked'), refusal);
  await page.keyboard.press('Escape');
  const rollbacks = cliJson(['ledger', 'list', '--kind', 'rollback']);
  const last = (rollbacks.entries ?? rollbacks).at(-1);
  assert.equal(last.body.decision, 'refused');
  assert.equal(last.body.digest, D2);
  assert.ok(last.body.reasons.some((r) => r.code === 'revoked'));
});

test('the walkthrough from the page: record evidence, a refused tag, a dry run, then a promotion', async () => {
  await open(page, '#/environments');
  await page.click('#record');
  await page.waitForSelector('dialog[open] #evidence');
  const evidence = fs.readFileSync(path.join(root, 'docs/examples/evidence.json'), 'utf8')
    .replaceAll(D1, D3).replaceAll('v1.4.2', 'v1.4.4');
  await page.$eval('#evidence', (el, text) => { el.value = text; }, evidence); // as pasted
  await page.click('#record-send');
  await waitFor(page, () => document.querySelector('#record-result')?.textContent.startsWith('recorded'));
  const recorded = await textOf(page, '#record-result');
  assert.ok(recorded.includes(D3) && recorded.includes('digest-bound ok'), recorded);
  assert.equal(cliJson(['status', D3]).digest, D3);
  await page.keyboard.press('Escape');
  await waitFor(page, () => !document.querySelector('dialog[open]'));
  await rendered(page);

  const size = () => Number(cli(['ledger', 'checkpoint']).out.split('\n')[1]);
  await page.click('#promote');
  await page.waitForSelector('dialog[open] #promote-refs');
  await page.select('#promote-env', 'staging');
  await page.type('#promote-refs', `${REPO}:v1.4.4`);
  const before = size();
  await page.click('#promote-review');
  await page.waitForSelector('#promote-decision');
  const refused = await textOf(page, '#promote-decision');
  assert.ok(refused.startsWith('refused dry run') && refused.includes('mutable-reference'), refused);
  assert.equal(await page.$('#promote-confirm'), null);

  await page.$eval('#promote-refs', (el) => { el.value = ''; });
  await page.type('#promote-refs', `${REPO}@${D3}`);
  await page.click('#promote-review');
  await page.waitForSelector('#promote-confirm');
  const approved = await textOf(page, '#promote-decision');
  assert.ok(approved.startsWith('approved dry run: nothing was ledgered'), approved);
  assert.ok(approved.includes(`from ${D1}`) && approved.includes(`to ${D3}`), approved);
  assert.equal(size(), before); // dry runs are not ledgered
  await page.click('#promote-confirm');
  await waitFor(page, () => !document.querySelector('dialog[open]'));
  await rendered(page);
  const env = cliJson(['env', 'staging']);
  assert.equal(env.repositories[REPO].current.digest, D3);
  assert.equal(size(), before + 1);
  const staging = await page.$eval('section[aria-labelledby="env-staging"] tbody td:nth-child(2)', (td) => td.textContent);
  assert.ok(staging.includes(D3), staging);
});

test('a reader sees no actions, and an action forged with a reader token gets 403', async () => {
  const context = await browser.createBrowserContext();
  try {
    const reader = await newPage(context);
    await signIn(reader, VIEWER);
    assert.equal(await textOf(reader, '#principal'), 'Signed in as viewer (reader)');
    await waitFor(reader, () => !!document.querySelector('section[aria-labelledby="env-production"]'));
    assert.equal(await reader.$$eval('button.rollback', (b) => b.length), 0);
    assert.equal(await reader.$('#record'), null);
    assert.equal(await reader.$('#promote'), null);
    await open(reader, `#/digest/${D1}`);
    assert.equal(await reader.$('#revoke'), null);
    assert.ok((await textOf(reader, 'h1')).includes(D1));

    const forged = await reader.evaluate(async (d1) => {
      const headers = { Authorization: `Bearer ${sessionStorage.getItem('digestgate.token')}`, 'Content-Type': 'application/json' };
      const revoke = await fetch('/v1/revocations', { method: 'POST', headers, body: JSON.stringify({ digest: d1, reason: 'forged' }) });
      const rollback = await fetch('/v1/environments/production/rollback', { method: 'POST', headers, body: JSON.stringify({ reason: 'forged' }) });
      return [revoke.status, (await revoke.json()).error, rollback.status, (await rollback.json()).error];
    }, D1);
    assert.deepEqual(forged, [403, 'forbidden', 403, 'forbidden']);
    const revocations = cliJson(['ledger', 'list', '--kind', 'revocation']);
    assert.equal((revocations.entries ?? revocations).length, 1);
  } finally {
    await context.close();
  }
});

test('no page logged an error or broke its Content-Security-Policy', () => {
  assert.deepEqual(problems, []);
  // Only the wrong token and the two forged actions were refused.
  assert.deepEqual(httpErrors, ['401 GET /v1/whoami', '403 POST /v1/environments/staging/rollback',
    '403 POST /v1/promotions', '403 POST /v1/revocations', '403 POST /v1/environments/production/rollback']);
});
