/**
 * The GB/T 28181 SSRC rule (2022 Annex G, same text in 2016): the y= value is 10 decimal digits
 *   d1        0 = live, 1 = history (playback/download)
 *   d2–d6     digits 4–8 of the gateway's 20-digit SIP (domain server) ID ("34020000002000000001" → "20000")
 *   d7–d10    a number unique among this domain's streams while they run
 * and the RTP header carries its decimal value (y=0200000001 → SSRC 200000001; the largest, 1999999999, fits
 * in 32 bits). Pure allocator: no timers, the caller releases what it allocated.
 *
 * The 4-digit part is kept unique across live and history together (the standard asks for uniqueness among
 * the domain's streams, not per kind), so one media port shared by SSRC never sees two streams with the same
 * last digits. A rotating counter hands out the next free number, so a just-released SSRC is not reused at
 * once: late packets of a torn-down stream then do not land in its successor.
 */
import { ssrcDomainDigits } from './gb-id.js';

export type SsrcKind = 'live' | 'history';

export const SSRC_SLOTS = 10_000;

export class SsrcExhaustedError extends Error {
  override readonly name = 'SsrcExhaustedError';
  constructor() {
    super(`all ${SSRC_SLOTS} SSRC numbers (y= digits 7-10) are in use; release finished streams first`);
  }
}

export class SsrcAllocator {
  private readonly domainDigits: string;
  private readonly inUse = new Set<number>();
  private next = 1;

  constructor(sipId20: string) {
    this.domainDigits = ssrcDomainDigits(sipId20);
  }

  /** A 10-digit y= value not in use. Throws SsrcExhaustedError when all 10 000 numbers are taken. */
  allocate(kind: SsrcKind): string {
    if (this.inUse.size >= SSRC_SLOTS) throw new SsrcExhaustedError();
    while (this.inUse.has(this.next)) this.next = (this.next + 1) % SSRC_SLOTS;
    const slot = this.next;
    this.inUse.add(slot);
    this.next = (slot + 1) % SSRC_SLOTS;
    return `${kind === 'live' ? '0' : '1'}${this.domainDigits}${String(slot).padStart(4, '0')}`;
  }

  /**
   * Frees an SSRC this allocator handed out. Returns false (and changes nothing) for values it did not
   * allocate: another domain's prefix, malformed text, or a number not in use.
   */
  release(ssrc: string): boolean {
    if (!/^[01]\d{9}$/.test(ssrc) || ssrc.slice(1, 6) !== this.domainDigits) return false;
    return this.inUse.delete(Number(ssrc.slice(6)));
  }

  /** Whether the 10-digit SSRC is currently allocated by this allocator. */
  isInUse(ssrc: string): boolean {
    return /^[01]\d{9}$/.test(ssrc) && ssrc.slice(1, 6) === this.domainDigits && this.inUse.has(Number(ssrc.slice(6)));
  }

  get allocated(): number {
    return this.inUse.size;
  }
}

/**
 * RTP SSRC (the decimal value) of a y= string: '0200000001' → 200000001. Accepts 1–10 digits (devices
 * sometimes drop the leading zero); throws RangeError for anything else or a value above 2^32 − 1.
 */
export function parseSsrc(ssrc: string): number {
  const text = ssrc.trim();
  if (!/^\d{1,10}$/.test(text)) throw new RangeError(`SSRC must be 1-10 decimal digits, got ${JSON.stringify(ssrc)}`);
  const value = Number(text);
  if (value > 0xffffffff) throw new RangeError(`SSRC ${text} does not fit in 32 bits`);
  return value;
}

/** y= text of an RTP SSRC: 200000001 → '0200000001'. */
export function formatSsrc(ssrc: number): string {
  if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) throw new RangeError(`not a 32-bit SSRC: ${ssrc}`);
  return String(ssrc).padStart(10, '0');
}

/** Stream name ZLMediaKit, WVP and gosip derive from the SSRC: 8 upper-case hex digits ("%08X"). */
export function ssrcHexName(ssrc: number): string {
  return (ssrc >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
