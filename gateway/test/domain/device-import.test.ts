/**
 * Bulk import without sockets: the RFC 4180 reader (quotes, line breaks inside quotes, line numbers, refusals),
 * CSV/JSON rows through the same validator as POST /api/devices, the identity rule, and bounded concurrency.
 * The e2e test (gateway/test/e2e/device-import.test.ts) does the same against real cameras.
 */
import { describe, expect, it } from 'vitest';
import { CsvError, parseCsv } from '../../src/domain/devices/csv.js';
import { DeviceImports, identityKey, rowsFromCsv, rowsFromJson, runImport, type DeviceImportDeps, type ImportProgress } from '../../src/domain/devices/device-import.js';
import type { DevicePatch, NewDeviceInput } from '../../src/domain/devices/device-input.js';
import { ConflictError, ValidationError } from '../../src/domain/services.js';

describe('parseCsv (RFC 4180)', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, CRLF or LF, a BOM, and skips blank lines', () => {
    const t = parseCsv('\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\nlines",\n3,,""');
    expect(t.header).toEqual(['a', 'b', 'c']);
    expect(t.rows).toEqual([
      { line: 2, cells: ['1', 'x, y', 'say "hi"'] },
      { line: 4, cells: ['2', 'two\nlines', ''] },
      { line: 6, cells: ['3', '', ''] },
    ]);
  });

  it('refuses an unterminated quote, stray quotes and a wrong column count, naming the line', () => {
    const refusal = (text: string) => {
      try {
        parseCsv(text);
      } catch (err) {
        expect(err).toBeInstanceOf(CsvError);
        return (err as CsvError).message;
      }
      return 'parsed';
    };
    expect(refusal('a,b\n1,2\n3,"open\n4,5\n')).toMatch(/^CSV line 3: unterminated quoted field/);
    expect(refusal('a,b\n1,x"y\n')).toMatch(/^CSV line 2: a quote inside an unquoted field/);
    expect(refusal('a,b\n1,"x"y\n')).toMatch(/^CSV line 2: text after a closing quote/);
    expect(refusal('a,b\n1,2\n1,2,3\n')).toBe('CSV line 3: 3 columns where the header (line 1) has 2');
    expect(refusal('\n\n')).toMatch(/empty/);
  });
});

describe('import rows', () => {
  it('CSV cells become the JSON fields: empty = absent, port a number when all digits', () => {
    const rows = rowsFromCsv('protocol,host,port,username,password,url,name\nonvif,10.0.0.1,8080,admin,,,"Gate, north"\nrtsp,,,,,rtsp://h/x,\nonvif,10.0.0.2,80a,u,p,,\n');
    expect(rows).toEqual([
      { line: 2, body: { protocol: 'onvif', host: '10.0.0.1', port: 8080, username: 'admin', name: 'Gate, north' } },
      { line: 3, body: { protocol: 'rtsp', url: 'rtsp://h/x' } },
      { line: 4, body: { protocol: 'onvif', host: '10.0.0.2', port: '80a', username: 'u', password: 'p' } },
    ]);
  });

  it('refuses an unknown or duplicate column, no protocol column, an empty file, and a malformed CSV as a 400 (ValidationError)', () => {
    expect(() => rowsFromCsv('protocol,hots\nonvif,x\n')).toThrow(/column 2 "hots" is not a device field/);
    expect(() => rowsFromCsv('protocol,url,url\nrtsp,a,b\n')).toThrow(/"url" appears twice/);
    expect(() => rowsFromCsv('url\nrtsp://h/x\n')).toThrow(/no "protocol" column/);
    expect(() => rowsFromCsv('')).toThrow(ValidationError);
    expect(() => rowsFromCsv('protocol,url\n')).toThrow(/no devices/);
    expect(() => rowsFromCsv('protocol,url\nrtsp,"rtsp://h/x\n')).toThrow(/CSV line 2: unterminated/);
  });

  it('JSON: an array or { devices }, numbered by index; anything else is refused', () => {
    expect(rowsFromJson([{ protocol: 'rtmp' }])).toEqual([{ line: 0, body: { protocol: 'rtmp' } }]);
    expect(rowsFromJson({ devices: [1, 2] }).map((r) => r.line)).toEqual([0, 1]);
    expect(() => rowsFromJson({ protocol: 'rtsp' })).toThrow(/array of device bodies/);
    expect(() => rowsFromJson([])).toThrow(/no devices/);
  });

  it('identity: onvif host (any case) + port, rtsp url, rtmp name', () => {
    expect(identityKey({ protocol: 'onvif', host: 'Cam.Local', port: 80 })).toBe(identityKey({ protocol: 'onvif', host: 'cam.local', port: 80 }));
    expect(identityKey({ protocol: 'onvif', host: 'h', port: 80 })).not.toBe(identityKey({ protocol: 'onvif', host: 'h', port: 81 }));
    expect(identityKey({ protocol: 'rtsp', url: 'rtsp://h/a' })).not.toBe(identityKey({ protocol: 'rtsp', url: 'rtsp://h/b' }));
    expect(identityKey({ protocol: 'rtmp' })).toBeNull();
  });
});

