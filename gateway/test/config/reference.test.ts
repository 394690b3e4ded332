/**
 * Keeps the documentation in step with the schema: the example file must load to exactly the defaults and
 * mention every key and env variable; config/README.md must carry the reference generated from
 * describeConfigKeys(). After changing the schema, run with UPDATE_CONFIG_REFERENCE=1 to rewrite the README table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeConfigKeys, loadConfig } from '../../src/config/load-config.js';
import { listLeafSpecs } from '../../src/config/schema.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const exampleFile = `${repoRoot}config/gateway.example.yaml`;
const readmeFile = `${repoRoot}config/README.md`;
const START = '<!-- config-reference:start (generated from describeConfigKeys(); see gateway/test/config/reference.test.ts) -->';
const END = '<!-- config-reference:end -->';

describe('describeConfigKeys', () => {
  const rows = describeConfigKeys();

  it('lists every key of the schema, and of the loaded config, exactly once', () => {
    const keys = rows.map((row) => row.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const { path } of listLeafSpecs()) expect(keys).toContain(path.join('.'));
    // Independent of the table: walk an actual loaded config so a key added to the type and the table but
    // skipped by describeConfigKeys would still be caught.
    const walk = (node: unknown, prefix: string): void => {
      if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
        for (const [name, child] of Object.entries(node)) walk(child, prefix ? `${prefix}.${name}` : name);
      } else {
        expect(keys, prefix).toContain(prefix);
      }
    };
    walk(loadConfig({ env: {} }), '');
    for (const field of ['id', 'password', 'noAuth', 'profile', 'name']) expect(keys).toContain(`sip.devices[].${field}`);
  });

  it('gives each top-level key its env variable, type, default and description', () => {
    for (const row of rows) {
      if (!row.key.includes('[]')) expect(row.env, row.key).toMatch(/^SE_[A-Z0-9_]+(, SE_[A-Z0-9_]+)*$/);
      expect(row.type, row.key).not.toBe('');
      expect(row.default, row.key).not.toBe('');
      expect(row.description.length, row.key).toBeGreaterThan(10);
    }
    const byKey = new Map(rows.map((row) => [row.key, row]));
    expect(byKey.get('sip.keepaliveIntervalSec')?.env).toBe('SE_SIP_KEEPALIVE_INTERVAL_SEC');
    expect(byKey.get('sip.lockout.maxFailures')?.env).toBe('SE_SIP_LOCKOUT_MAX_FAILURES');
    expect(byKey.get('store.mongoUrl')?.env).toBe('SE_MONGO_URL, SE_STORE_MONGO_URL');
    expect(byKey.get('store.dataDir')?.env).toBe('SE_DATA_DIR, SE_STORE_DATA_DIR');
    expect(byKey.get('http.apiTokens')?.env).toBe('SE_HTTP_API_TOKENS, SE_API_TOKEN');
    expect(byKey.get('sip.port')).toMatchObject({ type: 'integer 0-65535', default: '5060' });
  });
});

describe('config/gateway.example.yaml', () => {
  const text = readFileSync(exampleFile, 'utf8');

  it('loads cleanly, to exactly the built-in defaults', () => {
    expect(loadConfig({ file: exampleFile, env: {} })).toEqual(loadConfig({ env: {} }));
  });

  it('mentions every key and every environment variable', () => {
    for (const row of describeConfigKeys()) {
      const name = row.key.split('.').pop() as string; // sip.devices[].id → id
      expect(text, row.key).toMatch(new RegExp(`\\b${name}\\b`));
      for (const envVar of row.env.split(', ').filter(Boolean)) expect(text, `${row.key} ${envVar}`).toContain(envVar);
    }
  });
});

describe('config/README.md', () => {
  it('carries the reference generated from describeConfigKeys()', () => {
    const expected = renderReferenceTable();
    const readme = readFileSync(readmeFile, 'utf8');
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    expect(start, 'README start marker').toBeGreaterThanOrEqual(0);
    expect(end, 'README end marker').toBeGreaterThan(start);
    const current = readme.slice(start + START.length, end).trim();
    if (current !== expected && process.env.UPDATE_CONFIG_REFERENCE === '1') {
      writeFileSync(readmeFile, `${readme.slice(0, start + START.length)}\n${expected}\n${readme.slice(end)}`);
      return;
    }
    expect(current, 'config/README.md is stale: rerun with UPDATE_CONFIG_REFERENCE=1').toBe(expected);
  });
});

function renderReferenceTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const code = (text: string): string => (text ? `\`${text.replace(/\|/g, '\\|')}\`` : '');
  const lines = ['| Key | Environment | Type | Default | Description |', '|---|---|---|---|---|'];
  for (const row of describeConfigKeys()) {
    const env = row.env.split(', ').filter(Boolean).map(code).join(', ');
    lines.push(`| ${code(row.key)} | ${env} | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.description)} |`);
  }
  return lines.join('\n');
}
