/**
 * A device's RecordInfo as the API shows it (domain/streams/recordings.ts): items whose times cannot be read or
 * that end before they start are dropped, not drawn as broken bars; the rest are ISO instants, sorted.
 */
import { describe, expect, it } from 'vitest';
import type { RecordItem } from '../../src/codecs/manscdp/messages.js';
import { recordsPage } from '../../src/domain/streams/recordings.js';

const item = (startTime: string, endTime: string): RecordItem => ({
  deviceId: '44030500001310000001', name: 'rec', filePath: '', address: '', startTime, endTime, secrecy: 0, type: 'time', recorderId: '', fileSize: null, extra: {},
});

describe('recordsPage', () => {
  it('drops unreadable and backwards times, keeps and sorts the rest (China time → UTC)', () => {
    const page = recordsPage(
      [
        item('2026-12-01T10:00:00', '2026-12-01T10:59:59'),
        item('yesterday', '2026-12-01T11:59:59'),
        item('2026-12-01T08:00:00', '2026-12-01T08:59:59'),
        item('2026-12-01T09:00:00', '2026-12-01T08:00:00'),
        item('2026-13-45T99:00:00', '2026-12-01T09:59:59'),
        item('', ''),
      ],
      true,
    );
    expect(page.total).toBe(2);
    expect(page.complete).toBe(true);
    expect(page.items.map((i) => i.start)).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-01T02:00:00.000Z']);
  });
});
