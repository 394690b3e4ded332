// Strings of the wall screens (owned by the wall UI).
export default {
  title: 'wall',
};
