/**
 * The keepalive shortcut must never answer differently from the general decoder: every input here goes
 * through both, and the shortcut either agrees exactly or declines (null).
 */
import { describe, expect, it } from 'vitest';
import { decodeManscdp, encodeKeepalive, readKeepalive, type KeepaliveNotify } from '../../src/codecs/manscdp/messages.js';
import { tryReadPlainKeepalive } from '../../src/codecs/manscdp/keepalive-fast-path.js';

function general(bytes: Buffer): KeepaliveNotify | null {
  try {
    const m = decodeManscdp(bytes);
    return m.root === 'Notify' && m.cmdType === 'Keepalive' ? readKeepalive(m) : null;
  } catch {
    return null;
  }
}

const DEVICE = '34020000001320000001';
const plain = (inner: string, decl = '<?xml version="1.0" encoding="GB2312"?>\r\n') => Buffer.from(`${decl}<Notify>\r\n${inner}\r\n</Notify>\r\n`, 'latin1');

describe('keepalive fast path', () => {
  it('reads what our simulator and typical cameras send, exactly like the general decoder', () => {
    const samples = [
      encodeKeepalive(DEVICE, 1),
      encodeKeepalive(DEVICE, 987654, { status: 'OK' }, 'UTF-8'),
      plain(`<CmdType>Keepalive</CmdType><SN>43</SN><DeviceID>${DEVICE}</DeviceID><Status>OK</Status>`),
      plain(`<CmdType>keepalive</CmdType>\n<SN> 7 </SN>\n<DeviceID>${DEVICE}</DeviceID>\n<Status>ok</Status>`, ''),
      plain(`<CmdType>Keepalive</CmdType><DeviceID>${DEVICE}</DeviceID>`, '<?xml version="1.0"?>'),
      Buffer.from(`<NOTIFY><cmdtype>Keepalive</cmdtype><sn>5</sn><deviceid>${DEVICE}</deviceid><status>ERROR</status></NOTIFY>`),
    ];
    for (const bytes of samples) {
      const fast = tryReadPlainKeepalive(bytes);
      expect(fast, bytes.toString('latin1')).not.toBeNull();
      expect(fast).toEqual(general(bytes));
    }
  });

  it('declines anything outside the plain shape, so the general decoder (and its safety checks) decides', () => {
    const declined = [
      encodeKeepalive(DEVICE, 2, { faultyDeviceIds: ['34020000001320000002'] }), // <Info> list
      plain(`<CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID><Status>&amp;OK</Status>`), // entity
      plain(`<CmdType>Keepalive</CmdType><SN>1</SN><DeviceID><![CDATA[${DEVICE}]]></DeviceID>`), // CDATA
      plain(`<!-- c --><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID>`), // comment
      Buffer.from(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID></Notify>`),
      plain(`<CmdType>Keepalive</CmdType><SN>1</SN><SN>2</SN><DeviceID>${DEVICE}</DeviceID>`), // duplicate field
      plain(`<CmdType>Keepalive</CmdType><SN>+1</SN><DeviceID>${DEVICE}</DeviceID>`), // unusual integer spelling
      plain(`<CmdType a="1">Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID>`), // attribute
      plain(`<CmdType>Catalog</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID>`), // another command
      Buffer.from(`<Query><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID></Query>`), // other root
      Buffer.concat([Buffer.from(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>`), Buffer.from('摄像机', 'utf8'), Buffer.from('</DeviceID></Notify>')]),
      plain(`<CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID></Notify><Notify>`), // trailing content
      plain(`<CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE}</DeviceID><Pad>${'x'.repeat(1000)}</Pad>`), // too large
      Buffer.from(''),
      Buffer.from('<Notify>'),
    ];
    for (const bytes of declined) expect(tryReadPlainKeepalive(bytes), bytes.toString('latin1')).toBeNull();
  });

  it('agrees with the general decoder on mutated keepalives (never a different answer)', () => {
    const base = encodeKeepalive(DEVICE, 12345).toString('latin1');
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = '<>/&;!?[]= "\'\r\n\tKkNnSsOo0123456789';
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const chars = [...base];
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * chars.length);
        const op = random();
        if (op < 0.4) chars[at] = alphabet[Math.floor(random() * alphabet.length)];
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, alphabet[Math.floor(random() * alphabet.length)]);
      }
      const bytes = Buffer.from(chars.join(''), 'latin1');
      const fast = tryReadPlainKeepalive(bytes);
      if (fast !== null) {
        accepted++;
        expect(fast, bytes.toString('latin1')).toEqual(general(bytes));
      }
    }
    // Many small edits (whitespace, SN digits, ID digits) keep the plain shape.
    expect(accepted).toBeGreaterThan(100);
  });
});