/** An in-memory device list with the identity rule, recording how many adds ran at once. */
function fakeDevices(concurrency: number) {
  const devices = new Map<string, { id: string; input: NewDeviceInput }>();
  let inFlight = 0;
  const stats = { maxInFlight: 0, adds: 0, updates: [] as Array<{ id: string; patch: DevicePatch }> };
  const progress: ImportProgress[] = [];
  const deps: DeviceImportDeps = {
    concurrency,
    match(input) {
      const found = devices.get(identityKey(input)!);
      if (!found) return null;
      const patch: DevicePatch = {};
      if (input.protocol === 'onvif' && found.input.protocol === 'onvif' && input.password !== found.input.password) patch.password = input.password;
      return { id: found.id, patch };
    },
    async add(input) {
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      if (input.protocol === 'rtsp' && input.url.includes('refuses')) throw new Error('rtsp-failed: 404 Not Found');
      const id = `d${++stats.adds}`;
      devices.set(identityKey(input)!, { id, input });
      return { id };
    },
    async update(id, patch) {
      stats.updates.push({ id, patch });
      for (const d of devices.values()) if (d.id === id && d.input.protocol === 'onvif' && patch.password) d.input = { ...d.input, password: patch.password };
      return { id };
    },
    progress: (p) => progress.push(p),
  };
  return { deps, stats, progress };
}

describe('runImport', () => {
  const csv = (lines: string[]) => rowsFromCsv(['protocol,host,port,username,password,url,name', ...lines].join('\n'));

  it('adds the good rows, reports the bad ones by line and field with the validator of POST /api/devices, and never adds a device twice', async () => {
    const { deps, stats, progress } = fakeDevices(4);
    const rows = csv([
      'onvif,10.0.0.1,80,admin,pw,,',
      'onvif,10.0.0.2,99999,admin,pw,,', // line 3: bad port
      'rtsp,,,,,http://h/x,', // line 4: not rtsp://
      'rtmp,,,,,,', // line 5: rtmp without a name
      'onvif,10.0.0.1,80,admin,pw,,', // line 6: same as line 2 → unchanged
      'rtsp,,,,,rtsp://h/refuses,', // line 7: the device fails
      'rtmp,,,,,,Drone 1',
    ]);
    const result = await runImport('imp-1', rows, deps);
    expect(result).toMatchObject({ importId: 'imp-1', total: 7, added: 2, unchanged: 1, updated: 0, failed: 4 });
    expect(result.errors).toEqual([
      { line: 3, field: 'port', message: 'port must be an integer 1-65535' },
      { line: 4, field: 'url', message: 'url must be an rtsp:// URL' },
      { line: 5, field: 'name', message: expect.stringMatching(/^name is required for an rtmp device in an import/) },
      { line: 7, field: '', message: 'rtsp-failed: 404 Not Found' },
    ]);
    expect(result.devices.map((d) => [d.line, d.outcome])).toEqual([[2, 'added'], [6, 'unchanged'], [8, 'added']]);
    expect(stats.adds).toBe(2);
    expect(progress.at(-1)).toMatchObject({ importId: 'imp-1', done: 7, total: 7, added: 2, failed: 4, state: 'complete' });

    // Again, with a new password on one camera: nothing added, that one updated.
    const again = await runImport('imp-2', csv(['onvif,10.0.0.1,80,admin,new-pw,,', 'rtmp,,,,,,Drone 1']), deps);
    expect(again).toMatchObject({ added: 0, unchanged: 1, updated: 1, failed: 0 });
    expect(stats.updates).toEqual([{ id: 'd1', patch: { password: 'new-pw' } }]);
  });

  it('keeps at most `concurrency` adds in flight and reports progress about every 1 %', async () => {
    const { deps, stats, progress } = fakeDevices(8);
    const rows = rowsFromJson(Array.from({ length: 400 }, (_, i) => ({ protocol: 'rtsp', url: `rtsp://10.0.${i >> 8}.${i & 255}/live` })));
    const result = await runImport('imp-3', rows, deps);
    expect(result).toMatchObject({ total: 400, added: 400, failed: 0 });
    expect(stats.maxInFlight).toBe(8);
    expect(progress.length).toBeGreaterThanOrEqual(100);
    expect(progress.length).toBeLessThanOrEqual(110);
    expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b));
  });

  it('runs one import at a time', async () => {
    const { deps } = fakeDevices(1);
    const imports = new DeviceImports(deps);
    const first = imports.run(rowsFromJson([{ protocol: 'rtsp', url: 'rtsp://h/a' }]), 'first');
    await expect(imports.run(rowsFromJson([{ protocol: 'rtsp', url: 'rtsp://h/b' }]))).rejects.toThrow(ConflictError);
    await expect(first).resolves.toMatchObject({ importId: 'first', added: 1 });
  });
});
