/**
 * Catalog answers cut into MESSAGE parts: our simulator answering the gateway, and the gateway answering an
 * upper platform (cascade). Every part carries the same SN and SumNum = the grand total (GB/T 28181 Annex).
 */
import { encodeCatalogResponse, type CatalogItem } from '../../codecs/manscdp/messages.js';
import type { ManscdpCharset } from '../../codecs/manscdp/charset.js';

export interface CatalogListing {
  readonly total: number;
  /** Items [start, end) of the listing. */
  slice(start: number, end: number): CatalogItem[];
}

/**
 * Splits a catalog listing into MESSAGE bodies within a byte budget. Item sizes vary little, so the number of
 * items per part is predicted from the running average and corrected when an encoded part comes out too big:
 * about one encode per part, which matters for a 150 000-item platform catalog.
 */
export class CatalogPacker {
  private averageItemBytes = 0;
  private envelopeBytes = 0;

  constructor(
    private readonly queriedId: string,
    private readonly sn: number,
    private readonly listing: CatalogListing,
    private readonly charset: ManscdpCharset,
    private readonly budget: { bodyBytes: number; maxItems: number },
  ) {}

  *parts(): Generator<Buffer> {
    const total = this.listing.total;
    if (total === 0) {
      yield encodeCatalogResponse(this.queriedId, this.sn, 0, [], this.charset);
      return;
    }
    this.envelopeBytes = encodeCatalogResponse(this.queriedId, this.sn, total, [], this.charset).length + 32;
    let start = 0;
    while (start < total) {
      const remaining = total - start;
      let count = Math.min(remaining, this.budget.maxItems, this.predictCount());
      let items = this.listing.slice(start, start + count);
      let body = encodeCatalogResponse(this.queriedId, this.sn, total, items, this.charset);
      while (body.length > this.budget.bodyBytes && count > 1) {
        count = Math.max(1, Math.min(count - 1, Math.floor((count * this.budget.bodyBytes) / body.length)));
        items = items.slice(0, count);
        body = encodeCatalogResponse(this.queriedId, this.sn, total, items, this.charset);
      }
      const perItem = Math.max(1, (body.length - this.envelopeBytes) / count);
      this.averageItemBytes = this.averageItemBytes === 0 ? perItem : (this.averageItemBytes * 3 + perItem) / 4;
      start += count;
      yield body;
    }
  }

  private predictCount(): number {
    if (this.averageItemBytes === 0) return this.budget.maxItems;
    return Math.max(1, Math.floor((this.budget.bodyBytes - this.envelopeBytes) / this.averageItemBytes));
  }
}
