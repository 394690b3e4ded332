/**
 * Alert rules: validation of what a maintainer submits, and their storage (records port, in memory for the
 * evaluation pass). The API's JSON schema checks types and ranges; the cross-field rules live here so that
 * every caller gets the same 400 naming the field.
 */
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../services.js';
import { normaliseRegionCode } from '../catalog/region-codes.js';
import type { RecordCollection, RecordStore } from '../records.js';
import { WEBHOOK_FORMATS, type AlertRule, type AlertRuleInput, type AlertScope } from './types.js';

export const RULE_COLLECTION = 'health_alert_rules';
/** Marks that the defaults were created once: a maintainer who deletes the default rule keeps it deleted. */
const META_COLLECTION = 'health_meta';
const DEFAULTS_SEEDED = 'default-alert-rules';

export const RULE_LIMITS = {
  offlineMinutes: { min: 1, max: 10_080 },
  failureCount: { min: 1, max: 1000 },
  clearAfterSuccesses: { min: 1, max: 1000 },
  reminderMinutes: { min: 1, max: 10_080 },
  nameLength: 100,
  urlLength: 2000,
} as const;

function checkRange(value: number | null | undefined, field: keyof typeof RULE_LIMITS, path: string): void {
  if (value === null || value === undefined) return;
  const limits = RULE_LIMITS[field] as { min: number; max: number };
  if (!Number.isInteger(value) || value < limits.min || value > limits.max) {
    throw new ValidationError(`${path} must be an integer ${limits.min}-${limits.max}`, path);
  }
}

function checkUrl(url: string | null | undefined): void {
  if (url === null || url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError('body.webhookUrl must be an absolute http(s) URL', 'body.webhookUrl');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ValidationError('body.webhookUrl must use http or https', 'body.webhookUrl');
  }
}

function normaliseScope(scope: AlertScope | undefined): AlertScope {
  if (!scope || scope.kind === 'all') return { kind: 'all', nodeId: null };
  if (!scope.nodeId) throw new ValidationError(`body.scope.nodeId is required for a ${scope.kind} scope`, 'body.scope.nodeId');
  if (scope.kind === 'region' && normaliseRegionCode(scope.nodeId) === '') {
    throw new ValidationError(
      'body.scope.nodeId of a region scope must be a region code of the region tree: a 2/4/6/8-digit civil code or a 9/12–19-digit township, village or grid code',
      'body.scope.nodeId',
    );
  }
  if (scope.kind === 'group' && !/^[0-9]{20}$/.test(scope.nodeId)) {
    throw new ValidationError('body.scope.nodeId of a group scope must be a 20-digit business-group or virtual-org ID', 'body.scope.nodeId');
  }
  return { kind: scope.kind, nodeId: scope.nodeId };
}

/** A complete rule from submitted input; throws ValidationError naming the field. */
export function ruleFromInput(input: AlertRuleInput, base: { id: string; createdBy: string; createdAt: number }, now: number): AlertRule {
  const name = input.name?.trim() ?? '';
  if (name === '' || name.length > RULE_LIMITS.nameLength) {
    throw new ValidationError(`body.name must be 1-${RULE_LIMITS.nameLength} characters`, 'body.name');
  }
  checkRange(input.offlineMinutes, 'offlineMinutes', 'body.offlineMinutes');
  checkRange(input.failureCount, 'failureCount', 'body.failureCount');
  checkRange(input.clearAfterSuccesses, 'clearAfterSuccesses', 'body.clearAfterSuccesses');
  checkRange(input.reminderMinutes, 'reminderMinutes', 'body.reminderMinutes');
  checkUrl(input.webhookUrl);
  if (input.webhookFormat !== undefined && !WEBHOOK_FORMATS.includes(input.webhookFormat)) {
    throw new ValidationError(`body.webhookFormat must be one of: ${WEBHOOK_FORMATS.join(', ')}`, 'body.webhookFormat');
  }
  if (input.kind === 'offline') {
    if (input.offlineMinutes === null || input.offlineMinutes === undefined) {
      throw new ValidationError('body.offlineMinutes is required for an offline rule', 'body.offlineMinutes');
    }
  } else if (input.kind === 'stream-failure') {
    if (input.failureCount === null || input.failureCount === undefined) {
      throw new ValidationError('body.failureCount is required for a stream-failure rule', 'body.failureCount');
    }
  } else {
    throw new ValidationError('body.kind must be one of: offline, stream-failure', 'body.kind');
  }
  const offline = input.kind === 'offline';
  return {
    id: base.id,
    name,
    enabled: input.enabled ?? true,
    kind: input.kind,
    offlineMinutes: offline ? (input.offlineMinutes ?? null) : null,
    failureCount: offline ? null : (input.failureCount ?? null),
    // One success clears by default: the channel works again.
    clearAfterSuccesses: offline ? null : (input.clearAfterSuccesses ?? 1),
    reminderMinutes: input.reminderMinutes ?? null,
    notifyRecovery: input.notifyRecovery ?? true,
    scope: normaliseScope(input.scope),
    webhookUrl: input.webhookUrl ?? null,
    webhookFormat: input.webhookFormat ?? 'json',
    createdBy: base.createdBy,
    createdAt: base.createdAt,
    updatedAt: now,
  };
}

