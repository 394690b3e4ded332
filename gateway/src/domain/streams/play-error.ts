/**
 * Why a play request failed, by step, with what to check. "Play timeout" with no explanation is the top
 * complaint of the reference platforms' users (anchors brief): every failure here names the step and a likely
 * cause an operator can act on.
 */
export type PlayStep = 'channel' | 'device' | 'resources' | 'invite' | 'answer' | 'rtp' | 'keyframe' | 'packager' | 'source';

export class PlayError extends Error {
  readonly statusCode: number;
  constructor(
    readonly step: PlayStep,
    message: string,
    readonly hint: string,
    readonly sipStatus?: number,
  ) {
    super(message);
    this.statusCode = step === 'channel' ? 404 : step === 'device' ? 409 : step === 'resources' ? 503 : 502;
  }

  toJSON(): { step: PlayStep; message: string; hint: string; sipStatus?: number } {
    return { step: this.step, message: this.message, hint: this.hint, ...(this.sipStatus ? { sipStatus: this.sipStatus } : {}) };
  }
}

/** Operator hints per SIP refusal code (GB 2022 note 17 and field experience). */
export function inviteRefusalHint(status: number): string {
  if (status === 488) return 'the device rejected our SDP offer: try another transport (udp / tcp-passive / tcp-active) or the other stream type';
  if (status === 486) return 'the device is busy: it has reached its number of simultaneous streams; close other viewers of this camera';
  if (status === 404) return 'the device does not know this channel ID: re-query the catalog and check the channel numbering on the device';
  if (status === 403 || status === 401) return 'the device refused the request: check that it accepts this platform ID and domain';
  if (status >= 500) return 'the device or lower platform failed internally: check its own logs, or its upstream camera';
  return 'check the device configuration for this channel';
}
