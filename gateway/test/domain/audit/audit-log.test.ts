/** The audit log on a real SQLite records store with a controlled clock: filters, paging, CSV, retention purge. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditInput } from '../../../src/domain/audit/audit-log.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';

const DAY = 86_400_000;
const logger = pino({ level: 'silent' });
let dir: string;
let store: SqliteStore;
let now: number;
let audit: AuditLog;

const entry = (over: Partial<AuditInput>): AuditInput => ({ user: 'op', role: 'operator', action: 'play', target: '44030600001320000100', outcome: 'ok', source: '10.0.0.1', detail: '', ...over });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-audit-'));
  store = new SqliteStore(dir, logger);
  await store.init();
  now = 1_700_000_000_000;
  audit = new AuditLog(store.records, { retentionDays: 30 }, logger, () => undefined, () => now);
});

afterEach(async () => {
  audit.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AuditLog', () => {
  it('filters by user, action, target and time range, newest first, paged', async () => {
    await audit.record(entry({ at: now - 3000, user: 'alice' }));
    await audit.record(entry({ at: now - 2000, user: 'bob', action: 'ptz' }));
    await audit.record(entry({ at: now - 1000, user: 'alice', action: 'ptz', target: '44030600001320000101' }));
    expect((await audit.query({ user: 'alice' })).items.map((e) => e.at)).toEqual([now - 1000, now - 3000]);
    expect((await audit.query({ action: 'ptz' })).total).toBe(2);
    expect((await audit.query({ target: '44030600001320000101' })).items.map((e) => e.user)).toEqual(['alice']);
    expect((await audit.query({ since: now - 2000, until: now - 1000 })).items.map((e) => e.user)).toEqual(['bob']);
    expect((await audit.query({ offset: 1, limit: 1 })).items.map((e) => e.at)).toEqual([now - 2000]);
  });

  it('exports CSV for Excel: BOM, CRLF, quoting, formula-looking cells defused', async () => {
    await audit.record(entry({ at: Date.UTC(2026, 0, 2, 3, 4, 5), detail: '=HYPERLINK("x"), then "quoted"' }));
    const csv = await audit.csv({});
    expect(csv.startsWith('\uFEFFtime (UTC),user,role,action,target,outcome,source,detail\r\n')).toBe(true);
    expect(csv).toContain('2026-01-02T03:04:05.000Z,op,operator,play,44030600001320000100,ok,10.0.0.1,"\'=HYPERLINK(""x""), then ""quoted"""\r\n');
  });

  it('records a held PTZ (the same user, camera and outcome) once a minute; refusals and other cameras always', async () => {
    await audit.record(entry({ action: 'ptz' }));
    now += 1000;
    await audit.record(entry({ action: 'ptz' }));
    await audit.record(entry({ action: 'ptz', outcome: 'failed', detail: '409' }));
    await audit.record(entry({ action: 'ptz', target: '44030600001320000101' }));
    await audit.record(entry({ action: 'play' }));
    await audit.record(entry({ action: 'play' }));
    expect((await audit.query({ action: 'ptz' })).total).toBe(3);
    expect((await audit.query({ action: 'play' })).total).toBe(2);
    now += 60_000;
    await audit.record(entry({ action: 'ptz' }));
    expect((await audit.query({ action: 'ptz', target: '44030600001320000100', since: 0 })).items.map((e) => e.outcome)).toEqual(['ok', 'failed', 'ok']);
  });

  it('purges entries older than the retention period and keeps the rest', async () => {
    await audit.record(entry({ at: now - 31 * DAY, detail: 'old' }));
    await audit.record(entry({ at: now - 29 * DAY, detail: 'recent' }));
    expect(await audit.purge()).toBe(1);
    expect((await audit.query({})).items.map((e) => e.detail)).toEqual(['recent']);
    now += 2 * DAY;
    expect(await audit.purge()).toBe(1);
    expect((await audit.query({})).total).toBe(0);
  });
});
