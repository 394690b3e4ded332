import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  DeviceProfileError,
  DeviceProfileMatcher,
  loadDeviceProfiles,
  parseDeviceProfile,
} from '../../src/domain/device-profiles.js';

const REPO_PROFILES = resolve(import.meta.dirname, '../../../device-profiles');

const scratchDirs: string[] = [];
afterAll(() => {
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
});

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'profiles-'));
  scratchDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const VALID = `
name: test
priority: 1
match: {}
charset: GB2312
substreamSdpAttribute: { name: streamnumber, main: "0", sub: "1" }
configCommandTarget: device
allowZeroSsrc: true
defaultMediaTransport: udp
transcodeH265: false
iframeCmdElement: IFameCmd
catalogItemsPerMessageHint: 1
`;

function expectProfileError(fn: () => unknown, fileEnd: string, key: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DeviceProfileError);
    const e = err as DeviceProfileError;
    expect(e.file.endsWith(fileEnd)).toBe(true);
    expect(e.key).toBe(key);
    expect(e.message).toContain(fileEnd);
    if (key) expect(e.message).toContain(key);
    return;
  }
  throw new Error('expected a DeviceProfileError');
}

describe('the shipped profiles', () => {
  const profiles = loadDeviceProfiles(REPO_PROFILES);
  const matcher = new DeviceProfileMatcher(profiles);

  it('load and validate', () => {
    expect(profiles.map((p) => p.name).sort()).toEqual(['dahua', 'generic', 'hikvision', 'uniview']);
    const dahua = profiles.find((p) => p.name === 'dahua');
    expect(dahua?.substreamSdpAttribute).toEqual({ name: 'streamprofile', main: '0', sub: '1' });
  });

  it('trust only the registered source unless a profile says otherwise (natRebinding, optional, default off)', () => {
    for (const p of profiles) expect(p.natRebinding, p.name).toBe('off');
    expect(parseDeviceProfile(parseYaml(VALID), 'x.yaml').natRebinding).toBe('off');
    expect(parseDeviceProfile(parseYaml(`${VALID}natRebinding: port\n`), 'x.yaml').natRebinding).toBe('port');
  });

  it('pick hikvision by Manufacturer or User-Agent', () => {
    expect(matcher.match({ manufacturer: 'Hikvision' }).name).toBe('hikvision');
    expect(matcher.match({ manufacturer: 'HIKVISION', model: 'DS-2CD2T47G2' }).name).toBe('hikvision');
    expect(matcher.match({ manufacturer: '海康威视' }).name).toBe('hikvision');
    expect(matcher.match({ userAgent: 'Hikvision SIP UA V1.0' }).name).toBe('hikvision');
    expect(matcher.match({ userAgent: 'NCG V3.3.6.768441' }).name).toBe('hikvision');
  });

  it('pick dahua from the captured User-Agents and manufacturer', () => {
    expect(matcher.match({ userAgent: 'DH SIP UAS V1.0' }).name).toBe('dahua');
    expect(matcher.match({ manufacturer: 'Dahua' }).name).toBe('dahua');
    // the NVR's bare "SIP UAS V3…" only counts together with a Dahua-looking model
    expect(matcher.match({ userAgent: 'SIP UAS V3.0.0.1208500' }).name).toBe('generic');
    expect(matcher.match({ userAgent: 'SIP UAS V3.0.0.1208500', model: 'DHI-NVR4208' }).name).toBe('dahua');
  });

  it('pick uniview and fall back to generic for unknown or empty identities', () => {
    expect(matcher.match({ manufacturer: 'UNIVIEW' }).name).toBe('uniview');
    expect(matcher.match({ manufacturer: 'Example', model: 'EX-IPC-200', userAgent: 'ExampleCam' }).name).toBe('generic');
    expect(matcher.match({}).name).toBe('generic');
    expect(matcher.match({ manufacturer: '', userAgent: null }).name).toBe('generic');
  });
});

