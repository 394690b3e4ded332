/** Pure ONVIF/SOAP codecs: address rewriting, lenient discovery answers, durations, faults, tokens. */
import { describe, expect, it } from 'vitest';
import { rewriteToReachedHost } from '../../src/codecs/onvif/address.js';
import { buildProbeMatches, parseProbe, parseProbeMatches, readScopes, buildProbe } from '../../src/codecs/onvif/discovery.js';
import { alarmKindOfTopic, eventIsActive, parseExposure, parseFocusMoveOptions, parseIrisOptions, parsePtzNodes, parsePullMessages, parseProfiles } from '../../src/codecs/onvif/messages.js';
import { SoapError, parseEnvelope, passwordDigest, usernameTokenHeader, verifyUsernameToken } from '../../src/codecs/soap/soap.js';
import { durationSeconds } from '../../src/sim/onvif/onvif-camera.js';

describe('addresses a camera announces', () => {
  it.each([
    ['http://127.0.1.1/onvif/device_service', 'http://10.1.2.3/onvif/device_service'],
    ['http://192.168.1.64:8000/onvif/media', 'http://10.1.2.3:8000/onvif/media'],
    ['rtsp://admin:pw@172.16.0.9:554/Streaming/Channels/101?transportmode=unicast', 'rtsp://admin:pw@10.1.2.3:554/Streaming/Channels/101?transportmode=unicast'],
    ['/onvif/events', 'http://10.1.2.3/onvif/events'],
    ['onvif/snapshot.jpg', 'http://10.1.2.3/onvif/snapshot.jpg'],
    ['http://10.1.2.3:81/onvif/ptz', 'http://10.1.2.3:81/onvif/ptz'],
  ])('%s → %s', (announced, expected) => {
    expect(rewriteToReachedHost(announced, '10.1.2.3')).toBe(expected);
  });
  it('keeps an IPv6 host in brackets', () => {
    expect(rewriteToReachedHost('http://127.0.1.1:8080/x', 'fd00::5')).toBe('http://[fd00::5]:8080/x');
  });
});

describe('WS-Discovery messages', () => {
  it('a Probe round-trips, and answers are read with or without the ProbeMatches wrapper, SOAP 1.1 or 1.2', () => {
    const probe = parseProbe(buildProbe('1234'));
    expect(probe).toEqual({ messageId: '1234', types: 'dn:NetworkVideoTransmitter' });
    const wrapped = buildProbeMatches({ relatesTo: '1234', messageId: 'm', match: { endpoint: 'urn:uuid:x', types: ['dn:NetworkVideoTransmitter'], scopes: ['onvif://www.onvif.org/name/A%20B'], xaddrs: ['http://1.2.3.4/onvif/device_service'], metadataVersion: 3 } });
    expect(parseProbeMatches(wrapped)).toEqual([{ endpoint: 'urn:uuid:x', types: ['dn:NetworkVideoTransmitter'], scopes: ['onvif://www.onvif.org/name/A%20B'], xaddrs: ['http://1.2.3.4/onvif/device_service'], metadataVersion: 3 }]);
    const bare =
      '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Body><d:ProbeMatch><d:XAddrs>http://5.6.7.8/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>' +
      '<d:Scopes>\n onvif://www.onvif.org/hardware/DS-2CD\n onvif://www.onvif.org/location/city/shenzhen </d:Scopes></d:ProbeMatch></e:Body></e:Envelope>';
    const [m] = parseProbeMatches(bare);
    expect(m?.xaddrs).toHaveLength(2);
    expect(readScopes(m!.scopes)).toEqual({ name: '', hardware: 'DS-2CD', location: 'city/shenzhen' });
    expect(parseProbeMatches('not xml at all')).toEqual([]);
    expect(parseProbeMatches('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')).toEqual([]);
    expect(readScopes(['onvif://www.onvif.org/name/%E4%B8%9C%E9%97%A8', 'onvif://www.onvif.org/name/%ZZ'])).toMatchObject({ name: '东门' });
  });
});

