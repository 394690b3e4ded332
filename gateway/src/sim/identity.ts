/**
 * Identities of simulated devices: realistic 20-digit GB/T 28181 IDs, Chinese names (with a few rare
 * characters outside GB 2312, so the gateway's GB 18030 path is exercised), and vendor profiles.
 *
 * Everything here is deterministic (derived from indexes), so two runs with the same options produce the
 * same fleet and a test can predict IDs and names. Pure: no I/O, no timers.
 */

/** Type codes used by the simulator (GB/T 28181-2022 table E.1). */
export const TYPE_CODE = {
  nvr: '118',
  camera: '131',
  ipc: '132',
  sipServer: '200',
  businessGroup: '215',
  virtualOrg: '216',
} as const;

/** Industry code "00" (社会治安路面) as most city video networks use. */
const INDUSTRY = '00';

/** Serials have 6 digits; beyond that the network digit (position 14) absorbs the overflow. */
const SERIALS_PER_NETWORK_DIGIT = 1_000_000;

/**
 * Hands out 20-digit IDs: prefix(8) + industry "00" + type(3) + network(1) + serial(6). Each type code has
 * its own serial sequence. A fleet of 50 000 NVRs with 32 channels needs more than 999 999 channel IDs of one
 * type; those continue on network digits 1, 2, … (digit 1 is, like 0, "public-security video network";
 * higher digits are still valid IDs), so IDs never repeat up to 10 million per type.
 */
export class GbIdAllocator {
  private readonly next = new Map<string, number>();

  constructor(
    readonly prefix: string,
    private readonly firstSerial = 1,
  ) {
    if (!/^\d{8}$/.test(prefix)) throw new RangeError(`id prefix must be an 8-digit civil code, got ${JSON.stringify(prefix)}`);
    if (!Number.isInteger(firstSerial) || firstSerial < 0) throw new RangeError(`firstSerial must be an integer ≥ 0, got ${firstSerial}`);
  }

  allocate(typeCode: string): string {
    const n = this.next.get(typeCode) ?? this.firstSerial;
    this.next.set(typeCode, n + 1);
    return gbId(this.prefix, typeCode, n);
  }
}

/** The ID with the given prefix, type and running number (see GbIdAllocator for numbers ≥ 1 000 000). */
export function gbId(prefix: string, typeCode: string, runningNumber: number): string {
  const network = Math.floor(runningNumber / SERIALS_PER_NETWORK_DIGIT);
  if (network > 9) throw new RangeError(`no more IDs of type ${typeCode}: running number ${runningNumber} exceeds 9 999 999`);
  const serial = runningNumber % SERIALS_PER_NETWORK_DIGIT;
  return `${prefix}${INDUSTRY}${typeCode}${network}${String(serial).padStart(6, '0')}`;
}

// ------------------------------------------------------------------------------------------------ names

/**
 * Camera locations. Two names carry characters outside GB 2312 (㙟 U+365F, 䶮 U+4DAE, CJK Extension A): real
 * place names use them, and they only survive if both sides really encode GB 18030.
 */
const CAMERA_PLACES = [
  '南门入口', '北门出口', '东侧停车场', '西侧通道', '一楼大堂', '电梯厅', '地下车库', '周界围墙',
  '十字路口', '公交站台', '学校门口', '中心广场', '商场入口', '河堤步道', '收费站', '地铁口',
  '㙟口村路口', '䶮山公园', '医院急诊', '菜市场', '体育馆', '图书馆', '人行天桥', '隧道口',
] as const;

const NVR_PLACES = ['科技园', '蛇口港', '前海湾', '粤海街道', '西丽湖', '南山中心', '桃源村', '招商大厦'] as const;

/** Grass-roots unit (police station) names for platform region nodes. */
const STATION_NAMES = [
  '东华门派出所', '南头派出所', '蛇口派出所', '粤海派出所', '招商派出所', '沙河派出所', '西丽派出所',
  '桃源派出所', '前海派出所', '南山派出所', '㙟口派出所', '䶮山派出所',
] as const;

