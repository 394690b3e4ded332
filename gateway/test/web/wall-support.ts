/**
 * Shared by the wall's browser tests: what a tile shows, read from the page the way a user would see it
 * (its state attribute, the name in its chrome, the video element's clock and decoded frames).
 */
import type { Locator, Page } from 'playwright-core';

export interface TileReading {
  index: number;
  channelId: string;
  state: string;
  currentTime: number;
  decodedFrames: number;
  videoWidth: number;
}

export function tile(page: Page, index: number): Locator {
  return page.locator(`[data-testid=wall-grid] [data-testid=wall-tile][data-index="${index}"]`);
}

/**
 * Every tile of the grid with its player's figures. The script is a string: the gateway's type-check has no
 * DOM library, and this runs in the page, not in Node.
 */
export function readTiles(page: Page): Promise<TileReading[]> {
  return page.evaluate<TileReading[]>(`[...document.querySelectorAll('[data-testid=wall-grid] [data-testid=wall-tile]')].map((el) => {
    const video = el.querySelector('video');
    const quality = video && typeof video.getVideoPlaybackQuality === 'function' ? video.getVideoPlaybackQuality() : null;
    return {
      index: Number(el.dataset.index),
      channelId: el.dataset.channelId ?? '',
      state: el.dataset.state ?? '',
      currentTime: video?.currentTime ?? 0,
      decodedFrames: quality?.totalVideoFrames ?? 0,
      videoWidth: video?.videoWidth ?? 0,
    };
  })`);
}

/** Computed style properties of the element a locator points at. */
export function computedStyle(locator: Locator, properties: string[]): Promise<Record<string, string>> {
  return locator.evaluate((el, names) => {
    const style = el.ownerDocument.defaultView!.getComputedStyle(el);
    return Object.fromEntries(names.map((n) => [n, style.getPropertyValue(n)]));
  }, properties);
}

/** Where the wall page sits in the viewport, the document's scroll height and the wall's font size. */
export function wallBox(page: Page): Promise<{ bottom: number; right: number; scrollHeight: number; fontSize: string }> {
  return page.evaluate(`(() => {
    const wall = document.querySelector('[data-testid=wall-page]');
    const r = wall.getBoundingClientRect();
    return { bottom: Math.round(r.bottom), right: Math.round(r.right), scrollHeight: document.scrollingElement.scrollHeight, fontSize: getComputedStyle(wall).fontSize };
  })()`);
}

/** Reveal a node through the tree search (type, pick the hit): the tree expands to it. */
export async function revealInTree(page: Page, query: string, nodeId: string): Promise<Locator> {
  await page.locator('[data-testid=tree-search]').fill(query);
  await page.locator(`[data-testid=tree-hit][data-node-id="${nodeId}"]`).click();
  const row = page.locator(`[data-testid=tree] [data-testid=tree-node][data-node-id="${nodeId}"]`).first();
  await row.waitFor({ state: 'visible' });
  return row;
}