describe('matching rules', () => {
  const profile = (name: string, priority: number, match: string): string =>
    VALID.replace('name: test', `name: ${name}`).replace('priority: 1', `priority: ${priority}`).replace('match: {}', `match: ${match}`);

  it('highest priority wins; ties go to the first file', () => {
    const dir = dirWith({
      'a.yaml': profile('a', 5, '{ manufacturer: "acme" }'),
      'b.yaml': profile('b', 9, '{ manufacturer: "acme", model: "^X" }'),
      'c.yaml': profile('c', 5, '{ manufacturer: "acme" }'),
      'z.yaml': profile('fallback', 0, '{}'),
      'none.yml': profile('pinned-only', 100, '[]'),
    });
    const m = new DeviceProfileMatcher(loadDeviceProfiles(dir));
    expect(m.match({ manufacturer: 'ACME', model: 'X1' }).name).toBe('b');
    expect(m.match({ manufacturer: 'ACME', model: 'Y1' }).name).toBe('a');
    expect(m.match({ manufacturer: 'other' }).name).toBe('fallback');
  });

  it('needs a catch-all profile', () => {
    const dir = dirWith({ 'a.yaml': profile('a', 5, '{ manufacturer: "acme" }') });
    expect(() => new DeviceProfileMatcher(loadDeviceProfiles(dir))).toThrow(/catch-all/);
  });
});

describe('validation errors name the file and key', () => {
  const cases: Array<[string, string, string]> = [
    ['bad charset', VALID.replace('charset: GB2312', 'charset: GBK'), 'charset'],
    ['missing field', VALID.replace('transcodeH265: false\n', ''), 'transcodeH265'],
    ['not a boolean', VALID.replace('allowZeroSsrc: true', 'allowZeroSsrc: "yes"'), 'allowZeroSsrc'],
    ['unknown key', VALID + 'transcodeH256: true\n', 'transcodeH256'],
    ['bad substream name', VALID.replace('name: streamnumber', 'name: streamid'), 'substreamSdpAttribute.name'],
    ['empty substream value', VALID.replace('sub: "1"', 'sub: ""'), 'substreamSdpAttribute.sub'],
    ['bad transport', VALID.replace('defaultMediaTransport: udp', 'defaultMediaTransport: tcp'), 'defaultMediaTransport'],
    ['bad iframe element', VALID.replace('iframeCmdElement: IFameCmd', 'iframeCmdElement: IFrame'), 'iframeCmdElement'],
    ['hint below 1', VALID.replace('catalogItemsPerMessageHint: 1', 'catalogItemsPerMessageHint: 0'), 'catalogItemsPerMessageHint'],
    ['bad regex', VALID.replace('match: {}', 'match: [{ userAgent: "(" }]'), 'match[0].userAgent'],
    ['unknown match key', VALID.replace('match: {}', 'match: { vendor: "x" }'), 'match.vendor'],
    ['bad name', VALID.replace('name: test', 'name: "two words"'), 'name'],
    ['bad natRebinding', VALID + 'natRebinding: always\n', 'natRebinding'],
  ];
  for (const [label, text, key] of cases) {
    it(label, () => {
      const dir = dirWith({ 'broken.yaml': text });
      expectProfileError(() => loadDeviceProfiles(dir), 'broken.yaml', key);
    });
  }

  it('invalid YAML', () => {
    expectProfileError(() => loadDeviceProfiles(dirWith({ 'broken.yaml': 'name: [unclosed' })), 'broken.yaml', '');
  });

  it('duplicate names', () => {
    const dir = dirWith({ 'a.yaml': VALID, 'b.yaml': VALID });
    expectProfileError(() => loadDeviceProfiles(dir), 'b.yaml', 'name');
  });

  it('an empty or missing directory', () => {
    expect(() => loadDeviceProfiles(dirWith({}))).toThrow(DeviceProfileError);
    expect(() => loadDeviceProfiles(join(tmpdir(), 'no-such-profiles-dir-8c1f'))).toThrow(DeviceProfileError);
  });

  it('a non-mapping document', () => {
    expectProfileError(() => parseDeviceProfile(['x'], 'inline.yaml'), 'inline.yaml', '');
  });
});
