import type { Table } from "./table.js";

/** What every section gets from the runner. */
export interface BenchContext {
  /** Runs per measured command; each figure is the median. */
  readonly runs: number;
  /** The repository root: bin/natgw.js, examples/, node_modules/. */
  readonly repository: string;
  /** A directory of this section's own, removed when the benchmark ends. */
  readonly scratch: string;
  /** Progress, on stderr, so stdout stays the Markdown report. */
  readonly progress: (message: string) => void;
}

export interface SectionReport {
  readonly tables: readonly Table[];
  /** Sentences printed under the tables: limits met, and what the figures leave out. */
  readonly notes: readonly string[];
}

/**
 * One part of `npm run bench`, selectable by name (`npm run bench -- scaling`).
 * A section measures what it needs and returns tables; the runner prints them.
 */
export interface Section {
  readonly name: string;
  readonly title: string;
  /** One paragraph: what is measured and how. */
  readonly method: string;
  /** Why the section cannot run on this machine (not root, a tool missing), or undefined. */
  readonly unavailable?: () => string | undefined;
  readonly run: (context: BenchContext) => Promise<SectionReport>;
}
