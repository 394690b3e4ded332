/**
 * Safe, lenient XML for MANSCDP bodies: a parser that turns a document into a small typed element tree,
 * helpers to read it case-insensitively, and a writer.
 *
 * Parsing uses fast-xml-parser (ordered mode, so repeated elements and their order survive). Around it we add
 * what MANSCDP needs and the library does not decide for us:
 *  - any DTD construct (`<!DOCTYPE`, `<!ENTITY`, …) is refused before parsing, so XXE and entity-expansion
 *    bombs never reach a parser;
 *  - entity references are decoded by us in one pass: the five predefined entities and numeric character
 *    references only (the library's own entity handling would also expand DOCTYPE entities);
 *  - element names are matched case-insensitively (devices send `cmdType`, `CMDTYPE`) and values are trimmed
 *    (`<Secrecy> 0 </Secrecy>`);
 *  - a BOM, a missing declaration, `standalone="yes"` and trailing garbage after the root are tolerated.
 */
import { XMLParser } from 'fast-xml-parser';
import type { ManscdpCharset } from './charset.js';

export type ManscdpErrorCode = 'dtd-forbidden' | 'too-large' | 'malformed-xml' | 'not-manscdp' | 'invalid-value';

/** Every refusal of the MANSCDP codecs; `code` is stable for metrics and tests. */
export class ManscdpError extends Error {
  override readonly name = 'ManscdpError';
  constructor(
    readonly code: ManscdpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One element of a parsed document. */
export interface ManscdpNode {
  /** Element name as sent (e.g. `CmdType` or `cmdType`). */
  readonly name: string;
  /** Lower-cased name: compare against this. */
  readonly key: string;
  /** Attributes with lower-cased names, values decoded and trimmed. */
  readonly attrs: Readonly<Record<string, string>>;
  /** The element's own text (all text and CDATA parts joined), trimmed; '' when it only has children. */
  readonly text: string;
  readonly children: readonly ManscdpNode[];
}

export const DEFAULT_MAX_XML_BYTES = 2 * 1024 * 1024;

/** MANSCDP documents are ~5 levels deep; a hard cap keeps hostile nesting cheap. */
const MAX_NESTING = 32;

// fast-xml-parser's ordered output: a list of single-key objects ({tag: children} or {'#text': value}),
// with attributes under ':@'. Typed here so the conversion below stays checked.
type OrderedEntry = { [tagOrText: string]: OrderedEntry[] | string | Record<string, string> | undefined };

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
  maxNestedTags: MAX_NESTING,
});

const PREDEFINED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decode the five predefined entities and numeric character references in one pass, so `&amp;lt;` stays
 * `&lt;`. Anything else that looks like a reference (`&nbsp;`, `&foo;`) is left as written.
 */
