/**
 * Character sets of MANSCDP bodies.
 *
 * 2016 devices "should" use GB 2312, 2022 devices "shall" use GB 18030, and in practice nearly every device
 * declares GB2312 whatever it really sends — some send UTF-8 under a GB2312 declaration. So the declared
 * encoding is ignored: bytes that are valid UTF-8 are UTF-8, everything else is GB 18030 (a superset of
 * GB 2312 and GBK, so it also reads true GB 2312 bytes). Chinese text in GB 2312/GBK/GB 18030 is almost never
 * valid UTF-8 (the lead/trail byte patterns differ), which is why the rule works.
 *
 * Pure functions: bytes in, text out.
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

/** Charsets we write; `GB2312` is the name devices expect in the declaration. */
export type ManscdpCharset = 'GB2312' | 'GB18030' | 'UTF-8';

export const MANSCDP_CHARSETS: readonly ManscdpCharset[] = ['GB2312', 'GB18030', 'UTF-8'];

export interface DecodedBody {
  text: string;
  /** What the bytes turned out to be. Pure-ASCII bodies report 'UTF-8' (see `asciiOnly`). */
  charset: 'UTF-8' | 'GB18030';
  /**
   * True when every byte was < 0x80: the body says nothing about the device's charset (ASCII is valid in
   * all three), so callers that learn a device's charset should ignore such bodies (keepalives usually).
   */
  asciiOnly: boolean;
}

function isAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
  return true;
}

/**
 * Decode a MANSCDP body: UTF-8 if valid, else GB 18030. A leading BOM is removed. Never throws.
 *
 * One refinement of "valid UTF-8 wins": GB text can be valid UTF-8 by accident — 楼 is C2 A5 in GB 18030,
 * which UTF-8 reads as ¥; any GB character with a lead byte C2–DF and a trail byte A1–BF does this, so a
 * short Chinese name has a fair chance of passing as UTF-8. Real Chinese UTF-8 uses 3-byte sequences
 * (U+0800 and up). So when the UTF-8 reading has no character ≥ U+0800 (only Latin/Greek/Cyrillic-range
 * letters), the body is ambiguous and the declaration decides: a declared UTF-8 stays UTF-8; otherwise
 * (GB2312/GBK/GB18030 declared, or no declaration) it is read as GB 18030 if that gives clean text.
 */
export function decodeBody(bytes: Buffer): DecodedBody {
  const asciiOnly = isAscii(bytes);
  if (asciiOnly) return { text: stripBom(bytes.toString('utf8')), charset: 'UTF-8', asciiOnly };
  if (isUtf8(bytes)) {
    const utf8 = stripBom(bytes.toString('utf8'));
    if (!ONLY_TWO_BYTE_UTF8.test(utf8) || declaresUtf8(utf8)) return { text: utf8, charset: 'UTF-8', asciiOnly };
    const gb = stripBom(iconv.decode(bytes, 'gb18030'));
    if (!gb.includes('\uFFFD')) return { text: gb, charset: 'GB18030', asciiOnly };
    return { text: utf8, charset: 'UTF-8', asciiOnly };
  }
  // iconv-lite's gb18030 table covers the 4-byte ranges, so CJK Extension A/B characters (㙟, 𠀀, 䶮)
  // survive; invalid sequences become U+FFFD instead of throwing.
  return { text: stripBom(iconv.decode(bytes, 'gb18030')), charset: 'GB18030', asciiOnly: false };
}

/** Non-ASCII present, but every non-ASCII character is below U+0800 (2-byte UTF-8). */
const ONLY_TWO_BYTE_UTF8 = /^(?=[\s\S]*[\u0080-\u07ff])[\u0000-\u07ff]*$/;

function declaresUtf8(text: string): boolean {
  const m = /^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([^"']*)["']/i.exec(text.slice(0, 256));
  return m !== null && /^utf-?8$/i.test(m[1].trim());
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const DECLARATION = /^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2/i;

/**
 * Encode text for the wire. GB2312 is written with the GB 18030 encoder: for every character GB 2312 has,
 * the bytes are identical, and characters GB 2312 lacks (rare name characters such as 㙟) are not replaced
 * by '?'. If the text starts with an XML declaration, its `encoding` is rewritten to the charset used, so
 * the declaration never lies.
 */
export function encodeBody(text: string, charset: ManscdpCharset): Buffer {
  const declared = text.replace(DECLARATION, (_m, head: string, quote: string) => `${head}${quote}${charset}${quote}`);
  if (charset === 'UTF-8') return Buffer.from(declared, 'utf8');
  return iconv.encode(declared, 'gb18030');
}

/** Parse a charset name as configured or declared ('gb2312', 'GBK', 'utf8' …) into one we write. */
export function normaliseCharset(name: string | null | undefined): ManscdpCharset | null {
  const key = (name ?? '').trim().toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (key === 'GB2312' || key === 'GBK' || key === 'CP936') return 'GB2312';
  if (key === 'GB18030') return 'GB18030';
  if (key === 'UTF8') return 'UTF-8';
  return null;
}
