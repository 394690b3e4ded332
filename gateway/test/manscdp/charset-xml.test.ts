import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { decodeBody, encodeBody, normaliseCharset } from '../../src/codecs/manscdp/charset.js';
import {
  childOf,
  decodeXmlEntities,
  el,
  escapeXml,
  flattenNode,
  ManscdpError,
  nodesAt,
  parseXml,
  textAt,
  writeXmlDocument,
} from '../../src/codecs/manscdp/xml.js';

const RARE = '㙟𠀀䶮𪚥';

function expectManscdpError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ManscdpError);
    expect((err as ManscdpError).code).toBe(code);
    return;
  }
  throw new Error(`expected ManscdpError ${code}, nothing was thrown`);
}

describe('decodeBody', () => {
  it('reads real GB2312 bytes with Chinese names as GB18030', () => {
    const xml = '<?xml version="1.0" encoding="GB2312"?>\r\n<Response><Name>南门入口</Name><Address>深圳市南山区</Address></Response>';
    const bytes = iconv.encode(xml, 'gb2312');
    expect(bytes.includes(Buffer.from('南门入口', 'utf8'))).toBe(false); // really GB bytes, not UTF-8
    const decoded = decodeBody(bytes);
    expect(decoded.charset).toBe('GB18030');
    expect(decoded.asciiOnly).toBe(false);
    expect(decoded.text).toBe(xml);
  });

  it('keeps UTF-8 bytes even when the declaration claims GB2312 (devices lie)', () => {
    const xml = '<?xml version="1.0" encoding="GB2312"?><Response><Name>北门出口</Name></Response>';
    const decoded = decodeBody(Buffer.from(xml, 'utf8'));
    expect(decoded.charset).toBe('UTF-8');
    expect(decoded.text).toBe(xml);
  });

  it('reads GB text that happens to be valid UTF-8 (楼 = C2 A5 = "¥") as GB18030', () => {
    for (const name of ['楼', 'NVR-楼A', '楼层']) {
      const xml = `<?xml version="1.0" encoding="GB2312"?><Response><Name>${name}</Name></Response>`;
      const bytes = iconv.encode(xml, 'gb18030');
      const decoded = decodeBody(bytes);
      expect(decoded.charset).toBe('GB18030');
      expect(decoded.text).toBe(xml);
      // and without a declaration (devices that omit it speak GB2312)
      expect(decodeBody(iconv.encode(`<Response><Name>${name}</Name></Response>`, 'gb18030')).text).toContain(name);
    }
  });

  it('reads every GB2312 hanzi correctly as a one-character name, with and without other text', () => {
    const misread: string[] = [];
    for (let lead = 0xb0; lead <= 0xf7; lead++) {
      for (let trail = 0xa1; trail <= 0xfe; trail++) {
        const ch = iconv.decode(Buffer.from([lead, trail]), 'gb2312');
        if (ch === '\uFFFD' || ch.length === 0) continue;
        for (const xml of [`<R><Name>${ch}</Name></R>`, `<?xml version="1.0" encoding="GB2312"?><R><Name>${ch}1号</Name></R>`]) {
          if (decodeBody(iconv.encode(xml, 'gb18030')).text !== xml) misread.push(ch);
        }
      }
    }
    expect(misread).toEqual([]);
  });

  it('keeps 2-byte-only UTF-8 (Latin accents) when the body declares UTF-8', () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Response><Name>Café ¥</Name></Response>';
    expect(decodeBody(Buffer.from(xml, 'utf8'))).toMatchObject({ text: xml, charset: 'UTF-8' });
  });

  it('reports ASCII-only bodies so charset learning can ignore them', () => {
    const decoded = decodeBody(Buffer.from('<Notify><CmdType>Keepalive</CmdType></Notify>'));
    expect(decoded).toEqual({ text: '<Notify><CmdType>Keepalive</CmdType></Notify>', charset: 'UTF-8', asciiOnly: true });
  });

  it('strips a UTF-8 BOM', () => {
    const decoded = decodeBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<Notify/>')]));
    expect(decoded.text).toBe('<Notify/>');
  });

  it('never throws on garbage (invalid sequences become U+FFFD)', () => {
    const decoded = decodeBody(Buffer.from([0x3c, 0x81, 0x30, 0xff, 0x3e]));
    expect(decoded.charset).toBe('GB18030');
    expect(decoded.text).toContain('\uFFFD');
  });
});

