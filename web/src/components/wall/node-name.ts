/**
 * What to call a tree node. Region, group and channel names are data (shown as the gateway has them, Chinese
 * in both languages); the two nodes the gateway makes up itself — the region view's "unplaced" and the group
 * view's "ungrouped" (kind 'unassigned', ids `unplaced` / `ungrouped`) — are UI words, said in the page's
 * language.
 */
import { i18n } from '../../i18n';

export function nodeName(node: { id: string; name?: string; kind?: string }): string {
  if (node.kind === 'unassigned' || node.id === 'unplaced' || node.id === 'ungrouped') {
    const key = `wall.tree.unassigned.${node.id}`;
    if (i18n.global.te(key)) return i18n.global.t(key);
  }
  return node.name || node.id;
}
