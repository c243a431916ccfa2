// Checks an entry's inclusion proof in the browser, with WebCrypto:
//   1. the entry's canonical bytes are rebuilt from the response text ({"actor","body","kind",
//      "seq","time"}, keys sorted by their UTF-8 bytes, no whitespace, every string and number
//      exactly as the daemon wrote it), and leaf = SHA-256(0x00 || bytes);
//   2. the RFC 6962 / RFC 9162 audit path from that leaf gives a root (node = SHA-256(0x01 || l || r));
//   3. that root must be the root of the signed checkpoint returned with the entry, whose Ed25519
//      signature is checked against the ledger's key (GET /v1/keys).
// Nothing the response claims (its leaf_hash, its root_hash) is trusted without being recomputed.

const utf8 = new TextEncoder();

// ---- A JSON parser that keeps each string and number token as written. ----

function parseRaw(text) {
  let i = 0;
  const fail = (why) => { throw new Error(`not JSON at ${i}: ${why}`); };
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members = [];
      ws();
      if (text[i] === '}') { i++; return { t: 'o', members }; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        members.push([key, value()]);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return { t: 'o', members }; }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const items = [];
      ws();
      if (text[i] === ']') { i++; return { t: 'a', items }; }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return { t: 'a', items }; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail('unexpected character');
    i += m[0].length;
    return { t: 'n', raw: m[0] };
  }
  function string() {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    const raw = text.slice(start, i);
    return { t: 's', raw, value: JSON.parse(raw) };
  }
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

function compareUtf8(a, b) {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let k = 0; k < n; k++) if (x[k] !== y[k]) return x[k] - y[k];
  return x.length - y.length;
}

function canonical(node) {
  switch (node.t) {
    case 's':
    case 'n':
      return node.raw;
    case 'a':
      return `[${node.items.map(canonical).join(',')}]`;
    default: {
      const members = [...node.members].sort((p, q) => compareUtf8(p[0].value, q[0].value));
      return `{${members.map(([k, v]) => `${k.raw}:${canonical(v)}`).join(',')}}`;
    }
  }
}

function member(node, name) {
  if (node?.t !== 'o') return undefined;
  return node.members.find(([k]) => k.value === name)?.[1];
}

// The canonical bytes of the entry inside a GET /v1/entries/{seq} response text.
export function entryBytes(responseText) {
  const entry = member(parseRaw(responseText), 'entry');
  if (!entry) throw new Error('the response holds no entry');
  const fields = ['actor', 'body', 'kind', 'seq', 'time'];
  const members = fields.map((name) => {
    const v = member(entry, name);
    if (v === undefined) throw new Error(`the entry has no ${name}`);
    return [{ raw: JSON.stringify(name), value: name }, v];
  });
  return utf8.encode(canonical({ t: 'o', members }));
}

// ---- Hashes ----

export function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function fromHex(s) {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw new Error(`not a 32-byte hex hash: ${s}`);
  const out = new Uint8Array(32);
  for (let k = 0; k < 32; k++) out[k] = parseInt(s.slice(2 * k, 2 * k + 2), 16);
  return out;
}

function fromBase64(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function cryptoApi() {
  if (!globalThis.crypto?.subtle) {
    throw new Error('this page is not in a secure context (https or loopback), so WebCrypto is unavailable');
  }
  return crypto.subtle;
}

async function sha256(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await cryptoApi().digest('SHA-256', all));
}

const leafHash = (bytes) => sha256(Uint8Array.of(0), bytes);
const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r);