export function decodeXmlEntities(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref[0] !== '#') return Object.hasOwn(PREDEFINED_ENTITIES, ref) ? PREDEFINED_ENTITIES[ref] : whole;
    const codePoint = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (!isXmlChar(codePoint)) return whole;
    return String.fromCodePoint(codePoint);
  });
}

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** `<!` starting anything but a comment or CDATA is a DTD construct: DOCTYPE, ENTITY, ELEMENT, ATTLIST. */
const DTD_CONSTRUCT = /<!(?!--|\[CDATA\[)/;

export interface ParseXmlOptions {
  /** Maximum text length in UTF-16 code units (the byte limit is applied by `decodeManscdp`). */
  maxChars?: number;
}

/** Parse an XML document (already decoded to text) and return its root element. */
export function parseXml(text: string, opts: ParseXmlOptions = {}): ManscdpNode {
  const maxChars = opts.maxChars ?? DEFAULT_MAX_XML_BYTES;
  if (text.length > maxChars) {
    throw new ManscdpError('too-large', `XML body of ${text.length} characters exceeds the limit of ${maxChars}`);
  }
  if (DTD_CONSTRUCT.test(text)) {
    throw new ManscdpError('dtd-forbidden', 'XML body contains a DTD construct (<!DOCTYPE/<!ENTITY); refused');
  }
  let source = text.replace(/^\uFEFF/, '').trimStart();
  let entries: OrderedEntry[];
  try {
    entries = parser.parse(source) as OrderedEntry[];
  } catch (first) {
    // Lenient retry: cut anything after the root's closing tag (some devices append NULs or junk).
    const cut = cutAfterRoot(source);
    if (cut === null || cut === source) throw malformed(first);
    source = cut;
    try {
      entries = parser.parse(source) as OrderedEntry[];
    } catch (second) {
      throw malformed(second);
    }
  }
  for (const entry of entries) {
    const node = toNode(entry);
    if (node) return node;
  }
  throw new ManscdpError('malformed-xml', 'XML body has no root element');
}

function malformed(cause: unknown): ManscdpError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ManscdpError('malformed-xml', `XML body is not well-formed: ${detail}`);
}

function cutAfterRoot(source: string): string | null {
  const open = /<([A-Za-z_][\w.:-]*)/.exec(source.replace(/<\?[\s\S]*?\?>/g, (m) => ' '.repeat(m.length)));
  if (!open) return null;
  const closeTag = `</${open[1].toLowerCase()}`;
  const end = source.toLowerCase().lastIndexOf(closeTag);
  if (end < 0) return null;
  const gt = source.indexOf('>', end);
  return gt < 0 ? null : source.slice(0, gt + 1);
}

function toNode(entry: OrderedEntry): ManscdpNode | null {
  let name: string | null = null;
  for (const k of Object.keys(entry)) {
    if (k !== ':@' && k !== '#text' && k !== '#cdata') {
      name = k;
      break;
    }
  }
  if (name === null) return null;
  const content = entry[name];
  const rawAttrs = entry[':@'];
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  if (rawAttrs && typeof rawAttrs === 'object' && !Array.isArray(rawAttrs)) {
    for (const [k, v] of Object.entries(rawAttrs)) {
      if (typeof v === 'string') attrs[k.toLowerCase()] = decodeXmlEntities(v).trim();
    }
  }
  const children: ManscdpNode[] = [];
  let text = '';
  if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part['#text'] === 'string') {
        text += decodeXmlEntities(part['#text']);
      } else if (Array.isArray(part['#cdata'])) {
        // CDATA is literal: no entity decoding.
        for (const c of part['#cdata']) if (typeof c['#text'] === 'string') text += c['#text'];
      } else {
        const child = toNode(part);
        if (child) children.push(child);
      }
    }
  }
  return { name, key: name.toLowerCase(), attrs, text: text.trim(), children };
}

// ---------------------------------------------------------------------------------------------------------
// Reading helpers (all case-insensitive). Paths use '/' between element names: 'Info/AlarmType'.

/** First child with this name, or undefined. */
export function childOf(node: ManscdpNode | undefined, name: string): ManscdpNode | undefined {
  if (!node) return undefined;
  const key = name.toLowerCase();
  return node.children.find((c) => c.key === key);
}

/** All children with this name, in document order. */
export function childrenOf(node: ManscdpNode | undefined, name: string): ManscdpNode[] {
  if (!node) return [];
  const key = name.toLowerCase();
  return node.children.filter((c) => c.key === key);
}

/** First element at the path below `node` (following first matches), or undefined. */
export function nodeAt(node: ManscdpNode | undefined, path: string): ManscdpNode | undefined {
  let current = node;
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    current = childOf(current, segment);
    if (!current) return undefined;
  }
  return current;
}

/** Every element at the path, across all branches: nodesAt(root, 'DeviceList/Item') spans several lists. */
export function nodesAt(node: ManscdpNode | undefined, path: string): ManscdpNode[] {
  let level: ManscdpNode[] = node ? [node] : [];
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    level = level.flatMap((n) => childrenOf(n, segment));
  }
  return level;
}

