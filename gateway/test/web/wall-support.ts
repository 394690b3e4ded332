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

/** Every tile of the grid with its player's figures. */
export function readTiles(page: Page): Promise<TileReading[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('[data-testid=wall-grid] [data-testid=wall-tile]')].map((el) => {
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
    }),
  );
}

/** Reveal a node through the tree search (type, pick the hit): the tree expands to it. */
export async function revealInTree(page: Page, query: string, nodeId: string): Promise<Locator> {
  await page.locator('[data-testid=tree-search]').fill(query);
  await page.locator(`[data-testid=tree-hit][data-node-id="${nodeId}"]`).click();
  const row = page.locator(`[data-testid=tree] [data-testid=tree-node][data-node-id="${nodeId}"]`).first();
  await row.waitFor({ state: 'visible' });
  return row;
}
