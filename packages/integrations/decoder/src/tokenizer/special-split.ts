/** A piece of input text: plain text, or a special token matched verbatim. */
export type TextPiece = { readonly text: string } | { readonly special: number };

/**
 * Splits `text` around occurrences of `specials` (string → id), longest match first.
 * Without specials the text is one piece.
 */
export function splitSpecial(text: string, specials: ReadonlyMap<string, number>): TextPiece[] {
  if (specials.size === 0 || text.length === 0) return [{ text }];
  const keys = [...specials.keys()].filter((k) => k.length > 0).sort((a, b) => b.length - a.length);
  const out: TextPiece[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const hit = keys.find((k) => text.startsWith(k, i));
    if (hit === undefined) {
      i++;
      continue;
    }
    if (i > start) out.push({ text: text.slice(start, i) });
    out.push({ special: specials.get(hit)! });
    i += hit.length;
    start = i;
  }
  if (start < text.length) out.push({ text: text.slice(start) });
  return out;
}