/** Trimmed text at the path, or undefined when the element is absent. */
export function textAt(node: ManscdpNode | undefined, path: string): string | undefined {
  return nodeAt(node, path)?.text;
}

/**
 * Flatten the subtree below `node` to 'Parent.Child' → text for every leaf element (no children).
 * A repeated name gets an index suffix from its second occurrence: 'Info.DeviceID', 'Info.DeviceID[1]'.
 * `canonical` maps a lower-cased name to the spelling to use in keys (default: as sent).
 */
export function flattenNode(
  node: ManscdpNode,
  canonical: (lowerName: string) => string | undefined = () => undefined,
  skip: (lowerPath: string) => boolean = () => false,
): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (n: ManscdpNode, prefix: string, lowerPrefix: string): void => {
    const seen = new Map<string, number>();
    for (const c of n.children) {
      const lowerPath = lowerPrefix ? `${lowerPrefix}.${c.key}` : c.key;
      const nth = seen.get(c.key) ?? 0;
      seen.set(c.key, nth + 1);
      const spelled = canonical(c.key) ?? c.name;
      const path = (prefix ? `${prefix}.${spelled}` : spelled) + (nth > 0 ? `[${nth}]` : '');
      if (c.children.length > 0) walk(c, path, lowerPath);
      else if (!(nth === 0 && skip(lowerPath))) out[path] = c.text;
    }
  };
  walk(node, '', '');
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Writer. Hand-written because it is a few lines: fast-xml-parser's builder wants its own object shapes and
// does not strip characters that are illegal in XML 1.0, which device names occasionally contain.

/** An element to write. `text` and `children` are exclusive in MANSCDP (no mixed content). */
export interface XmlElementSpec {
  name: string;
  attrs?: Readonly<Record<string, string | number>>;
  text?: string | number | null;
  children?: readonly XmlElementSpec[];
}

/** Shorthand: el('SN', 17), el('DeviceList', [items], {Num: 2}). */
export function el(
  name: string,
  content?: string | number | null | readonly XmlElementSpec[],
  attrs?: Readonly<Record<string, string | number>>,
): XmlElementSpec {
  if (Array.isArray(content)) return { name, attrs, children: content as readonly XmlElementSpec[] };
  return { name, attrs, text: content as string | number | null | undefined };
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// Characters not allowed in XML 1.0 documents (C0 controls except tab/LF/CR, lone surrogates, U+FFFE/FFFF).
const ILLEGAL_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escape text content / attribute values; characters XML cannot carry are dropped. */
export function escapeXml(value: string): string {
  return value
    .replace(ILLEGAL_XML_CHARS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function writeElement(spec: XmlElementSpec, out: string[]): void {
  if (!XML_NAME.test(spec.name)) throw new ManscdpError('invalid-value', `invalid XML element name: ${JSON.stringify(spec.name)}`);
  let open = `<${spec.name}`;
  for (const [k, v] of Object.entries(spec.attrs ?? {})) {
    if (!XML_NAME.test(k)) throw new ManscdpError('invalid-value', `invalid XML attribute name: ${JSON.stringify(k)}`);
    open += ` ${k}="${escapeXml(String(v))}"`;
  }
  if (spec.children && spec.children.length > 0) {
    out.push(`${open}>`);
    for (const child of spec.children) writeElement(child, out);
    out.push(`</${spec.name}>`);
  } else {
    const text = spec.text === null || spec.text === undefined ? '' : escapeXml(String(spec.text));
    out.push(`${open}>${text}</${spec.name}>`);
  }
}

/**
 * Write a document with a declaration naming `charset`; one element per line with CRLF (what WVP and
 * devices emit, and friendly to line-oriented parsers in old firmware).
 */
export function writeXmlDocument(root: XmlElementSpec, charset: ManscdpCharset): string {
  const lines = [`<?xml version="1.0" encoding="${charset}"?>`];
  writeElement(root, lines);
  return lines.join('\r\n') + '\r\n';
}
