/**
 * Building responses from requests (RFC 3261 §8.2.6) and the random identifiers SIP needs.
 * Pure apart from drawing random bytes.
 */
import { randomHex } from './random-pool.js';
import type { SipRequest, SipResponse } from './message.js';
import { formatVia, parseVia, quote, tagOf } from './headers.js';

/** RFC 3261 §21 (plus the few later codes GB peers send). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? REASON_PHRASES[Math.floor(status / 100) * 100] ?? 'Unknown';
}

/** RFC 3261 magic cookie + 64 random bits. */
export function generateBranch(): string {
  return `z9hG4bK${randomHex(8)}`;
}

export function generateTag(): string {
  return randomHex(6);
}

export function generateCallId(host?: string): string {
  return host ? `${randomHex(12)}@${host}` : randomHex(12);
}

export interface ResponseOptions {
  /** Extra headers, appended after the copied ones (canonical lower-case names). */
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** Content-Type of body (ignored without a body). */
  contentType?: string;
  /** To-tag to add when the request's To has none (default: random). */
  toTag?: string;
}

/** Methods whose 2xx establishes a dialog: their responses copy Record-Route (RFC 3261 §12.1.1). */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

/**
 * A response to `req`: copies every Via (in order), From, To (adding a tag when it has none and status > 100),
 * Call-ID and CSeq. Content-Length is written by the serializer.
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
  const headers: Array<[string, string]> = [];
  for (const pair of req.headers) if (pair[0] === 'via') headers.push(['via', pair[1]]);
  for (const name of ['from', 'to', 'call-id', 'cseq']) {
    const found = req.headers.find(([n]) => n === name);
    if (!found) continue;
    let value = found[1];
    if (name === 'to' && status > 100 && tagOf(value) === undefined) value = `${value};tag=${opts.toTag ?? generateTag()}`;
    headers.push([name, value]);
  }
  if (status > 100 && status < 300 && DIALOG_CREATING.has(req.method.toUpperCase())) {
    for (const pair of req.headers) if (pair[0] === 'record-route') headers.push(['record-route', pair[1]]);
  }
  if (opts.headers) for (const [n, v] of opts.headers) headers.push([n.toLowerCase(), v]);
  const body = opts.body ?? Buffer.alloc(0);
  if (body.length > 0 && opts.contentType && !headers.some(([n]) => n === 'content-type')) {
    headers.push(['content-type', opts.contentType]);
  }
  return { kind: 'response', status, reason: reason ?? reasonPhrase(status), version: 'SIP/2.0', headers, body };
}

/** A Warning header value (RFC 3261 §20.43) carrying a human-readable parse failure. */
export function warningValue(agent: string, text: string): string {
  return `399 ${agent} ${quote(text)}`;
}

/**
 * RFC 3261 §18.2.1 + RFC 3581: note where a request really came from in the top Via of its response —
 * `received` when the packet source differs from the Via host (or rport was asked for), and `rport=<port>`
 * when the client asked for it with an empty rport. Unparsable Via values are left alone.
 */
export function stampReceivedOnTopVia(res: SipResponse, address: string, port: number): void {
  const idx = res.headers.findIndex(([n]) => n === 'via');
  if (idx < 0) return;
  let via;
  try {
    via = parseVia(res.headers[idx]![1]);
  } catch {
    return;
  }
  const wantsRport = via.params.has('rport');
  if (!wantsRport && via.host === address) return;
  if (wantsRport) via.params.set('rport', String(port));
  via.params.set('received', address);
  res.headers[idx] = ['via', formatVia(via)];
}
