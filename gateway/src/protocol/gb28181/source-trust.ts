/**
 * Who may send MESSAGE / NOTIFY / INFO outside a dialog: only a registered device, from the transport
 * source it registered on (issue 8 part 3). SIP over UDP has no authentication of its own after REGISTER,
 * so the transport source is the only thing that ties a later request to the digest-authenticated
 * registration; anything else would let one spoofed datagram raise an alarm on every operator's wall.
 *
 * A device behind a NAT that rebinds (its public UDP port, or address, changes between REGISTER and a later
 * keepalive) is trusted at its new source only when its profile or its config entry says so
 * (`natRebinding`). Otherwise it is told 403, which makes a GB device register again (from its new source).
 * TCP devices are bound to their connection: a request on another connection is a mismatch whatever the
 * policy (GB 2022 §9.1.1 f: a lost connection means the device must register again).
 */
import type { TransportSource } from '../../transport/sip-transport.js';

/** How far a device's source may move after REGISTER: not at all, the UDP port only, or port and address. */
export type NatRebinding = 'off' | 'port' | 'address';

export const NAT_REBINDING_VALUES: readonly NatRebinding[] = ['off', 'port', 'address'];

export type SourceVerdict = 'ok' | 'unregistered' | 'source-mismatch' | 'transport-mismatch';

/**
 * Why a request was refused (label of se_sip_rejected_total): by the source check before any work (403, or
 * 400 `bad-sender`), or — from a trusted sender — for a body that cannot be used (400: `bad-body` not
 * MANSCDP, `bad-sn`, `bad-device-id`).
 */
export type RejectionReason = Exclude<SourceVerdict, 'ok'> | 'bad-sender' | 'bad-body' | 'bad-sn' | 'bad-device-id';

/**
 * Judge a request's transport source against the source the device registered on (`undefined` when the
 * device holds no live registration).
 */
export function judgeSource(registered: TransportSource | undefined, source: TransportSource, rebinding: NatRebinding): SourceVerdict {
  if (!registered) return 'unregistered';
  if (registered.transport !== source.transport) return 'transport-mismatch';
  if (source.transport === 'tcp') {
    return registered.connectionId !== undefined && registered.connectionId === source.connectionId ? 'ok' : 'source-mismatch';
  }
  if (registered.address === source.address) {
    return registered.port === source.port || rebinding !== 'off' ? 'ok' : 'source-mismatch';
  }
  return rebinding === 'address' ? 'ok' : 'source-mismatch';
}
