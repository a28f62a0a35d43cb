// The dependency rule of docs/architecture.md, checked from the TypeScript imports themselves.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/** The rooms under src/ and the rooms each may import from. The composition root (src/*.ts) may import anything; nothing imports it. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  log: [],
  validation: [],
  transport: ['log'],
  everest: ['transport', 'validation', 'log'],
  config: ['everest', 'validation', 'log'],
  priorities: ['config', 'validation', 'log'],
  site: ['everest', 'priorities', 'config', 'validation', 'log'],
  forwarding: ['everest', 'transport', 'config', 'validation', 'log'],
  api: ['site', 'priorities', 'everest', 'forwarding', 'config', 'validation', 'log'],
  sim: ['everest', 'transport', 'config', 'validation', 'log'],
  // The browser page: bundled on its own, so it takes only types (erased), the event-type list and the page limits from src.
  web: [],
};

/** Type-only imports a room may make beyond ALLOWED (erased at build time, so no runtime arrow). */
export const TYPE_ONLY: Readonly<Record<string, readonly string[]>> = { web: ['api', 'site'] };

/** Single files a room may import beyond ALLOWED. */
export const FILE_EXCEPTIONS: Readonly<Record<string, readonly string[]>> = { web: ['src/api/event-types.ts', 'src/api/http/schemas/pagination.ts'] };

export interface ImportEdge {
  from: string;
  to: string;
  typeOnly: boolean;
}

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Every relative import of every .ts file under `srcDir` (paths relative to `root`, POSIX style). */
export function importEdges(root: string, srcDir = 'src'): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(join(root, path), 'utf8');
        for (const m of text.matchAll(IMPORT)) {
          const spec = m[3] ?? m[4];
          if (spec === undefined) continue;
          const target = posix.normalize(posix.join(posix.dirname(path), spec)).replace(/\.js$/, '.ts');
          edges.push({ from: path, to: target, typeOnly: m[2] !== undefined });
        }
      }
    }
  };
  walk(srcDir);
  return edges;
}

/** The room of a file under src/: its first folder, or 'composition' for the files directly in src/. */
export function roomOf(file: string): string {
  const parts = relative('src', file.split('/').join(sep)).split(sep);
  return parts.length === 1 ? 'composition' : parts[0]!;
}

/** The edges that break the rule, as "from -> to (room -> room)" lines. */
export function violations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const edge of edges) {
    const from = roomOf(edge.from);
    const to = roomOf(edge.to);
    if (from === to || from === 'composition') continue;
    const allowed =
      ALLOWED[from]?.includes(to) === true ||
      (edge.typeOnly && TYPE_ONLY[from]?.includes(to) === true) ||
      FILE_EXCEPTIONS[from]?.includes(edge.to) === true;
    if (!allowed) out.push(`${edge.from} -> ${edge.to} (${from} -> ${to})`);
  }
  return out;
}
