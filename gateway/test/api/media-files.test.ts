/**
 * Signed media paths with LL-HLS delivery directives, as the page's media socket passes them: the query is
 * split off the file name and `_HLS_msn` / `_HLS_part` reach the reader; anything else is not a media path.
 */
import { describe, expect, it } from 'vitest';
import { hlsDirectivesOf, parseMediaPath } from '../../src/api/media-files.js';

describe('media paths', () => {
  it('splits the blocking-reload query off the playlist name', () => {
    expect(parseMediaPath('/media/abc.def/index.m3u8?_HLS_msn=12&_HLS_part=3')).toEqual({ token: 'abc.def', file: 'index.m3u8', hls: { msn: 12, part: 3 } });
    expect(parseMediaPath('/media/abc/part-12-3.m4s')).toEqual({ token: 'abc', file: 'part-12-3.m4s', hls: {} });
    expect(parseMediaPath('/media/abc/index.m3u8?_HLS_msn=7')).toMatchObject({ hls: { msn: 7 } });
  });

  it('refuses other shapes and leaves malformed numbers for the reader to refuse', () => {
    expect(parseMediaPath('/media/a/b/c.m3u8')).toBeNull();
    expect(parseMediaPath('/api/streams')).toBeNull();
    expect(hlsDirectivesOf({ _HLS_msn: 'x' }).msn).toBeNaN();
    expect(hlsDirectivesOf(undefined)).toEqual({});
    expect(hlsDirectivesOf({ other: '1' })).toEqual({});
  });
});
