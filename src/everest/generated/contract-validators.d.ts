// Types of contract-validators.js, which scripts/validators/generate.ts writes from asyncapi/*.yaml at build time.
import type { ValidatorSet } from '../contract.js';

/** evse_manager_consumer_API. */
export declare const evse: ValidatorSet;
/** external_energy_limits_consumer_API. */
export declare const limits: ValidatorSet;
