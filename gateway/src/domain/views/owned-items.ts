/**
 * What saved views and tours have in common: each belongs to the user who made it (`owner` = username),
 * is private to its owner or shared with everyone, and only its owner or an admin may change it. A private
 * item of someone else is "not found" (its existence is nobody else's business); a shared one is readable
 * but changing it is forbidden.
 */
import type { Page } from '../model.js';
import type { RecordCollection } from '../records.js';
import { ForbiddenError, NotFoundError, ValidationError, type Principal } from '../services.js';

export interface OwnedItem {
  id: string;
  name: string;
  owner: string;
  shared: boolean;
  createdAt: number;
  updatedAt: number;
}

/** How many of a user's own (or shared) items a listing reads; far above any real wall's count. */
const MAX_LISTED = 1000;
const NAME_MAX = 100;

const collator = new Intl.Collator('zh-CN', { numeric: true });

export function isAdmin(actor: Principal): boolean {
  return actor.role === 'admin';
}

/** A trimmed, non-empty name of at most 100 characters. */
export function checkedName(name: unknown, field: string): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed === '') throw new ValidationError(`${field} must not be empty`, field);
  if ([...trimmed].length > NAME_MAX) throw new ValidationError(`${field} must be at most ${NAME_MAX} characters`, field);
  return trimmed;
}

export class OwnedItems<T extends OwnedItem> {
  /** Mutations one at a time, so that "only one view per hotkey" holds under concurrent requests. */
  private lane: Promise<unknown> = Promise.resolve();

  constructor(
    readonly records: RecordCollection<T>,
    private readonly what: string,
  ) {}

  /** The caller's own items and everyone's shared ones, by name; paged after merging. */
  async visibleTo(actor: Principal, page: { offset?: number; limit?: number } = {}): Promise<Page<T>> {
    const [own, shared] = await Promise.all([
      this.records.find({ where: { owner: actor.username }, limit: MAX_LISTED }),
      this.records.find({ where: { shared: true }, limit: MAX_LISTED }),
    ]);
    const byId = new Map<string, T>();
    for (const item of [...own.items, ...shared.items]) byId.set(item.id, item);
    const items = [...byId.values()].sort((a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const offset = page.offset ?? 0;
    const limit = page.limit ?? items.length;
    return { total: items.length, items: items.slice(offset, offset + limit) };
  }

  /** The item if the caller may see it (own, shared, or admin), else NotFoundError. */
  async readable(actor: Principal, id: string): Promise<T> {
    const item = await this.records.get(id);
    if (!item || (!item.shared && item.owner !== actor.username && !isAdmin(actor))) throw new NotFoundError(`${this.what} ${id} not found`);
    return item;
  }

  /** The item if the caller may change it (owner or admin); ForbiddenError for someone else's shared item. */
  async writable(actor: Principal, id: string): Promise<T> {
    const item = await this.readable(actor, id);
    if (item.owner !== actor.username && !isAdmin(actor)) {
      throw new ForbiddenError(`${this.what} ${id} belongs to ${item.owner}; only its owner or an admin may change it`);
    }
    return item;
  }

  /** Runs `change` after every earlier mutation of this collection has finished. */
  serialised<R>(change: () => Promise<R>): Promise<R> {
    const turn = this.lane.then(change, change);
    this.lane = turn.catch(() => undefined);
    return turn;
  }
}
