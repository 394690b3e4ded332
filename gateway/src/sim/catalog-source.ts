/**
 * What a simulated device answers to a Catalog query. Items are generated on demand from indexes instead of
 * being kept in memory: 50 000 NVRs × 8 channels, or one lower platform with 150 000 channels, would
 * otherwise hold hundreds of thousands of item objects for a query that may never come.
 *
 * Pure: no I/O, no timers.
 */
import type { CatalogItem } from '../codecs/manscdp/messages.js';
import { trimCivilCode } from '../codecs/gb/gb-id.js';
import {
  BUSINESS_GROUP_NAMES,
  cameraName,
  coordinatesFor,
  fakeLanAddress,
  gbId,
  regionName,
  TYPE_CODE,
  virtualOrgName,
  type VendorProfile,
} from './identity.js';

/** A list of catalog items that can be read in slices (one slice per MESSAGE). */
export type { CatalogListing } from '../protocol/gb28181/catalog-packer.js';
import type { CatalogListing } from '../protocol/gb28181/catalog-packer.js';

export interface CatalogSource {
  /** The listing for a query whose DeviceID is `queriedId`, or null when this device does not know it. */
  listingFor(queriedId: string): CatalogListing | null;
  /** True when `id` (a channel or tree node) belongs to this device, i.e. requests to it reach the device. */
  owns(id: string): boolean;
}

/** A CatalogItem with every field empty; callers fill in what their node kind has. */
export function blankItem(deviceId: string, name: string): CatalogItem {
  return {
    deviceId,
    name,
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
  };
}

export interface CameraItemInput {
  channelId: string;
  /** Fleet-wide camera index: drives name, coordinates and address. */
  cameraIndex: number;
  parentIds: string[];
  civilCode: string;
  vendor: VendorProfile;
  businessGroupId?: string;
  /** Fewer optional fields, for very large platform catalogs. */
  lean?: boolean;
}

/** A camera channel item as NVRs and IPCs describe them (2016 fields devices still send, plus Info). */
export function cameraItem(input: CameraItemInput): CatalogItem {
  const { longitude, latitude } = coordinatesFor(input.cameraIndex);
  const item = blankItem(input.channelId, cameraName(input.cameraIndex));
  item.manufacturer = input.vendor.manufacturer;
  item.model = input.vendor.ipcModel;
  item.owner = '0';
  item.civilCode = input.civilCode;
  item.address = item.name.replace(/-\d+$/, '');
  item.parental = 0;
  item.parentIds = input.parentIds;
  item.safetyWay = 0;
  item.registerWay = 1;
  item.secrecy = 0;
  item.status = 'ON';
  item.longitude = longitude;
  item.latitude = latitude;
  item.businessGroupId = input.businessGroupId ?? '';
  // Domes for every third camera, fixed bullets otherwise: the gateway shows PTZ controls only for domes.
  item.ptzType = input.cameraIndex % 3 === 0 ? 1 : 3;
  if (!input.lean) {
    item.ipAddress = fakeLanAddress(input.cameraIndex);
    item.port = 8000;
    item.extra = { 'Info.DownloadSpeed': '1/2/4/8', 'Info.Resolution': '6/3' };
  }
  return item;
}

// ---------------------------------------------------------------------------------------------- devices

function arrayListing(items: () => CatalogItem[], total: number): CatalogListing {
  let cache: CatalogItem[] | null = null;
  return {
    total,
    slice(start, end) {
      cache ??= items();
      return cache.slice(start, end);
    },
  };
}

/**
 * IPC (its own single channel) or NVR (its camera channels). A query for the device lists every channel; a
 * query for one channel lists just that channel (what real NVRs do).
 */
export class DeviceCatalog implements CatalogSource {
  /** Built on first use for devices with many channels; small ones search the array (50 000 IPCs, no Maps). */
  private channelIndex: Map<string, number> | null = null;

  constructor(
    private readonly deviceId: string,
    /** Channel IDs; for an IPC `[deviceId]`. */
    private readonly channelIds: readonly string[],
    /** Fleet-wide camera index of channel 0 (names and coordinates continue from there). */
    private readonly firstCameraIndex: number,
    private readonly vendor: VendorProfile,
  ) {}

  private indexOf(id: string): number {
    if (this.channelIds.length <= 64) return this.channelIds.indexOf(id);
    this.channelIndex ??= new Map(this.channelIds.map((c, i) => [c, i]));
    return this.channelIndex.get(id) ?? -1;
  }