export const BUSINESS_GROUP_NAMES = ['治安监控', '交通监控', '社区监控', '学校周边', '重点场所', '雪亮工程'] as const;

const VIRTUAL_ORG_NAMES = ['一中队', '二中队', '三中队', '巡逻组', '指挥中心', '视频巡查组', '重点部位', '街面防控'] as const;

/** A few well-known region names; others get a generic name with their code. */
const REGION_NAMES: Readonly<Record<string, string>> = {
  '11': '北京市',
  '1101': '北京市市辖区',
  '110101': '东城区',
  '34': '安徽省',
  '3402': '芜湖市',
  '44': '广东省',
  '4403': '深圳市',
  '440303': '罗湖区',
  '440304': '福田区',
  '440305': '南山区',
  '440306': '宝安区',
};

const pick = <T>(list: readonly T[], index: number): T => list[index % list.length]!;
const ordinal = (n: number): string => String(n).padStart(3, '0');

/** "南门入口-001": location by index, with a running number so names stay unique-ish. */
export function cameraName(index: number): string {
  return `${pick(CAMERA_PLACES, index)}-${ordinal(index + 1)}`;
}

export function nvrName(index: number): string {
  return `${pick(NVR_PLACES, index)}录像机-${ordinal(index + 1)}`;
}

export function regionName(code: string, unitIndex = 0): string {
  const known = REGION_NAMES[code];
  if (known !== undefined) return code.length === 8 ? `${known} 区域` : known;
  if (code.length === 8) return `${pick(STATION_NAMES, unitIndex)} 区域`;
  return `区域${code}`;
}

export function virtualOrgName(index: number): string {
  return `${pick(VIRTUAL_ORG_NAMES, index)}${index >= VIRTUAL_ORG_NAMES.length ? Math.floor(index / VIRTUAL_ORG_NAMES.length) + 1 : ''}`;
}

// ------------------------------------------------------------------------------------------------ vendors

export interface VendorProfile {
  manufacturer: string;
  /** SIP User-Agent the vendor's devices send (Dahua's is from real captures, GB brief [CAP]). */
  userAgent: string;
  ipcModel: string;
  nvrModel: string;
  platformModel: string;
  firmware: string;
}

export const VENDORS: readonly VendorProfile[] = [
  {
    manufacturer: 'Hikvision',
    userAgent: 'IP Camera',
    ipcModel: 'DS-2CD3T46WD-I3',
    nvrModel: 'DS-7816N-K2',
    platformModel: 'iVMS-8700',
    firmware: 'V5.5.0 build 180301',
  },
  {
    manufacturer: 'Dahua',
    userAgent: 'DH SIP UAS V1.0',
    ipcModel: 'DH-IPC-HFW2433M-I1',
    nvrModel: 'DHI-NVR4216-4KS2',
    platformModel: 'DSS-S2',
    firmware: '2.800.0000000.21.R',
  },
  {
    manufacturer: 'Simulator',
    userAgent: 'sharp-eyes-sim/0.1',
    ipcModel: 'SIM-IPC-200',
    nvrModel: 'SIM-NVR-16',
    platformModel: 'SIM-PLATFORM',
    firmware: 'V1.0.0',
  },
];

export function vendorFor(index: number): VendorProfile {
  return pick(VENDORS, index);
}

/**
 * Coordinates scattered around Shenzhen Nanshan (GCJ-02-ish, as Chinese devices often report), deterministic
 * by index so catalogs are stable between queries.
 */
export function coordinatesFor(index: number): { longitude: number; latitude: number } {
  const a = (index * 7919) % 10_000;
  const b = (index * 104_729) % 10_000;
  return {
    longitude: Math.round((113.88 + a * 0.00001) * 1e6) / 1e6,
    latitude: Math.round((22.48 + b * 0.00001) * 1e6) / 1e6,
  };
}

/** A private-network address for the Catalog IPAddress field (never contacted; the catalog just carries it). */
export function fakeLanAddress(index: number): string {
  return `10.${20 + Math.floor(index / 65_024) % 200}.${Math.floor(index / 254) % 256}.${(index % 254) + 1}`;
}
