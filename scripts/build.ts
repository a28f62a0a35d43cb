// `npm run build` (tsx scripts/build.ts): the deployable artifact. One ESM bundle, dist/evse-priority.mjs, with every runtime
// dependency inside, plus the static files it reads at run time (the dashboard, dist/web/) next to it.
// The EVerest contract and the config schema are inside the bundle as generated validator code. A charger gets dist/ (or
// the npm package, which installs no dependencies); `node dist/evse-priority.mjs run --config site.yaml`.
import { build, type BuildResult } from 'esbuild';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb } from './build-web.mjs';
import { generateValidators } from './validators/generate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/**
 * Packages that must never reach the bundle: the AsyncAPI parser and its toolchain run at build time only
 * (scripts/validators/generate.ts turns the contract into validator code before bundling).
 */
const BUILD_TIME_ONLY = ['node_modules/@asyncapi/', 'node_modules/@stoplight/'];

/**
 * Optional modules our dependencies `require` inside try/catch and run fine without (native speed-ups of
 * ws). Left out of the bundle; absent on a charger, as intended.
 */
const OPTIONAL = ['bufferutil', 'utf-8-validate'];

export interface BuildOptions {
  /** Where the bundle and its assets go (default dist/). */
  outdir?: string;
  quiet?: boolean;
}

export async function buildArtifact({ outdir = dist, quiet = false }: BuildOptions = {}): Promise<BuildResult> {
  await generateValidators();
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'src', 'cli.ts')],
    outfile: join(outdir, 'evse-priority.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: OPTIONAL,
    // jsonc-parser's UMD main hides its requires from the bundler; its ESM build does not.
    mainFields: ['module', 'main'],
    // CommonJS dependencies call require() for Node built-ins; an ESM bundle has no require of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // Whitespace and syntax only: stack traces from a charger keep readable function names.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'external',
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  const leaked = Object.keys(result.metafile.inputs).filter((input) => BUILD_TIME_ONLY.some((dir) => input.includes(dir)));
  if (leaked.length > 0) throw new Error(`build-time packages reached the bundle (${leaked.length} files, e.g. ${leaked[0]}): an import chain from src/cli.ts leads to them`);
  await buildWeb({ outdir: join(outdir, 'web') });
  if (!quiet) {
    const bytes = statSync(join(outdir, 'evse-priority.mjs')).size;
    process.stdout.write(`built ${relative(root, join(outdir, 'evse-priority.mjs'))} (${(bytes / 1024 / 1024).toFixed(1)} MB)\n`);
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildArtifact();
}
