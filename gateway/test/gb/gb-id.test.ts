import { describe, expect, it } from 'vitest';
import {
  civilCodeOf,
  decodeGbId,
  gbTypeCategory,
  gbTypeCodeOf,
  isGbId,
  isRegionId,
  isSubCountyRegionId,
  parentRegion,
  regionChain,
  sipDomainOf,
  ssrcDomainDigits,
  trimCivilCode,
} from '../../src/codecs/gb/gb-id.js';

describe('decodeGbId', () => {
  it('decodes the SIP server example 34020000002000000001', () => {
    expect(decodeGbId('34020000002000000001')).toEqual({
      id: '34020000002000000001',
      centreCode: '34020000',
      provinceCode: '34',
      cityCode: '3402',
      countyCode: null,
      unitCode: null,
      civilCode: '3402',
      industryCode: '00',
      industryName: 'public security road surface',
      typeCode: '200',
      typeName: 'central signalling control server',
      typeCategory: 'platform',
      networkCode: '0',
      networkName: 'public-security video network',
      serial: '000001',
    });
  });

  it('decodes the IPC example 44030500001320000017 (Shenzhen Nanshan)', () => {
    const d = decodeGbId('44030500001320000017');
    expect(d).toMatchObject({
      centreCode: '44030500',
      provinceCode: '44',
      cityCode: '4403',
      countyCode: '440305',
      unitCode: null,
      civilCode: '440305',
      industryCode: '00',
      typeCode: '132',
      typeName: 'IPC',
      typeCategory: 'front-end-peripheral',
      networkCode: '0',
      serial: '000017',
    });
  });

  it('decodes a grass-roots unit (Annex J: 11010101 东华门派出所)', () => {
    expect(decodeGbId('11010101001180000001')).toMatchObject({
      unitCode: '11010101',
      civilCode: '11010101',
      typeName: 'NVR',
      typeCategory: 'front-end-device',
    });
  });

  it('does not reject invalid type codes such as the simulator\'s "320"', () => {
    const d = decodeGbId('34020000003209697442');
    expect(d).not.toBeNull();
    expect(d).toMatchObject({ typeCode: '320', typeName: null, typeCategory: 'central-user', serial: '697442' });
    expect(decodeGbId('34020000000509697442')?.typeCategory).toBe('unknown');
  });

  it('names industry ranges', () => {
    expect(decodeGbId('34020000401320000001')?.industryName).toBe('GB/T 4754 section A');
    expect(decodeGbId('34020000951320000001')?.industryName).toBe('custom');
    expect(decodeGbId('34020000201320000001')?.industryName).toBeNull();
  });

  it('returns null for anything but 20 digits', () => {
    for (const bad of ['', '3402000000200000000', '340200000020000000011', '3402000000200000000a', '44030500']) {
      expect(decodeGbId(bad)).toBeNull();
    }
    expect(isGbId('34020000002000000001')).toBe(true);
    expect(gbTypeCodeOf('34020000002150000001')).toBe('215');
    expect(gbTypeCodeOf('44030500')).toBeNull();
  });

  it('categorises type codes by range', () => {
    expect(gbTypeCategory('111')).toBe('front-end-device');
    expect(gbTypeCategory('130')).toBe('front-end-device');
    expect(gbTypeCategory('131')).toBe('front-end-peripheral');
    expect(gbTypeCategory('199')).toBe('front-end-peripheral');
    expect(gbTypeCategory('216')).toBe('platform');
    expect(gbTypeCategory('401')).toBe('terminal-user');
    expect(gbTypeCategory('505')).toBe('external-server');
    expect(gbTypeCategory('700')).toBe('extension');
    expect(gbTypeCategory('abc')).toBe('unknown');
  });
});

describe('civil codes', () => {
  it('recognises region codes of 2/4/6/8 digits only', () => {
    for (const ok of ['44', '4403', '440305', '44030501']) expect(isRegionId(ok)).toBe(true);
    for (const bad of ['4', '440', '4403050', '4403050100', '44030500001320000017', 'ab']) expect(isRegionId(bad)).toBe(false);
  });

  it('isSubCountyRegionId accepts township (9), village (12) and grid (13–19 digit) codes only', () => {
    for (const ok of ['440305001', '440305001002', '440305001002003', '4403050010020031234']) expect(isSubCountyRegionId(ok)).toBe(true);
    for (const bad of ['44030501', '4403050010', '44030500101', '44030500001320000017', '44030500A', '']) expect(isSubCountyRegionId(bad)).toBe(false);
    // Not civil codes: the 8-digit prefix of a village code means nothing.
    expect(civilCodeOf('440305001002')).toBe('');
    expect(regionChain('440305001002')).toEqual([]);
  });

  it('civilCodeOf gives the 8-digit prefix stored in Device.civilCode', () => {
    expect(civilCodeOf('44030500001320000017')).toBe('44030500');
    expect(civilCodeOf('440305')).toBe('440305');
    expect(civilCodeOf('nonsense')).toBe('');
  });

  it('trimCivilCode cuts unused trailing levels', () => {
    expect(trimCivilCode('44030500')).toBe('440305');
    expect(trimCivilCode('34020000')).toBe('3402');
    expect(trimCivilCode('44000000')).toBe('44');
    expect(trimCivilCode('11010101')).toBe('11010101');
    expect(trimCivilCode('44000012')).toBe('44000012');
  });

  it('regionChain lists real levels from province down, for IDs and codes', () => {
    expect(regionChain('44030500')).toEqual(['44', '4403', '440305']);
    expect(regionChain('44030500001320000017')).toEqual(['44', '4403', '440305']);
    expect(regionChain('11010101')).toEqual(['11', '1101', '110101', '11010101']);
    expect(regionChain('34020000002000000001')).toEqual(['34', '3402']);
    expect(regionChain('44')).toEqual(['44']);
    expect(regionChain('x')).toEqual([]);
  });

  it('parentRegion is the structural parent, always a real level', () => {
    expect(parentRegion('44030501')).toBe('440305');
    expect(parentRegion('44030500')).toBe('440305');
    expect(parentRegion('440305')).toBe('4403');
    expect(parentRegion('4403')).toBe('44');
    expect(parentRegion('44000000')).toBe('44');
    expect(parentRegion('44')).toBeNull();
    expect(parentRegion('44030500001320000017')).toBeNull();
  });

  it('derives the SIP domain and the SSRC domain digits', () => {
    expect(sipDomainOf('34020000002000000001')).toBe('3402000000');
    expect(ssrcDomainDigits('34020000002000000001')).toBe('20000');
    expect(ssrcDomainDigits('13010000002000000001')).toBe('10000');
    expect(() => ssrcDomainDigits('3402')).toThrow(RangeError);
  });
});
