// What survived collection between two heap snapshots (issue #13): `node bench/lib/heap-diff.mjs a.heapsnapshot
// b.heapsnapshot`, e.g. the two SOAK_HEAP_SNAP writes of one bench:soak run. Prints the growth by kind
// (constructor for objects; strings together), then the largest strings of b grouped by the path that
// retains them: a string is where hostile input (a 60 KB payload) stays alive, and the path names the owner.
// Plain JavaScript over the snapshot JSON (no DevTools needed); a 40 MB heap takes a second.
import { readFileSync } from 'node:fs';
import process from 'node:process';

function load(file) {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const meta = json.snapshot.meta;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  const s = {
    nodes: json.nodes,
    edges: json.edges,
    strings: json.strings,
    N: nf.length,
    E: ef.length,
    types: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    iType: nf.indexOf('type'),
    iName: nf.indexOf('name'),
    iSize: nf.indexOf('self_size'),
    iEdges: nf.indexOf('edge_count'),
    iTo: ef.indexOf('to_node'),
    iEdgeType: ef.indexOf('type'),
    iEdgeName: ef.indexOf('name_or_index'),
  };
  s.count = s.nodes.length / s.N;
  return s;
}

const type = (s, i) => s.types[s.nodes[i * s.N + s.iType]];
const size = (s, i) => s.nodes[i * s.N + s.iSize];
const isString = (s, i) => type(s, i).includes('string');
const describe = (s, i) => `${type(s, i)}:${s.strings[s.nodes[i * s.N + s.iName]].slice(0, 50).replace(/\s+/g, ' ')}`;
/** Objects by constructor, strings together, the rest by type and name. */
const kind = (s, i) => (isString(s, i) ? 'string' : describe(s, i).slice(0, 60));

function byKind(s) {
  const out = new Map();
  for (let i = 0; i < s.count; i++) {
    const k = kind(s, i);
    const a = out.get(k) ?? { n: 0, bytes: 0 };
    a.n += 1;
    a.bytes += size(s, i);
    out.set(k, a);
  }
  return out;
}

/** For each node, its strong retainers: [retainer, edge label]. */
function retainers(s) {
  const parents = Array.from({ length: s.count }, () => []);
  for (let i = 0, e = 0; i < s.count; i++) {
    const edgeCount = s.nodes[i * s.N + s.iEdges];
    for (let k = 0; k < edgeCount; k++, e++) {
      const edgeType = s.edgeTypes[s.edges[e * s.E + s.iEdgeType]];
      if (edgeType === 'weak') continue;
      const name = edgeType === 'element' || edgeType === 'hidden' ? '[]' : s.strings[s.edges[e * s.E + s.iEdgeName]];
      parents[s.edges[e * s.E + s.iTo] / s.N].push([i, `${edgeType}:${name}`]);
    }
  }
  return parents;
}

function retainingPath(s, parents, i, depth) {
  const steps = [];
  const seen = new Set([i]);
  let current = i;
  for (let d = 0; d < depth; d++) {
    const next = parents[current].find(([p]) => !seen.has(p));
    if (!next) break;
    seen.add(next[0]);
    // Table slots (a Map's backing store) differ per entry; the owner matters, not the slot.
    steps.push(`${next[1].replace(/^internal:\d+$/, 'internal:[]')} <- ${describe(s, next[0])}`);
    current = next[0];
  }
  return steps.join('\n      ');
}

const [fileA, fileB] = process.argv.slice(2);
if (!fileA || !fileB) {
  process.stderr.write('usage: node bench/lib/heap-diff.mjs <earlier.heapsnapshot> <later.heapsnapshot>\n');
  process.exit(2);
}
const a = load(fileA);
const b = load(fileB);
const print = (line) => process.stdout.write(`${line}\n`);
const mb = (bytes) => (bytes / 1048576).toFixed(2);
const total = (s) => Array.from({ length: s.count }, (_, i) => size(s, i)).reduce((x, y) => x + y, 0);
print(`reachable: ${mb(total(a))} MB -> ${mb(total(b))} MB (${a.count} -> ${b.count} nodes)\n`);

const kindsA = byKind(a);
const rows = [...byKind(b)].map(([k, v]) => {
  const before = kindsA.get(k) ?? { n: 0, bytes: 0 };
  return { k, dn: v.n - before.n, dBytes: v.bytes - before.bytes, n: v.n, bytes: v.bytes };
});
rows.sort((x, y) => y.dBytes - x.dBytes);
print('growth by kind (top 20)');
for (const r of rows.slice(0, 20)) print(`${r.k.padEnd(62)} ${String(r.dn).padStart(7)} objects ${mb(r.dBytes).padStart(7)} MB   now ${r.n}, ${mb(r.bytes)} MB`);

const parents = retainers(b);
const big = [];
for (let i = 0; i < b.count; i++) if (isString(b, i) && size(b, i) >= 1024) big.push(i);
const groups = new Map();
for (const i of big) {
  const path = retainingPath(b, parents, i, 6);
  const g = groups.get(path) ?? { n: 0, bytes: 0, example: describe(b, i) };
  g.n += 1;
  g.bytes += size(b, i);
  groups.set(path, g);
}
print(`\nstrings of 1 KB and more in ${fileB}: ${big.length}, ${mb(big.reduce((x, i) => x + size(b, i), 0))} MB; by retaining path (top 12)`);
for (const [path, g] of [...groups].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 12)) {
  print(`\n${g.n} x, ${mb(g.bytes)} MB, e.g. ${g.example}\n      ${path}`);
}
