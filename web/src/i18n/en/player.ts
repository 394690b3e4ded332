import type zh from '../zh-CN/player';

const messages: typeof zh = {
  connecting: 'Connecting…',
  playing: 'Playing',
  stalled: 'Picture interrupted, recovering…',
  offline: 'Device offline',
  offlineSince: 'Device offline since {time}',
  error: 'Cannot play',
  step: {
    channel: 'channel',
    device: 'device',
    resources: 'gateway resources',
    invite: 'INVITE',
    answer: 'device answer',
    rtp: 'media (RTP)',
    keyframe: 'key frame',
    packager: 'packager',
    source: 'device stream',
    network: 'network',
    media: 'decoding',
  },
  hint: 'Hint: {hint}',
  retrying: 'retrying automatically',
  grid: {
    title: 'Playback diagnostics',
    tiles: '{n} tiles',
    state: { idle: 'idle', connecting: 'connecting', playing: 'playing', stalled: 'stalled', offline: 'offline', error: 'error' },
  },
  empty: 'Empty',
};
export default messages;
