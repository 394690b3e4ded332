/**
 * SIP event subscriptions as GB/T 28181 uses them (RFC 6665 in its GB shape): SUBSCRIBE with an `Event`
 * header (`Catalog`, `Alarm`, `MobilePosition`) and a MANSCDP Query body, answered 200 with a Response body;
 * NOTIFY in the subscription's dialog with `Subscription-State` and a MANSCDP Notify body.
 *
 * Both roles live in the gateway:
 * - towards upper platforms we are the **notifier**: an upper platform subscribes to our catalog (or alarms)
 *   and we NOTIFY it of changes (domain/cascade/catalog-notifier.ts decides what changed);
 * - towards devices and lower platforms we are the **subscriber** (domain/devices/device-subscriptions.ts: Catalog, Alarm, MobilePosition).
 *
 * This module holds the dialog state both roles share and the rules for reading a SUBSCRIBE; the messages
 * themselves go through the SIP endpoint (gb-signalling.ts).
 */
import type { SipRequest, SipResponse } from '../../codecs/sip/message.js';
import { header } from '../../codecs/sip/message.js';
import { parseNameAddr, tagOf } from '../../codecs/sip/headers.js';
import type { TransportSource } from '../../transport/sip-transport.js';

/** The events GB/T 28181 subscribes to (the Event header's package, the body's CmdType). */
export type GbEventPackage = 'Catalog' | 'Alarm' | 'MobilePosition';
export const GB_EVENT_PACKAGES: readonly GbEventPackage[] = ['Catalog', 'Alarm', 'MobilePosition'];

/** Expiry a subscriber asks for is kept within these bounds (seconds); 0 ends the subscription. */
export const MIN_SUBSCRIPTION_SEC = 60;
export const MAX_SUBSCRIPTION_SEC = 86_400;
const DEFAULT_SUBSCRIPTION_SEC = 3_600;

/**
 * One subscription dialog, from our side. `local*` is us, `remote*` the peer; `cseq` is the last CSeq we sent
 * in it (NOTIFYs as notifier, refreshes as subscriber), incremented per request.
 */
export interface SubscriptionDialog {
  event: GbEventPackage;
  callId: string;
  /** Our URI in this dialog (From of what we send), without tag. */
  localUri: string;
  localTag: string;
  /** The peer's name-addr with its tag (To of what we send). */
  remote: string;
  /** Request-URI of what we send in the dialog: the peer's Contact, else its address-of-record. */
  target: string;
  /** Where the peer is reached: the transport source its SUBSCRIBE came from / our SUBSCRIBE went to. */
  destination: TransportSource;
  cseq: number;
}

/** A SUBSCRIBE from an upper platform, read and judged before it is answered. */
export type SubscribeReading =
  | { ok: true; event: GbEventPackage; expires: number; existing: boolean }
  | { ok: false; status: number; reason: string };

/**
 * Reads the Event and Expires of a SUBSCRIBE. The Event header names the package (`Catalog`, `Catalog;id=5`);
 * some platforms send `presence` or nothing and say what they mean in the body's CmdType, so the body decides
 * when the header is not a GB package. Expires: absent = 3600 s; 0 = unsubscribe; else clamped to 60–86400 s.
 */
export function readSubscribe(req: SipRequest, bodyCmdType: string): SubscribeReading {
  const eventHeader = (header(req, 'event') ?? '').split(';')[0]!.trim();
  const fromHeader = GB_EVENT_PACKAGES.find((p) => p.toLowerCase() === eventHeader.toLowerCase());
  const fromBody = GB_EVENT_PACKAGES.find((p) => p === bodyCmdType);
  const event = fromBody ?? fromHeader;
  if (!event) return { ok: false, status: 489, reason: 'Bad Event' };
  const rawExpires = header(req, 'expires');
  let expires = DEFAULT_SUBSCRIPTION_SEC;
  if (rawExpires !== undefined) {
    const n = Number(rawExpires.trim());
    if (!Number.isInteger(n) || n < 0) return { ok: false, status: 400, reason: 'Bad Expires' };
    expires = n === 0 ? 0 : Math.min(MAX_SUBSCRIPTION_SEC, Math.max(MIN_SUBSCRIPTION_SEC, n));
  }
  return { ok: true, event, expires, existing: tagOf(header(req, 'to')) !== undefined };
}

/** The dialog a SUBSCRIBE we accepted sets up (we are the notifier). */
export function notifierDialog(req: SipRequest, event: GbEventPackage, localTag: string, source: TransportSource): SubscriptionDialog {
  const from = header(req, 'from') ?? '';
  const to = header(req, 'to') ?? '';
  return {
    event,
    callId: header(req, 'call-id') ?? '',
    localUri: uriOf(to),
    localTag,
    remote: from,
    target: contactUri(header(req, 'contact')) ?? uriOf(from),
    destination: source,
    cseq: 0,
  };
}

/** The dialog a SUBSCRIBE of ours set up, from its 2xx answer (we are the subscriber). */
export function subscriberDialog(sent: SipRequest, res: SipResponse, event: GbEventPackage, destination: TransportSource): SubscriptionDialog {
  const from = header(sent, 'from') ?? '';
  return {
    event,
    callId: header(sent, 'call-id') ?? '',
    localUri: uriOf(from),
    localTag: tagOf(from) ?? '',
    remote: header(res, 'to') ?? header(sent, 'to') ?? '',
    target: contactUri(header(res, 'contact')) ?? sent.uri,
    destination,
    cseq: Number.parseInt((header(sent, 'cseq') ?? '1').trim(), 10) || 1,
  };
}

/** `Subscription-State` of a NOTIFY: active with the seconds left, or terminated. */
export function subscriptionState(expiresAt: number, now: number): string {
  const left = Math.max(0, Math.round((expiresAt - now) / 1000));
  return left > 0 ? `active;expires=${left}` : 'terminated;reason=timeout';
}

function uriOf(nameAddr: string): string {
  try {
    return `<${parseNameAddr(nameAddr).uri}>`;
  } catch {
    return nameAddr;
  }
}

function contactUri(contact: string | undefined): string | undefined {
  if (!contact) return undefined;
  try {
    return parseNameAddr(contact).uri;
  } catch {
    return undefined;
  }
}
