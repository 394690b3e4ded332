import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import {
  type CatalogItem,
  classifyCatalogItem,
  decodeManscdp,
  encodeAlarmNotify,
  encodeCatalogNotify,
  encodeCatalogResponse,
  encodeControl,
  encodeDeviceInfoResponse,
  encodeDeviceStatusResponse,
  encodeKeepalive,
  encodeMobilePositionNotify,
  encodePtzControl,
  encodeQuery,
  encodeResponse,
  isCmdType,
  MANSCDP_CONTENT_TYPE,
  readAlarmNotify,
  readCatalogResponse,
  readDeviceControl,
  readDeviceInfo,
  readDeviceStatus,
  readKeepalive,
  readMobilePosition,
  readPresetList,
  readRecordInfoResponse,
  readResult,
} from '../../src/codecs/manscdp/messages.js';
import { el, ManscdpError, textAt } from '../../src/codecs/manscdp/xml.js';
import { decodeBody } from '../../src/codecs/manscdp/charset.js';

/** Bytes as a GB2312 device sends them. */
const gb = (xml: string): Buffer => iconv.encode(xml, 'gb18030');

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

const emptyItem = (over: Partial<CatalogItem>): CatalogItem => ({
  deviceId: '',
  name: '',
  manufacturer: '',
  model: '',
  owner: '',
  civilCode: '',
  block: '',
  address: '',
  parental: null,
  parentIds: [],
  safetyWay: null,
  registerWay: null,
  secrecy: null,
  ipAddress: '',
  port: null,
  status: null,
  longitude: null,
  latitude: null,
  businessGroupId: '',
  ptzType: null,
  event: null,
  extra: {},
  ...over,
});

// ---------------------------------------------------------------------------------------------------------
// Brief examples (§3.2–§3.7), as GB2312 bytes

const KEEPALIVE = `<?xml version="1.0" encoding="GB2312"?>
<Notify>
  <CmdType>Keepalive</CmdType>
  <SN>431</SN>
  <DeviceID>44030500001320000017</DeviceID>
  <Status>OK</Status>
  <!-- optional, 2016+2022: list of faulty sub-devices -->
  <Info><DeviceID>44030500001310000003</DeviceID></Info>
</Notify>`;

const CATALOG_QUERY = `<?xml version="1.0" encoding="GB2312"?>
<Query><CmdType>Catalog</CmdType><SN>702331</SN><DeviceID>44030500001180000002</DeviceID></Query>`;

const CATALOG_RESPONSE = `<?xml version="1.0" encoding="GB2312"?>
<Response>
  <CmdType>Catalog</CmdType>
  <SN>702331</SN>
  <DeviceID>44030500001180000002</DeviceID>   <!-- same as the query's DeviceID -->
  <SumNum>16</SumNum>                          <!-- total items across all parts -->
  <DeviceList Num="1">                         <!-- items in THIS message -->
    <Item>
      <DeviceID>44030500001320000005</DeviceID>
      <Name>南门入口</Name>
      <Manufacturer>Example</Manufacturer>
      <Model>EX-IPC-200</Model>
      <Owner>0</Owner>                 <!-- 2016 field, still sent by devices -->
      <CivilCode>440305</CivilCode>
      <Address>south gate</Address>
      <Parental>0</Parental>
      <ParentID>44030500001180000002</ParentID>
      <SafetyWay>0</SafetyWay>         <!-- 2016 only -->
      <RegisterWay>1</RegisterWay>
      <Secrecy>0</Secrecy>
      <IPAddress>10.1.2.45</IPAddress>
      <Port>80</Port>
      <Status>ON</Status>
      <Longitude>113.9301</Longitude>
      <Latitude>22.5332</Latitude>
      <Info><PTZType>1</PTZType><DownloadSpeed>1/2/4/8</DownloadSpeed></Info>
    </Item>
  </DeviceList>
</Response>`;

const DEVICE_INFO = `<Response><CmdType>DeviceInfo</CmdType><SN>10021</SN><DeviceID>44030500001180000002</DeviceID>
  <DeviceName>NVR-Block-A</DeviceName><Result>OK</Result><Manufacturer>Example</Manufacturer>
  <Model>EX-NVR-16</Model><Firmware>V5.2.1</Firmware><Channel>16</Channel></Response>`;

const DEVICE_STATUS = `<Response><CmdType>DeviceStatus</CmdType><SN>10022</SN><DeviceID>44030500001180000002</DeviceID>
  <Result>OK</Result><Online>ONLINE</Online><Status>OK</Status><Encode>ON</Encode><Record>OFF</Record>
  <DeviceTime>2026-03-01T09:20:00</DeviceTime>
  <Alarmstatus Num="1"><Item><DeviceID>44030500001340000001</DeviceID><DutyStatus>ONDUTY</DutyStatus></Item></Alarmstatus>
</Response>`;

