/**
 * Characters the web UI must not show (issue 12 defect 12): symbol glyphs and emoji, which PCs without full
 * fonts (Kylin/UOS intranets) draw as empty boxes. Shapes are SVG icons shipped with the app instead.
 *
 * Forbidden: arrows (U+2190–21FF, 27F0–27FF, 2900–297F, 2B00–2BFF), technical and mathematical symbols used as icons (2300–23FF, 2980–29FF: ⧉), geometric
 * shapes (25A0–25FF), miscellaneous symbols and dingbats (2600–27BF), the fullwidth ＝ used as a shape, emoji
 * (Extended_Pictographic above U+2000) and the emoji variation selector. Ordinary punctuation of both languages
 * (· — … “” （）), × and the math signs of the catalogues (≥) are text every CJK font has.
 */
export const FORBIDDEN_GLYPH =
  /[\u2190-\u21FF\u2300-\u23FF\u25A0-\u25FF\u2600-\u27BF\u27F0-\u27FF\u2900-\u29FF\u2B00-\u2BFF\uFF1D\uFE0F]|(?![\u00A9\u00AE\u2122])\p{Extended_Pictographic}/u;

/** The forbidden characters in `text`, each once, in order of appearance. */
export function glyphsIn(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(new RegExp(FORBIDDEN_GLYPH.source, 'gu'))) found.add(match[0]);
  return [...found];
}
