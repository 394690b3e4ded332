/**
 * The config file's upper platforms (`cascade.platforms`) as the platform service takes them. The file's entries
 * are flat (a list item holds no nested mapping), so the share is spelled `shareAll` / `shareRegions` /
 * `shareGroups` / `shareChannels` there and rebuilt into the API's `share` object here.
 */
import type { CreatePlatformInput } from '../domain/cascade/platform-service.js';
import type { PlatformConfigEntry } from './schema.js';

export function configuredPlatforms(entries: readonly PlatformConfigEntry[]): CreatePlatformInput[] {
  return entries.map((entry) => {
    const { shareAll, shareRegions, shareGroups, shareChannels, localId, ...rest } = entry;
    return {
      ...rest,
      localId: localId ?? null,
      share: shareAll ? { all: true } : { regions: shareRegions ?? [], groups: shareGroups ?? [], channels: shareChannels ?? [] },
    };
  });
}
