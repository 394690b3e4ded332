// Summarise a V8 .heapsnapshot: self size by node type and constructor/name, largest first. Enough to see
// what fills the gateway's heap without opening DevTools (retained sizes need DevTools' dominator tree).
//   node bench/lib/heapsnapshot.mjs FILE [TOP]
import { readFileSync } from 'node:fs';

export function summariseHeapSnapshot(file, top = 30) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const stride = fields.length;
  const typeIndex = fields.indexOf('type');
  const nameIndex = fields.indexOf('name');
  const sizeIndex = fields.indexOf('self_size');
  const types = meta.node_types[typeIndex];
  const { nodes, strings } = snapshot;
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + typeIndex]];
    const size = nodes[i + sizeIndex];
    total += size;
    // Strings and code are grouped by type only: their "names" are their contents.
    const name = type === 'object' || type === 'closure' || type === 'native' ? strings[nodes[i + nameIndex]] : '';
    const key = `${type}:${name}`;
    const g = groups.get(key) ?? { type, name, count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += size;
    groups.set(key, g);
  }
  const rows = [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  return { totalMB: total / 2 ** 20, nodeCount: nodes.length / stride, rows };
}

/** The summary as lines of text: total, then self size, count, type and name per group. */
export function formatHeapSummary({ totalMB, nodeCount, rows }) {
  return [`heap ${totalMB.toFixed(1)} MB in ${nodeCount} nodes`, ...rows.map((r) => `${(r.bytes / 2 ** 20).toFixed(1).padStart(8)} MB ${String(r.count).padStart(9)}  ${r.type} ${r.name.slice(0, 80)}`)].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatHeapSummary(summariseHeapSnapshot(process.argv[2], Number(process.argv[3] ?? 30))));
}
