/**
 * A shortcut for the one message that dominates steady-state traffic: 50,000 devices keepaliving every
 * 60 s are ~830 Keepalive notifies a second, and running each through the general XML parser
 * (fast-xml-parser, a node tree, charset sniffing) cost more CPU than everything else the gateway does
 * for them.
 *
 * The shortcut accepts only the plain shape devices actually send —
 *   [<?xml …?>] <Notify> <CmdType>Keepalive</CmdType> <SN>…</SN> <DeviceID>…</DeviceID> <Status>…</Status> </Notify>
 * — in ASCII, elements without attributes, text without entities, each field once. Anything else (an
 * <Info> list of faulty devices, CDATA, comments, a DOCTYPE, entities, attributes, non-ASCII, other
 * elements nested) returns null and the caller uses the general decoder, so the answer never differs
 * from `readKeepalive(decodeManscdp(bytes))` (the tests check both on the same inputs).
 * Pure: bytes in, object out.
 */
import type { KeepaliveNotify } from './messages.js';

/** Real keepalives are ~150–250 bytes; larger ones take the general path. */
const MAX_FAST_PATH_BYTES = 1024;

/** Pseudo-attributes name="value" only: a malformed declaration is left to the general parser to refuse. */
const DECLARATION = /\s*<\?xml(?:\s+[A-Za-z]+\s*=\s*(?:"[^"<>&]*"|'[^'<>&]*'))*\s*\?>/y;
const ROOT_OPEN = /\s*<Notify>/iy;
const ROOT_CLOSE = /\s*<\/Notify>\s*$/iy;
/**
 * One leaf element: a name, plain text on one line (no markup, no entity, no control character — XML
 * would normalise a CR inside text), the same name closing it.
 */
const LEAF = /\s*<([A-Za-z][A-Za-z0-9]{0,31})>([^<>&\x00-\x1f]{0,128})<\/\1>/y;

function isPrintableAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b > 0x7e || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) return false;
  }
  return true;
}

/** The keepalive in `bytes` when it has the plain shape; null means "use the general decoder". */
export function tryReadPlainKeepalive(bytes: Buffer): KeepaliveNotify | null {
  if (bytes.length > MAX_FAST_PATH_BYTES || !isPrintableAscii(bytes)) return null;
  const text = bytes.toString('latin1');
  let at = 0;
  DECLARATION.lastIndex = 0;
  if (DECLARATION.test(text)) at = DECLARATION.lastIndex;
  ROOT_OPEN.lastIndex = at;
  if (!ROOT_OPEN.test(text)) return null;
  at = ROOT_OPEN.lastIndex;

  const fields = new Map<string, string>();
  for (;;) {
    LEAF.lastIndex = at;
    const leaf = LEAF.exec(text);
    if (!leaf) break;
    const key = leaf[1].toLowerCase();
    if (fields.has(key)) return null; // the general reader takes the first; keep the shortcut unambiguous
    fields.set(key, leaf[2].trim());
    at = LEAF.lastIndex;
  }
  ROOT_CLOSE.lastIndex = at;
  if (!ROOT_CLOSE.test(text)) return null;
  if (fields.get('cmdtype')?.toLowerCase() !== 'keepalive') return null;

  const snText = fields.get('sn') ?? '';
  const sn = /^[0-9]{1,15}$/.test(snText) ? Number(snText) : null;
  // Leave unusual SN spellings ("+5", "5.0", " ") to the general parser's integer rules.
  if (sn === null && snText !== '') return null;
  return {
    deviceId: fields.get('deviceid') ?? '',
    sn: sn ?? 0,
    status: (fields.get('status') ?? '').toUpperCase(),
    faultyDeviceIds: [],
  };
}
