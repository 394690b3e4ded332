/**
 * Every health string the screens ask for exists in both catalogues (vue-i18n would silently show the key).
 * Static keys are read from the sources; keys built at run time are listed with the values they take.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import zhHealth from '../src/i18n/zh-CN/health';
import enHealth from '../src/i18n/en/health';
import zhCommon from '../src/i18n/zh-CN/common';
import enCommon from '../src/i18n/en/common';
import zhErrors from '../src/i18n/zh-CN/errors';
import enErrors from '../src/i18n/en/errors';

const web = fileURLToPath(new URL('..', import.meta.url));
const sources = ['src/pages/health', 'src/components/health'].flatMap((dir) =>
  readdirSync(join(web, dir))
    .filter((f) => f.endsWith('.vue') || f.endsWith('.ts'))
    .map((f) => readFileSync(join(web, dir, f), 'utf8')),
);

function lookup(messages: Record<string, unknown>, key: string): unknown {
  let node: unknown = messages;
  for (const part of key.split('.')) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return node;
}

const catalogues = {
  'zh-CN': { ...zhCommon, health: zhHealth, error: zhErrors },
  en: { ...enCommon, health: enHealth, error: enErrors },
};

const dynamic = [
  ...['device-offline', 'channel-offline', 'stream-failing', 'degraded', 'maintenance', 'healthy'].map((s) => `health.status.${s}`),
  ...['good', 'fair', 'poor', 'unknown'].map((g) => `health.channel.stream.grades.${g}`),
  ...['codec', 'resolution', 'fps', 'bitrateKbps', 'packetLoss', 'stalls', 'viewers', 'uptimeSec'].map((f) => `health.channel.stream.fields.${f}`),
  ...['device', 'channel'].map((s) => `health.channel.registrations.${s}`),
  ...['all', 'region', 'group'].map((s) => `health.rules.scopes.${s}`),
  ...['firing', 'cleared'].map((s) => `health.alerts.${s}`),
  ...['overview', 'alerts'].map((s) => `health.tabs.${s}`),
  ...['up', 'down'].map((s) => `health.delta.${s}`),
  'health.channel.actions.maintenanceSet',
  'health.channel.actions.maintenanceCleared',
  'status.online',
  'status.offline',
];

describe('health: message catalogues', () => {
  const staticKeys = new Set<string>();
  for (const source of sources) for (const m of source.matchAll(/\bt\('([a-zA-Z0-9_.-]+)'/g)) staticKeys.add(m[1]!);

  it('finds the keys the screens use', () => {
    expect(staticKeys.size).toBeGreaterThan(100);
  });

  for (const [locale, messages] of Object.entries(catalogues)) {
    it(`${locale} has every key as a string`, () => {
      const missing = [...staticKeys, ...dynamic].filter((key) => typeof lookup(messages, key) !== 'string');
      expect(missing).toEqual([]);
    });
  }
});
