/**
 * Tours (轮巡): a program of steps that the browser plays, per tile ("tile" scope: one camera per step) or
 * for the whole wall ("wall" scope: each step fills the tiles in order). The gateway stores and validates
 * them; playing, skipping offline cameras and pausing happen in the browser.
 */
import { randomUUID } from 'node:crypto';
import type { Page } from '../model.js';
import type { RecordStore } from '../records.js';
import { ValidationError, type Principal } from '../services.js';
import { CHANNEL_ID, LAYOUT_KINDS, MAX_TILES, isLayoutKind, tileCountOf, type LayoutKind } from './layout.js';
import { OwnedItems, checkedName, type OwnedItem } from './owned-items.js';

export type TourScope = 'tile' | 'wall';

export interface TourStep {
  /** Tile scope: exactly one; wall scope: fills the tiles in order (at most the layout's tile count). */
  channelIds: string[];
  /** 5 s to a day. */
  dwellSec: number;
  /** PTZ preset to call when the step starts (1–255), or null. */
  preset: number | null;
}

export interface Tour extends OwnedItem {
  scope: TourScope;
  /** Wall scope: the layout the tour switches the wall to, or null to keep the current one. Tile scope: null. */
  layoutKind: LayoutKind | null;
  steps: TourStep[];
}

export interface TourInput {
  name: string;
  shared?: boolean;
  scope: TourScope;
  layoutKind?: LayoutKind | null;
  steps: TourStep[];
}

export const TOURS_COLLECTION = 'tours';
export const DWELL_MIN_SEC = 5;
export const DWELL_MAX_SEC = 86_400;
export const MAX_TOUR_STEPS = 1000;

function validateSteps(scope: TourScope, layoutKind: LayoutKind | null, steps: unknown): TourStep[] {
  if (!Array.isArray(steps) || steps.length === 0) throw new ValidationError('body.steps must be a non-empty array', 'body.steps');
  if (steps.length > MAX_TOUR_STEPS) throw new ValidationError(`body.steps must have at most ${MAX_TOUR_STEPS} steps`, 'body.steps');
  // A custom grid's size is not part of the tour: up to the largest grid.
  const perStep = scope === 'tile' ? 1 : layoutKind === null || layoutKind === 'custom' ? MAX_TILES : (tileCountOf(layoutKind) as number);
  return steps.map((step: unknown, i): TourStep => {
    const at = `body.steps.${i}`;
    if (typeof step !== 'object' || step === null) throw new ValidationError(`${at} must be an object`, at);
    const { channelIds, dwellSec, preset } = step as Record<string, unknown>;
    if (!Array.isArray(channelIds) || channelIds.length === 0) throw new ValidationError(`${at}.channelIds must be a non-empty array`, `${at}.channelIds`);
    if (scope === 'tile' && channelIds.length !== 1) throw new ValidationError(`${at}.channelIds must hold exactly one channel in a tile tour`, `${at}.channelIds`);
    if (channelIds.length > perStep) {
      throw new ValidationError(`${at}.channelIds has ${channelIds.length} channels but layout "${layoutKind}" has ${perStep} tiles`, `${at}.channelIds`);
    }
    channelIds.forEach((id: unknown, j) => {
      if (typeof id !== 'string' || !CHANNEL_ID.test(id)) throw new ValidationError(`${at}.channelIds.${j} must be a channel ID (2–20 digits)`, `${at}.channelIds.${j}`);
    });
    if (typeof dwellSec !== 'number' || !Number.isInteger(dwellSec) || dwellSec < DWELL_MIN_SEC || dwellSec > DWELL_MAX_SEC) {
      throw new ValidationError(`${at}.dwellSec must be an integer ${DWELL_MIN_SEC}–${DWELL_MAX_SEC}`, `${at}.dwellSec`);
    }
    const presetValue = preset ?? null;
    if (presetValue !== null && (typeof presetValue !== 'number' || !Number.isInteger(presetValue) || presetValue < 1 || presetValue > 255)) {
      throw new ValidationError(`${at}.preset must be 1–255 or null`, `${at}.preset`);
    }
    return { channelIds: [...(channelIds as string[])], dwellSec, preset: presetValue as number | null };
  });
}

function validateTour(input: TourInput): { name: string; scope: TourScope; layoutKind: LayoutKind | null; steps: TourStep[] } {
  const name = checkedName(input.name, 'body.name');
  if (input.scope !== 'tile' && input.scope !== 'wall') throw new ValidationError('body.scope must be one of: tile, wall', 'body.scope');
  const layoutKind = input.layoutKind ?? null;
  if (layoutKind !== null && !isLayoutKind(layoutKind)) throw new ValidationError(`body.layoutKind must be one of: ${LAYOUT_KINDS.join(', ')} or null`, 'body.layoutKind');
  if (input.scope === 'tile' && layoutKind !== null) throw new ValidationError('body.layoutKind must be null for a tile tour', 'body.layoutKind');
  return { name, scope: input.scope, layoutKind, steps: validateSteps(input.scope, layoutKind, input.steps) };
}

export class TourService {
  private readonly items: OwnedItems<Tour>;

  constructor(
    records: RecordStore,
    private readonly now: () => number = Date.now,
  ) {
    this.items = new OwnedItems(records.collection<Tour>(TOURS_COLLECTION, ['owner', 'shared']), 'tour');
  }

  list(actor: Principal, page?: { offset?: number; limit?: number }): Promise<Page<Tour>> {
    return this.items.visibleTo(actor, page);
  }

  get(actor: Principal, id: string): Promise<Tour> {
    return this.items.readable(actor, id);
  }

  async create(actor: Principal, input: TourInput): Promise<Tour> {
    const checked = validateTour(input);
    const at = this.now();
    const tour: Tour = { id: randomUUID(), owner: actor.username, shared: input.shared ?? false, ...checked, createdAt: at, updatedAt: at };
    await this.items.records.put(tour);
    return tour;
  }

  update(actor: Principal, id: string, input: TourInput): Promise<Tour> {
    const checked = validateTour(input);
    return this.items.serialised(async () => {
      const current = await this.items.writable(actor, id);
      const tour: Tour = { ...current, ...checked, shared: input.shared ?? current.shared, updatedAt: Math.max(this.now(), current.updatedAt) };
      await this.items.records.put(tour);
      return tour;
    });
  }

  delete(actor: Principal, id: string): Promise<void> {
    return this.items.serialised(async () => {
      await this.items.writable(actor, id);
      await this.items.records.delete(id);
    });
  }
}
