/**
 * Vitest global setup: gives every test file a MongoDB-compatible server for the MongoDB adapter.
 *
 * - MONGO_URL set (CI against a real MongoDB, or a developer's own server): use it as is.
 * - Otherwise start FerretDB (MongoDB wire protocol over SQLite) from .tools/bin/ferretdb on 127.0.0.1 with a
 *   free port and a fresh temp directory, and stop it (and remove the directory) in teardown.
 *
 * There is deliberately no in-memory fallback: the adapter must be tested against a real server speaking the
 * wire protocol, so a missing binary is an error that says how to build it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** mongodb:// URL of the server the MongoDB adapter tests use (FerretDB started here, or MONGO_URL). */
    mongoUrl: string;
  }
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const ferretdbBinary = join(repoRoot, '.tools/bin/ferretdb');
const startupDeadlineMs = 30_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const givenUrl = process.env.MONGO_URL;
  if (givenUrl) {
    project.provide('mongoUrl', givenUrl);
    return async () => {};
  }

  if (!existsSync(ferretdbBinary)) {
    throw new Error(
      `FerretDB binary not found at ${ferretdbBinary}. Run "bash scripts/install-ferretdb.sh" to build it, ` +
        'or set MONGO_URL to a running MongoDB/FerretDB server.',
    );
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-ferretdb-'));
  const port = await freeLoopbackPort();
  const debugPort = await freeLoopbackPort();
  const child = spawn(
    ferretdbBinary,
    [
      `--listen-addr=127.0.0.1:${port}`,
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--state-dir=${dataDir}`,
      '--telemetry=disable',
      '--log-level=warn',
      // Its default debug listener is 127.0.0.1:8088, which would collide between parallel runs.
      `--debug-addr=127.0.0.1:${debugPort}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });

  const url = `mongodb://127.0.0.1:${port}/`;
  const teardown = async (): Promise<void> => {
    await stopProcess(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilPingable(url, child, () => stderrTail);
  } catch (error) {
    await teardown();
    throw error;
  }

  project.provide('mongoUrl', url);
  // Child processes started by tests (gateway under test) read the same server from the environment.
  process.env.MONGO_URL = url;
  return async () => {
    delete process.env.MONGO_URL;
    await teardown();
  };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitUntilPingable(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + startupDeadlineMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`FerretDB exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${stderr()}`);
    }
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await client.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`FerretDB did not answer ping at ${url} within ${startupDeadlineMs} ms: ${String(lastError)}\n${stderr()}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
