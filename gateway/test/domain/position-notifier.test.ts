/**
 * MobilePosition subscriptions from upper platforms (domain/cascade/position-notifier.ts): what is sent, to whom,
 * how often, and when a subscription ends. The e2e path (sim upper platform, simulated device) is in
 * gateway/test/e2e/cascade-sim-upper.test.ts.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeManscdp, readMobilePosition, type MobilePosition } from '../../src/codecs/manscdp/messages.js';
import { MobilePositionNotifier } from '../../src/domain/cascade/position-notifier.js';
import type { CascadeResponder } from '../../src/domain/cascade/cascade-responder.js';
import type { PlatformService } from '../../src/domain/cascade/platform-service.js';
import type { SubscriptionDialog } from '../../src/protocol/gb28181/subscriptions.js';

const GW = '44030500002000000001';
const UPPER = '44000000002000000001';
const SHARED = ['44030600001320000001', '44030600001320000002'];
const UNSHARED = '44030600001320000099';

/** `mapping`: the platform's ID mapping (our channel ID -> the upper platform's), as the responder applies it. */
function rig(mapping: Record<string, string> = {}) {
  let now = 1_700_000_000_000;
  const platforms = new Map([[UPPER, { id: UPPER, enabled: true, charset: 'GB2312' }]]);
  const listeners: Array<(id: string) => void> = [];
  const platformService = { record: (id: string) => platforms.get(id), onChange: (l: (id: string) => void) => listeners.push(l) } as unknown as PlatformService;
  const reverse = new Map(Object.entries(mapping).map(([ours, upper]) => [upper, ours]));
  const channelOf = (id: string): string | null => reverse.get(id) ?? (id in mapping ? null : id);
  const responder = {
    localIdOf: () => GW,
    mayQuery: (_p: string, id: string) => {
      const ours = channelOf(id);
      return id === GW || (ours !== null && SHARED.includes(ours));
    },
    sharesChannel: (_p: string, id: string) => SHARED.includes(id),
    channelOf: (_p: string, id: string) => channelOf(id),
    upperIdOf: (_p: string, id: string) => mapping[id] ?? id,
  } as unknown as CascadeResponder;
  const sent: Array<{ state: string; deviceId: string; longitude: number | null }> = [];
  let answer: number = 200;
  const notifier = new MobilePositionNotifier(
    platformService,
    responder,
    {
      notify: async (_dialog, state, body) => {
        if (answer !== 200) throw Object.assign(new Error(`NOTIFY answered ${answer}`), { status: answer });
        const p = readMobilePosition(decodeManscdp(body)).positions[0]!;
        sent.push({ state, deviceId: p.deviceId, longitude: p.longitude });
      },
      nextSn: () => 1,
    },
    pino({ level: 'silent' }),
    {},
    () => now,
  );
  const dialog = (callId: string): SubscriptionDialog => ({ event: 'MobilePosition', callId, localUri: `<sip:${GW}@4403050000>`, localTag: 't', remote: `<sip:${UPPER}@4400000000>;tag=r`, target: `sip:${UPPER}@127.0.0.1`, destination: { transport: 'udp', address: '127.0.0.1', port: 5060 }, cseq: 0 });
  const at = (id: string, longitude: number): MobilePosition => ({ deviceId: id, time: '2026-01-01T08:00:00', longitude, latitude: 22.5, speed: null, direction: null, altitude: null, height: null });
  return {
    notifier, sent, dialog, at,
    advance: (ms: number) => (now += ms),
    answerWith: (status: number) => (answer = status),
    removePlatform: () => {
      platforms.delete(UPPER);
      for (const l of listeners) l(UPPER);
    },
  };
}