describe('encodeBody', () => {
  for (const charset of ['GB2312', 'GB18030', 'UTF-8'] as const) {
    it(`round-trips rare characters (${RARE}) through ${charset} and names the charset in the declaration`, () => {
      const xml = `<?xml version="1.0" encoding="GB2312"?><Response><Name>${RARE} 南门</Name></Response>`;
      const bytes = encodeBody(xml, charset);
      expect(encodeBody(RARE, charset).includes(0x3f)).toBe(false); // no '?' replacement characters
      const back = decodeBody(bytes);
      expect(back.text).toBe(xml.replace('encoding="GB2312"', `encoding="${charset}"`));
      expect(back.charset).toBe(charset === 'UTF-8' ? 'UTF-8' : 'GB18030');
    });
  }

  it('writes GB2312 text with the same bytes a GB2312 encoder produces', () => {
    expect(encodeBody('南门入口', 'GB2312').equals(iconv.encode('南门入口', 'gb2312'))).toBe(true);
  });

  it('leaves text without a declaration alone', () => {
    expect(encodeBody('<a>x</a>', 'UTF-8').toString()).toBe('<a>x</a>');
  });

  it('normalises configured charset names', () => {
    expect(normaliseCharset('gb2312')).toBe('GB2312');
    expect(normaliseCharset('GBK')).toBe('GB2312');
    expect(normaliseCharset('gb-18030')).toBe('GB18030');
    expect(normaliseCharset('utf8')).toBe('UTF-8');
    expect(normaliseCharset('latin1')).toBeNull();
  });
});

describe('parseXml safety', () => {
  it('refuses a DOCTYPE', () => {
    expectManscdpError(() => parseXml('<?xml version="1.0"?><!DOCTYPE Notify><Notify/>'), 'dtd-forbidden');
  });

  it('refuses billion laughs', () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Notify><CmdType>&lol3;</CmdType></Notify>';
    expectManscdpError(() => parseXml(bomb), 'dtd-forbidden');
  });

  it('refuses an external entity (XXE)', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Notify><Name>&xxe;</Name></Notify>';
    expectManscdpError(() => parseXml(xxe), 'dtd-forbidden');
  });

  it('refuses a lower-case or stray <!ENTITY too', () => {
    expectManscdpError(() => parseXml('<Notify><!entity x "y"></Notify>'), 'dtd-forbidden');
  });

  it('refuses a text longer than the limit', () => {
    expectManscdpError(() => parseXml('<Notify><A>123456</A></Notify>', { maxChars: 20 }), 'too-large');
  });

  it('refuses hostile nesting', () => {
    const deep = '<Notify>' + '<a>'.repeat(200) + '</a>'.repeat(200) + '</Notify>';
    expectManscdpError(() => parseXml(deep), 'malformed-xml');
  });

  it('refuses prototype-polluting names instead of obeying them', () => {
    expectManscdpError(() => parseXml('<Notify><__proto__><polluted>1</polluted></__proto__></Notify>'), 'malformed-xml');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('decodes only predefined entities and character references, once', () => {
    const root = parseXml('<N><A>a &amp;lt; b &lt; c &#20013;&#x6587; &nbsp; &constructor; &#0; &#xD800;</A><B k="&quot;v&quot;"/></N>');
    expect(textAt(root, 'A')).toBe('a &lt; b < c 中文 &nbsp; &constructor; &#0; &#xD800;');
    expect(childOf(root, 'b')?.attrs['k']).toBe('"v"');
    expect(decodeXmlEntities('&apos;&gt;')).toBe("'>");
  });

  it('keeps CDATA literally', () => {
    expect(textAt(parseXml('<N><A><![CDATA[&amp; <x>]]></A></N>'), 'A')).toBe('&amp; <x>');
  });
});

