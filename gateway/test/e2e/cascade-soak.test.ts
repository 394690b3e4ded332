/**
 * The cascade restart soak in short (bench/cascade-soak.mjs, WVP #1927), as a test: the gateway, simulated devices
 * and the simulator's upper platform as child processes; the upper platform is killed (-9) with a TCP and a UDP
 * upward leg playing, then the gateway is killed (-9); after each restart the link registers again, the upper's
 * Catalog query lists every channel ON, an upper INVITE delivers RTP/PS that ffprobe decodes, and the gateway's
 * upward legs, streams and file descriptors are back where they were. Needs the build (dist/), like the CLI tests.
 * The long run and its figures: bench/RESULTS.md.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../../..');

describe('cascade restart soak (short)', () => {
  it('upper platform killed with legs playing, then the gateway killed: each time registered, catalog complete, INVITE decoded, nothing leaked', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bench/cascade-soak.mjs'), '--cycles', '2', '--devices', '2', '--actions', 'upper-kill,gateway-kill', '--recover-sec', '60', '--idle-sec', '2'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/cycle 1 \(upper-kill\): \{/);
    expect(output).toMatch(/cycle 2 \(gateway-kill\): \{/);
    expect(output).toMatch(/passed: 2 restart cycles/);
  }, 170_000);
});
