/**
 * The config file's upper platforms (`cascade.platforms`) as the platform service takes them. The file's entries
 * are flat (a list item holds no nested mapping), so the share is spelled `shareAll` / `shareRegions` /
 * `shareGroups` / `shareChannels` there and rebuilt into the API's `share` object here; the ID mapping is a list of
 * `"<our channel ID>=<upper ID>"` items there and the API's `channelIds` object here (an item without `=` reaches
 * the platform service's validation as a mapping to nothing, and stops the start with its message).
 */
import type { CreatePlatformInput } from '../domain/cascade/platform-service.js';
import type { PlatformConfigEntry } from './schema.js';

export function configuredPlatforms(entries: readonly PlatformConfigEntry[]): CreatePlatformInput[] {
  return entries.map((entry) => {
    const { shareAll, shareRegions, shareGroups, shareChannels, localId, channelIds, ...rest } = entry;
    return {
      ...rest,
      channelIds: Object.fromEntries((channelIds ?? []).map((item) => {
        const at = item.indexOf('=');
        return at < 0 ? [item.trim(), ''] : [item.slice(0, at).trim(), item.slice(at + 1).trim()];
      })),
      localId: localId ?? null,
      share: shareAll ? { all: true } : { regions: shareRegions ?? [], groups: shareGroups ?? [], channels: shareChannels ?? [] },
    };
  });
}
