#!/usr/bin/env node
// Runs the bundle (npm run build: dist/evse-priority.mjs, every dependency inside) when present; in a
// checkout without a build, the TypeScript source through tsx, which only a development install has.
// In a checkout whose source changed after the last build the bundle would run yesterday's code (and
// tests and benches would measure it), so there the source wins, with a note on stderr.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import process from 'node:process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'evse-priority.mjs');
const srcDir = join(root, 'src');
const entry = join(srcDir, 'cli.ts');

/** The newest modification time under dir (a charger has no src/, so this only runs in a checkout). */
function newestMtimeMs(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const t = e.isDirectory() ? newestMtimeMs(p) : statSync(p).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

const hasBundle = existsSync(bundle);
const stale = hasBundle && existsSync(entry) && newestMtimeMs(srcDir) > statSync(bundle).mtimeMs;
if (hasBundle && !stale) {
  await import(pathToFileURL(bundle).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    const why = stale ? `${bundle} is older than src/` : `${bundle} is missing`;
    process.stderr.write(`evse-priority: ${why} and tsx is not installed; run \`npm run build\` in a development checkout\n`);
    process.exit(1);
  }
  if (stale) process.stderr.write(`evse-priority: ${bundle} is older than src/: running the source (npm run build refreshes it)\n`);
  register();
  await import(pathToFileURL(entry).href);
}
