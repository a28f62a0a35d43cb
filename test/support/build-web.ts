/**
 * vitest globalSetup: builds the dashboard (dist/web, git-ignored) before any test, so a fresh clone's
 * `npm test` serves the page its browser tests open. esbuild takes well under a second.
 */
import { buildWeb } from '../../scripts/build-web.mjs';

export default async function setup(): Promise<void> {
  await buildWeb();
}
