/** Text helpers shared by everything that writes to Discord (answers, embeds, alerts). */

/**
 * Cuts `text` to at most `maxChars` (JS string length, like every Discord limit), with an
 * ellipsis when cut, never between the two halves of a surrogate pair.
 */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = Math.max(0, maxChars - 1);
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut).trimEnd()}…`;
}
