/**
 * A device's RecordInfo answer as the API shows it: ISO 8601 instants (the device speaks GB local time, see
 * codecs/gb/gb-time.ts), sorted by start. Items whose times cannot be read, or that end before they start, are
 * dropped rather than shown as a broken bar on a timeline; `complete` says whether SumNum items arrived.
 */
import { fromGbTime } from '../../codecs/gb/gb-time.js';
import type { RecordItem } from '../../codecs/manscdp/messages.js';
import type { RecordsPage } from '../services.js';

export function recordsPage(items: readonly RecordItem[], complete: boolean): RecordsPage {
  const rows: Array<RecordsPage['items'][number] & { at: number }> = [];
  for (const item of items) {
    const start = fromGbTime(item.startTime);
    const end = fromGbTime(item.endTime);
    if (start === null || end === null || end < start) continue;
    rows.push({
      at: start,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      type: item.type || 'time',
      secrecy: item.secrecy,
      name: item.name,
      filePath: item.filePath,
      fileSize: item.fileSize,
    });
  }
  rows.sort((a, b) => a.at - b.at);
  return { total: rows.length, complete, items: rows.map(({ at: _at, ...row }) => row) };
}
