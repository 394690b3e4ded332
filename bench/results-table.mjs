// Markdown tables for RESULTS.md from the JSON the benchmarks write to bench/out/:
//   node bench/results-table.mjs bench/out/storm-sqlite-sipp-<time>.json [more.json …]
// One table per file, one row per run, then the medians.
import { readFileSync } from 'node:fs';
import { median, round } from './lib/stats.mjs';

const yes = (b) => (b ? 'yes' : '**no**');
const ms = (x) => (x === null || x === undefined ? '—' : `${round(x / 1000, 1)} s`);
const num = (x, d = 1) => (x === null || x === undefined ? '—' : String(round(x, d)));

function storm(r) {
  const lines = [
    '| store | generator | run | 200 OK to all | API online = N | store online = N | failures | target ≤ 10 s, 0 failures | gateway CPU (s / % of a core) | gateway peak RSS | generator CPU | baseline (generator → trivial registrar) | FerretDB CPU / peak RSS | load 1 min |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const x of r.results) {
    lines.push(
      `| ${x.store} | ${x.generator} | ${x.run} | ${ms(x.answeredMs)} | ${ms(x.apiOnlineMs)} | ${ms(x.storeOnlineMs)} | ${x.failures} | ${yes(x.targetMet)} | ${num(x.gatewayCpuSeconds)} s / ${num(x.gatewayCpuPercentOfOneCore, 0)} % | ${num(x.gatewayPeakRssMB, 0)} MB | ${num(x.generatorCpuSeconds)} s | ${ms(x.baseline?.answeredMs)} | ${x.ferretDbCpuSeconds === null ? '—' : `${num(x.ferretDbCpuSeconds)} s / ${num(x.ferretDbPeakRssMB, 0)} MB`} | ${num(x.loadavg1m)} |`,
    );
  }
  const m = r.median;
  lines.push(`| **median** | | | **${ms(m.answeredMs)}** | **${ms(m.apiOnlineMs)}** | **${ms(m.storeOnlineMs)}** | ${m.failures} | | ${num(m.gatewayCpuSeconds)} s | ${num(m.gatewayPeakRssMB, 0)} MB | | ${ms(m.baselineAnsweredMs)} | | |`);
  return lines.join('\n');
}

function catalog(r) {
  const lines = [
    '| store | run | registration → complete | → stored (API total) | target ≤ 30 s | gateway CPU | gateway peak RSS | baseline: same rows straight to the store | tree p50 / p99 | tree p99 without the platform node | q=name p50 / p99 | q=ID prefix p50 / p99 | p99 ≤ 50 ms (tree / name / ID) | load 1 min |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const x of r.results) {
    const q = x.queries;
    const c = x.catalog;
    const treeOthers = q ? Math.max(...Object.entries(q.tree.perPath).filter(([p]) => !p.endsWith(c.simulatorCatalogSent?.deviceId ?? '44030500002000900001')).map(([, v]) => v.p99)) : null;
    const base = x.baseline ? (x.baseline.complete ? ms(x.baseline.totalStoreMs) : `${x.baseline.rowsWritten} rows in ${ms(x.baseline.upsertMs)} (stopped)`) : '—';
    lines.push(
      `| ${x.store} | ${x.run} | ${ms(c.registrationToCompleteMs)} | ${c.registrationToStoredMs !== undefined ? ms(c.registrationToStoredMs) : `not complete (${c.storedItemsAtDeadline} stored)`} | ${yes(c.targetMet)} | ${num(c.gatewayCpuSeconds)} s | ${num(c.gatewayPeakRssMB, 0)} MB | ${base} | ${q ? `${num(q.tree.p50, 1)} / ${num(q.tree.p99, 1)} ms` : '—'} | ${treeOthers === null ? '—' : `${num(treeOthers, 1)} ms`} | ${q ? `${num(q.channelsByName.p50, 1)} / ${num(q.channelsByName.p99, 1)} ms (n=${q.channelsByName.requests})` : '—'} | ${q ? `${num(q.channelsByIdPrefix.p50, 1)} / ${num(q.channelsByIdPrefix.p99, 1)} ms (n=${q.channelsByIdPrefix.requests})` : '—'} | ${q ? `${yes(q.tree.targetMet)} / ${yes(q.channelsByName.targetMet)} / ${yes(q.channelsByIdPrefix.targetMet)}` : '—'} | ${num(x.loadavg1m)} |`,
    );
  }
  const m = r.medians;
  lines.push(`| **median** | | ${ms(m.registrationToCompleteMs)} | **${ms(m.registrationToStoredMs)}** | | ${num(m.gatewayCpuSeconds)} s | ${num(m.gatewayPeakRssMB, 0)} MB | ${ms(m.baselineStoreMs)} | p99 **${num(m.treeP99)} ms** | | p99 **${num(m.nameP99)} ms** | p99 **${num(m.idPrefixP99)} ms** | | |`);
  return lines.join('\n');
}

function steady(r) {
  const s = r.steady;
  const o = r.offline;
  const lines = ['| store | devices | registered after | catalog sweep done after | gateway CPU mean / median / p95 / max (% of one core) | target ≤ 10 % | max RSS | target ≤ 400 MB | keepalives/s | generator CPU | FerretDB CPU / max RSS | load |', '|---|---|---|---|---|---|---|---|---|---|---|---|'];
  if (s) {
    lines.push(
      `| ${r.store} | ${r.devices} | ${ms(r.registeredAfterMs)} | ${ms(r.catalogSweepAfterMs)} ${JSON.stringify(r.catalogStates)} | ${s.gatewayCpuPercent.mean} / ${s.gatewayCpuPercent.median} / ${s.gatewayCpuPercent.p95} / ${s.gatewayCpuPercent.max} | ${yes(s.cpuTargetMet)} | ${s.gatewayMaxRssMB} MB | ${yes(s.rssTargetMet)} | ${s.keepalivesPerSecond} | ${s.generatorCpuPercentMean} % | ${s.ferretDbCpuPercentMean === null ? '—' : `${s.ferretDbCpuPercentMean} % / ${s.ferretDbMaxRssMB} MB`} | ${s.loadavg?.join(' ') ?? ''} |`,
    );
  }
  if (o) {
    lines.push('', '| stopped | offline within 185 s | others offline | detection delay from the stop: min / p50 / p95 / max | last keepalive → offline (gateway records): min / p50 / max | reasons | target met |', '|---|---|---|---|---|---|---|');
    lines.push(
      `| ${o.stopped} | ${o.detectedWithin185s} | ${o.othersOffline} | ${o.detectionDelaySec.min} / ${o.detectionDelaySec.p50} / ${o.detectionDelaySec.p95} / ${o.detectionDelaySec.max} s | ${o.lastKeepaliveToOfflineSec.min} / ${o.lastKeepaliveToOfflineSec.p50} / ${o.lastKeepaliveToOfflineSec.max} s | ${JSON.stringify(o.reasons)} | ${yes(o.targetMet)} |`,
    );
  }
  return lines.join('\n');
}

for (const file of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const render = r.benchmark === 'registration-storm' ? storm : r.benchmark === 'catalog' ? catalog : steady;
  process.stdout.write(`<!-- ${file} -->\n${render(r)}\n\nMachine: ${JSON.stringify(r.machine)}\n\n`);
}
void median;
