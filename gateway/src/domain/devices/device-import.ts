/**
 * Bulk onboarding: `POST /api/devices/import` with a CSV file or a JSON array of the bodies of `POST /api/devices`.
 *
 * - Every row goes through the same parseNewDevice as a single POST (device-input.ts); a refused row is
 *   reported with its line (CSV: the physical line it starts on, 1 = header; JSON: its array index) and field,
 *   and the other rows go in.
 * - Re-importing the same file adds nothing twice. A row whose device exists already (the identity rule of
 *   identityKey below) is `unchanged`, or `updated` when its credentials, sub-stream URL, transport or name
 *   differ — the same change a PATCH would make. Empty cells and absent fields leave the existing value alone.
 * - Adding describes the device (a few SOAP calls or an RTSP DESCRIBE): at most `concurrency` rows are in flight,
 *   so 5,000 rows do not open 5,000 connections at once. Two rows with the same identity in one file run one
 *   after the other (the second one is then `unchanged` or `updated`), never as two adds.
 * - Progress is reported through `progress` (the WebSocket's `import-progress`) about every 1 % and at the end.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, DomainError, ValidationError } from '../services.js';
import { CsvError, parseCsv } from './csv.js';
import { parseNewDevice, type DevicePatch, type NewDeviceInput } from './device-input.js';

/** The CSV columns: the field names of the JSON bodies of POST /api/devices. */
export const IMPORT_COLUMNS = ['protocol', 'host', 'port', 'username', 'password', 'url', 'subUrl', 'transport', 'name', 'civilCode'] as const;
/** Rows per import at most: a bigger fleet is imported in several files. */
export const MAX_IMPORT_ROWS = 20_000;

export interface ImportRow {
  /** CSV: the line the row starts on (1 = header). JSON: the index in the array (0-based). */
  line: number;
  body: unknown;
}

export interface ImportError {
  line: number;
  /** The refused field (`port`, `url`, …), or '' when the row as a whole failed (e.g. the device refused to be described). */
  field: string;
  message: string;
}

export type ImportOutcome = 'added' | 'unchanged' | 'updated';

export interface ImportResult {
  importId: string;
  total: number;
  added: number;
  unchanged: number;
  updated: number;
  failed: number;
  /** One per failed row, in line order. */
  errors: ImportError[];
  /** One per row that went in, in line order: which device it is now. */
  devices: Array<{ line: number; id: string; outcome: ImportOutcome }>;
  elapsedMs: number;
}

export interface ImportProgress {
  importId: string;
  done: number;
  total: number;
  added: number;
  unchanged: number;
  updated: number;
  failed: number;
  state: 'running' | 'complete';
}

/** An existing device with the same identity, and the fields of the row that differ from it (empty: unchanged). */
export interface ImportMatch {
  id: string;
  patch: DevicePatch;
}

export interface DeviceImportDeps {
  match(input: NewDeviceInput): ImportMatch | null;
  add(input: NewDeviceInput): Promise<{ id: string }>;
  update(id: string, patch: DevicePatch): Promise<{ id: string }>;
  progress(progress: ImportProgress): void;
  concurrency: number;
}

/**
 * The identity of an added device, which decides "exists already" on import:
 * ONVIF: host (case-insensitive) + port; RTSP: the main URL, character for character; RTMP: the name
 * (it has no address: the pusher comes to us). Null: no identity (an RTMP device without a name).
 */
export function identityKey(input: { protocol: string; host?: string; port?: number; url?: string; name?: string }): string | null {
  switch (input.protocol) {
    case 'onvif':
      return `onvif ${(input.host ?? '').toLowerCase()}:${input.port ?? 80}`;
    case 'rtsp':
      return `rtsp ${input.url ?? ''}`;
    case 'rtmp':
      return input.name ? `rtmp ${input.name}` : null;
    default:
      return null;
  }
}

function refuse(message: string, field = 'body'): never {
  throw new ValidationError(message, field);
}

function checkRowCount(count: number): void {
  if (count === 0) refuse('the import holds no devices');
  if (count > MAX_IMPORT_ROWS) refuse(`the import holds ${count} devices; at most ${MAX_IMPORT_ROWS} per import (split the file)`);
}

/**
 * CSV → rows whose bodies look like the JSON bodies: an empty cell is an absent field, and `port` is a number
 * when it is all digits (otherwise left as text, so the validator names it). A malformed file is a
 * ValidationError (400) with the line; so is an unknown, duplicate or missing `protocol` column.
 */
