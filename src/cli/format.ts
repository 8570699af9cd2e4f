/** How the command line lays out what it prints. */

/** Rows as columns padded to their widest cell, two spaces apart; the first row is the header. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

/** A time as `2026-11-22 18:00:05Z`: UTC, to the second. */
export function utcTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}