const ALARM = `<Notify><CmdType>Alarm</CmdType><SN>9</SN><DeviceID>44030500001320000005</DeviceID>
  <AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod>
  <AlarmTime>2026-03-01T09:31:02</AlarmTime><AlarmDescription>motion</AlarmDescription>
  <Longitude>113.93</Longitude><Latitude>22.53</Latitude>
  <Info><AlarmType>2</AlarmType><AlarmTypeParam><EventType>1</EventType></AlarmTypeParam></Info>
</Notify>`;

const MOBILE_2016 = `<Notify><CmdType>MobilePosition</CmdType><SN>5</SN><DeviceID>44030500001380000001</DeviceID>
  <Time>2026-03-01T09:40:00</Time><Longitude>113.9</Longitude><Latitude>22.5</Latitude><Speed>36.5</Speed>
  <Direction>270</Direction><Altitude>12</Altitude></Notify>`;

const MOBILE_2022 = `<Notify><CmdType>MobilePosition</CmdType><SN>6</SN><DeviceID>44030500001380000001</DeviceID>
  <Time>2026-03-01T09:40:05</Time><SumNum>2</SumNum><DeviceList Num="2">
  <Item><DeviceID>44030500001380000001</DeviceID><CaptureTime>2026-03-01T09:40:04</CaptureTime>
    <Longitude>113.91</Longitude><Latitude>22.51</Latitude><Speed>40</Speed><Direction>90</Direction>
    <Altitude>10</Altitude><Height>2.5</Height></Item>
  <Item><DeviceID>44030500001380000002</DeviceID>
    <Longitude>0</Longitude><Latitude>0</Latitude></Item>
  </DeviceList></Notify>`;

const RECORD_INFO = `<Response><CmdType>RecordInfo</CmdType><SN>55001</SN><DeviceID>44030500001320000005</DeviceID>
  <Name>南门入口</Name><SumNum>37</SumNum>
  <RecordList Num="2">
    <Item><DeviceID>44030500001320000005</DeviceID><Name>南门入口</Name>
      <StartTime>2026-03-01T00:00:00</StartTime><EndTime>2026-03-01T00:30:00</EndTime>
      <Secrecy>0</Secrecy><Type>time</Type><FileSize>318767104</FileSize><StreamNumber>0</StreamNumber></Item>
    <Item><DeviceID>44030500001320000005</DeviceID><StartTime>2026-03-01T00:30:00</StartTime><EndTime>2026-03-01T01:00:00</EndTime></Item>
  </RecordList></Response>`;

describe('decodeManscdp envelope', () => {
  it('decodes the Catalog query example', () => {
    const m = decodeManscdp(gb(CATALOG_QUERY));
    expect(m).toMatchObject({ root: 'Query', cmdType: 'Catalog', sn: 702331, deviceId: '44030500001180000002', asciiOnly: true });
  });

  it('canonicalises known CmdTypes and root names whatever their case', () => {
    const m = decodeManscdp(Buffer.from('<NOTIFY><cmdtype> KEEPALIVE </cmdtype><sn> 7 </sn><deviceID>1</deviceID></NOTIFY>'));
    expect(m.root).toBe('Notify');
    expect(m.cmdType).toBe('Keepalive');
    expect(m.sn).toBe(7);
    expect(isCmdType(m, 'keepalive')).toBe(true);
  });

  it('keeps unknown CmdTypes as sent (they must not be refused)', () => {
    expect(decodeManscdp(Buffer.from('<Notify><CmdType>DataTransfer</CmdType><SN>1</SN></Notify>')).cmdType).toBe('DataTransfer');
  });

  it('reports SN 0 when absent or not an integer, and an empty DeviceID when absent', () => {
    const m = decodeManscdp(Buffer.from('<Response><CmdType>Catalog</CmdType><SN>abc</SN></Response>'));
    expect(m.sn).toBe(0);
    expect(m.deviceId).toBe('');
  });

  it('refuses other roots, a missing CmdType, DTDs and oversized bodies', () => {
    expectManscdpError(() => decodeManscdp(Buffer.from('<html><CmdType>x</CmdType></html>')), 'not-manscdp');
    expectManscdpError(() => decodeManscdp(Buffer.from('<Notify><SN>1</SN></Notify>')), 'not-manscdp');
    expectManscdpError(() => decodeManscdp(Buffer.from('<!DOCTYPE x><Notify><CmdType>Alarm</CmdType></Notify>')), 'dtd-forbidden');
    const big = Buffer.from(`<Notify><CmdType>Keepalive</CmdType><Pad>${'x'.repeat(2 * 1024 * 1024)}</Pad></Notify>`);
    expectManscdpError(() => decodeManscdp(big), 'too-large');
    const small = Buffer.from('<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>1</DeviceID></Notify>');
    expectManscdpError(() => decodeManscdp(small, { maxBytes: 20 }), 'too-large');
    expect(decodeManscdp(small, { maxBytes: 200 }).cmdType).toBe('Keepalive');
  });

  it('reports the detected charset of GB bodies', () => {
    const m = decodeManscdp(gb(CATALOG_RESPONSE));
    expect(m.charset).toBe('GB18030');
    expect(m.asciiOnly).toBe(false);
    expect(MANSCDP_CONTENT_TYPE).toBe('Application/MANSCDP+xml');
  });
});

