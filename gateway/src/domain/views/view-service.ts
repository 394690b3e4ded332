/**
 * Saved wall views (layout + cameras), stored on the server so that they survive browsers and machines, and
 * recalled with Alt+1…9: a hotkey is unique among one owner's views, so assigning it to a view takes it
 * from the owner's other views.
 */
import { randomUUID } from 'node:crypto';
import type { Page } from '../model.js';
import type { RecordStore } from '../records.js';
import { ValidationError, type Principal } from '../services.js';
import { validateLayout, type WallLayout } from './layout.js';
import { OwnedItems, checkedName, type OwnedItem } from './owned-items.js';

export interface View extends OwnedItem {
  /** Alt+1…9, unique among the owner's views; null = none. */
  hotkey: number | null;
  layout: WallLayout;
}

/** Body of POST /api/views and PUT /api/views/:id; on PUT an omitted `shared` / `hotkey` keeps its value. */
export interface ViewInput {
  name: string;
  shared?: boolean;
  hotkey?: number | null;
  layout: WallLayout;
}

export const VIEWS_COLLECTION = 'views';

function checkedHotkey(hotkey: unknown, field: string): number | null {
  if (hotkey === null) return null;
  if (typeof hotkey !== 'number' || !Number.isInteger(hotkey) || hotkey < 1 || hotkey > 9) throw new ValidationError(`${field} must be 1–9 or null`, field);
  return hotkey;
}

export class ViewService {
  private readonly items: OwnedItems<View>;

  constructor(
    records: RecordStore,
    private readonly now: () => number = Date.now,
  ) {
    this.items = new OwnedItems(records.collection<View>(VIEWS_COLLECTION, ['owner', 'shared', 'hotkey']), 'view');
  }

  list(actor: Principal, page?: { offset?: number; limit?: number }): Promise<Page<View>> {
    return this.items.visibleTo(actor, page);
  }

  get(actor: Principal, id: string): Promise<View> {
    return this.items.readable(actor, id);
  }

  create(actor: Principal, input: ViewInput): Promise<View> {
    const name = checkedName(input.name, 'body.name');
    const layout = validateLayout(input.layout, 'body.layout');
    const hotkey = input.hotkey === undefined ? null : checkedHotkey(input.hotkey, 'body.hotkey');
    return this.items.serialised(async () => {
      const at = this.now();
      const view: View = { id: randomUUID(), name, owner: actor.username, shared: input.shared ?? false, hotkey, layout, createdAt: at, updatedAt: at };
      await this.takeHotkey(view);
      await this.items.records.put(view);
      return view;
    });
  }

  update(actor: Principal, id: string, input: ViewInput): Promise<View> {
    const name = checkedName(input.name, 'body.name');
    const layout = validateLayout(input.layout, 'body.layout');
    const hotkey = input.hotkey === undefined ? undefined : checkedHotkey(input.hotkey, 'body.hotkey');
    return this.items.serialised(async () => {
      const current = await this.items.writable(actor, id);
      const view: View = {
        ...current,
        name,
        layout,
        shared: input.shared ?? current.shared,
        hotkey: hotkey === undefined ? current.hotkey : hotkey,
        updatedAt: Math.max(this.now(), current.updatedAt),
      };
      await this.takeHotkey(view);
      await this.items.records.put(view);
      return view;
    });
  }

  delete(actor: Principal, id: string): Promise<void> {
    return this.items.serialised(async () => {
      await this.items.writable(actor, id);
      await this.items.records.delete(id);
    });
  }

  /** The view's hotkey leaves the owner's other views (one write for all of them). */
  private async takeHotkey(view: View): Promise<void> {
    if (view.hotkey === null) return;
    const holders = await this.items.records.find({ where: { owner: view.owner, hotkey: view.hotkey }, limit: 1000 });
    const others = holders.items.filter((v) => v.id !== view.id);
    if (others.length === 0) return;
    await this.items.records.putMany(others.map((v) => ({ ...v, hotkey: null, updatedAt: Math.max(view.updatedAt, v.updatedAt) })));
  }
}
