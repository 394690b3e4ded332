/**
 * Who may do what: one table of role permissions and one table of which permission each API route needs.
 * The API's authentication hook is the only place that checks them (api/authentication.ts); the domain
 * services apply the caller's channel scope (channel-scope.ts). docs/users-and-roles.md documents both tables.
 *
 * Static API tokens (configuration `http.apiTokens`) act as an admin without scopes: they are for automation
 * that the operator of the gateway set up. Consultation-session guests are not in these tables: they keep
 * their session-only reach (api/authentication.ts, guestMayReach).
 */
import type { UserGrant, UserRole } from '../model.js';
import type { Principal } from '../services.js';

export type Permission =
  /** See devices, channels, the trees, statistics, events, alarms, streams, the health console. */
  | 'view'
  /** Open live video, snapshots, and the media WebSocket. */
  | 'play'
  /** Steer cameras (PTZ). */
  | 'ptz'
  /** Acknowledge alarms. */
  | 'ack'
  /** CSV exports (`format=csv`). */
  | 'export'
  /** Start and end consultation sessions. */
  | 'sessions'
  /** Maintenance actions: catalog re-query, probes, maintenance flags, alert rules. */
  | 'maintain'
  /** Create, change and delete users. */
  | 'manage-users'
  /** Anything not listed (changes to configuration-like state); admins only. */
  | 'manage-config'
  /** Read the audit log. */
  | 'audit';

export const PERMISSIONS: readonly Permission[] = ['view', 'play', 'ptz', 'ack', 'export', 'sessions', 'maintain', 'manage-users', 'manage-config', 'audit'];

/** The role table (documented in docs/users-and-roles.md and README.md; a test keeps them in step). */
export const ROLE_PERMISSIONS: Readonly<Record<UserRole, readonly Permission[]>> = {
  admin: PERMISSIONS,
  operator: ['view', 'play', 'ptz', 'ack', 'export', 'sessions'],
  // Maintenance staff see state and fix it; live video only when granted (`grants: ["play"]`).
  maintainer: ['view', 'export', 'maintain'],
  viewer: ['view', 'play'],
};

/** Grants a user may receive on top of the role. */
export const USER_GRANTS: readonly UserGrant[] = ['play', 'ptz', 'ack', 'export'];

/** Role rank for PTZ arbitration: a higher rank takes a camera over. */
export const ROLE_RANK: Readonly<Record<UserRole, number>> = { viewer: 0, maintainer: 1, operator: 2, admin: 3 };

export function may(principal: Principal, permission: Permission): boolean {
  if (ROLE_PERMISSIONS[principal.role].includes(permission)) return true;
  return (principal.grants ?? []).includes(permission as UserGrant);
}

/**
 * The permission each /api route needs, as `METHOD /api/path`. GET routes not listed need `view`; any other
 * route not listed needs `manage-config` (admins only), so a new route is closed until it is listed here.
 * `null`: any authenticated caller (logout). Any request with `format=csv` needs `export` as well.
 */
export const ROUTE_PERMISSIONS: Readonly<Record<string, Permission | null>> = {
  'POST /api/auth/logout': null,
  'GET /api/auth/me': null,
  'POST /api/channels/:id/play': 'play',
  'POST /api/channels/:id/playback': 'play',
  'POST /api/streams/:id/control': 'play',
  // A download takes recorded video off the system: an export (docs/playback.md).
  'GET /api/channels/:id/download': 'export',
  'GET /api/channels/:id/snapshot': 'play',
  'DELETE /api/streams/:id': 'play',
  'GET /api/media/ws': 'play',
  'POST /api/channels/:id/ptz': 'ptz',
  'DELETE /api/channels/:id/ptz/lease': 'ptz',
  // Asks the camera (ONVIF GetPresets): for those who may steer it.
  'GET /api/channels/:id/ptz/presets': 'ptz',
  'POST /api/alarms/:id/ack': 'ack',
  'POST /api/alarms/ack': 'ack',
  'POST /api/devices/:id/catalog': 'maintain',
  'POST /api/health/channels/:id/probe': 'maintain',
  'PUT /api/health/channels/:id/maintenance': 'maintain',
  'POST /api/health/probe-batch': 'maintain',
  'POST /api/health/reports': 'maintain',
  'POST /api/alert-rules': 'maintain',
  'PUT /api/alert-rules/:id': 'maintain',
  'DELETE /api/alert-rules/:id': 'maintain',
  'POST /api/alert-rules/:id/test': 'maintain',
  // Saved views and tours belong to their owner (the view service checks ownership).
  'POST /api/views': 'view',
  'PUT /api/views/:id': 'view',
  'DELETE /api/views/:id': 'view',
  'POST /api/tours': 'view',
  'PUT /api/tours/:id': 'view',
  'DELETE /api/tours/:id': 'view',
  'POST /api/sessions': 'sessions',
  'POST /api/sessions/:id/end': 'sessions',
  'POST /api/sessions/:id/join': 'view',
  'POST /api/sessions/:id/leave': 'view',
  'GET /api/users': 'manage-users',
  'GET /api/users/:id': 'manage-users',
  'POST /api/users': 'manage-users',
  'PATCH /api/users/:id': 'manage-users',
  'DELETE /api/users/:id': 'manage-users',
  'GET /api/audit': 'audit',
  // Upper platforms hold the cascade's addresses and passwords: reading them is configuration too.
  'GET /api/platforms': 'manage-config',
  'GET /api/platforms/:id': 'manage-config',
};

/** The permission a route needs (see ROUTE_PERMISSIONS for the defaults). */
export function permissionForRoute(method: string, route: string): Permission | null {
  const key = `${method} ${route}`;
  if (key in ROUTE_PERMISSIONS) return ROUTE_PERMISSIONS[key];
  return method === 'GET' || method === 'HEAD' ? 'view' : 'manage-config';
}

/** Why a request is refused, for the 403 body; null when allowed. */
export function refusalOf(principal: Principal, method: string, route: string, csv: boolean): string | null {
  const needed = permissionForRoute(method, route);
  if (needed !== null && !may(principal, needed)) return `the ${principal.role} role may not ${describe(needed)} (permission "${needed}")`;
  if (csv && !may(principal, 'export')) return `the ${principal.role} role may not export CSV (permission "export")`;
  return null;
}

function describe(permission: Permission): string {
  switch (permission) {
    case 'view':
      return 'view the network';
    case 'play':
      return 'play live video';
    case 'ptz':
      return 'steer cameras';
    case 'ack':
      return 'acknowledge alarms';
    case 'export':
      return 'export CSV';
    case 'sessions':
      return 'run consultation sessions';
    case 'maintain':
      return 'run maintenance actions';
    case 'manage-users':
      return 'manage users';
    case 'manage-config':
      return 'change the configuration';
    case 'audit':
      return 'read the audit log';
  }
}