describe('parseXml leniency', () => {
  it('matches element names case-insensitively and trims values', () => {
    const root = parseXml('<NOTIFY><cmdType>Keepalive</CMDTYPE><SN>  431 \r\n</SN><Secrecy> 0 </Secrecy></NOTIFY>');
    expect(root.name).toBe('NOTIFY');
    expect(root.key).toBe('notify');
    expect(textAt(root, 'CmdType')).toBe('Keepalive');
    expect(textAt(root, 'sn')).toBe('431');
    expect(textAt(root, 'SECRECY')).toBe('0');
  });

  it('tolerates BOM, standalone="yes", a missing declaration and leading whitespace', () => {
    for (const doc of [
      '\uFEFF<?xml version="1.0" encoding="GB2312" standalone="yes"?>\n<Notify><SN>1</SN></Notify>',
      '  \r\n<Notify><SN>1</SN></Notify>',
      "<?xml version='1.0' encoding='gb2312'?><Notify><SN>1</SN></Notify>",
    ]) {
      expect(textAt(parseXml(doc), 'SN')).toBe('1');
    }
  });

  it('tolerates trailing garbage after the root', () => {
    expect(textAt(parseXml('<Notify><SN>1</SN></Notify>\0\0\0'), 'SN')).toBe('1');
    expect(textAt(parseXml('<Notify><SN>2</SN></Notify>junk</Notify><'), 'SN')).toBe('2');
    expect(textAt(parseXml('<Notify><SN>3</SN></Notify><Other/>'), 'SN')).toBe('3');
  });

  it('refuses things that are not XML at all', () => {
    expectManscdpError(() => parseXml('hello'), 'malformed-xml');
    expectManscdpError(() => parseXml(''), 'malformed-xml');
  });

  it('keeps repeated elements in order and reads across several lists', () => {
    const root = parseXml('<R><L><Item><I>1</I></Item><Item><I>2</I></Item></L><L><Item><I>3</I></Item></L></R>');
    expect(nodesAt(root, 'L/Item/I').map((n) => n.text)).toEqual(['1', '2', '3']);
  });

  it('flattens leaves with dotted paths and indexes repeats', () => {
    const root = parseXml('<R><A>1</A><A>2</A><Info><B>3</B><C><D>4</D></C></Info></R>');
    expect(flattenNode(root)).toEqual({ A: '1', 'A[1]': '2', 'Info.B': '3', 'Info.C.D': '4' });
  });
});

describe('writeXmlDocument', () => {
  it('writes a GB2312 declaration and escaped text that parses back', () => {
    const doc = writeXmlDocument(
      el('Response', [el('Name', `A&B <"x"> '${RARE}'\u0001`), el('DeviceList', [el('Item', [el('N', 1)])], { Num: 1 }), el('Empty', null)]),
      'GB2312',
    );
    expect(doc.startsWith('<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n')).toBe(true);
    expect(doc).toContain('<DeviceList Num="1">');
    expect(doc).toContain('<Empty></Empty>');
    const root = parseXml(doc);
    expect(textAt(root, 'Name')).toBe(`A&B <"x"> '${RARE}'`);
    expect(childOf(root, 'DeviceList')?.attrs['num']).toBe('1');
  });

  it('refuses invalid element names rather than writing broken XML', () => {
    expectManscdpError(() => writeXmlDocument(el('Bad Name', 'x'), 'UTF-8'), 'invalid-value');
    expectManscdpError(() => writeXmlDocument(el('A', 'x', { 'a b': 1 }), 'UTF-8'), 'invalid-value');
  });

  it('escapes all five special characters and drops XML-illegal controls', () => {
    expect(escapeXml(`&<>"'\u0000\u000b\t`)).toBe('&amp;&lt;&gt;&quot;&apos;\t');
  });
});
