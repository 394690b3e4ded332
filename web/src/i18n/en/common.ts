import type zh from '../zh-CN/common';

const messages: typeof zh = {
  app: { title: 'Video network gateway', subtitle: 'Sharp Eyes video network' },
  nav: { wall: 'Video wall', sessions: 'Consultations', health: 'Health', logout: 'Sign out', language: '中文', shortcuts: 'Shortcuts' },
  login: {
    title: 'Sign in',
    username: 'Username',
    password: 'Password',
    submit: 'Sign in',
    failed: 'Wrong username or password',
    locked: 'Too many failed logins: locked for a while, try again later',
    joinWithCode: 'Join with a session code',
  },
  socket: { connecting: 'Connecting', open: 'Live', reconnecting: 'Connection lost, reconnecting', closed: 'Not connected' },
  status: { online: 'Online', offline: 'Offline' },
  common: {
    loading: 'Loading…',
    save: 'Save',
    cancel: 'Cancel',
    delete: 'Delete',
    close: 'Close',
    confirm: 'OK',
    search: 'Search',
    none: 'None',
    error: 'Error: {message}',
    retry: 'Retry',
  },
};
export default messages;
