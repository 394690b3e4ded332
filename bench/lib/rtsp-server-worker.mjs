// The simulator's RTSP server (dist/sim/onvif/rtsp-server.js) in a CHILD PROCESS of its own, so that its CPU and
// event loop are apart from the benchmark's (which polls playlists) and its frame counters say whether frames
// left it. Started by rtsp-server-process.mjs with { cameras, freeRunning, username, password } as JSON in argv[2];
// talks over the IPC channel:
//   → { type: 'ready', port, fps, gop }
//   ← { cmd: 'stats', id } → { id, type: 'stats', stats, sessions, loopDelayMs }
//   ← { cmd: 'stop' }      → server closed, process exits
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { distImport } from './paths.mjs';

const config = JSON.parse(process.argv[2]);
const { MediaLibrary } = await distImport('sim/media-source.js');
const { SimRtspServer } = await distImport('sim/onvif/rtsp-server.js');

const library = MediaLibrary.shared();
const loop = await library.videoLoop('h264', 'main', null);
const server = new SimRtspServer(library, '127.0.0.1', { freeRunning: config.freeRunning });
for (let i = 1; i <= config.cameras; i++) {
  server.mount(`/cam${i}/main`, { codec: 'h264', profile: 'main', audio: false, username: config.username, password: config.password });
}
await server.start();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

function send(msg) {
  if (process.connected) process.send(msg);
}

async function stop() {
  await server.close();
  process.exit(0);
}

process.on('disconnect', () => void stop());
process.on('message', (msg) => {
  if (msg.cmd === 'stats') {
    send({
      type: 'stats',
      id: msg.id,
      stats: { ...server.stats },
      sessions: server.activeSessions,
      loopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    });
    if (msg.resetDelay) delay.reset();
  } else if (msg.cmd === 'stop') {
    void stop();
  }
});
send({ type: 'ready', port: server.listenPort, fps: loop.fps, gop: loop.gop });
