/**
 * Events a simulated device fleet reports (typed for `EventEmitter<DeviceFleetEvents>`), and the records
 * kept for tests (PTZ log entries).
 */
import type { PtzCommand } from '../codecs/gb/ptz.js';
import type { DeviceControlRequest } from '../codecs/manscdp/messages.js';
import type { MansrtspRequest } from '../codecs/gb/mansrtsp.js';

export type SimDeviceKind = 'ipc' | 'nvr' | 'platform';

/** Why a registration attempt failed: the final status, or 'timeout' / 'no-challenge' / 'send-failed'. */
export interface RegisterFailure {
  deviceId: string;
  /** Final SIP status, or null when no final response came. */
  status: number | null;
  reason: string;
  /** 'register' (Expires > 0) or 'unregister'. */
  kind: 'register' | 'unregister';
}

export interface PtzLogEntry {
  /** Epoch ms when the device received it. */
  at: number;
  /** Device (IPC/NVR/platform) that received the MESSAGE. */
  deviceId: string;
  /** The <DeviceID> of the DeviceControl (the channel addressed). */
  channelId: string;
  sn: number;
  /** PTZCmd as sent (upper-case hex). */
  hex: string;
  /** Decoded command, or null when the code did not decode (see `error`). */
  command: PtzCommand | null;
  error: string | null;
}

/** Why a simulated camera's call ended. */
export type MediaStopReason =
  | 'bye' // the gateway sent BYE
  | 'replaced' // a new INVITE with the same Subject / Call-ID
  | 'cancelled' // CANCEL before our final answer
  | 'no-ack' // our 200 OK was never acknowledged
  | 'no-connection' // TCP: nobody connected / we could not connect
  | 'disconnected' // TCP: the gateway closed the media connection
  | 'hung-up' // the camera sent BYE (fleet.hangUp)
  | 'failed' // media could not be prepared (ffmpeg, sockets)
  | 'powered-off' // fleet.stopDevices(): the device went silent
  | 'fleet-stopped';

export interface DeviceFleetEvents {
  /** A REGISTER (first or refresh) got 200 OK. `elapsedMs` from the first REGISTER of this attempt. */
  registered: [{ deviceId: string; expires: number; elapsedMs: number; refresh: boolean }];
  'register-failed': [RegisterFailure];
  /** REGISTER with Expires: 0 got 200 OK. */
  unregistered: [{ deviceId: string }];
  /** The gateway answered a keepalive with 403/404 (or it went unanswered too often): the device re-registers. */
  'keepalive-rejected': [{ deviceId: string; status: number | null }];
  /** A DeviceControl with PTZCmd reached a device. */
  ptz: [PtzLogEntry];
  /** Any other DeviceControl / DeviceConfig (TeleBoot, RecordCmd, GuardCmd, AlarmCmd…). */
  control: [{ deviceId: string; targetId: string; sn: number; cmdType: string; control: DeviceControlRequest }];
  'catalog-queried': [{ deviceId: string; queriedId: string; sn: number; sumNum: number }];
  /** A Catalog answer finished: every part acknowledged (`complete`) or the gateway stopped answering. */
  'catalog-sent': [{ deviceId: string; sn: number; sumNum: number; parts: number; complete: boolean; error?: string }];
  /** DeviceInfo / DeviceStatus / PresetQuery / RecordInfo answered. */
  queried: [{ deviceId: string; cmdType: string; sn: number }];
  /** A MESSAGE the simulator only answers with 200 (unknown CmdType, the gateway's Alarm Response…). */
  'message-ignored': [{ deviceId: string; root: string; cmdType: string }];
  /** An Alarm Notify was acknowledged with 200 (status) or failed (status null). */
  'alarm-sent': [{ deviceId: string; sourceId: string; sn: number; status: number | null }];
  /** The gateway subscribed to an event package of a device (eventSubscriptions on). */
  subscribed: [{ deviceId: string; event: string; expires: number }];
  /** A MobilePosition NOTIFY went out; status = the gateway's answer. */
  'positions-sent': [{ deviceId: string; count: number; status: number }];
  /** A simulated camera started sending (first keyframe on the wire). `ssrc` as in y=. */
  'media-started': [
    {
      deviceId: string;
      channelId: string;
      callId: string;
      transport: 'udp' | 'tcp-passive' | 'tcp-active';
      profile: 'main' | 'sub';
      ssrc: string;
      personalised: boolean;
    },
  ];
  'media-stopped': [{ deviceId: string; channelId: string; callId: string; reason: MediaStopReason }];
  /** A MANSRTSP INFO reached a playback call: the body as received, decoded (or the decoder's error code). */
  'playback-control': [
    { deviceId: string; channelId: string; callId: string; body: string; contentType: string; request: MansrtspRequest | null; error: string | null },
  ];
  /** The device sent MediaStatus (121: end of the span) in a playback/download dialog; status = the gateway's answer (null: none). */
  'media-status-sent': [{ deviceId: string; channelId: string; callId: string; notifyType: number; status: number | null }];
  /** An INVITE was refused (488 unacceptable offer, 404 not a video channel). */
  'invite-refused': [{ deviceId: string; channelId: string; status: number; reason: string }];
  /** Something worth knowing that is not a protocol event (socket trouble, an undeliverable request). */
  warning: [{ deviceId?: string; message: string }];
}
