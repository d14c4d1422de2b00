/**
 * Code-unit order, not locale order (`localeCompare`), so that sorted output is
 * the same bytes on every machine whatever its locale.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
