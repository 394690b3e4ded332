/**
 * The `sharp-eyes` command as an operator runs it: bad configuration exits before any port is bound, with
 * the key named; `serve` comes up healthy and stops cleanly on SIGTERM; every command has --help; the quick
 * start says in one line how to get a missing ffmpeg, prints readable logs on a terminal and JSON when piped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../../..');
const BIN = join(ROOT, 'bin/sharp-eyes.js');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sharp-eyes CLI', () => {
  beforeAll(() => {
    // The bin runs the compiled code (built by `npm ci`'s prepare step); build it if a developer has not.
    if (!existsSync(join(ROOT, 'dist/cli.js'))) {
      const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`build failed: ${b.stdout}${b.stderr}`);
    }
  }, 120_000);

  it('--help works for every command', () => {
    for (const args of [['--help'], ['serve', '--help'], ['sim', '--help'], ['demo', '--help']]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: sharp-eyes/);
    }
    expect(run(['sim', '--help']).stdout).toMatch(/--id-prefix/);
  });

  it('a bad environment value exits with the key and variable named, before any port is bound', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'se-cli-'));
    try {
      const r = run(['serve'], { SE_SIP_PORT: 'abc', SE_HTTP_PORT: String(port), SE_DATA_DIR: dataDir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/sip\.port/);
      expect(r.stderr).toMatch(/SE_SIP_PORT/);
      expect(await portIsFree(port)).toBe(true);
      const id = run(['serve'], { SE_SIP_ID: '1234', SE_DATA_DIR: dataDir });
      expect(id.code).toBe(2);
      expect(id.stderr).toMatch(/sip\.id/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('an unknown or mistyped key in the file exits with the key named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-cli-'));
    try {
      const file = join(dir, 'gw.yaml');
      writeFileSync(file, 'sip:\n  keepaliveIntervalSecs: 30\n');
      const r = run(['serve', '--config', file], { SE_DATA_DIR: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/sip\.keepaliveIntervalSecs/);
      writeFileSync(file, 'http:\n  port: eighty\n');
      const r2 = run(['serve', '--config', file], { SE_DATA_DIR: dir });
      expect(r2.code).toBe(2);
      expect(r2.stderr).toMatch(/http\.port/);
      const r3 = run(['serve', '--config', join(dir, 'missing.yaml')], { SE_DATA_DIR: dir });
      expect(r3.code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve comes up healthy on the embedded store and stops cleanly on SIGTERM', async () => {
    const [sipPort, httpPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'se-cli-'));
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        SE_SIP_HOST: '127.0.0.1',
        SE_SIP_PORT: String(sipPort),
        SE_HTTP_HOST: '127.0.0.1',
        SE_HTTP_PORT: String(httpPort),
        SE_DATA_DIR: dataDir,
        SE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let healthy = false;
      for (let i = 0; i < 100 && !healthy; i++) {
        await new Promise((r) => setTimeout(r, 200));
        healthy = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.status === 200, () => false);
      }
      expect(healthy).toBe(true);
      const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(join(dataDir, 'gateway.sqlite3'))).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('demo (the quick start) prints where to sign in, and that account signs in to the web wall', async () => {
    const [sipPort, httpPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'se-cli-demo-'));
    const child = spawn(process.execPath, [BIN, 'demo', '--devices', '2', '--channels', '2'], {
      env: {
        PATH: process.env.PATH ?? '',
        SE_SIP_HOST: '127.0.0.1',
        SE_SIP_ADVERTISED_HOST: '127.0.0.1',
        SE_SIP_PORT: String(sipPort),
        SE_HTTP_HOST: '127.0.0.1',
        SE_HTTP_PORT: String(httpPort),
        SE_DATA_DIR: dataDir,
        SE_MEDIA_HOST: '127.0.0.1',
        SE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      for (let i = 0; i < 300 && !output.includes('Press Ctrl+C'); i++) await new Promise((r) => setTimeout(r, 200));
      const line = /Web wall:\s+(\S+)\s+sign in as (\S+) \/ (\S+)/.exec(output);
      expect(line, output).not.toBeNull();
      const [, url, username, password] = line!;
      expect(url).toBe(`http://127.0.0.1:${httpPort}/`);
      const login = await fetch(`${url}api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      expect(login.status).toBe(200);
      // GB and ONVIF cameras side by side: the demo adds its simulated ONVIF cameras through the API.
      expect(output).toMatch(/ONVIF:\s+4 ONVIF cameras added/);
      const devices = (await (await fetch(`${url}api/devices?limit=100`, { headers: { authorization: 'Bearer demo-token' } })).json()) as { items: Array<{ protocol: string }> };
      expect(devices.items.filter((d) => d.protocol === 'onvif')).toHaveLength(4);
      expect(devices.items.filter((d) => d.protocol === 'gb28181').length).toBeGreaterThanOrEqual(2);
      // The page it points at is the wall (built by npm ci's prepare step).
      expect(await (await fetch(url)).text()).toContain('<div id="app">');
      const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('demo without ffmpeg stops before binding any port, with one line saying how to install it', async () => {
    const [sipPort, httpPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'se-cli-noffmpeg-'));
    try {
      const r = run(['demo', '--devices', '1'], {
        SE_FFMPEG_PATH: join(dataDir, 'no-such-ffmpeg'),
        SE_SIP_HOST: '127.0.0.1',
        SE_SIP_PORT: String(sipPort),
        SE_HTTP_HOST: '127.0.0.1',
        SE_HTTP_PORT: String(httpPort),
        SE_DATA_DIR: dataDir,
      });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^sharp-eyes demo: ffmpeg \(.*no-such-ffmpeg\): not found — install ffmpeg .*apt-get install ffmpeg/);
      expect(r.stdout).not.toContain('gateway ready');
      expect(await portIsFree(httpPort)).toBe(true);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.each([
    ['piped: one JSON object per log line', false],
    ['on a terminal: readable lines', true],
  ] as const)('demo logs %s', async (_what, onTerminal) => {
    const [sipPort, httpPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'se-cli-logs-'));
    const env = {
      PATH: process.env.PATH ?? '',
      SE_SIP_HOST: '127.0.0.1',
      SE_SIP_ADVERTISED_HOST: '127.0.0.1',
      SE_SIP_PORT: String(sipPort),
      SE_HTTP_HOST: '127.0.0.1',
      SE_HTTP_PORT: String(httpPort),
      SE_DATA_DIR: dataDir,
      SE_MEDIA_HOST: '127.0.0.1',
    };
    // util-linux's `script` gives the demo a pseudo-terminal, as a person's shell would.
    const child = onTerminal
      ? spawn('script', ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} demo --devices 1`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(process.execPath, [BIN, 'demo', '--devices', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    try {
      // Ready once the banner is out and the gateway's own "ready" line has been logged.
      for (let i = 0; i < 300 && !(output.includes('Press Ctrl+C') && output.includes('gateway ready')); i++) await new Promise((r) => setTimeout(r, 200));
      // eslint-disable-next-line no-control-regex
      const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
      const readyLine = plain.split(/\r?\n/).find((l) => l.includes('gateway ready'));
      expect(readyLine, plain).toBeDefined();
      if (onTerminal) {
        expect(readyLine).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: gateway ready /);
      } else {
        const entry = JSON.parse(readyLine!) as { level: number; msg: string; time: string };
        expect(entry).toMatchObject({ level: 30, msg: 'gateway ready' });
        expect(Number.isNaN(Date.parse(entry.time))).toBe(false);
      }
    } finally {
      if (onTerminal) spawnSync('pkill', ['-INT', '-f', `${BIN} demo --devices 1`]);
      else child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      spawnSync('pkill', ['-KILL', '-f', `${BIN} demo --devices 1`]);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
