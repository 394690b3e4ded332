// Strings of the session screens (owned by the session UI).
export default {
  title: 'session',
};
