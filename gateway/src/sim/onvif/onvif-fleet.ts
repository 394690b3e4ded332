/**
 * A fleet of simulated ONVIF cameras for the demo, tests and benchmarks: N cameras, each with its own HTTP
 * port (as real cameras each have their own address), one shared RTSP server for their streams, and a
 * WS-Discovery responder on one interface address (loopback by default) answering for all of them.
 */
import { MediaLibrary } from '../media-source.js';
import { DiscoveryResponder } from './discovery-responder.js';
import { OnvifCameraSim, type OnvifCameraOptions } from './onvif-camera.js';
import { SimRtspServer } from './rtsp-server.js';

export interface OnvifFleetOptions {
  cameras: number;
  host?: string;
  username?: string;
  password?: string;
  /** Main stream codec; sub streams are H.264. Default H264. */
  encoding?: 'H264' | 'H265';
  /** Serve RTSP (real pictures). Default true; a polling benchmark may turn it off. */
  rtsp?: boolean;
  /** Answer WS-Discovery on this interface address (null: no discovery). Default 127.0.0.1. */
  discoveryInterface?: string | null;
  discoveryPort?: number;
  /** A name prefix; camera i is "<prefix> <i>". */
  namePrefix?: string;
  /** Extra per-camera options (e.g. announcedHost quirks). */
  cameraOptions?: (index: number) => Partial<OnvifCameraOptions>;
  mediaCacheDir?: string;
}

export class OnvifFleet {
  readonly cameras: OnvifCameraSim[] = [];
  private rtsp: SimRtspServer | null = null;
  private discovery: DiscoveryResponder | null = null;
  private readonly library: MediaLibrary;

  constructor(private readonly opts: OnvifFleetOptions) {
    this.library = MediaLibrary.shared({ cacheDir: opts.mediaCacheDir });
  }

  get rtspPort(): number {
    return this.rtsp?.listenPort ?? 0;
  }

  get rtspServer(): SimRtspServer | null {
    return this.rtsp;
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    const username = this.opts.username ?? 'admin';
    const password = this.opts.password ?? 'admin12345';
    if (this.opts.rtsp ?? true) {
      // Encode before the first camera can be asked for a stream (as the GB fleet does).
      const main = this.opts.encoding === 'H265' ? 'h265' : 'h264';
      await Promise.all([this.library.videoLoop(main, 'main', null), this.library.videoLoop('h264', 'sub', null), this.library.audioLoop()]);
      this.rtsp = new SimRtspServer(this.library, host);
      await this.rtsp.start();
    }
    if (this.opts.discoveryInterface !== null) {
      this.discovery = new DiscoveryResponder({ interfaceAddress: this.opts.discoveryInterface ?? '127.0.0.1', port: this.opts.discoveryPort });
      await this.discovery.start();
    }
    const prefix = this.opts.namePrefix ?? 'ONVIF 摄像机';
    for (let i = 1; i <= this.opts.cameras; i++) {
      const cam = new OnvifCameraSim({
        host,
        username,
        password,
        name: `${prefix} ${i}`,
        model: 'ONVIF-SIM-1',
        location: 'sim',
        encoding: this.opts.encoding ?? 'H264',
        rtspPort: this.rtspPort || 554,
        rtspPrefix: `/onvif/c${i}`,
        ...this.opts.cameraOptions?.(i),
      });
      await cam.start();
      if (this.rtsp) {
        for (const p of cam.profiles) this.rtsp.mount(p.path, { codec: p.codec, profile: p.sub ? 'sub' : 'main', audio: !p.sub, username, password: cam.credentials.password });
      }
      this.discovery?.add(cam);
      this.cameras.push(cam);
    }
  }

  async stop(): Promise<void> {
    this.discovery?.close();
    await Promise.all(this.cameras.map((c) => c.close()));
    await this.rtsp?.close();
  }
}
