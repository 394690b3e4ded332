// Strings of the live player tiles (web/src/player).
export default {
  connecting: '正在连接…',
  playing: '播放中',
  stalled: '画面中断，正在恢复…',
  offline: '设备离线',
  offlineSince: '设备离线，自 {time} 起',
  error: '无法播放',
  step: {
    channel: '通道',
    device: '设备',
    resources: '网关资源',
    invite: '点播请求',
    answer: '设备应答',
    rtp: '媒体流',
    keyframe: '关键帧',
    packager: '转封装',
    network: '网络',
    media: '解码',
  },
  hint: '建议：{hint}',
  retrying: '自动重试中',
  grid: {
    title: '播放诊断',
    tiles: '{n} 路',
    state: { idle: '空闲', connecting: '连接中', playing: '播放中', stalled: '中断', offline: '离线', error: '错误' },
  },
  empty: '空闲',
};
