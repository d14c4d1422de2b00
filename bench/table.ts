/** A result table, printed as Markdown so it pastes into BENCHMARKS.md as it is. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** Columns padded to their widest cell, so the table also reads as plain text. */
export function markdownTable(table: Table): string {
  const widths = table.columns.map((column, index) => Math.max(column.length, ...table.rows.map((row) => (row[index] ?? "").length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, index) => cell.padEnd(widths[index]!)).join(" | ")} |`;
  return [
    `**${table.title}**`,
    "",
    line(table.columns),
    `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`,
    ...table.rows.map((row) => line(row)),
  ].join("\n");
}

export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  return `${seconds.toFixed(2)} s`;
}

/** Megabytes of 10^6 bytes, the unit of the goals. */
export function formatMegabytes(bytes: number | null): string {
  return bytes === null ? "–" : `${Math.round(bytes / 1e6)} MB`;
}

export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}

export function formatFactor(factor: number | undefined): string {
  if (factor === undefined) return "–";
  return `${factor < 10 ? factor.toFixed(1) : Math.round(factor)}×`;
}

/**
 * How much a cost grows when the input grows tenfold, from two points on a power
 * law: (cost2 / cost1) ^ (1 / log10(input2 / input1)). Linear growth gives 10×,
 * quadratic 100×, constant 1×. Undefined when either cost is too small to tell from
 * noise.
 */
export function growthPerTenfold(input1: number, cost1: number, input2: number, cost2: number, noise: number): number | undefined {
  if (cost1 < noise || cost2 < noise || input2 <= input1) return undefined;
  return (cost2 / cost1) ** (1 / Math.log10(input2 / input1));
}