describe('SOAP envelopes and WS-Security', () => {
  it('refuses DTDs, non-SOAP documents and bodiless envelopes with a code', () => {
    const code = (text: string): string => {
      try {
        parseEnvelope(text);
        return 'parsed';
      } catch (err) {
        return (err as SoapError).code;
      }
    };
    expect(code('<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>')).toBe('dtd-forbidden');
    expect(code('<html><body>Unauthorized</body></html>')).toBe('not-soap');
    expect(code('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>')).toBe('not-soap');
    expect(code('<s:Envelope')).toBe('malformed-xml');
    expect(code(`<s:Envelope><s:Body>${'<a>'.repeat(100)}</s:Body></s:Envelope>`)).toBe('malformed-xml');
  });

  it('the PasswordDigest is the OASIS example value, and a token is checked for time, replay and password', () => {
    // OASIS Username Token Profile 1.0 style check with a known vector.
    const nonce = Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64');
    expect(passwordDigest(nonce, '2010-09-16T07:50:45Z', 'userpassword')).toBe('tuOSpGlFlIXsozq4HFNeeGeFLEI=');
    const header = parseEnvelope(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>${usernameTokenHeader({ username: 'admin', password: 'pw', nonce: Buffer.alloc(16, 7), created: new Date('2026-12-05T08:00:00.900Z') })}</s:Header><s:Body/></s:Envelope>`).header;
    const seen = new Set<string>();
    const check = (password: string | undefined, now: string): string => {
      const r = verifyUsernameToken(header, () => password, new Date(now), 300, (n) => (seen.has(n) ? true : (seen.add(n), false)));
      return r.ok ? 'ok' : r.reason;
    };
    expect(check('wrong', '2026-12-05T08:01:00Z')).toBe('wrong-password');
    expect(check('pw', '2026-12-05T08:10:00Z')).toBe('stale');
    expect(check(undefined, '2026-12-05T08:01:00Z')).toBe('unknown-user');
    expect(check('pw', '2026-12-05T08:01:00Z')).toBe('ok');
    expect(check('pw', '2026-12-05T08:01:00Z')).toBe('replayed');
  });
});

describe('ONVIF answers', () => {
  it('reads events with topic prefixes, and knows which topics are alarms', () => {
    const env = parseEnvelope(
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tev:PullMessagesResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl">' +
        '<tev:CurrentTime>2026-12-05T08:00:00Z</tev:CurrentTime><tev:TerminationTime>2026-12-05T08:01:00Z</tev:TerminationTime>' +
        '<wsnt:NotificationMessage><wsnt:Topic Dialect="x">tns1:Device/Trigger/DigitalInput</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-12-05T07:59:59Z" PropertyOperation="Changed">' +
        '<tt:Source><tt:SimpleItem Name="InputToken" Value="DI_1"/></tt:Source><tt:Data><tt:SimpleItem Name="LogicalState" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>' +
        '</tev:PullMessagesResponse></s:Body></s:Envelope>',
    );
    const { events } = parsePullMessages(env.message!);
    expect(events).toEqual([{ topic: 'Device/Trigger/DigitalInput', utcTime: new Date('2026-12-05T07:59:59Z'), operation: 'Changed', source: { InputToken: 'DI_1' }, data: { LogicalState: 'true' } }]);
    expect(alarmKindOfTopic(events[0]!.topic)).toBe('digital-input');
    expect(eventIsActive(events[0]!)).toBe(true);
    expect(alarmKindOfTopic('RuleEngine/CellMotionDetector/Motion')).toBe('motion');
    expect(alarmKindOfTopic('VideoSource/SignalLoss')).toBe('video-loss');
    expect(alarmKindOfTopic('VideoSource/GlobalSceneChange/ImagingService')).toBe('tamper');
    expect(alarmKindOfTopic('Monitoring/ProcessorUsage')).toBeNull();
  });

  it('reads a PTZ node\'s continuous velocity ranges, preferring the generic space; a missing zoom space is null', () => {
    const range = (tag: string, min: number, max: number): string => `<tt:${tag}><tt:Min>${min}</tt:Min><tt:Max>${max}</tt:Max></tt:${tag}>`;
    const body =
      `<tptz:GetNodesResponse xmlns:tptz="urn:p" xmlns:tt="urn:t"><tptz:PTZNode token="n1"><tt:SupportedPTZSpaces>` +
      // A vendor space listed first (degrees per second), then the generic one with a narrower range than −1…1.
      `<tt:ContinuousPanTiltVelocitySpace><tt:URI>http://vendor/PanTiltSpaces/DegreesPerSecond</tt:URI>${range('XRange', -120, 120)}${range('YRange', -60, 60)}</tt:ContinuousPanTiltVelocitySpace>` +
      `<tt:ContinuousPanTiltVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace</tt:URI>${range('XRange', -0.5, 0.5)}${range('YRange', -0.25, 0.25)}</tt:ContinuousPanTiltVelocitySpace>` +
      `</tt:SupportedPTZSpaces></tptz:PTZNode>` +
      `<tptz:PTZNode token="n2"><tt:SupportedPTZSpaces><tt:ContinuousZoomVelocitySpace><tt:URI>z</tt:URI>${range('XRange', -2, 2)}</tt:ContinuousZoomVelocitySpace>` +
      `<tt:ContinuousPanTiltVelocitySpace><tt:URI>bad</tt:URI>${range('XRange', 1, -1)}</tt:ContinuousPanTiltVelocitySpace></tt:SupportedPTZSpaces></tptz:PTZNode></tptz:GetNodesResponse>`;
    const env = parseEnvelope(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>${body}</s:Body></s:Envelope>`);
    expect(parsePtzNodes(env.message!)).toEqual([
      { token: 'n1', panTilt: { x: { min: -0.5, max: 0.5 }, y: { min: -0.25, max: 0.25 } }, zoom: null },
      // A range with max ≤ min (or no YRange) is no usable space.
      { token: 'n2', panTilt: null, zoom: { min: -2, max: 2 } },
    ]);
  });

  it('reads the Imaging focus speed range, iris range and exposure; absent parts are null', () => {
    const msg = (xml: string) => parseEnvelope(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:timg="urn:i" xmlns:tt="urn:t"><s:Body>${xml}</s:Body></s:Envelope>`).message!;
    expect(parseFocusMoveOptions(msg('<timg:GetMoveOptionsResponse><timg:MoveOptions><tt:Continuous><tt:Speed><tt:Min>-7</tt:Min><tt:Max>7</tt:Max></tt:Speed></tt:Continuous></timg:MoveOptions></timg:GetMoveOptionsResponse>'))).toEqual({ min: -7, max: 7 });
    expect(parseFocusMoveOptions(msg('<timg:GetMoveOptionsResponse><timg:MoveOptions/></timg:GetMoveOptionsResponse>'))).toBeNull();
    expect(parseIrisOptions(msg('<timg:GetOptionsResponse><timg:ImagingOptions><tt:Exposure><tt:Mode>AUTO</tt:Mode><tt:Iris><tt:Min>-22</tt:Min><tt:Max>0</tt:Max></tt:Iris></tt:Exposure></timg:ImagingOptions></timg:GetOptionsResponse>'))).toEqual({ min: -22, max: 0 });
    expect(parseIrisOptions(msg('<timg:GetOptionsResponse><timg:ImagingOptions><tt:Exposure><tt:Mode>AUTO</tt:Mode></tt:Exposure></timg:ImagingOptions></timg:GetOptionsResponse>'))).toBeNull();
    expect(parseExposure(msg('<timg:GetImagingSettingsResponse><timg:ImagingSettings><tt:Exposure><tt:Mode>auto</tt:Mode><tt:Iris>-3.5</tt:Iris></tt:Exposure></timg:ImagingSettings></timg:GetImagingSettingsResponse>'))).toEqual({ mode: 'AUTO', iris: -3.5 });
    expect(parseExposure(msg('<timg:GetImagingSettingsResponse><timg:ImagingSettings/></timg:GetImagingSettingsResponse>'))).toEqual({ mode: '', iris: null });
  });

  it('reads profiles without encoder or resolution as zero-sized, not as an error', () => {
    const env = parseEnvelope('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><trt:GetProfilesResponse xmlns:trt="x"><trt:Profiles token="p0"><tt:Name xmlns:tt="y">only a name</tt:Name></trt:Profiles></trt:GetProfilesResponse></s:Body></s:Envelope>');
    expect(parseProfiles(env.message!)).toEqual([{ token: 'p0', name: 'only a name', videoSourceToken: '', videoSourceConfigurationToken: '', encoding: '', width: 0, height: 0, ptz: false, ptzNodeToken: '' }]);
  });

  it.each([
    ['PT60S', 60],
    ['PT1M30S', 90],
    ['PT0.5S', 0.5],
    ['P1DT2H', 93600],
    ['nonsense', undefined],
  ])('duration %s is %s s', (text, seconds) => {
    expect(durationSeconds(text)).toBe(seconds);
  });
});
