/**
 * GPAC's MP4Box.js (npm `mp4box`) as an independent fMP4 parser for the muxer tests: the movie info (tracks,
 * codec strings, sizes, fragmentation) and every sample it reads back from the moof/trun boxes (decode and
 * composition times, durations, sync flags, sizes). GPAC's command-line MP4Box is not packaged for Debian 12
 * (gpac was dropped from bookworm), so the tests use the same project's JavaScript parser, plus ffprobe.
 */
import { createFile, Log, MP4BoxBuffer, type Movie, type Sample } from 'mp4box';

export interface Mp4BoxReport {
  info: Movie;
  samples: Map<number, Sample[]>;
  errors: string[];
}

export function inspectWithMp4Box(bytes: Uint8Array): Mp4BoxReport {
  const errors: string[] = [];
  Log.setLogLevel(Log.error);
  const file = createFile();
  let info: Movie | null = null;
  const samples = new Map<number, Sample[]>();
  file.onError = (module: string, message: string) => errors.push(`${module}: ${message}`);
  file.onReady = (movie: Movie) => {
    info = movie;
    for (const track of movie.tracks) {
      samples.set(track.id, []);
      file.setExtractionOptions(track.id, null, { nbSamples: 1_000_000 });
    }
    file.start();
  };
  file.onSamples = (id: number, _user: unknown, got: Sample[]) => {
    samples.get(id)?.push(...got.map((s) => ({ ...s, data: undefined }) as unknown as Sample));
  };
  const buffer = MP4BoxBuffer.fromArrayBuffer(bytes.slice().buffer, 0);
  file.appendBuffer(buffer);
  file.flush();
  if (!info) throw new Error(`MP4Box.js found no movie: ${errors.join('; ') || 'onReady never called'}`);
  return { info, samples, errors };
}