export class AlertRules {
  private readonly rules = new Map<string, AlertRule>();
  private readonly collection: RecordCollection<AlertRule>;
  private readonly meta: RecordCollection<{ id: string; at: number }>;

  constructor(records: RecordStore) {
    this.collection = records.collection<AlertRule>(RULE_COLLECTION, ['createdAt']);
    this.meta = records.collection<{ id: string; at: number }>(META_COLLECTION, []);
  }

  /**
   * A fresh install gets one offline rule (all channels, in-app), so the first camera that goes dark is noticed
   * before anyone has opened the rule editor. Created once: after that the rules are the maintainers'.
   */
  async seedDefaults(offlineMinutes: number, now: number): Promise<AlertRule | null> {
    if (await this.meta.get(DEFAULTS_SEEDED)) return null;
    let created: AlertRule | null = null;
    if (offlineMinutes > 0 && this.rules.size === 0) {
      const rule = ruleFromInput(
        { name: `离线告警（默认，${offlineMinutes} 分钟）`, kind: 'offline', offlineMinutes, notifyRecovery: true },
        { id: randomUUID(), createdBy: 'system', createdAt: now },
        now,
      );
      created = { ...rule, preset: 'default-offline' };
      await this.collection.put(created);
      this.rules.set(created.id, created);
    }
    await this.meta.put({ id: DEFAULTS_SEEDED, at: now });
    return created;
  }

  async load(): Promise<void> {
    const pageSize = 1000;
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.collection.find({ sort: { field: 'createdAt', order: 'asc' }, offset, limit: pageSize });
      for (const rule of page.items) this.rules.set(rule.id, rule);
      if (page.items.length < pageSize) break;
    }
  }

  list(): AlertRule[] {
    return [...this.rules.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  get(id: string): AlertRule | undefined {
    return this.rules.get(id);
  }

  async create(input: AlertRuleInput, by: string, now: number): Promise<AlertRule> {
    const rule = ruleFromInput(input, { id: randomUUID(), createdBy: by, createdAt: now }, now);
    await this.collection.put(rule);
    this.rules.set(rule.id, rule);
    return rule;
  }

  /** Returns the previous and the new rule, or null for an unknown id. */
  async update(id: string, input: AlertRuleInput, now: number): Promise<{ before: AlertRule; after: AlertRule } | null> {
    const before = this.rules.get(id);
    if (!before) return null;
    const after = ruleFromInput(input, { id, createdBy: before.createdBy, createdAt: before.createdAt }, now);
    await this.collection.put(after);
    this.rules.set(id, after);
    return { before, after };
  }

  async delete(id: string): Promise<boolean> {
    if (!this.rules.has(id)) return false;
    await this.collection.delete(id);
    this.rules.delete(id);
    return true;
  }
}
