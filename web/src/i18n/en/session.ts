import type zh from '../zh-CN/session';

const messages: typeof zh = {
  title: 'session',
};
export default messages;
