#!/usr/bin/env node
// Runs the bundle (npm run build: dist/evse-priority.mjs, every dependency inside) when present; in a
// checkout without a build, the TypeScript source through tsx, which only a development install has.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import process from 'node:process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'evse-priority.mjs');
if (existsSync(bundle)) {
  await import(pathToFileURL(bundle).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`evse-priority: ${bundle} is missing and tsx is not installed; run \`npm run build\` in a development checkout\n`);
    process.exit(1);
  }
  register();
  await import(pathToFileURL(join(root, 'src', 'cli.ts')).href);
}
