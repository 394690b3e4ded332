/**
 * Drag and drop on the wall: tree nodes (a camera, or a group / region / device that fills the wall) and
 * tiles (drag onto another tile to swap). Custom MIME types so a stray drag of text or a file is ignored.
 */
import type { WallTreeNode, WallTreeView } from './wall-api';

export const NODE_MIME = 'application/x-sharp-eyes-node';
export const TILE_MIME = 'application/x-sharp-eyes-tile';

/** A dropped node carries the tree view it came from: a group's cameras are found in the group view. */
export type Dropped = { kind: 'node'; node: WallTreeNode; view: WallTreeView } | { kind: 'tile'; index: number };

export function startNodeDrag(event: DragEvent, node: WallTreeNode, view: WallTreeView): void {
  if (!event.dataTransfer) return;
  event.dataTransfer.setData(NODE_MIME, JSON.stringify({ node, view }));
  // Plain text too: dropping a camera into a text field gives its ID.
  event.dataTransfer.setData('text/plain', node.id);
  event.dataTransfer.effectAllowed = 'copy';
}

export function readDrag(event: DragEvent): Dropped | null {
  const data = event.dataTransfer;
  if (!data) return null;
  const tile = data.getData(TILE_MIME);
  if (tile !== '') {
    const index = Number(tile);
    return Number.isInteger(index) ? { kind: 'tile', index } : null;
  }
  const node = data.getData(NODE_MIME);
  if (node !== '') {
    try {
      const parsed = JSON.parse(node) as { node?: WallTreeNode; view?: unknown };
      const view: WallTreeView = parsed.view === 'group' ? 'group' : 'region';
      return parsed.node && typeof parsed.node.id === 'string' && typeof parsed.node.kind === 'string' ? { kind: 'node', node: parsed.node, view } : null;
    } catch {
      return null;
    }
  }
  return null;
}
