// Free loopback ports. The gateway's SIP port is shared by UDP and TCP, so it must be free for both.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function udpPortFree(port) {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

export async function freePort() {
  return freeTcpPort();
}

/** A port free on 127.0.0.1 for both TCP and UDP. */
export async function freeTcpUdpPort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freeTcpPort();
    if (await udpPortFree(port)) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1 after 50 attempts');
}
