/**
 * Issue 12 defect 12: no symbol glyphs and no emoji in the web UI. Kylin/UOS intranet PCs without full fonts
 * draw ▲ ● ◐ ✕ ✓ ◌ ＝ ← 🔒 📣 as empty boxes, so every shape is an SVG icon shipped with the app
 * (web/src/components/icons.ts, Lucide) or drawn by CSS. Two scans:
 *   - the sources (web/src: templates, scripts, styles incl. CSS `content:`, the catalogues), comments left
 *     out, so a failure names the file and line;
 *   - the built web (what browsers get: index.html and every JS / CSS asset of a fresh `vite build`), which
 *     also catches what a dependency or a build step would bring in.
 * The browser scan of every page in both languages (untranslated.test.ts) checks the rendered text and the
 * pseudo-elements' content as well.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildWeb } from '../support/browser.js';
import { FORBIDDEN_GLYPH, glyphsIn } from '../support/glyphs.js';

const webSrc = fileURLToPath(new URL('../../../web/src/', import.meta.url));

function filesUnder(dir: string, extensions: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, extensions));
    else if (extensions.some((ext) => name.endsWith(ext))) out.push(path);
  }
  return out;
}

/**
 * The text with comments blanked out (same line numbers): `/* … *\/`, `<!-- … -->` and `// …` outside strings.
 * Comments may describe the glyphs this test forbids; only what is shipped counts.
 */
function withoutComments(text: string): string {
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  let out = text.replace(/\/\*[\s\S]*?\*\//g, blank).replace(/<!--[\s\S]*?-->/g, blank);
  // Line comments: a `//` preceded by start of line or whitespace and not inside a URL ("http://").
  out = out.replace(/(^|[\s;{}(),])\/\/[^\n]*/g, (match, lead: string) => lead + blank(match.slice(lead.length)));
  return out;
}

/**
 * Glyphs inside dependencies that never reach the page, each with where it is. Keep this list short and
 * specific: anything of our own must be an icon.
 */
const DEPENDENCY_ONLY: RegExp[] = [
  // vue-router's Vue Devtools timeline (navigation failure / success marks), shown only inside the devtools panel.
  /`Navigation Failure`[\s\S]*[❌✅]/,
];

describe('web: no symbol glyphs or emoji (issue 12 defect 12)', () => {
  it('the pattern catches what it must and lets ordinary text through', () => {
    for (const bad of ['▲', '▼', '●', '◐', '✕', '✓', '◌', '＝', '←', '↑', '⧉', '🔒', '📣', '❚', '▸', '◆', '■', '⚠️']) {
      expect(glyphsIn(`x ${bad} y`), bad).not.toEqual([]);
    }
    for (const ok of ['离线 · 3 路 — 南山区…', 'offline ≥ 5 min', '1920×1080', '完好率 95 %', '“引号”', '（括号）']) {
      expect(glyphsIn(ok), ok).toEqual([]);
    }
  });

  it('the sources ship none (comments aside)', () => {
    const findings: string[] = [];
    for (const file of filesUnder(webSrc, ['.vue', '.ts', '.css', '.html'])) {
      const lines = withoutComments(readFileSync(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        const found = glyphsIn(line);
        if (found.length > 0) findings.push(`${file.slice(webSrc.length)}:${i + 1}: ${found.join(' ')}  ${line.trim().slice(0, 100)}`);
      });
    }
    expect(findings, findings.join('\n')).toEqual([]);
  });

  it('the built web ships none', async () => {
    const outDir = await buildWeb();
    const files = filesUnder(outDir, ['.html', '.js', '.css']);
    expect(files.some((f) => f.endsWith('.js'))).toBe(true);
    const findings: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(new RegExp(FORBIDDEN_GLYPH.source, 'gu'))) {
        const at = match.index ?? 0;
        if (DEPENDENCY_ONLY.some((pattern) => pattern.test(text.slice(Math.max(0, at - 120), at + 40)))) continue;
        findings.push(`${file.slice(outDir.length)}: ${match[0]} in …${text.slice(Math.max(0, at - 50), at + 20).replace(/\s+/g, ' ')}…`);
      }
    }
    expect(findings, findings.join('\n')).toEqual([]);
  }, 180_000);
});
