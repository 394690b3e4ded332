// Parse throughput: our SIP codec vs the `sip` npm package (kirm/sip.js 0.0.6) on the same
// REGISTER-with-Authorization, 200k times each.
//
//   npm run build && node bench/sip-parse-bench.mjs
//   (or point SIP_BENCH_DIST at another tsc outDir: SIP_BENCH_DIST=/tmp/out node bench/sip-parse-bench.mjs)
//
// Plain .mjs on purpose: Node 20 cannot run TypeScript directly and tsx is not installed, so the bench
// imports the compiled codec from dist/.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const require = createRequire(import.meta.url);
const distDir = process.env.SIP_BENCH_DIST
  ? path.resolve(process.env.SIP_BENCH_DIST)
  : path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'dist');
const { parseSipMessage } = await import(pathToFileURL(path.join(distDir, 'codecs/sip/parser.js')).href);
const sip = require('sip');

const ITERATIONS = Number(process.env.SIP_BENCH_ITERATIONS ?? 200_000);

const message = Buffer.from(
  [
    'REGISTER sip:44030500002000000001@4403050000 SIP/2.0',
    'Via: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK771235',
    'From: <sip:44030500001320000017@4403050000>;tag=1928301774',
    'To: <sip:44030500001320000017@4403050000>',
    'Call-ID: 84710223@10.1.2.3',
    'CSeq: 2 REGISTER',
    'Contact: <sip:44030500001320000017@10.1.2.3:5060>',
    'Authorization: Digest username="44030500001320000017", realm="4403050000", nonce="0000019c8a6d2f00a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6", uri="sip:44030500002000000001@4403050000", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", nc=00000001, qop=auth',
    'Max-Forwards: 70',
    'User-Agent: ExampleCam',
    'Expires: 3600',
    'X-GB-ver: 3.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
);

// Both must actually understand the message, or the numbers mean nothing.
const ours = parseSipMessage(message);
const theirs = sip.parse(message);
if (ours.method !== 'REGISTER' || !ours.headers.some(([n]) => n === 'authorization')) throw new Error('our parser failed');
if (!theirs || theirs.method !== 'REGISTER' || !theirs.headers.authorization) throw new Error('sip.parse failed');

function measure(name, parse) {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += parse(message) ? 1 : 0; // warm-up for the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) sink += parse(message) ? 1 : 0;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink !== ITERATIONS + 20_000) throw new Error(`${name}: a parse failed`);
  const rate = Math.round(ITERATIONS / seconds);
  console.log(`${name.padEnd(28)} ${String(rate).padStart(9)} messages/s  (${ITERATIONS} in ${seconds.toFixed(2)} s)`);
  return rate;
}

const ourRate = measure('gateway parseSipMessage', parseSipMessage);
const theirRate = measure('sip@0.0.6 sip.parse', (buf) => sip.parse(buf));
console.log(`ratio ours/theirs: ${(ourRate / theirRate).toFixed(2)}`);
