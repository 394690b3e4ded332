/**
 * The one error type the SIP codec throws. Everything the parser, framer and header helpers reject
 * surfaces as a SipParseError with a machine-readable `reason`, so callers (transport, metrics, tests)
 * can switch on it and the fuzz test can assert "message or SipParseError, nothing else".
 */

export type SipParseErrorReason =
  | 'truncated' // no end of the header section / cut-off message
  | 'bad-start-line' // request or status line does not parse
  | 'bad-header' // a header line or a header value that must be structured does not parse
  | 'content-length-mismatch' // Content-Length announces more bytes than the message carries
  | 'too-large' // over the configured size limit
  | 'missing-header' // one of Via, From, To, Call-ID, CSeq is absent
  | 'binary'; // control bytes in the header section: not a SIP message at all

export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  constructor(
    readonly reason: SipParseErrorReason,
    detail?: string,
    /** For 'missing-header' / 'bad-header': the canonical name of the header concerned. */
    readonly header?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
  }
}
