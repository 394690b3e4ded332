/**
 * GStreamer's RTSP server (Debian gst-rtsp-server, driven by test-fixtures/rtsp/gst_rtsp_server.py with the
 * system Python that has `gi`) as an independent RTSP peer: started per test file on a free loopback port,
 * ready when it prints "READY", stopped (and waited for) afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export interface GstRtspServer {
  port: number;
  url(path: string, credentials?: { user: string; password: string }): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export async function startGstRtspServer(opts: { user?: string; password?: string; transport?: 'tcp' | 'udp' | 'both' } = {}): Promise<GstRtspServer> {
  const port = await freePort();
  const args = [join(repoRoot, 'test-fixtures/rtsp/gst_rtsp_server.py'), '--port', String(port), '--transport', opts.transport ?? 'both'];
  if (opts.user) args.push('--user', opts.user, '--password', opts.password ?? '');
  const child: ChildProcess = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  await new Promise<void>((resolveReady, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gst-rtsp-server did not start within 30 s: ${stderr}`)), 30_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gst-rtsp-server exited (${code}) before it was ready: ${stderr}`));
    });
  });
  return {
    port,
    url: (path, credentials) => `rtsp://${credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : ''}127.0.0.1:${port}${path}`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
