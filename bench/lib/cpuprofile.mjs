// Summarise a V8 .cpuprofile (from `node --cpu-prof`): self time per function, mapped back to gateway/src
// through the dist/*.js.map source maps, so a finding names the TypeScript file and line.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { REPO_ROOT } from './paths.mjs';

const maps = new Map();
function sourceMapFor(file) {
  if (maps.has(file)) return maps.get(file);
  let map = null;
  try {
    if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
  } catch {
    map = null;
  }
  maps.set(file, map);
  return map;
}

function location(callFrame) {
  const url = callFrame.url;
  if (!url) return '';
  let file = url;
  try {
    if (url.startsWith('file://')) file = fileURLToPath(url);
  } catch {
    // keep url
  }
  const line = callFrame.lineNumber; // 0-based
  const map = file.includes('/dist/') ? sourceMapFor(file) : null;
  if (map && line >= 0) {
    const entry = map.findEntry(line, Math.max(0, callFrame.columnNumber));
    if (entry && entry.originalSource) {
      let source = entry.originalSource;
      try {
        if (source.startsWith('file://')) source = fileURLToPath(source);
      } catch {
        // keep
      }
      return `${relative(REPO_ROOT, source)}:${entry.originalLine + 1}`;
    }
  }
  const rel = file.startsWith(REPO_ROOT) ? relative(REPO_ROOT, file) : file;
  return `${rel.replace(/^node_modules\//, 'nm/')}:${line + 1}`;
}

/** Coarse bucket for a frame: where the time is spent at a glance. */
function category(callFrame) {
  const url = callFrame.url ?? '';
  const name = callFrame.functionName;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program (V8/native, unattributed)';
  if (url.includes('/dist/')) {
    const m = /\/dist\/([^/]+)/.exec(url);
    return `gateway ${m ? m[1] : ''}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:') || (!url.startsWith('file:') && !url.startsWith('/') && url)) return 'node core';
  return name ? 'native/builtin' : 'other';
}

/**
 * { totalMs, idleMs, activeMs, top: [{ fn, at, selfMs, pctOfActive }], categories: [{ category, ms, pct }] }
 * With `window` ({ fromSec, toSec } after the profile's start), only that part of the run.
 * Percentages are of the non-idle time (the time the gateway was actually busy).
 */
export function summariseProfile(file, top = 20, window = null) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  // window { fromSec, toSec }: only samples taken that long after the profile started (one phase of a run).
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (window && (at < window.fromSec * 1e6 || at > window.toSec * 1e6)) continue;
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const byFunction = new Map();
  const byCategory = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const key = `${cf.functionName || '(anonymous)'}\t${location(cf)}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const cat = category(cf);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + us);
  }
  const activeUs = totalUs - idleUs;
  const pct = (us) => Math.round((1000 * us) / Math.max(1, activeUs)) / 10;
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    activeMs: Math.round(activeUs / 1000),
    top: [...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => {
        const [fn, at] = key.split('\t');
        return { fn, at, selfMs: Math.round(us / 1000), pctOfActive: pct(us) };
      }),
    categories: [...byCategory.entries()].sort((a, b) => b[1] - a[1]).map(([c, us]) => ({ category: c, ms: Math.round(us / 1000), pct: pct(us) })),
  };
}

export function formatProfile(summary) {
  const lines = [`profile ${summary.file}: ${summary.activeMs} ms busy of ${summary.totalMs} ms`];
  lines.push('  by area:');
  for (const c of summary.categories.slice(0, 12)) lines.push(`    ${String(c.pct).padStart(5)} %  ${c.category}`);
  lines.push('  top self time:');
  for (const t of summary.top) lines.push(`    ${String(t.pctOfActive).padStart(5)} %  ${String(t.selfMs).padStart(7)} ms  ${t.fn}  ${t.at}`);
  return lines.join('\n');
}

/**
 * Who calls a hot function: its self time split by the chain of `depth` callers above it, e.g. to find which
 * gateway function a node-core hot spot (dgram send, crypto) is spent for.
 */
export function callersOf(file, functionName, depth = 4, top = 10) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + Math.max(0, profile.timeDeltas[i + 1] ?? 0));
  }
  const chains = new Map();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName !== functionName) continue;
    totalUs += us;
    const chain = [];
    let p = parent.get(id);
    while (p !== undefined && chain.length < depth) {
      const cf = byId.get(p).callFrame;
      chain.push(`${cf.functionName || '(anonymous)'} ${location(cf)}`);
      p = parent.get(p);
    }
    const key = chain.join(' ← ');
    chains.set(key, (chains.get(key) ?? 0) + us);
  }
  return {
    functionName,
    totalMs: Math.round(totalUs / 1000),
    callers: [...chains.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([chain, us]) => ({ ms: Math.round(us / 1000), chain })),
  };
}