describe('readKeepalive', () => {
  it('decodes the brief example with a faulty sub-device', () => {
    expect(readKeepalive(decodeManscdp(gb(KEEPALIVE)))).toEqual({
      deviceId: '44030500001320000017',
      sn: 431,
      status: 'OK',
      faultyDeviceIds: ['44030500001310000003'],
    });
  });

  it('collects several faulty devices and upper-cases the status', () => {
    const m = decodeManscdp(
      Buffer.from('<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>A</DeviceID><Status>error</Status><Info><DeviceID>B</DeviceID><DeviceID>C</DeviceID></Info></Notify>'),
    );
    expect(readKeepalive(m)).toEqual({ deviceId: 'A', sn: 1, status: 'ERROR', faultyDeviceIds: ['B', 'C'] });
  });
});

describe('readCatalogResponse', () => {
  it('decodes the brief example (GB2312 bytes) with every field', () => {
    const r = readCatalogResponse(decodeManscdp(gb(CATALOG_RESPONSE)));
    expect(r.deviceId).toBe('44030500001180000002');
    expect(r.sn).toBe(702331);
    expect(r.sumNum).toBe(16);
    expect(r.listNum).toBe(1);
    expect(r.items).toEqual([
      emptyItem({
        deviceId: '44030500001320000005',
        name: '南门入口',
        manufacturer: 'Example',
        model: 'EX-IPC-200',
        owner: '0',
        civilCode: '440305',
        address: 'south gate',
        parental: 0,
        parentIds: ['44030500001180000002'],
        safetyWay: 0,
        registerWay: 1,
        secrecy: 0,
        ipAddress: '10.1.2.45',
        port: 80,
        status: 'ON',
        longitude: 113.9301,
        latitude: 22.5332,
        ptzType: 1,
        extra: { 'Info.DownloadSpeed': '1/2/4/8' },
      }),
    ]);
  });

  it('keeps every 2022 item field, Info/* included, and 2016-only fields', () => {
    const info2022 = {
      PTZType: '3',
      PhotoelectricImagingType: '1/2',
      CapturePositionType: '1',
      RoomType: '1',
      SupplyLightType: '2',
      DirectionType: '5',
      Resolution: '6/5',
      StreamNumberList: '0/1/2',
      DownloadSpeed: '1/2/4',
      SVCSpaceSupportMode: '0',
      SVCTimeSupportMode: '0',
      SSVCRatioSupportList: '4:3/2:1',
      MobileDeviceType: '1',
      HorizontalFieldAngle: '90.5',
      VerticalFieldAngle: '60',
      MaxViewDistance: '150',
      GrassrootsCode: '001201',
      PointType: '1',
      PointCommonName: '南山大道与学府路口',
      MAC: '00:11:22:33:44:55',
      FunctionType: '1/2',
      EncodeType: '2',
      InstallTime: '2024-05-01T00:00:00',
      ManagementUnit: '南山分局',
      ContactInfo: '0755-00000000',
      RecordSaveDays: '90',
      IndustrialClassification: '1',
      PositionType: '2',
      UseType: '1',
    };
    const infoXml = Object.entries(info2022)
      .map(([k, v]) => `<${k}>${v}</${k}>`)
      .join('');
    const xml = `<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>44030500002000000001</DeviceID>
      <SumNum>1</SumNum><DeviceList Num="1"><Item>
      <DeviceID>44030500001320000009</DeviceID><Name>学府路㙟口</Name><Manufacturer>Hikvision</Manufacturer><Model>DS-2CD</Model>
      <CivilCode>44030501</CivilCode><Block>440305000000</Block><Address>学府路</Address><Parental>0</Parental>
      <ParentID>44030500001180000002/44030500002160000001</ParentID><RegisterWay>1</RegisterWay>
      <SecurityLevelCode>A</SecurityLevelCode><Secrecy> 0 </Secrecy><IPAddress>10.1.2.9</IPAddress><Port> 8000 </Port>
      <Password>secret</Password><Status>online</Status><Longitude></Longitude><Latitude>0</Latitude>
      <BusinessGroupID>44030500002150000001</BusinessGroupID>
      <CertNum>C1</CertNum><Certifiable>0</Certifiable><ErrCode>0</ErrCode><EndTime>2030-01-01T00:00:00</EndTime>
      <StreamNum>2</StreamNum><AlarmInfo><Type>x</Type></AlarmInfo>
      <Info>${infoXml}</Info></Item></DeviceList></Response>`;
    const [item] = readCatalogResponse(decodeManscdp(gb(xml))).items;
    expect(item.name).toBe('学府路㙟口');
    expect(item.block).toBe('440305000000');
    expect(item.parentIds).toEqual(['44030500001180000002', '44030500002160000001']);
    expect(item.secrecy).toBe(0);
    expect(item.port).toBe(8000);
    expect(item.status).toBe('ON');
    expect(item.longitude).toBeNull(); // empty
    expect(item.latitude).toBe(0); // really sent 0
    expect(item.businessGroupId).toBe('44030500002150000001');
    expect(item.ptzType).toBe(3);
    const expectedExtra: Record<string, string> = {
      SecurityLevelCode: 'A',
      Password: 'secret',
      CertNum: 'C1',
      Certifiable: '0',
      ErrCode: '0',
      EndTime: '2030-01-01T00:00:00',
      StreamNum: '2',
      'AlarmInfo.Type': 'x',
    };
    for (const [k, v] of Object.entries(info2022)) if (k !== 'PTZType') expectedExtra[`Info.${k}`] = v;
    expect(item.extra).toEqual(expectedExtra);
  });

  it('normalises element-name case to the standard spelling in extra keys', () => {
    const xml =
      '<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>D</DeviceID><SumNum>1</SumNum><DEVICELIST><item>' +
      '<deviceid>44030500001320000009</deviceid><NAME>x</NAME><info><resolution>6</resolution><businessgroupid>G</businessgroupid></info>' +
      '</item></DEVICELIST></Response>';
    const [item] = readCatalogResponse(decodeManscdp(Buffer.from(xml))).items;
    expect(item.deviceId).toBe('44030500001320000009');
    expect(item.name).toBe('x');
    expect(item.businessGroupId).toBe('G'); // 2016: inside Info
    expect(item.extra).toEqual({ 'Info.Resolution': '6' });
  });

  it('normalises Status case-insensitively and keeps unparseable values in extra', () => {
    const statusOf = (s: string): CatalogItem => {
      const xml = `<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>D</DeviceID><SumNum>1</SumNum><DeviceList Num="1"><Item><DeviceID>X</DeviceID><Status>${s}</Status><Longitude>east</Longitude><Latitude>95</Latitude><Port>80a</Port></Item></DeviceList></Response>`;
      return readCatalogResponse(decodeManscdp(Buffer.from(xml))).items[0];
    };
    expect(statusOf('on').status).toBe('ON');
    expect(statusOf('Off').status).toBe('OFF');
    expect(statusOf('ONLINE').status).toBe('ON');
    expect(statusOf('offline').status).toBe('OFF');
    const odd = statusOf('Unknown');
    expect(odd.status).toBeNull();
    expect(odd.longitude).toBeNull();
    expect(odd.latitude).toBeNull();
    expect(odd.port).toBeNull();
    expect(odd.extra).toEqual({ Status: 'Unknown', Longitude: 'east', Latitude: '95', Port: '80a' });
  });

  it('reads items across several messages-in-one lists and repeated ParentID elements', () => {
    const xml =
      '<Response><CmdType>Catalog</CmdType><SN>3</SN><DeviceID>D</DeviceID><SumNum>3</SumNum>' +
      '<DeviceList Num="1"><Item><DeviceID>440305</DeviceID><Name>南山区</Name></Item></DeviceList>' +
      '<DeviceList Num="2"><Item><DeviceID>A</DeviceID><ParentID>P1</ParentID><ParentID>P2/P3</ParentID></Item><Item><DeviceID>B</DeviceID></Item></DeviceList></Response>';
    const r = readCatalogResponse(decodeManscdp(Buffer.from(xml.replace('<DeviceID>B</DeviceID>', '<DeviceID>B</DeviceID><Info/>'))));
    expect(r.items.map((i) => i.deviceId)).toEqual(['440305', 'A', 'B']);
    expect(r.items[2].extra).toEqual({});
    expect(r.items[1].parentIds).toEqual(['P1', 'P2', 'P3']);
    expect(r.items[1].extra).toEqual({});
  });

  it('handles an empty answer (SumNum 0, no list) and a missing SumNum', () => {
    const empty = readCatalogResponse(decodeManscdp(Buffer.from('<Response><CmdType>Catalog</CmdType><SN>3</SN><DeviceID>D</DeviceID><SumNum>0</SumNum></Response>')));
    expect(empty).toEqual({ deviceId: 'D', sn: 3, sumNum: 0, listNum: null, items: [] });
    const noSum = readCatalogResponse(decodeManscdp(Buffer.from('<Response><CmdType>Catalog</CmdType><SN>3</SN><DeviceID>D</DeviceID></Response>')));
    expect(noSum.sumNum).toBeNull();
  });

  it('reads catalog NOTIFY events', () => {
    const xml =
      '<Notify><CmdType>Catalog</CmdType><SN>8</SN><DeviceID>D</DeviceID><SumNum>2</SumNum><DeviceList Num="2">' +
      '<Item><DeviceID>A</DeviceID><Event>OFF</Event></Item><Item><DeviceID>B</DeviceID><Event>vlost</Event></Item></DeviceList></Notify>';
    const r = readCatalogResponse(decodeManscdp(Buffer.from(xml)));
    expect(r.items.map((i) => i.event)).toEqual(['OFF', 'VLOST']);
  });
});

