// Cross-checks digestgate's offline Sigstore verifier against sigstore-js (@sigstore/verify), an
// independent implementation, on the same bundles and trust root: offline, no TUF, no network.
//
//   DG_SIGSTORE_CROSSCHECK_DIR=DIR node crosscheck.mjs
//     DIR holds the fixtures the unit test "SigstoreCrosscheck" wrote (cases.json, trusted_root.json,
//     bundles, artifacts), each with digestgate's outcome. Every case must agree, except those listed
//     in KNOWN below, which must give the listed sigstore-js outcome.
//   DG_SIGSTORE_VECTORS=VDIR DG_BUILD_DIR=BUILD node crosscheck.mjs
//     also the public sigstore-conformance vectors (tests/sigstore-vectors.md), verified by
//     BUILD/cli/digestgate and by sigstore-js; agreement is reported, not asserted.
// Exits 0 when every fixture case agrees (or is a listed difference giving its listed outcome).
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Cases where sigstore-js, as pinned in package-lock.json, legitimately checks less or more than
// digestgate: the outcome sigstore-js gives (true: verified) and why.
const KNOWN = {};
const listed = (sigstoreJs, reason, names) => {
  for (const name of names) KNOWN[name] = { sigstoreJs, reason };
};
listed(true, 'sigstore-js takes a Rekor v1 entry\'s integrated time as a signing time on an inclusion ' +
       'proof alone; the proof does not cover that time, so digestgate, like sigstore-go ("DO NOT use ' +
       'timestamp with only an inclusion proof"), needs a SET or an RFC 3161 timestamp',
       ['message-no-set-no-tsa', 'dsse-no-set-no-tsa']);
listed(true, 'sigstore-js compares the logged signature and digest but not the logged certificate; ' +
       'digestgate, like sigstore-go ("transparency log certificate does not match"), does',
       ['message-other-certificate-in-body', 'message-other-certificate-in-body+tsa',
        'dsse-other-certificate-in-body', 'dsse-other-certificate-in-body+tsa']);
listed(true, 'sigstore-js checks the checkpoint\'s root hash against the inclusion proof but not its ' +
       'tree size; digestgate, like Rekor\'s own verifier that sigstore-go calls, needs both',
       ['message-other-tree-checkpoint', 'message-other-tree-checkpoint+tsa',
        'dsse-other-tree-checkpoint', 'dsse-other-tree-checkpoint+tsa']);
listed(false, '@sigstore/verify 2.x (the last to run on Node 18) does not know Rekor v2 entries ' +
       '(hashedrekord and dsse 0.0.2, an Ed25519 C2SP checkpoint)',
       ['message-rekor2-ok', 'dsse-rekor2-ok']);
listed(false, 'a broken Rekor v2 entry: sigstore-js fails it too, but as it fails every v2 entry, the ' +
       'agreement shows nothing', ['no-tsa', 'bad-proof', 'bad-checkpoint', 'other-body'].flatMap(
         (b) => [`message-rekor2-${b}`, `dsse-rekor2-${b}`]));

function sigstoreJs(bundleText, rootText, artifact, issuer, subject) {
  try {
    const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(rootText)));
    const bundle = bundleFromJSON(JSON.parse(bundleText));
    const entity = toSignedEntity(bundle, artifact);
    const policy = issuer ? { subjectAlternativeName: subject, extensions: { issuer } } : undefined;
    new Verifier(trust).verify(entity, policy);
    return { verified: true, error: '' };
  } catch (e) {
    return { verified: false, error: `${e.code ?? e.name}: ${e.message}` };
  }
}

let failures = 0;

