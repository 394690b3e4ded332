// Gateway CPU profile (node --cpu-prof, e.g. from concurrent-streams.mjs --profile) by media-pipeline stage:
// self time of every function, bucketed by the source file it maps to (see STAGES), in % of the busy time.
//   node bench/profile-stages.mjs FILE.cpuprofile [--from S --to S]
import { summariseProfile } from './lib/cpuprofile.mjs';

const STAGES = [
  ['RTP receive + reorder', /media\/rtp-receiver|media\/reorder-buffer|codecs\/rtp\/|media\/tcp-framing|node:dgram|node:net|stream_base_commons/],
  ['PS demux (incl. start-code scans)', /codecs\/ps\/|^indexOfBuffer$/],
  ['access units (PS → units, timing)', /sources\/gb28181\//],
  ['Stream fan-out', /media\/core\//],
  ['LL-HLS reader + CMAF timeline', /readers\/llhls|readers\/cmaf/],
  ['fMP4 boxes (moof/mdat)', /codecs\/fmp4\//],
  ['serving (HTTP, tokens, playlist requests)', /^writev$|^writeUtf8String$|^Hmac$|gateway\/src\/api\/|fastify|find-my-way|_http_|node:http|light-my-request|avvio|fast-json-stringify|media-token/],
  ['Buffer / events (node core, called from above)', /node:buffer|node:events|node:internal\/buffer/],
  ['GC', /^\(garbage collector\)/],
  ['native, unattributed (syscalls, libuv)', /^\(program\)/],
];

const args = process.argv.slice(2);
let window = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--from') window = { fromSec: Number(args[++i]), toSec: window?.toSec ?? Infinity };
  else if (args[i] === '--to') window = { fromSec: window?.fromSec ?? 0, toSec: Number(args[++i]) };
  else files.push(args[i]);
}
for (const f of files) {
  const sum = summariseProfile(f, 100_000, window);
  const busy = sum.top.filter((x) => x.fn !== "(idle)").reduce((s, x) => s + x.selfMs, 0);
  const buckets = new Map(STAGES.map(([name]) => [name, 0]));
  let other = 0;
  const otherTop = new Map();
  for (const x of sum.top.filter((t) => t.fn !== "(idle)")) {
    const key = `${x.fn} ${x.at}`;
    const stage = STAGES.find(([, re]) => re.test(x.at) || re.test(x.fn));
    if (stage) buckets.set(stage[0], buckets.get(stage[0]) + x.selfMs);
    else {
      other += x.selfMs;
      otherTop.set(key, (otherTop.get(key) ?? 0) + x.selfMs);
    }
  }
  process.stdout.write(`${f}: ${Math.round(busy)} ms busy (self time)\n`);
  for (const [name, ms] of [...buckets].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${name}\n`);
  process.stdout.write(`  ${((100 * other) / busy).toFixed(1).padStart(5)} %  other; largest: ${[...otherTop].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, ms]) => `${k} ${Math.round(ms)} ms`).join('; ')}\n`);
}