describe('classifyCatalogItem', () => {
  const kind = (deviceId: string): string => classifyCatalogItem({ deviceId });
  it('classifies by ID length and type code', () => {
    expect(kind('44')).toBe('region');
    expect(kind('4403')).toBe('region');
    expect(kind('440305')).toBe('region');
    expect(kind('44030501')).toBe('region');
    expect(kind('44030500002150000001')).toBe('business-group');
    expect(kind('44030500002160000001')).toBe('virtual-org');
    expect(kind('44030500002000000001')).toBe('system');
    expect(kind('44030500001110000001')).toBe('device');
    expect(kind('44030500001180000002')).toBe('device');
    expect(kind('44030500001300000002')).toBe('device');
    expect(kind('44030500001310000001')).toBe('channel');
    expect(kind('44030500001320000005')).toBe('channel');
    expect(kind('44030500001340000001')).toBe('channel');
    expect(kind('34020000003209697442')).toBe('channel'); // invalid type "320"
    expect(kind('ABC-123-XYZ')).toBe('channel');
  });

  it('treats township, village and grid codes (9–19 digits, statistical scheme below the county) as regions', () => {
    expect(kind('440305001')).toBe('region'); // township / street
    expect(kind('440305001002')).toBe('region'); // village / community
    expect(kind('440305001002003')).toBe('region'); // grid
    expect(kind('4403050010020031')).toBe('region');
    expect(kind('4403050010020031234')).toBe('region');
    // Malformed codes between the levels are containers too, never playable channels.
    expect(kind('4403050010')).toBe('region');
    expect(kind('44030500101')).toBe('region');
    // Twenty digits is a GB ID again; non-digit IDs of that length stay channels.
    expect(kind('44030500001320000005')).toBe('channel');
    expect(kind('CAM-440305001002003')).toBe('channel');
  });

  it('reads a catalog whose items include township and village nodes as regions', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><Response><CmdType>Catalog</CmdType><SN>7</SN><DeviceID>44030500002000000001</DeviceID>' +
      '<SumNum>3</SumNum><DeviceList Num="3">' +
      '<Item><DeviceID>440305001</DeviceID><Name>南头街道</Name></Item>' +
      '<Item><DeviceID>440305001002</DeviceID><Name>南头城社区</Name><ParentID>440305001</ParentID></Item>' +
      '<Item><DeviceID>44030500001320000005</DeviceID><Name>南门</Name><CivilCode>440305</CivilCode><ParentID>440305001002</ParentID><Status>ON</Status></Item>' +
      '</DeviceList></Response>';
    const items = readCatalogResponse(decodeManscdp(Buffer.from(xml))).items;
    expect(items.map((i) => [i.deviceId, classifyCatalogItem(i)])).toEqual([
      ['440305001', 'region'],
      ['440305001002', 'region'],
      ['44030500001320000005', 'channel'],
    ]);
  });
});

