/**
 * WS-Discovery for simulated cameras: joins 239.255.255.250:3702 on one interface address only (127.0.0.1 by
 * default, or an address inside a test's network namespace — never the machine's real network) and answers
 * each Probe with one ProbeMatches datagram per camera, by unicast to the prober, as real cameras do.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { WS_DISCOVERY_ADDRESS, WS_DISCOVERY_PORT, buildProbeMatches, parseProbe } from '../../codecs/onvif/discovery.js';
import type { OnvifCameraSim } from './onvif-camera.js';

export interface DiscoveryResponderOptions {
  /** The interface address to join the group on. Default 127.0.0.1. */
  interfaceAddress?: string;
  /** Default 3702 (a test may use another port to stay clear of a parallel run). */
  port?: number;
}

export class DiscoveryResponder {
  private socket: Socket | null = null;
  private readonly cameras = new Set<OnvifCameraSim>();
  probesAnswered = 0;

  constructor(private readonly opts: DiscoveryResponderOptions = {}) {}

  add(camera: OnvifCameraSim): void {
    this.cameras.add(camera);
  }

  remove(camera: OnvifCameraSim): void {
    this.cameras.delete(camera);
  }

  async start(): Promise<void> {
    const iface = this.opts.interfaceAddress ?? '127.0.0.1';
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port ?? WS_DISCOVERY_PORT, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.addMembership(WS_DISCOVERY_ADDRESS, iface);
    socket.setMulticastInterface(iface);
    this.socket = socket;
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (msg.length > 64 * 1024) return;
    const probe = parseProbe(msg.toString('utf8'));
    if (!probe) return;
    // Types: empty or NetworkVideoTransmitter (any prefix) match our cameras.
    if (probe.types !== '' && !/NetworkVideoTransmitter|Device/i.test(probe.types)) return;
    this.probesAnswered++;
    for (const camera of this.cameras) {
      if (camera.port === 0) continue;
      const xml = buildProbeMatches({
        relatesTo: probe.messageId,
        messageId: randomUUID(),
        match: {
          endpoint: `urn:uuid:${camera.uuid}`,
          types: ['dn:NetworkVideoTransmitter', 'tds:Device'],
          scopes: camera.scopes,
          xaddrs: [camera.xaddr],
          metadataVersion: 1,
        },
      });
      this.socket?.send(xml, port, address);
    }
  }
}
