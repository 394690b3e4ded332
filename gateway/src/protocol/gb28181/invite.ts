/**
 * INVITE dialogs for live video (GB/T 28181 §9.2, brief §4): INVITE with an SDP offer, ACK for the 2xx, BYE to
 * end, CANCEL when the device does not answer in time. Dialogs are keyed by Call-ID (not by SSRC: Monibuca's
 * pitfall list notes SSRC-keyed dialogs collide), and a BYE from the device ends the matching dialog.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SipRequest, SipResponse } from '../../codecs/sip/message.js';
import { header } from '../../codecs/sip/message.js';
import { parseNameAddr, tagOf } from '../../codecs/sip/headers.js';
import { generateCallId, generateTag } from '../../codecs/sip/builder.js';
import type { ReplyFn, SipEndpoint } from '../sip-endpoint.js';
import { SipTimeoutError } from '../sip-endpoint.js';
import type { TransportSource } from '../../transport/sip-transport.js';

export interface InviteOptions {
  /** Channel (camera) ID: Request-URI and To user. */
  channelId: string;
  destination: TransportSource;
  domain: string;
  sdpOffer: string;
  /** `channelId:ssrc,gatewayId:0` (GB 2022 Annex L). */
  subject: string;
  timeoutMs: number;
}

export interface InviteDialog {
  callId: string;
  channelId: string;
  localTag: string;
  remoteTag: string;
  /** Where in-dialog requests go: the device's Contact URI (routing still uses the transport source). */
  remoteTarget: string;
  toHeader: string;
  fromHeader: string;
  cseq: number;
  destination: TransportSource;
  /** The device's SDP answer; null when it answered 200 without a body (some simulators do). */
  answerSdp: string | null;
}

/** The device refused (4xx–6xx): the code tells the operator what to check (488 SDP, 486 busy, 404 unknown channel). */
export class InviteRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`INVITE refused with ${status} ${reason}`);
  }
}

/** No final answer in time; a CANCEL was sent. */
export class InviteTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly provisional: boolean,
  ) {
    super(provisional ? `device sent a provisional answer but no final answer within ${timeoutMs} ms` : `no answer to INVITE within ${timeoutMs} ms`);
  }
}

export interface InviteDialogEvents {
  /** The device ended the dialog (BYE), e.g. it stopped streaming. */
  'remote-bye': [InviteDialog];
  /** An in-dialog MESSAGE, e.g. MediaStatus 121 at the end of a playback file. */
  'dialog-message': [InviteDialog, SipRequest];
}

