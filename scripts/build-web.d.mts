/** Builds the dashboard into `outdir` (default dist/web); returns the bytes written per file. */
export function buildWeb(options?: { outdir?: string; minify?: boolean }): Promise<{ outdir: string; sizes: Record<string, number> }>;