export function rowsFromCsv(text: string): ImportRow[] {
  if (text.trim() === '') refuse('the CSV is empty (expected a header row and at least one device)');
  let table;
  try {
    table = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvError) throw new ValidationError(err.message, 'body');
    throw err;
  }
  const columns = table.header.map((h) => h.trim());
  const known: readonly string[] = IMPORT_COLUMNS;
  columns.forEach((c, i) => {
    if (!known.includes(c)) refuse(`CSV line 1: column ${i + 1} "${c}" is not a device field (columns: ${IMPORT_COLUMNS.join(',')})`);
    if (columns.indexOf(c) !== i) refuse(`CSV line 1: column "${c}" appears twice`);
  });
  if (!columns.includes('protocol')) refuse('CSV line 1: the header has no "protocol" column');
  checkRowCount(table.rows.length);
  return table.rows.map((row) => {
    const body: Record<string, unknown> = {};
    row.cells.forEach((cell, i) => {
      if (cell === '') return;
      const column = columns[i]!;
      body[column] = column === 'port' && /^\d{1,5}$/.test(cell) ? Number(cell) : cell;
    });
    return { line: row.line, body };
  });
}

/** JSON `{ "devices": [ … ] }` or a bare array → rows numbered by array index. */
export function rowsFromJson(body: unknown): ImportRow[] {
  const list = Array.isArray(body) ? body : typeof body === 'object' && body !== null && Array.isArray((body as { devices?: unknown }).devices) ? (body as { devices: unknown[] }).devices : null;
  if (!list) refuse('a JSON import is an array of device bodies, or { "devices": [ … ] }');
  checkRowCount(list.length);
  return list.map((item, index) => ({ line: index, body: item }));
}

function errorOf(line: number, err: unknown): ImportError {
  if (err instanceof ValidationError) {
    const field = err.field === 'body' ? '' : err.field.replace(/^body\./, '');
    return { line, field, message: err.message.replace(/^body\./, '') };
  }
  if (err instanceof DomainError || err instanceof Error) return { line, field: '', message: err.message };
  return { line, field: '', message: String(err) };
}

export async function runImport(importId: string, rows: readonly ImportRow[], deps: DeviceImportDeps): Promise<ImportResult> {
  const startedAt = Date.now();
  const total = rows.length;
  const counts = { added: 0, unchanged: 0, updated: 0, failed: 0 };
  const errors: ImportError[] = [];
  const devices: ImportResult['devices'] = [];
  // Rows with the same identity run in file order, one after the other (see the header comment).
  const byIdentity = new Map<string, Promise<unknown>>();
  let done = 0;
  let lastReportAt = 0;
  const step = Math.max(1, Math.ceil(total / 100));

  const report = (state: ImportProgress['state']): void => {
    lastReportAt = Date.now();
    deps.progress({ importId, done, total, ...counts, state });
  };

  const one = async (row: ImportRow): Promise<void> => {
    let input: NewDeviceInput;
    try {
      input = parseNewDevice(row.body);
      if (input.protocol === 'rtmp' && !input.name) {
        throw new ValidationError('body.name is required for an rtmp device in an import: its name is what identifies it on re-import', 'body.name');
      }
    } catch (err) {
      counts.failed++;
      errors.push(errorOf(row.line, err));
      return;
    }
    const key = identityKey(input)!;
    const previous = byIdentity.get(key);
    const mine = (async () => {
      if (previous) await previous;
      try {
        const existing = deps.match(input);
        if (!existing) {
          const device = await deps.add(input);
          counts.added++;
          devices.push({ line: row.line, id: device.id, outcome: 'added' });
        } else if (Object.keys(existing.patch).length === 0) {
          counts.unchanged++;
          devices.push({ line: row.line, id: existing.id, outcome: 'unchanged' });
        } else {
          await deps.update(existing.id, existing.patch);
          counts.updated++;
          devices.push({ line: row.line, id: existing.id, outcome: 'updated' });
        }
      } catch (err) {
        counts.failed++;
        errors.push(errorOf(row.line, err));
      }
    })();
    byIdentity.set(key, mine);
    await mine;
    if (byIdentity.get(key) === mine) byIdentity.delete(key);
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const row = rows[next++]!;
      await one(row);
      done++;
      if (done % step === 0 || Date.now() - lastReportAt >= 500) report('running');
    }
  };
  report('running');
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, rows.length)) }, worker));
  report('complete');
  errors.sort((a, b) => a.line - b.line);
  devices.sort((a, b) => a.line - b.line);
  return { importId, total, ...counts, errors, devices, elapsedMs: Date.now() - startedAt };
}

/** IDs a client may choose for its import (to follow its progress on the WebSocket before the answer comes). */
export const IMPORT_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

/**
 * Runs imports one at a time: two imports of overlapping files at once would race on the same identities, and
 * each one already uses the whole concurrency budget. A second import while one runs is a ConflictError (409).
 */
export class DeviceImports {
  private running: string | null = null;

  constructor(private readonly deps: DeviceImportDeps) {}

  async run(rows: readonly ImportRow[], importId: string = randomUUID()): Promise<ImportResult> {
    if (this.running !== null) throw new ConflictError(`import ${this.running} is still running; try again when it is complete (import-progress on the WebSocket)`);
    this.running = importId;
    try {
      return await runImport(importId, rows, this.deps);
    } finally {
      this.running = null;
    }
  }
}
