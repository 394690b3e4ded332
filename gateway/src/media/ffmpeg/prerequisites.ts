/**
 * Start-up check for the media tools: is ffmpeg/ffprobe there and does it run? Asked once by the command line
 * before the gateway or the demo starts, so a missing ffmpeg is one clear line at start rather than a
 * "spawn ffmpeg ENOENT" buried in the log of the first play.
 */
import { spawnSync } from 'node:child_process';
import { mediaToolPath, type MediaTool } from './processes.js';

export interface MediaToolCheck {
  tool: MediaTool;
  path: string;
  ok: boolean;
  /** First line of `-version`, e.g. "ffmpeg version 5.1.6-0+deb12u1 …". */
  version: string | null;
  /** Why it failed: "not found" or the tool's own error. */
  problem: string | null;
}

export function checkMediaTool(tool: MediaTool): MediaToolCheck {
  const path = mediaToolPath(tool);
  const result = spawnSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000, windowsHide: true });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return { tool, path, ok: false, version: null, problem: code === 'ENOENT' ? 'not found' : `cannot run it (${code ?? result.error.message})` };
  }
  if (result.status !== 0) {
    return { tool, path, ok: false, version: null, problem: `"${path} -version" exited with ${result.status ?? result.signal}: ${(result.stderr ?? '').trim().split('\n')[0] ?? ''}` };
  }
  return { tool, path, ok: true, version: (result.stdout ?? '').split('\n')[0]?.trim() || null, problem: null };
}

/** How to get ffmpeg (which ships ffprobe) on the platforms the gateway is deployed on, in one line. */
export const FFMPEG_INSTALL_HINT =
  'install ffmpeg (it includes ffprobe): Debian/Ubuntu/Kylin/UOS "sudo apt-get install ffmpeg", RHEL/openEuler "sudo dnf install ffmpeg", macOS "brew install ffmpeg"; or set SE_FFMPEG_PATH / SE_FFPROBE_PATH to the binaries';

/** One line per missing tool, empty when both run. */
export function missingMediaTools(): string[] {
  return (['ffmpeg', 'ffprobe'] as const)
    .map(checkMediaTool)
    .filter((c) => !c.ok)
    .map((c) => `${c.tool} (${c.path}): ${c.problem}`);
}
