#!/usr/bin/env node
// Bundles the dashboard (src/web/) into dist/web/: index.html, dashboard.js, dashboard.css. No CDN:
// preact, htm and uPlot are bundled in, so the page works offline on a charger's LAN.
// `npm start` and `npm test` run it first; the server bundle build imports buildWeb() from here.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the page into `outdir` (default dist/web); returns the bytes written per file. */
export async function buildWeb({ outdir = join(root, 'dist', 'web'), minify = true } = {}) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { dashboard: 'src/web/main.ts' },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
    tsconfig: 'src/web/tsconfig.json',
  });
  await copyFile(join(root, 'src', 'web', 'index.html'), join(outdir, 'index.html'));
  await copyFile(join(root, 'src', 'web', 'favicon.svg'), join(outdir, 'favicon.svg'));
  const sizes = Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, out]) => [file.slice(file.lastIndexOf('/') + 1), out.bytes]));
  return { outdir, sizes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { outdir, sizes } = await buildWeb();
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  process.stdout.write(`dashboard built into ${outdir} (${(total / 1024).toFixed(1)} KB before compression)\n`);
}
