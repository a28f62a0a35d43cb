// Types of config-validator.js, which scripts/validators/generate.ts writes from src/config/schema.ts at build time.
import type { ErrorObject } from 'ajv';

/** Validates a configuration object, filling in the schema's defaults (it writes into `data`). */
export declare const validateConfig: {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
};
