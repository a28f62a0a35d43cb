/**
 * vitest globalSetup: writes the generated validators (src/everest/generated, src/config/generated; git-ignored)
 * from the sources in the tree before any test imports them. Nothing is rewritten when the inputs are unchanged.
 */
import { generateValidators } from '../../scripts/validators/generate.js';

export default async function setup(): Promise<void> {
  const written = await generateValidators();
  if (written.length > 0) console.log(`[validators] generated ${written.length} file(s)`);
}