describe('other readers', () => {
  it('readDeviceInfo decodes the brief example and accepts FirmWare', () => {
    expect(readDeviceInfo(decodeManscdp(Buffer.from(DEVICE_INFO)))).toEqual({
      deviceId: '44030500001180000002',
      sn: 10021,
      result: 'OK',
      deviceName: 'NVR-Block-A',
      manufacturer: 'Example',
      model: 'EX-NVR-16',
      firmware: 'V5.2.1',
      channel: 16,
      raw: { DeviceName: 'NVR-Block-A', Result: 'OK', Manufacturer: 'Example', Model: 'EX-NVR-16', Firmware: 'V5.2.1', Channel: '16' },
    });
    const ocr = decodeManscdp(Buffer.from(DEVICE_INFO.replace(/Firmware/g, 'FirmWare')));
    expect(readDeviceInfo(ocr).firmware).toBe('V5.2.1');
  });

  it('readDeviceStatus decodes the brief example', () => {
    const s = readDeviceStatus(decodeManscdp(Buffer.from(DEVICE_STATUS)));
    expect(s).toMatchObject({
      deviceId: '44030500001180000002',
      sn: 10022,
      result: 'OK',
      online: 'ONLINE',
      status: 'OK',
      encode: 'ON',
      record: 'OFF',
      deviceTime: '2026-03-01T09:20:00',
      reason: '',
      alarmStatus: [{ deviceId: '44030500001340000001', dutyStatus: 'ONDUTY' }],
    });
    expect(s.raw['Alarmstatus.Item.DutyStatus']).toBe('ONDUTY');
  });

  it('readAlarmNotify decodes the brief example', () => {
    const a = readAlarmNotify(decodeManscdp(Buffer.from(ALARM)));
    expect(a).toEqual({
      deviceId: '44030500001320000005',
      sn: 9,
      priority: 1,
      method: 5,
      type: 2,
      eventType: 1,
      description: 'motion',
      time: '2026-03-01T09:31:02',
      longitude: 113.93,
      latitude: 22.53,
      raw: {
        AlarmPriority: '1',
        AlarmMethod: '5',
        AlarmTime: '2026-03-01T09:31:02',
        AlarmDescription: 'motion',
        Longitude: '113.93',
        Latitude: '22.53',
        'Info.AlarmType': '2',
        'Info.AlarmTypeParam.EventType': '1',
      },
    });
  });

  it('readAlarmNotify tolerates a minimal alarm and a top-level AlarmType', () => {
    const a = readAlarmNotify(
      decodeManscdp(Buffer.from('<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>X</DeviceID><AlarmMethod> 2 </AlarmMethod><AlarmType>1</AlarmType><AlarmInfo>dahua</AlarmInfo></Notify>')),
    );
    expect(a).toMatchObject({ priority: null, method: 2, type: 1, eventType: null, description: '', time: '', longitude: null, latitude: null });
    expect(a.raw['AlarmInfo']).toBe('dahua');
  });

  it('readMobilePosition reads the 2016 flat form', () => {
    expect(readMobilePosition(decodeManscdp(Buffer.from(MOBILE_2016)))).toEqual({
      deviceId: '44030500001380000001',
      sn: 5,
      form: 'flat',
      positions: [
        { deviceId: '44030500001380000001', time: '2026-03-01T09:40:00', longitude: 113.9, latitude: 22.5, speed: 36.5, direction: 270, altitude: 12, height: null },
      ],
    });
  });

  it('readMobilePosition reads the 2022 list form', () => {
    expect(readMobilePosition(decodeManscdp(Buffer.from(MOBILE_2022)))).toEqual({
      deviceId: '44030500001380000001',
      sn: 6,
      form: 'list',
      positions: [
        { deviceId: '44030500001380000001', time: '2026-03-01T09:40:04', longitude: 113.91, latitude: 22.51, speed: 40, direction: 90, altitude: 10, height: 2.5 },
        // no CaptureTime: the message-level Time; zeros kept as zeros
        { deviceId: '44030500001380000002', time: '2026-03-01T09:40:05', longitude: 0, latitude: 0, speed: null, direction: null, altitude: null, height: null },
      ],
    });
  });

  it('readRecordInfoResponse decodes the brief example', () => {
    const r = readRecordInfoResponse(decodeManscdp(gb(RECORD_INFO)));
    expect(r.name).toBe('南门入口');
    expect(r.sumNum).toBe(37);
    expect(r.items).toHaveLength(2);
    expect(r.items[0]).toEqual({
      deviceId: '44030500001320000005',
      name: '南门入口',
      filePath: '',
      address: '',
      startTime: '2026-03-01T00:00:00',
      endTime: '2026-03-01T00:30:00',
      secrecy: 0,
      type: 'time',
      recorderId: '',
      fileSize: 318767104,
      extra: { StreamNumber: '0' },
    });
  });

  it('readPresetList and readResult', () => {
    const m = decodeManscdp(
      gb('<Response><CmdType>PresetQuery</CmdType><SN>4</SN><DeviceID>X</DeviceID><Result>ok</Result><SumNum>2</SumNum><PresetList Num="2"><Item><PresetID>1</PresetID><PresetName>大门</PresetName></Item><Item><PresetID>2</PresetID></Item></PresetList></Response>'),
    );
    expect(readPresetList(m)).toEqual({ deviceId: 'X', sn: 4, sumNum: 2, presets: [{ presetId: 1, presetName: '大门' }, { presetId: 2, presetName: '' }] });
    expect(readResult(m)).toBe('OK');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Encoders

describe('encoders', () => {
  it('encodeQuery writes a GB2312 declaration and decodes back, for each query type', () => {
    for (const cmdType of ['Catalog', 'DeviceInfo', 'DeviceStatus', 'PresetQuery'] as const) {
      const bytes = encodeQuery(cmdType, 702331, '44030500001180000002');
      expect(bytes.toString('latin1').startsWith('<?xml version="1.0" encoding="GB2312"?>')).toBe(true);
      const m = decodeManscdp(bytes);
      expect(m).toMatchObject({ root: 'Query', cmdType, sn: 702331, deviceId: '44030500001180000002' });
      expect(m.fields.children.map((c) => c.name)).toEqual(['CmdType', 'SN', 'DeviceID']);
    }
  });

  it('encodeQuery carries extra fields in order (RecordInfo) and honours the charset', () => {
    const bytes = encodeQuery(
      'RecordInfo',
      55001,
      '44030500001320000005',
      { StartTime: '2026-03-01T00:00:00', EndTime: '2026-03-01T23:59:59', Secrecy: 0, Type: 'all', FilePath: undefined },
      'UTF-8',
    );
    expect(bytes.toString('utf8')).toContain('encoding="UTF-8"');
    const m = decodeManscdp(bytes);
    expect(m.fields.children.map((c) => c.name)).toEqual(['CmdType', 'SN', 'DeviceID', 'StartTime', 'EndTime', 'Secrecy', 'Type']);
  });

  it('encoders refuse an invalid SN or empty DeviceID', () => {
    expect(() => encodeQuery('Catalog', 0, 'X')).toThrow(RangeError);
    expect(() => encodeQuery('Catalog', 1.5, 'X')).toThrow(RangeError);
    expect(() => encodeQuery('Catalog', 1, ' ')).toThrow(RangeError);
  });

  it('encodePtzControl writes PTZCmd and ControlPriority 5; readDeviceControl reads it back', () => {
    const bytes = encodePtzControl('44030500001320000005', 12, 'a50f0101 1f0000d5'.replace(' ', ''));
    const m = decodeManscdp(bytes);
    expect(m).toMatchObject({ root: 'Control', cmdType: 'DeviceControl', sn: 12 });
    expect(textAt(m.fields, 'Info/ControlPriority')).toBe('5');
    expect(readDeviceControl(m).ptzCmd).toBe('A50F01011F0000D5');
    expect(() => encodePtzControl('X', 1, 'A50F01')).toThrow(RangeError);
  });

  it('readDeviceControl accepts both IFameCmd and IFrameCmd', () => {
    expect(readDeviceControl(decodeManscdp(encodeControl('DeviceControl', 1, 'X', { IFameCmd: 'Send' }))).iframeCmd).toBe('Send');
    expect(readDeviceControl(decodeManscdp(encodeControl('DeviceControl', 1, 'X', { IFrameCmd: 'Send' }))).iframeCmd).toBe('Send');
    const boot = readDeviceControl(decodeManscdp(encodeControl('DeviceControl', 2, 'X', { TeleBoot: 'Boot' })));
    expect(boot).toMatchObject({ teleBoot: 'Boot', ptzCmd: null, iframeCmd: null });
  });

  it('encodeKeepalive round-trips', () => {
    expect(readKeepalive(decodeManscdp(encodeKeepalive('A', 3)))).toEqual({ deviceId: 'A', sn: 3, status: 'OK', faultyDeviceIds: [] });
    expect(readKeepalive(decodeManscdp(encodeKeepalive('A', 4, { status: 'ERROR', faultyDeviceIds: ['B', 'C'] })))).toEqual({
      deviceId: 'A',
      sn: 4,
      status: 'ERROR',
      faultyDeviceIds: ['B', 'C'],
    });
  });

  const items: CatalogItem[] = [
    emptyItem({ deviceId: '440305', name: '南山区' }),
    emptyItem({
      deviceId: '44030500001320000005',
      name: `南门㙟入口 𠀀 䶮 & <x>`,
      manufacturer: 'Example',
      model: 'EX-IPC-200',
      owner: '0',
      civilCode: '440305',
      block: '440305000000',
      address: 'south gate',
      parental: 0,
      parentIds: ['44030500001180000002', '44030500002160000001'],
      safetyWay: 0,
      registerWay: 1,
      secrecy: 0,
      ipAddress: '10.1.2.45',
      port: 80,
      status: 'OFF',
      longitude: 0,
      latitude: 22.5332,
      businessGroupId: '44030500002150000001',
      ptzType: 1,
      extra: { 'Info.DownloadSpeed': '1/2/4/8', 'Info.Resolution': '6/5', StreamNum: '2', 'AlarmInfo.Type': 'x', 'Info.X[1]': 'b', 'Info.X': 'a' },
    }),
  ];

  for (const charset of ['GB2312', 'GB18030', 'UTF-8'] as const) {
    it(`encodeCatalogResponse round-trips every field through readCatalogResponse (${charset})`, () => {
      const bytes = encodeCatalogResponse('44030500001180000002', 702331, 16, items, charset);
      if (charset !== 'UTF-8') expect(decodeBody(bytes).charset).toBe('GB18030');
      const r = readCatalogResponse(decodeManscdp(bytes));
      expect(r).toEqual({ deviceId: '44030500001180000002', sn: 702331, sumNum: 16, listNum: 2, items });
    });
  }

  it('encodeCatalogResponse writes SumNum 0 and no list for an empty answer', () => {
    const bytes = encodeCatalogResponse('D', 1, 0, []);
    expect(bytes.toString('latin1')).not.toContain('DeviceList');
    expect(readCatalogResponse(decodeManscdp(bytes)).sumNum).toBe(0);
  });

  it('encodeCatalogNotify carries events', () => {
    const notify = [emptyItem({ deviceId: 'A', event: 'DEL' }), emptyItem({ deviceId: 'B', event: 'ON' })];
    const m = decodeManscdp(encodeCatalogNotify('D', 9, notify));
    expect(m.root).toBe('Notify');
    const r = readCatalogResponse(m);
    expect(r.sumNum).toBe(2);
    expect(r.items).toEqual(notify);
  });

  it('encodeDeviceInfoResponse round-trips', () => {
    const m = decodeManscdp(encodeDeviceInfoResponse('N', 10021, { deviceName: 'NVR-楼A', manufacturer: 'Example', model: 'EX', firmware: 'V1', channel: 16 }));
    expect(readDeviceInfo(m)).toMatchObject({ deviceId: 'N', sn: 10021, result: 'OK', deviceName: 'NVR-楼A', manufacturer: 'Example', model: 'EX', firmware: 'V1', channel: 16 });
  });

  it('encodeDeviceStatusResponse round-trips', () => {
    const status = {
      online: 'ONLINE',
      status: 'OK',
      encode: 'ON',
      record: 'OFF',
      deviceTime: '2026-03-01T09:20:00',
      alarmStatus: [{ deviceId: 'AI1', dutyStatus: 'ALARM' }],
    } as const;
    const s = readDeviceStatus(decodeManscdp(encodeDeviceStatusResponse('N', 10022, status)));
    expect(s).toMatchObject({ ...status, result: 'OK', reason: '', alarmStatus: [{ deviceId: 'AI1', dutyStatus: 'ALARM' }] });
  });

  it('encodeAlarmNotify round-trips', () => {
    const alarm = { priority: 1, method: 5, type: 6, eventType: 1, description: '入侵', time: '2026-03-01T09:31:02', longitude: 113.93, latitude: 0 };
    const a = readAlarmNotify(decodeManscdp(encodeAlarmNotify('C', 9, alarm)));
    expect(a).toMatchObject({ deviceId: 'C', sn: 9, ...alarm });
  });

  it('encodeMobilePositionNotify round-trips both forms', () => {
    const p = { deviceId: 'M', time: '2026-03-01T09:40:00', longitude: 113.9, latitude: 22.5, speed: 36.5, direction: 270, altitude: 12, height: null };
    const flat = readMobilePosition(decodeManscdp(encodeMobilePositionNotify('M', 5, [p], 'flat')));
    expect(flat).toEqual({ deviceId: 'M', sn: 5, form: 'flat', positions: [p] });
    const q = { ...p, deviceId: 'M2', height: 3 };
    const list = readMobilePosition(decodeManscdp(encodeMobilePositionNotify('M', 6, [p, q], 'list')));
    expect(list).toEqual({ deviceId: 'M', sn: 6, form: 'list', positions: [p, q] });
  });

  it('encodeResponse takes element specs for nested fields', () => {
    const m = decodeManscdp(encodeResponse('Alarm', 9, 'C', [el('Result', 'OK'), el('Info', [el('A', 1)])]));
    expect(m.root).toBe('Response');
    expect(readResult(m)).toBe('OK');
    expect(textAt(m.fields, 'Info/A')).toBe('1');
  });
});
