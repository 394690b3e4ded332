/**
 * compose.yaml cannot be started here (no Docker engine on our machines), so it is checked against what it
 * must agree with: every SE_* variable it sets is a valid configuration value (the gateway would start with
 * them), the ports it publishes are the ones that configuration listens on, and the image's data directory is
 * the volume it mounts.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';

const ROOT = resolve(__dirname, '../../..');

interface ComposeService {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const gateway = compose.services.gateway!;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** Compose's own interpolation for the forms the file uses: ${VAR}, ${VAR:-default}, ${VAR:?message}. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (op === '?') throw new Error(`${name}: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

/** "A-B:C-D/proto" or "A:B/proto" → the container-side ports and protocol. */
function published(spec: string): { ports: number[]; proto: string } {
  const [mapping, proto = 'tcp'] = spec.split('/');
  const container = mapping!.split(':').pop()!;
  const [from, to = from] = container.split('-').map(Number);
  return { ports: Array.from({ length: to! - from! + 1 }, (_, i) => from! + i), proto };
}

describe('compose.yaml', () => {
  const dotEnv = { SE_SIP_ADVERTISED_HOST: '10.1.2.3', SE_MEDIA_HOST: '10.1.2.3', SE_ADMIN_PASSWORD: 'a-long-admin-password' };
  const env = Object.fromEntries(Object.entries(gateway.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), dotEnv)]));

  it('runs the repository image next to a MongoDB the gateway waits for', () => {
    expect(gateway.build).toBe('.');
    expect(compose.services.mongo?.image).toMatch(/^mongo:\d/);
    expect(gateway.depends_on?.mongo?.condition).toBe('service_healthy');
    expect(env.SE_MONGO_URL).toBe('mongodb://mongo:27017');
  });

  it('sets only valid configuration: the gateway would start with exactly this environment', () => {
    const config = loadConfig({ env });
    expect(config.store.mongoUrl).toBe('mongodb://mongo:27017');
    expect(config.sip.advertisedHost).toBe('10.1.2.3');
    expect(config.media.host).toBe('10.1.2.3');
    expect(config.admin.password).toBe('a-long-admin-password');
  });

  it('refuses to start without the advertised addresses (cameras could not reach a container address)', () => {
    expect(() => interpolate(String(gateway.environment?.SE_SIP_ADVERTISED_HOST), {})).toThrow(/SE_SIP_ADVERTISED_HOST: set it in \.env/);
    expect(() => interpolate(String(gateway.environment?.SE_MEDIA_HOST), {})).toThrow(/SE_MEDIA_HOST/);
  });

  it('publishes SIP (UDP and TCP), HTTP and the whole media port range (UDP and TCP) the configuration listens on', () => {
    const config = loadConfig({ env });
    const open = new Set((gateway.ports ?? []).flatMap((spec) => published(spec).ports.map((p) => `${p}/${published(spec).proto}`)));
    for (const proto of ['udp', 'tcp']) expect(open.has(`${config.sip.port}/${proto}`), `${config.sip.port}/${proto}`).toBe(true);
    expect(open.has(`${config.http.port}/tcp`)).toBe(true);
    const [min, max] = config.media.ports.split('-').map(Number);
    for (let p = min!; p <= max!; p++) for (const proto of ['udp', 'tcp']) expect(open.has(`${p}/${proto}`), `${p}/${proto}`).toBe(true);
    // The image says the same.
    expect(dockerfile).toMatch(new RegExp(`EXPOSE .*${config.sip.port}/udp`));
    expect(dockerfile).toMatch(new RegExp(`EXPOSE .*${config.http.port}/tcp`));
  });

  it('keeps the gateway data and the database on named volumes', () => {
    const dataDir = /SE_DATA_DIR=(\S+)/.exec(dockerfile)?.[1];
    expect(dataDir).toBe('/data');
    expect(env.SE_DATA_DIR).toBe(dataDir);
    expect(gateway.volumes).toContain(`gateway-data:${dataDir}`);
    expect(compose.services.mongo?.volumes).toContain('mongo-data:/data/db');
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['gateway-data', 'mongo-data']));
  });
});
