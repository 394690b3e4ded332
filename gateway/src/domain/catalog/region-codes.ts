/**
 * Where a channel sits in the administrative hierarchy, down to the grid level.
 *
 * Two code schemes continue the 6-digit county code (MCA province 2 / city 4 / county 6):
 * - GB/T 28181 civil codes: 8 digits, the grass-roots access unit (a police station), as carried in device
 *   IDs and in the catalog `CivilCode` (2/4/6/8 digits).
 * - The statistical division code that 2022 Annex E.3 carries in `Info/GrassrootsCode`: 3 digits of
 *   township/street + 3 of village/community after the county (9 and 12 digits in all). Grid (网格) codes
 *   extend the village code; platforms that report them send 13–19 digits in `CivilCode`.
 * Both hang under the county; a code is never read across schemes (the 8-digit prefix of a 12-digit code
 * means nothing).
 *
 * A channel's code, most specific first: county + GrassrootsCode, its CivilCode, the first 8 digits of its
 * own ID, those of its device's ID. Trailing all-zero levels mean "not used" and are cut, so
 * "44030500" and "440305" are the same node.
 */
import { isRegionId, isSubCountyRegionId, trimCivilCode } from '../../codecs/gb/gb-id.js';

const COUNTY_LENGTH = 6;
/** Levels of the statistical scheme after the county: township/street (9), village/community (12), grid. */
const TOWNSHIP_END = 9;
const VILLAGE_END = 12;

/** A code in its canonical form (trailing unused levels cut), or '' when it is not a region code. */
export function normaliseRegionCode(code: string): string {
  if (isRegionId(code)) {
    const trimmed = trimCivilCode(code);
    return trimmed.startsWith('00') ? '' : trimmed;
  }
  if (!isSubCountyRegionId(code)) return '';
  const county = normaliseRegionCode(code.slice(0, COUNTY_LENGTH));
  if (county === '') return '';
  const levels = [code.slice(COUNTY_LENGTH, TOWNSHIP_END), code.slice(TOWNSHIP_END, VILLAGE_END), code.slice(VILLAGE_END)];
  while (levels.length > 0 && /^0*$/.test(levels[levels.length - 1])) levels.pop();
  if (levels.length === 0) return county;
  // A township code under a city-level "county" (440300…) keeps the 6 digits it was written with.
  return code.slice(0, COUNTY_LENGTH) + levels.join('');
}

/**
 * Every level of a canonical code, top first: "44030501" → 44, 4403, 440305, 44030501;
 * "440305001002" → 44, 4403, 440305, 440305001, 440305001002.
 */
export function regionLevels(code: string): string[] {
  if (code === '') return [];
  if (code.length <= 8) {
    const out: string[] = [];
    for (let len = 2; len <= code.length; len += 2) out.push(code.slice(0, len));
    return out;
  }
  const out = regionLevels(normaliseRegionCode(code.slice(0, COUNTY_LENGTH)));
  out.push(code.slice(0, TOWNSHIP_END));
  if (code.length > TOWNSHIP_END) out.push(code.slice(0, VILLAGE_END));
  if (code.length > VILLAGE_END) out.push(code);
  return out;
}

export interface RegionSources {
  id: string;
  deviceId: string;
  civilCode: string;
  /** `Info/GrassrootsCode` (2022): 6 digits, "000000" when not grass-roots. */
  grassrootsCode: string;
}

function centreCode(id: string): string {
  return /^\d{20}$/.test(id) ? id.slice(0, 8) : '';
}

/** The deepest region code a channel's fields give, canonical; '' when none does. */
export function regionCodeOf(c: RegionSources): string {
  const civil = /^\d{20}$/.test(c.civilCode) ? c.civilCode.slice(0, 8) : c.civilCode;
  const candidates = [civil, centreCode(c.id), centreCode(c.deviceId)];
  if (/^\d{6}$/.test(c.grassrootsCode) && c.grassrootsCode !== '000000') {
    for (const candidate of candidates) {
      const county = candidate.length >= COUNTY_LENGTH ? normaliseRegionCode(candidate.slice(0, COUNTY_LENGTH)) : '';
      if (county.length === COUNTY_LENGTH) return normaliseRegionCode(county + c.grassrootsCode);
    }
  }
  for (const candidate of candidates) {
    const code = normaliseRegionCode(candidate);
    if (code !== '') return code;
  }
  return '';
}
