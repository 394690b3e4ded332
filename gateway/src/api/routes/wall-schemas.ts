/**
 * JSON schemas shared by the wall routes (views, tours, consultation sessions).
 *
 * The schemas are inlined rather than added as shared `$id` components: each of these route plugins is
 * registered on its own, only when its service exists.
 */
import { CUSTOM_GRID_MAX, LAYOUT_KINDS, MAX_TILES } from '../../domain/views/layout.js';
import { NODE_ID_PATTERN } from '../schemas.js';

export const channelIdSchema = { type: 'string', pattern: NODE_ID_PATTERN, description: 'Channel ID (2–20 digits).' } as const;

export const wallTileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['channelId'],
  properties: { channelId: { type: ['string', 'null'], pattern: NODE_ID_PATTERN, description: 'null = empty tile.' } },
} as const;

export const wallLayoutSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'tiles', 'maximised'],
  description:
    'Wall layout. Tile counts: 1, 4, "1+5" 6 (one 2×2 tile + 5 in a 3×3 grid), "1+7" 8 (one 3×3 tile + 7 in a 4×4 grid), ' +
    `9, 16, 25, custom cols×rows (1–${CUSTOM_GRID_MAX} each).`,
  properties: {
    kind: { type: 'string', enum: [...LAYOUT_KINDS] },
    cols: { type: 'integer', minimum: 1, maximum: CUSTOM_GRID_MAX, description: 'custom only' },
    rows: { type: 'integer', minimum: 1, maximum: CUSTOM_GRID_MAX, description: 'custom only' },
    tiles: { type: 'array', maxItems: MAX_TILES, items: wallTileSchema },
    maximised: { type: ['integer', 'null'], minimum: 0, description: 'Index of the maximised tile (main stream), or null.' },
  },
} as const;

export const uuidParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } },
} as const;
