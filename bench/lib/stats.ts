// Shared measurement and output helpers so every benchmark reports figures the same way; the sample
// statistics themselves live in test/support/stats.ts (the site simulator uses them too).
import { performance } from 'node:perf_hooks';

export { max, mean, median, p50, p90, p99, percentile, summarize, type Summary } from '../../test/support/stats.js';

// Results land here so the JIT cannot drop the measured work as dead code.
let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
export function lastConsumed(): unknown {
  return sink;
}

/** Wall time of each call in milliseconds, after `warmup` unmeasured calls. */
export function measure(fn: () => unknown, opts: { runs: number; warmup?: number }): number[] {
  for (let i = 0; i < (opts.warmup ?? Math.ceil(opts.runs / 10)); i++) consume(fn());
  const samples = new Array<number>(opts.runs);
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    const r = fn();
    samples[i] = performance.now() - t0;
    consume(r);
  }
  return samples;
}

/** "3.20x": how many times `value` is `baseline`. */
export function ratio(value: number, baseline: number): string {
  return baseline > 0 ? `${(value / baseline).toFixed(2)}x` : 'n/a';
}

export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

export type Cell = string | number | boolean;

/** Prints rows as an aligned table; numbers right-aligned. Columns default to the keys of the first row. */
export function printTable(title: string, rows: ReadonlyArray<Record<string, Cell>>, columns?: readonly string[]): void {
  const cols = columns ?? (rows.length > 0 ? Object.keys(rows[0]!) : []);
  const text = rows.map((r) => cols.map((c) => {
    const v = r[c];
    return v === undefined ? '' : typeof v === 'number' ? fmt(v) : String(v);
  }));
  const numeric = cols.map((c) => rows.every((r) => r[c] === undefined || typeof r[c] === 'number'));
  const widths = cols.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [`\n${title}`, line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)];
  process.stdout.write(`${out.join('\n')}\n`);
}
