/**
 * Maintenance flags (检修): a maintainer marks a channel as being worked on; its status reads "maintenance",
 * alerts for it are muted, and it leaves the intact-rate denominator. Kept in memory for the status sweep
 * and persisted through the records port so a restart keeps them.
 */
import type { RecordCollection, RecordStore } from '../records.js';
import type { MaintenanceFlag } from './types.js';

export const MAINTENANCE_COLLECTION = 'health_maintenance';

export class MaintenanceFlags {
  private readonly flags = new Map<string, MaintenanceFlag>();
  private readonly collection: RecordCollection<MaintenanceFlag>;

  constructor(records: RecordStore) {
    this.collection = records.collection<MaintenanceFlag>(MAINTENANCE_COLLECTION, ['at']);
  }

  async load(): Promise<void> {
    const pageSize = 1000;
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.collection.find({ offset, limit: pageSize });
      for (const flag of page.items) this.flags.set(flag.id, flag);
      if (page.items.length < pageSize) break;
    }
  }

  get(channelId: string): MaintenanceFlag | undefined {
    return this.flags.get(channelId);
  }

  has(channelId: string): boolean {
    return this.flags.has(channelId);
  }

  get size(): number {
    return this.flags.size;
  }

  async set(channelId: string, note: string | null, by: string, at: number): Promise<MaintenanceFlag> {
    const flag: MaintenanceFlag = { id: channelId, note, by, at };
    await this.collection.put(flag);
    this.flags.set(channelId, flag);
    return flag;
  }

  async clear(channelId: string): Promise<void> {
    await this.collection.delete(channelId);
    this.flags.delete(channelId);
  }
}