describe('MobilePositionNotifier', () => {
  it('with an ID mapping: positions go up under the mapped ID, and a subscription names the channel by it', async () => {
    const MAPPED = '45010200001310000001';
    const r = rig({ [SHARED[1]!]: MAPPED });
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 600, dialog: r.dialog('c1'), intervalSec: 5 });
    r.notifier.subscribed({ platformId: UPPER, targetId: MAPPED, expires: 600, dialog: r.dialog('c2'), intervalSec: 5 });
    r.notifier.subscribed({ platformId: UPPER, targetId: SHARED[1]!, expires: 600, dialog: r.dialog('c3'), intervalSec: 5 });
    r.notifier.reported('dev', [r.at(SHARED[0]!, 113.1), r.at(SHARED[1]!, 114.2)]);
    await r.notifier.flush();
    // Our ID's subscription: both (one mapped); the mapped ID's: its channel; the original ID's: nothing.
    expect(r.sent.map((s) => `${s.deviceId} ${s.longitude}`).sort()).toEqual([`${SHARED[0]} 113.1`, `${MAPPED} 114.2`, `${MAPPED} 114.2`]);
  });

  it('for our ID: new positions of shared channels only, once each, with the seconds left; a channel subscription gets only its channel', async () => {
    const r = rig();
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 600, dialog: r.dialog('c1'), intervalSec: 5 });
    r.notifier.subscribed({ platformId: UPPER, targetId: SHARED[1]!, expires: 600, dialog: r.dialog('c2'), intervalSec: 5 });
    r.notifier.reported('dev', [r.at(SHARED[0]!, 113.1), r.at(UNSHARED, 113.9)]);
    r.notifier.reported(SHARED[1]!, [{ ...r.at('', 114.2) }]); // no DeviceID in the report: the sender's
    r.advance(2_000);
    await r.notifier.flush();
    expect(r.sent.map((s) => `${s.deviceId} ${s.longitude}`).sort()).toEqual([`${SHARED[0]} 113.1`, `${SHARED[1]} 114.2`, `${SHARED[1]} 114.2`]);
    expect(r.sent[0]!.state).toBe('active;expires=598');
    // Nothing new: nothing sent; a newer report of one channel: just that one.
    await r.notifier.flush();
    expect(r.sent).toHaveLength(3);
    r.notifier.reported('dev', [r.at(SHARED[0]!, 113.2)]);
    await r.notifier.flush();
    expect(r.sent.slice(3).map((s) => `${s.deviceId} ${s.longitude}`)).toEqual([`${SHARED[0]} 113.2`]);
    expect(r.notifier.eventsOf(UPPER)).toEqual(['MobilePosition']);
  });

  it('ends at expiry (a refresh in the same dialog extends it), with Expires 0, on 481, and with its platform', async () => {
    const r = rig();
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 60, dialog: r.dialog('c1'), intervalSec: 5 });
    r.advance(50_000);
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 60, dialog: r.dialog('c1'), intervalSec: 5 });
    r.advance(50_000);
    r.notifier.reported('dev', [r.at(SHARED[0]!, 113.1)]);
    await r.notifier.flush();
    expect(r.sent).toHaveLength(1);
    r.advance(11_000);
    r.notifier.reported('dev', [r.at(SHARED[0]!, 113.3)]);
    await r.notifier.flush();
    expect(r.sent).toHaveLength(1);
    expect(r.notifier.size).toBe(0);

    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 600, dialog: r.dialog('c2'), intervalSec: 1 });
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 0, dialog: r.dialog('c2'), intervalSec: 1 });
    expect(r.notifier.size).toBe(0);

    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 600, dialog: r.dialog('c3'), intervalSec: 1 });
    r.answerWith(481);
    await r.notifier.flush();
    expect(r.notifier.size).toBe(0);

    r.answerWith(200);
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 600, dialog: r.dialog('c4'), intervalSec: 1 });
    r.removePlatform();
    expect(r.notifier.size).toBe(0);
    expect(r.notifier.eventsOf(UPPER)).toEqual([]);
    r.notifier.close();
  });

  it('an unanswered NOTIFY is sent again at the next interval', async () => {
    const r = rig();
    r.notifier.subscribed({ platformId: UPPER, targetId: GW, expires: 600, dialog: r.dialog('c1'), intervalSec: 1 });
    r.notifier.reported('dev', [r.at(SHARED[0]!, 113.1)]);
    r.answerWith(408);
    await r.notifier.flush();
    expect(r.sent).toHaveLength(0);
    expect(r.notifier.size).toBe(1);
    r.answerWith(200);
    await r.notifier.flush();
    expect(r.sent.map((s) => s.deviceId)).toEqual([SHARED[0]]);
    r.notifier.close();
  });
});