  owns(id: string): boolean {
    return id === this.deviceId || this.indexOf(id) >= 0;
  }

  listingFor(queriedId: string): CatalogListing | null {
    if (queriedId === this.deviceId) {
      return arrayListing(() => this.channelIds.map((_, i) => this.item(i)), this.channelIds.length);
    }
    const i = this.indexOf(queriedId);
    if (i < 0) return null;
    return arrayListing(() => [this.item(i)], 1);
  }

  private item(i: number): CatalogItem {
    const channelId = this.channelIds[i]!;
    return cameraItem({
      channelId,
      cameraIndex: this.firstCameraIndex + i,
      // An IPC is its own channel: ParentID = itself (the gateway ignores a self-parent).
      parentIds: [this.deviceId],
      civilCode: trimCivilCode(this.deviceId.slice(0, 8)),
      vendor: this.vendor,
    });
  }
}

// ---------------------------------------------------------------------------------------------- platform

export interface PlatformTreeShape {
  /** 8-digit grass-roots unit regions (police stations) under the county. */
  units: number;
  businessGroups: number;
  /** Top-level virtual orgs per business group; each has one nested virtual org under it. */
  topOrgsPerGroup: number;
  channels: number;
}

/** Tree proportions for `channels` channels: a few regions and groups, ~1 000 channels per virtual org. */
export function platformShape(channels: number): PlatformTreeShape {
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`platform channels must be an integer ≥ 1, got ${channels}`);
  const businessGroups = channels < 1_000 ? 2 : channels < 20_000 ? 3 : 6;
  return {
    units: Math.min(99, Math.max(2, Math.ceil(channels / 2_000))),
    businessGroups,
    topOrgsPerGroup: Math.min(50, Math.max(2, Math.ceil(channels / (businessGroups * 2_000)))),
    channels,
  };
}

/**
 * A lower platform's catalog: regions (4-, 6- and 8-digit codes under the ID prefix), business groups (215),
 * virtual orgs (216, two levels) and channels (131/132) spread under them. Every node is computed from its
 * index, so 150 000 channels cost nothing until they are listed.
 *
 * Channel c: CivilCode = unit region (c mod units); its virtual org = c mod (number of orgs); by c mod 10:
 *   0–5 ParentID = the virtual org (BusinessGroupID = its group),
 *   6–7 ParentID = "platform/virtual org" (2022 multi-valued ParentID),
 *   8–9 ParentID = the platform only (placed by CivilCode alone).
 * Channel IDs use running number `firstSerial + c`, type 131 for every fifth channel and 132 otherwise.
 */
export class PlatformCatalog implements CatalogSource {
  readonly shape: PlatformTreeShape;
  private readonly regionCodes: string[];
  private readonly groupIds: string[];
  private readonly orgIds: string[];
  /** Parent and group of each virtual org, by org index. */
  private readonly orgParent: string[];
  private readonly orgGroup: string[];
  private readonly nodeIndex = new Map<string, number>();

  constructor(
    readonly platformId: string,
    private readonly prefix: string,
    channels: number,
    private readonly firstSerial: number,
    private readonly vendor: VendorProfile,
  ) {
    this.shape = platformShape(channels);
    const county = prefix.slice(0, 6);
    this.regionCodes = [prefix.slice(0, 4), county];
    for (let u = 1; u <= this.shape.units; u++) this.regionCodes.push(`${county}${String(u).padStart(2, '0')}`);
    this.groupIds = [];
    for (let g = 0; g < this.shape.businessGroups; g++) this.groupIds.push(gbId(prefix, TYPE_CODE.businessGroup, firstSerial + g));
    this.orgIds = [];
    this.orgParent = [];
    this.orgGroup = [];
    let orgNumber = firstSerial;
    for (const groupId of this.groupIds) {
      for (let t = 0; t < this.shape.topOrgsPerGroup; t++) {
        const top = gbId(prefix, TYPE_CODE.virtualOrg, orgNumber++);
        const nested = gbId(prefix, TYPE_CODE.virtualOrg, orgNumber++);
        this.orgIds.push(top, nested);
        this.orgParent.push(groupId, top);
        this.orgGroup.push(groupId, groupId);
      }
    }
    const nonChannel = [...this.regionCodes, ...this.groupIds, ...this.orgIds];
    nonChannel.forEach((id, i) => this.nodeIndex.set(id, i));
  }

