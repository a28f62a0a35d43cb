import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALLOWED, importEdges, violations, type ImportEdge } from '../support/import-rules.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('dependencies point one way (docs/architecture.md)', () => {
  it('every import in src/ follows the room rule', () => {
    const edges = importEdges(root);
    expect(edges.length).toBeGreaterThan(100);
    expect(violations(edges)).toEqual([]);
  });

  it('catches a reversed arrow, an import of the composition root and a value import into the page', () => {
    const fixture: ImportEdge[] = [
      { from: 'src/site/controller.ts', to: 'src/everest/client.ts', typeOnly: false },
      { from: 'src/everest/client.ts', to: 'src/site/controller.ts', typeOnly: false },
      { from: 'src/api/service.ts', to: 'src/module.ts', typeOnly: true },
      { from: 'src/transport/mqtt-transport.ts', to: 'src/everest/topics.ts', typeOnly: true },
      { from: 'src/forwarding/forwarder.ts', to: 'src/priorities/store.ts', typeOnly: false },
      { from: 'src/web/types.ts', to: 'src/api/service.ts', typeOnly: true },
      { from: 'src/web/api.ts', to: 'src/api/service.ts', typeOnly: false },
    ];
    expect(violations(fixture)).toEqual([
      'src/everest/client.ts -> src/site/controller.ts (everest -> site)',
      'src/api/service.ts -> src/module.ts (api -> composition)',
      'src/transport/mqtt-transport.ts -> src/everest/topics.ts (transport -> everest)',
      'src/forwarding/forwarder.ts -> src/priorities/store.ts (forwarding -> priorities)',
      'src/web/api.ts -> src/api/service.ts (web -> api)',
    ]);
  });

  it('the logger type has one owner: only src/log/ imports pino', () => {
    const pinoImport = /from\s+['"]pino(?:-pretty)?['"]/;
    const walk = (dir: URL): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(new URL(`${e.name}/`, dir)) : e.name.endsWith('.ts') ? [new URL(e.name, dir).pathname] : [],
      );
    const files = walk(new URL('../../src/', import.meta.url));
    const importers = files.filter((f) => pinoImport.test(readFileSync(f, 'utf8'))).map((f) => f.slice(root.length));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.every((f) => f.startsWith('src/log/')), importers.join(', ')).toBe(true);
  });

  it('the allowed arrows have no cycle', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (room: string, path: string[]): void => {
      if (done.has(room)) return;
      expect(visiting.has(room), `cycle ${[...path, room].join(' -> ')}`).toBe(false);
      visiting.add(room);
      for (const next of ALLOWED[room] ?? []) visit(next, [...path, room]);
      visiting.delete(room);
      done.add(room);
    };
    for (const room of Object.keys(ALLOWED)) visit(room, []);
  });

  it('the map names every room there is', () => {
    const map = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
    const rooms = readdirSync(new URL('../../src', import.meta.url), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const room of rooms) expect(Object.keys(ALLOWED), room).toContain(room);
    for (const room of Object.keys(ALLOWED)) expect(map, room).toContain(`\`${room}/\``);
  });
});
