/**
 * Answers to our queries arrive as separate MESSAGEs (GB 9.3/9.5), possibly in many parts with the same SN
 * (Annex M). This table matches them to the waiting query by (sender ID, CmdType, SN).
 */
import type { ManscdpMessage } from '../../codecs/manscdp/messages.js';

export interface CollectedAnswer {
  parts: number;
  /** True when onPart reported completion; false when the device went quiet first. */
  complete: boolean;
}

export interface ExpectOptions {
  /** How long to wait for the first part. */
  firstTimeoutMs: number;
  /** How long to wait for each following part. */
  idleTimeoutMs: number;
  /** Called for each part; return true when the answer is complete. */
  onPart: (message: ManscdpMessage) => boolean;
}

interface Pending {
  options: ExpectOptions;
  parts: number;
  timer: NodeJS.Timeout;
  resolve: (answer: CollectedAnswer) => void;
}

export class PendingQueries {
  private readonly table = new Map<string, Pending>();

  private static key(deviceId: string, cmdType: string, sn: number): string {
    return `${deviceId}|${cmdType.toLowerCase()}|${sn}`;
  }

  expect(deviceId: string, cmdType: string, sn: number, options: ExpectOptions): Promise<CollectedAnswer> {
    const key = PendingQueries.key(deviceId, cmdType, sn);
    return new Promise((resolve) => {
      const entry: Pending = {
        options,
        parts: 0,
        resolve,
        timer: setTimeout(() => this.finish(key, false), options.firstTimeoutMs),
      };
      this.table.set(key, entry);
    });
  }

  /** Route an incoming Response; false when nobody is waiting for it. */
  deliver(senderId: string, message: ManscdpMessage): boolean {
    const key = PendingQueries.key(senderId, message.cmdType, message.sn);
    let entry = this.table.get(key);
    let entryKey = key;
    if (!entry) {
      // Some lower platforms answer from a different From user than the one we queried; fall back to the
      // DeviceID in the body, which echoes the queried ID.
      entryKey = PendingQueries.key(message.deviceId, message.cmdType, message.sn);
      entry = this.table.get(entryKey);
    }
    if (!entry) return false;
    entry.parts++;
    let done = false;
    try {
      done = entry.options.onPart(message);
    } catch {
      done = false;
    }
    if (done) {
      this.finish(entryKey, true);
    } else {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => this.finish(entryKey, false), entry.options.idleTimeoutMs);
    }
    return true;
  }

  cancel(deviceId: string, cmdType: string, sn: number): void {
    this.finish(PendingQueries.key(deviceId, cmdType, sn), false);
  }

  get size(): number {
    return this.table.size;
  }

  close(): void {
    for (const key of [...this.table.keys()]) this.finish(key, false);
  }

  private finish(key: string, complete: boolean): void {
    const entry = this.table.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.table.delete(key);
    entry.resolve({ parts: entry.parts, complete });
  }
}
