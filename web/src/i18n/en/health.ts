import type zh from '../zh-CN/health';

const messages: typeof zh = {
  title: 'health',
};
export default messages;
