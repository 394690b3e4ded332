// Summarise gateway CPU profiles written by the benchmarks' --profile option (node --cpu-prof):
//   node bench/profile-summary.mjs bench/out/profiles/<run>/*.cpuprofile [--top 25] [--callers FUNCTION]… [--from S --to S]
// --from/--to: only the samples S seconds after the profile started (one phase of a benchmark run).
// --callers NAME splits NAME's self time by its callers (e.g. --callers doSend: which code sends the datagrams).
import { callersOf, summariseProfile, formatProfile } from './lib/cpuprofile.mjs';

const args = process.argv.slice(2);
let top = 20;
let window = null;
const files = [];
const callers = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--callers') callers.push(args[++i]);
  else if (args[i] === '--from') window = { fromSec: Number(args[++i]), toSec: window?.toSec ?? Infinity };
  else if (args[i] === '--to') window = { fromSec: window?.fromSec ?? 0, toSec: Number(args[++i]) };
  else files.push(args[i]);
}
if (files.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile… [--top N] [--callers FUNCTION]…\n');
  process.exit(2);
}
for (const f of files) {
  process.stdout.write(`${formatProfile(summariseProfile(f, top, window))}\n`);
  for (const name of callers) {
    const c = callersOf(f, name, 5);
    process.stdout.write(`  callers of ${name} (${c.totalMs} ms self):\n`);
    for (const x of c.callers) process.stdout.write(`    ${String(x.ms).padStart(6)} ms  ${x.chain}\n`);
  }
  process.stdout.write('\n');
}
