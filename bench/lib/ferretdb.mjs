// FerretDB (MongoDB wire protocol over SQLite — it is NOT MongoDB) for the MongoDB-adapter runs: started as a
// child process on 127.0.0.1 with a fresh data directory, flags as in gateway/test/support/global-setup.ts.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { REPO_ROOT } from './paths.mjs';
import { freePort } from './ports.mjs';
import { stopChild, track } from './children.mjs';

export const FERRETDB_BINARY = join(REPO_ROOT, '.tools/bin/ferretdb');

export async function startFerretDb({ startupMs = 30_000 } = {}) {
  if (!existsSync(FERRETDB_BINARY)) {
    throw new Error(`FerretDB not found at ${FERRETDB_BINARY}: run "bash scripts/install-ferretdb.sh" first`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'se-bench-ferretdb-'));
  const port = await freePort();
  const debugPort = await freePort();
  const child = track(
    spawn(
      FERRETDB_BINARY,
      [
        `--listen-addr=127.0.0.1:${port}`,
        '--handler=sqlite',
        `--sqlite-url=file:${dataDir}/`,
        `--state-dir=${dataDir}`,
        '--telemetry=disable',
        '--log-level=warn',
        `--debug-addr=127.0.0.1:${debugPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
    'ferretdb',
  );
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  const url = `mongodb://127.0.0.1:${port}/`;
  const stop = async () => {
    await stopChild(child, 10_000);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + startupMs;
  let lastError;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`FerretDB exited during start-up: ${stderrTail}`);
    }
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      await client.close();
      return { url, pid: child.pid, dataDir, child, stop, stderrTail: () => stderrTail };
    } catch (err) {
      lastError = err;
      await client.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`FerretDB did not answer ping within ${startupMs} ms: ${lastError}`);
}