export class InviteDialogs extends EventEmitter<InviteDialogEvents> {
  private readonly dialogs = new Map<string, InviteDialog>();

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly logger: Logger,
  ) {
    super();
  }

  get size(): number {
    return this.dialogs.size;
  }

  /** Where the dialog with this Call-ID was set up to (the device's transport source), if it is ours. */
  destinationOf(callId: string | undefined): TransportSource | undefined {
    return callId === undefined ? undefined : this.dialogs.get(callId)?.destination;
  }

  async invite(opts: InviteOptions): Promise<InviteDialog> {
    const callId = generateCallId();
    const localTag = generateTag();
    const cseq = 1;
    const uri = `sip:${opts.channelId}@${opts.destination.address}:${opts.destination.port}`;
    const to = `<sip:${opts.channelId}@${opts.domain}>`;
    let sent: SipRequest | null = null;
    let provisional = false;
    let res: SipResponse;
    try {
      res = await this.endpoint.sendRequest({
        method: 'INVITE',
        uri,
        to,
        fromTag: localTag,
        callId,
        cseq,
        headers: [['subject', opts.subject]],
        body: Buffer.from(opts.sdpOffer),
        contentType: 'application/sdp',
        destination: opts.destination,
        timeoutMs: opts.timeoutMs,
        onProvisional: () => {
          provisional = true;
        },
        onSent: (request) => {
          sent = request;
        },
      });
    } catch (err) {
      if (err instanceof SipTimeoutError && sent) {
        this.cancel(sent, opts.destination);
        throw new InviteTimeoutError(opts.timeoutMs, provisional);
      }
      throw err;
    }
    if (res.status >= 300) throw new InviteRefusedError(res.status, res.reason);

    const toHeader = header(res, 'to') ?? to;
    const contact = header(res, 'contact');
    let remoteTarget = uri;
    if (contact) {
      try {
        remoteTarget = parseNameAddr(contact).uri;
      } catch {
        // A malformed Contact: keep the Request-URI (routing uses the transport source anyway).
      }
    }
    const dialog: InviteDialog = {
      callId,
      channelId: opts.channelId,
      localTag,
      remoteTag: tagOf(toHeader) ?? '',
      remoteTarget,
      toHeader,
      fromHeader: header(sent ?? res, 'from') ?? '',
      cseq,
      destination: opts.destination,
      answerSdp: res.body.length > 0 ? res.body.toString('utf8') : null,
    };
    this.endpoint.sendAck({ uri: remoteTarget, to: toHeader, from: dialog.fromHeader, fromTag: localTag, callId, cseq, destination: opts.destination });
    this.dialogs.set(callId, dialog);
    return dialog;
  }

  /** End a dialog from our side. Resolves even when the device does not answer (it may be gone). */
  async bye(dialog: InviteDialog, timeoutMs = 4000): Promise<void> {
    if (!this.dialogs.delete(dialog.callId)) return;
    dialog.cseq++;
    try {
      await this.endpoint.sendRequest({
        method: 'BYE',
        uri: dialog.remoteTarget,
        to: dialog.toHeader,
        from: dialog.fromHeader,
        fromTag: dialog.localTag,
        callId: dialog.callId,
        cseq: dialog.cseq,
        destination: dialog.destination,
        timeoutMs,
      });
    } catch (err) {
      this.logger.debug({ channelId: dialog.channelId, callId: dialog.callId, err: (err as Error).message }, 'BYE not answered');
    }
  }

  /**
   * An in-dialog INFO (playback control: MANSRTSP, GB 9.8.3.2) with the dialog's Call-ID, tags and the next
   * CSeq. Resolves with the device's final answer; rejects when the dialog is gone or the device is silent.
   */
  async info(dialog: InviteDialog, body: string, contentType: string, timeoutMs = 4000): Promise<{ status: number; reason: string; body: string }> {
    if (!this.dialogs.has(dialog.callId)) throw new Error('the media dialog has ended');
    dialog.cseq++;
    const res = await this.endpoint.sendRequest({
      method: 'INFO',
      uri: dialog.remoteTarget,
      to: dialog.toHeader,
      from: dialog.fromHeader,
      fromTag: dialog.localTag,
      callId: dialog.callId,
      cseq: dialog.cseq,
      body: Buffer.from(body),
      contentType,
      destination: dialog.destination,
      timeoutMs,
    });
    return { status: res.status, reason: res.reason, body: res.body.toString('utf8') };
  }

  /**
   * In-dialog requests from the device. Returns true when the request belonged to one of our dialogs and was
   * answered here.
   */
  handleInDialog(req: SipRequest, reply: ReplyFn): boolean {
    const callId = header(req, 'call-id');
    const dialog = callId ? this.dialogs.get(callId) : undefined;
    if (!dialog) return false;
    if (req.method === 'BYE') {
      this.dialogs.delete(dialog.callId);
      reply(200, 'OK');
      this.logger.info({ channelId: dialog.channelId, callId: dialog.callId }, 'device ended the media dialog (BYE)');
      this.emit('remote-bye', dialog);
      return true;
    }
    reply(200, 'OK');
    if (req.method === 'MESSAGE') this.emit('dialog-message', dialog, req);
    return true;
  }

  /** CANCEL a pending INVITE: same Request-URI, Call-ID, From, To, branch and CSeq number (RFC 3261 §9.1). */
  private cancel(invite: SipRequest, destination: TransportSource): void {
    const via = header(invite, 'via') ?? '';
    const branch = /branch=([^;,\s]+)/i.exec(via)?.[1];
    const cseq = Number.parseInt(header(invite, 'cseq') ?? '1', 10);
    void this.endpoint
      .sendRequest({
        method: 'CANCEL',
        uri: invite.uri,
        to: header(invite, 'to') ?? '',
        from: header(invite, 'from'),
        callId: header(invite, 'call-id'),
        cseq,
        destination,
        timeoutMs: 4000,
        ...(branch ? { branch } : {}),
      })
      .catch(() => undefined);
  }

  /** BYE every dialog (shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.dialogs.values()].map((d) => this.bye(d, 1000)));
  }
}
