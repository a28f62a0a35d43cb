// Shared statistics and output helpers so every benchmark reports figures the same way.
import { performance } from 'node:perf_hooks';

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** Linear-interpolated percentile, p in [0, 100]. NaN for an empty sample. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = sorted(xs);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);
export const p50 = median;
export const p90 = (xs: readonly number[]): number => percentile(xs, 90);
export const p99 = (xs: readonly number[]): number => percentile(xs, 99);

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

export function max(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => (b > a ? b : a));
}

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  const s = sorted(xs);
  return {
    n: s.length,
    mean: mean(s),
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    min: s.length > 0 ? s[0]! : Number.NaN,
    max: s.length > 0 ? s[s.length - 1]! : Number.NaN,
  };
}

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