function fixtures(dir) {
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  const root = readFileSync(join(dir, 'trusted_root.json'), 'utf8');
  let agree = 0;
  let known = 0;
  for (const c of cases) {
    const artifact = c.artifact ? readFileSync(join(dir, c.artifact)) : undefined;
    const js = sigstoreJs(readFileSync(join(dir, c.bundle), 'utf8'), root, artifact, c.issuer,
                          c.subject);
    const ours = c.verified;
    const k = KNOWN[c.name];
    let status;
    if (k) {
      status = js.verified === k.sigstoreJs ? 'known' : 'FAIL';
      if (status === 'known') known++;
    } else {
      status = js.verified === ours ? 'agree' : 'FAIL';
      if (status === 'agree') agree++;
    }
    if (status === 'FAIL') failures++;
    const detail = [ours ? '' : `ours: ${c.check}: ${c.error}`, js.verified ? '' : `sigstore-js: ${js.error}`,
                    k ? `listed: ${k.reason}` : ''].filter(Boolean).join(' | ');
    console.log(`${status.padEnd(5)} ${c.name.padEnd(40)} ours=${ours ? 'pass' : 'fail'} ` +
                `sigstore-js=${js.verified ? 'pass' : 'fail'}${detail ? '  ' + detail : ''}`);
  }
  console.log(`fixtures: ${cases.length} cases, ${agree} agree, ${known} listed differences, ` +
              `${failures} unexpected`);
}

const k_beacon = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/' +
                 '.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const k_github = 'https://token.actions.githubusercontent.com';

function ourCli(build, bundle, root, artifact, issuer, subject) {
  try {
    execFileSync(join(build, 'cli', 'digestgate'),
                 ['sigstore', 'verify', '--bundle', bundle, '--trusted-root', root, '--payload',
                  artifact, '--issuer', issuer, '--subject', subject],
                 { stdio: 'pipe' });
    return { verified: true, error: '' };
  } catch (e) {
    if (e.status !== 1) throw e;
    return { verified: false, error: `${e.stdout}${e.stderr}`.trim().split('\n').pop() };
  }
}

function vectors(vdir, build) {
  const conf = join(vdir, 'conformance');
  const names = readdirSync(conf).filter((n) => existsSync(join(conf, n, 'bundle.sigstore.json')));
  let agree = 0;
  const rows = [];
  for (const name of names.sort()) {
    const d = join(conf, name);
    const pick = (f, dflt) => (existsSync(join(d, f)) ? join(d, f) : dflt);
    const root = pick('trusted_root.json', join(vdir, 'trusted-root-public-good.json'));
    const artifact = pick('artifact', join(conf, 'a.txt'));
    const text = (f, dflt) => (existsSync(join(d, f)) ? readFileSync(join(d, f), 'utf8').trim() : dflt);
    const subject = text('identity', k_beacon);
    const issuer = text('issuer', k_github);
    const bundle = join(d, 'bundle.sigstore.json');
    const expected = !name.endsWith('_fail');
    const ours = ourCli(build, bundle, root, artifact, issuer, subject);
    const js = sigstoreJs(readFileSync(bundle, 'utf8'), readFileSync(root, 'utf8'),
                          readFileSync(artifact), issuer, subject);
    if (ours.verified === js.verified) agree++;
    const mark = ours.verified === js.verified ? 'agree' : 'DIFF ';
    rows.push(`${mark} ${name.padEnd(56)} published=${expected ? 'pass' : 'fail'} ` +
              `ours=${ours.verified ? 'pass' : 'fail'} sigstore-js=${js.verified ? 'pass' : 'fail'}` +
              (ours.verified === js.verified ? '' : `  ours: ${ours.error} | sigstore-js: ${js.error}`));
  }
  rows.forEach((r) => console.log(r));
  console.log(`vectors: ${names.length} vectors, ${agree} agree, ${names.length - agree} differ ` +
              '(reported, not asserted)');
}

const dir = process.env.DG_SIGSTORE_CROSSCHECK_DIR;
const vdir = process.env.DG_SIGSTORE_VECTORS;
if (!dir && !vdir) {
  console.error('crosscheck: set DG_SIGSTORE_CROSSCHECK_DIR and/or DG_SIGSTORE_VECTORS');
  process.exit(2);
}
if (dir) fixtures(dir);
if (vdir) vectors(vdir, process.env.DG_BUILD_DIR ?? 'build/dev');
process.exit(failures === 0 ? 0 : 1);
