import type zh from '../zh-CN/wall';

const messages: typeof zh = {
  title: 'wall',
};
export default messages;