// RFC 9162 2.1.3.2: the root an inclusion proof gives for `leaf` at `index` in a tree of `size`,
// or null when the proof has the wrong shape.
export async function rootFromInclusionProof(leaf, index, size, proof) {
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// ---- Checkpoints (signed notes) ----

// {origin, size, root (bytes), text, signatures: [{name, keyHash, signature}]}
export function parseCheckpoint(note) {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint has no signature block');
  const text = note.slice(0, split + 1);
  const lines = text.split('\n');
  if (lines.length !== 4 || !/^[1-9]\d*$|^0$/.test(lines[1])) throw new Error('the checkpoint text is not origin, size, root');
  const root = fromBase64(lines[2]);
  if (root.length !== 32) throw new Error('the checkpoint root is not 32 bytes');
  const signatures = [];
  for (const line of note.slice(split + 2).split('\n')) {
    if (line === '') continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error('a signature line is malformed');
    const raw = fromBase64(m[2]);
    if (raw.length < 5) throw new Error('a signature is too short');
    signatures.push({ name: m[1], keyHash: raw.slice(0, 4), signature: raw.slice(4) });
  }
  return { origin: lines[0], size: Number(lines[1]), root, text, signatures };
}

// Verifies the checkpoint's signature by the ledger key {origin, public_key (base64 raw)}.
// Resolves to {ok, message}.
export async function verifyCheckpoint(checkpoint, key) {
  const pub = fromBase64(key.public_key);
  const expectedHash = (await sha256(utf8.encode(`${key.origin}\n`), Uint8Array.of(1), pub)).slice(0, 4);
  const sig = checkpoint.signatures.find((s) => s.name === key.origin && hex(s.keyHash) === hex(expectedHash));
  if (!sig) return { ok: false, message: `no signature by the ledger key ${key.origin}+${hex(expectedHash)}` };
  let cryptoKey;
  try {
    cryptoKey = await cryptoApi().importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    return { ok: null, message: `this browser cannot check Ed25519 signatures (${e.message})` };
  }
  const ok = await cryptoApi().verify({ name: 'Ed25519' }, cryptoKey, sig.signature, utf8.encode(checkpoint.text));
  return ok
    ? { ok: true, message: `signed by ${key.origin}+${hex(expectedHash)}` }
    : { ok: false, message: 'the checkpoint signature does not verify' };
}

// Checks a GET /v1/entries/{seq} response text against `key`. Resolves to
// {ok, problems: [...], leaf, root, size, index, note, signature: {ok, message}, entry (parsed)}.
export async function checkEntry(responseText, key) {
  const out = { ok: false, problems: [] };
  try {
    const parsed = JSON.parse(responseText);
    out.entry = parsed.entry;
    out.note = parsed.checkpoint;
    out.index = parsed.index;
    const leaf = await leafHash(entryBytes(responseText));
    out.leaf = hex(leaf);
    if (parsed.leaf_hash !== out.leaf) out.problems.push(`the entry's bytes hash to ${out.leaf}, not to the leaf hash given (${parsed.leaf_hash})`);
    if (parsed.index !== parsed.entry.seq - 1) out.problems.push(`index ${parsed.index} is not seq - 1`);
    const checkpoint = parseCheckpoint(parsed.checkpoint);
    out.size = checkpoint.size;
    out.root = hex(checkpoint.root);
    if (parsed.tree_size !== checkpoint.size) out.problems.push(`tree size ${parsed.tree_size} is not the checkpoint's ${checkpoint.size}`);
    const proof = (parsed.inclusion_proof ?? []).map(fromHex);
    const root = await rootFromInclusionProof(leaf, parsed.entry.seq - 1, checkpoint.size, proof);
    if (!root) out.problems.push('the inclusion proof has the wrong length for this index and tree size');
    else if (hex(root) !== out.root) out.problems.push(`the proof leads to root ${hex(root)}, not to the checkpoint's root ${out.root}`);
    out.signature = key ? await verifyCheckpoint(checkpoint, key) : { ok: null, message: 'no ledger key to check against' };
    if (out.signature.ok === false) out.problems.push(out.signature.message);
  } catch (e) {
    out.problems.push(e.message);
  }
  out.ok = out.problems.length === 0;
  return out;
}
