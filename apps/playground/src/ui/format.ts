/** Number formatting for the page. */

/** Bytes as B / KiB / MiB with 1–3 significant decimals. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** A number with `digits` decimals, or an em dash when it is not finite. */
export function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

/** A relative error in scientific notation (2 significant digits). */
export function sci(n: number): string {
  return Number.isFinite(n) ? n.toExponential(1) : '—';
}
