/**
 * The audit log: who logged in, played, exported, steered, acknowledged, changed configuration or users, and
 * what was refused. Stored on the records port (collection `audit_log`, both store adapters), filterable
 * by user, action, target and time, exported as CSV, and purged after `access.auditRetentionDays` by a timer.
 *
 * Writes are awaited by the caller's request (an entry acknowledged to nobody is fine to lose, but a test or
 * an auditor reading right after an action must find it); a failed write is logged and counted, never fails
 * the action it records.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Page } from '../model.js';
import type { RecordCollection, RecordCondition, RecordStore } from '../records.js';

export const AUDIT_ACTIONS = [
  'login',
  'login-failed',
  'login-locked',
  'logout',
  'play',
  'snapshot',
  'stream-stop',
  'export',
  'ptz',
  'ptz-takeover',
  'alarm-ack',
  'catalog-query',
  'config-change',
  'session-change',
  'user-create',
  'user-update',
  'user-delete',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** ok: done; denied: refused for lack of permission or scope; failed: tried and failed (e.g. device offline). */
export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditEntry {
  id: string;
  at: number;
  user: string;
  role: string;
  action: AuditAction;
  /** What it was done to: a channel, stream, alarm, user, rule or route; '' when nothing in particular. */
  target: string;
  outcome: AuditOutcome;
  /** Client address. */
  source: string;
  /** A short human-readable detail (PTZ action, HTTP status and reason, the export's route). */
  detail: string;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'at'> & { at?: number };

export interface AuditQuery {
  user?: string;
  action?: AuditAction;
  target?: string;
  since?: number;
  until?: number;
  offset?: number;
  limit?: number;
}

export interface AuditLogOptions {
  retentionDays: number;
  /** How often the retention purge runs (default hourly). */
  purgeIntervalMs?: number;
}

const DAY_MS = 86_400_000;
/**
 * Held PTZ buttons re-send their move every second (web/src/components/wall/ptz-hold.ts): one row per second per
 * operator would bury everything else. A successful PTZ command of the same user on the same camera is recorded
 * once per this window; refusals, failures and takeovers always are.
 */
const REPEAT_WINDOW_MS = 60_000;
const REPEAT_COALESCED: ReadonlySet<AuditAction> = new Set(['ptz']);
const MAX_REPEAT_KEYS = 10_000;
const CSV_PAGE = 1000;
const CSV_MAX_ROWS = 100_000;

export class AuditLog {
  private readonly entries: RecordCollection<AuditEntry>;
  private timer: NodeJS.Timeout | null = null;
  /** Last recorded time of coalesced actions by `user|action|target` (oldest first). */
  private readonly lastRecorded = new Map<string, number>();

  constructor(
    records: RecordStore,
    private readonly options: AuditLogOptions,
    private readonly logger: Logger,
    private readonly onWriteError: () => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.entries = records.collection<AuditEntry>('audit_log', ['at', 'user', 'action', 'target']);
  }

  /** Purge now and then on a timer. */
  start(): void {
    void this.purge();
    this.timer = setInterval(() => void this.purge(), this.options.purgeIntervalMs ?? 3600_000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async record(input: AuditInput): Promise<void> {
    const entry: AuditEntry = { ...input, id: randomUUID(), at: input.at ?? this.now() };
    if (REPEAT_COALESCED.has(entry.action) && entry.outcome === 'ok') {
      const key = `${entry.user}|${entry.action}|${entry.target}`;
      const last = this.lastRecorded.get(key);
      if (last !== undefined && entry.at - last < REPEAT_WINDOW_MS) return;
      this.lastRecorded.delete(key);
      this.lastRecorded.set(key, entry.at);
      if (this.lastRecorded.size > MAX_REPEAT_KEYS) this.lastRecorded.delete(this.lastRecorded.keys().next().value as string);
    }
    try {
      await this.entries.put(entry);
    } catch (err) {
      this.onWriteError();
      this.logger.error({ err, entry }, 'audit log write failed');
    }
  }

  async query(query: AuditQuery): Promise<Page<AuditEntry>> {
    const where: Record<string, RecordCondition> = {};
    if (query.user) where.user = query.user;
    if (query.action) where.action = query.action;
    if (query.target) where.target = query.target;
    if (query.since !== undefined || query.until !== undefined) {
      where.at = { ...(query.since !== undefined ? { gte: query.since } : {}), ...(query.until !== undefined ? { lt: query.until } : {}) };
    }
    return this.entries.find({ where, sort: { field: 'at', order: 'desc' }, offset: query.offset ?? 0, limit: query.limit ?? 100 });
  }

  /** Every matching entry (newest first, at most 100,000) as CSV for Excel: BOM, CRLF, quoted, formula-safe. */
  async csv(query: AuditQuery): Promise<string> {
    const lines = [['time (UTC)', 'user', 'role', 'action', 'target', 'outcome', 'source', 'detail'].join(',')];
    for (let offset = 0; offset < CSV_MAX_ROWS; offset += CSV_PAGE) {
      const page = await this.query({ ...query, offset, limit: CSV_PAGE });
      for (const e of page.items) {
        lines.push([new Date(e.at).toISOString(), e.user, e.role, e.action, e.target, e.outcome, e.source, e.detail].map(csvCell).join(','));
      }
      if (page.items.length < CSV_PAGE) break;
    }
    return `\uFEFF${lines.join('\r\n')}\r\n`;
  }

  /** Delete entries older than the retention period; returns how many. */
  async purge(): Promise<number> {
    try {
      const removed = await this.entries.deleteWhere({ at: { lt: this.now() - this.options.retentionDays * DAY_MS } });
      if (removed > 0) this.logger.info({ removed, retentionDays: this.options.retentionDays }, 'audit log entries past retention deleted');
      return removed;
    } catch (err) {
      this.logger.error({ err }, 'audit log retention purge failed');
      return 0;
    }
  }
}

/** RFC 4180 quoting; a leading = + - @ gets an apostrophe so Excel does not run user-supplied text as a formula. */
function csvCell(value: string): string {
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
