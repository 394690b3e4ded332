/** The role table in docs/users-and-roles.md and README.md is the one in ROLE_PERMISSIONS; route defaults close new routes. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLE_PERMISSIONS, permissionForRoute, refusalOf } from '../../../src/domain/auth/permissions.js';
import type { UserRole } from '../../../src/domain/model.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

function tableOf(file: string): string {
  const text = readFileSync(`${repoRoot}${file}`, 'utf8');
  const start = text.indexOf('<!-- role-table:start -->');
  const end = text.indexOf('<!-- role-table:end -->');
  expect(start, `${file} has the role table markers`).toBeGreaterThan(-1);
  return text.slice(start, end);
}

function expectedTable(): string {
  const header = `| role | ${PERMISSIONS.join(' | ')} |`;
  const rule = `|---|${PERMISSIONS.map(() => '---').join('|')}|`;
  const rows = (Object.keys(ROLE_PERMISSIONS) as UserRole[]).map((role) => `| ${role} | ${PERMISSIONS.map((p) => (ROLE_PERMISSIONS[role].includes(p) ? '✓' : '')).join(' | ')} |`.replace(/\|  \|/g, '|  |'));
  return [header, rule, ...rows].join('\n');
}

describe('role table', () => {
  it('docs/users-and-roles.md and README.md show ROLE_PERMISSIONS exactly', () => {
    for (const file of ['docs/users-and-roles.md', 'README.md']) {
      const rows = tableOf(file).split('\n').filter((l) => l.startsWith('|')).map((l) => l.replace(/\s+/g, ' ').trim());
      expect(rows, file).toEqual(expectedTable().split('\n').map((l) => l.replace(/\s+/g, ' ').trim()));
    }
  });

  it('a route nobody listed is open to GET viewers and closed to non-admin changes', () => {
    expect(permissionForRoute('GET', '/api/something-new')).toBe('view');
    expect(permissionForRoute('POST', '/api/something-new')).toBe('manage-config');
    expect(refusalOf({ kind: 'session', username: 'o', role: 'operator' }, 'POST', '/api/something-new', false)).toMatch(/may not change the configuration/);
    expect(refusalOf({ kind: 'session', username: 'a', role: 'admin' }, 'POST', '/api/something-new', false)).toBeNull();
    expect(refusalOf({ kind: 'session', username: 'm', role: 'maintainer', grants: ['play'] }, 'POST', '/api/channels/:id/play', false)).toBeNull();
    expect(refusalOf({ kind: 'session', username: 'v', role: 'viewer' }, 'GET', '/api/devices', true)).toMatch(/export/);
  });
});
