// Summarise gateway CPU profiles written by the benchmarks' --profile option (node --cpu-prof):
//   node bench/profile-summary.mjs bench/out/profiles/<run>/*.cpuprofile [--top 25]
import { summariseProfile, formatProfile } from './lib/cpuprofile.mjs';

const args = process.argv.slice(2);
let top = 20;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile… [--top N]\n');
  process.exit(2);
}
for (const f of files) process.stdout.write(`${formatProfile(summariseProfile(f, top))}\n\n`);
