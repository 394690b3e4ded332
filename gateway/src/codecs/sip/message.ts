/**
 * SIP message object model. Pure data: the parser produces it, the serializer consumes it.
 *
 * Headers are kept as an ordered list of [canonicalName, value] pairs, one pair per header value
 * (a comma-joined Via line becomes several pairs). Canonical names are lower-case long forms
 * ("v" -> "via", "Call-ID"/"i" -> "call-id"), so lookups never depend on the peer's spelling.
 */

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** First value of a header (canonical lower-case name), or undefined. */
export function header(msg: SipMessage, name: string): string | undefined {
  for (const [n, v] of msg.headers) if (n === name) return v;
  return undefined;
}

/** All values of a header, in order. */
export function headers(msg: SipMessage, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of msg.headers) if (n === name) out.push(v);
  return out;
}

/** Replace all values of a header with one value (appends when absent). */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const idx = msg.headers.findIndex(([n]) => n === name);
  msg.headers = msg.headers.filter(([n]) => n !== name);
  if (idx < 0) msg.headers.push([name, value]);
  else msg.headers.splice(Math.min(idx, msg.headers.length), 0, [name, value]);
}
