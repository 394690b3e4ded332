// Strings of the health screens (owned by the health UI).
export default {
  title: 'health',
};