  /** Regions + groups + orgs + channels. */
  get total(): number {
    return this.regionCodes.length + this.groupIds.length + this.orgIds.length + this.shape.channels;
  }

  get regionIds(): readonly string[] {
    return this.regionCodes;
  }

  get businessGroupIds(): readonly string[] {
    return this.groupIds;
  }

  get virtualOrgIds(): readonly string[] {
    return this.orgIds;
  }

  channelId(c: number): string {
    return gbId(this.prefix, c % 5 === 4 ? TYPE_CODE.camera : TYPE_CODE.ipc, this.firstSerial + c);
  }

  /** Channel index of an ID, or -1. */
  channelIndexOf(id: string): number {
    if (!/^\d{20}$/.test(id) || !id.startsWith(this.prefix) || id.slice(8, 10) !== '00') return -1;
    const running = Number(id.slice(13, 14)) * 1_000_000 + Number(id.slice(14));
    const c = running - this.firstSerial;
    if (c < 0 || c >= this.shape.channels || this.channelId(c) !== id) return -1;
    return c;
  }

  owns(id: string): boolean {
    return id === this.platformId || this.nodeIndex.has(id) || this.channelIndexOf(id) >= 0;
  }

  /** Node at position i of the full listing (regions, groups, orgs, then channels). */
  itemAt(i: number): CatalogItem {
    const regions = this.regionCodes.length;
    const groups = this.groupIds.length;
    const orgs = this.orgIds.length;
    if (i < regions) {
      const code = this.regionCodes[i]!;
      return blankItem(code, regionName(code, i - 2));
    }
    if (i < regions + groups) {
      const g = i - regions;
      const item = blankItem(this.groupIds[g]!, BUSINESS_GROUP_NAMES[g % BUSINESS_GROUP_NAMES.length]!);
      item.parentIds = [this.platformId];
      return item;
    }
    if (i < regions + groups + orgs) {
      const o = i - regions - groups;
      const item = blankItem(this.orgIds[o]!, virtualOrgName(o));
      item.parentIds = [this.orgParent[o]!];
      item.businessGroupId = this.orgGroup[o]!;
      return item;
    }
    return this.channelItem(i - regions - groups - orgs);
  }

  channelItem(c: number): CatalogItem {
    const o = c % this.orgIds.length;
    const orgId = this.orgIds[o]!;
    const pattern = c % 10;
    const parentIds = pattern <= 5 ? [orgId] : pattern <= 7 ? [this.platformId, orgId] : [this.platformId];
    return cameraItem({
      channelId: this.channelId(c),
      cameraIndex: c,
      parentIds,
      civilCode: this.regionCodes[2 + (c % this.shape.units)]!,
      vendor: this.vendor,
      businessGroupId: pattern <= 7 ? this.orgGroup[o] : undefined,
      lean: true,
    });
  }

  listingFor(queriedId: string): CatalogListing | null {
    if (queriedId === this.platformId) {
      return { total: this.total, slice: (start, end) => this.range(start, Math.min(end, this.total)) };
    }
    const c = this.channelIndexOf(queriedId);
    if (c >= 0) return { total: 1, slice: (start, end) => (start <= 0 && end > 0 ? [this.channelItem(c)] : []) };
    if (!this.nodeIndex.has(queriedId)) return null;
    // A tree node: its direct children (by ParentID, or by CivilCode for regions). Found by one pass over
    // the listing; positions are computed once per query.
    const positions: number[] = [];
    for (let i = 0; i < this.total; i++) {
      const item = this.itemAt(i);
      if (item.parentIds.includes(queriedId) || (item.civilCode === queriedId && item.deviceId !== queriedId)) positions.push(i);
      else if (/^\d{6}$|^\d{8}$/.test(item.deviceId) && item.deviceId.length === queriedId.length + 2 && item.deviceId.startsWith(queriedId)) {
        positions.push(i);
      }
    }
    return { total: positions.length, slice: (start, end) => positions.slice(start, end).map((i) => this.itemAt(i)) };
  }

  private range(start: number, end: number): CatalogItem[] {
    const out: CatalogItem[] = [];
    for (let i = Math.max(0, start); i < end; i++) out.push(this.itemAt(i));
    return out;
  }
}
