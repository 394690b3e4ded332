import type zh from '../zh-CN/users';

/** User administration (users-roles). */
const messages: typeof zh = {
  nav: 'Users',
  heading: 'Users',
  total: '{n} users',
  columns: { username: 'Username', role: 'Role', regions: 'Region scope', groups: 'Group scope', grants: 'Extra permissions', updated: 'Changed', actions: 'Actions' },
  role: { admin: 'Admin', operator: 'Operator', maintainer: 'Maintainer', viewer: 'Viewer' },
  grant: { play: 'Play video', ptz: 'PTZ', ack: 'Acknowledge alarms', export: 'Export' },
  everything: 'Everything',
  none: 'None',
  edit: 'Edit',
  delete: 'Delete',
  confirmDelete: 'Delete user {name}? Their sessions stop at once.',
  create: 'New user',
  editing: 'Edit user {name}',
  form: {
    username: 'Username',
    password: 'Password (at least 8 characters)',
    passwordKeep: 'New password (empty: unchanged)',
    role: 'Role',
    regions: 'Region scope (civil-code prefixes, space or comma separated; empty: everything)',
    groups: 'Group scope (business group / virtual org IDs, space or comma separated)',
    grants: 'Extra permissions',
    save: 'Save',
    cancel: 'Cancel',
  },
  saved: 'Saved',
  roleHelp: 'Admin: everything. Operator: view, play, PTZ, acknowledge, export, consultations. Maintainer: view, export, maintenance. Viewer: view and play.',
};
export default messages;
