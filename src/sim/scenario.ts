import { readFile } from 'node:fs/promises';
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { describeProblems } from '../validation/describe.js';
import { ACTION_NAMES, MODULE_WIDE_ACTIONS, type ActionName, type TargetedAction } from './actions.js';

export type ScenarioStep = TargetedAction & { at: number };

export interface Scenario {
  steps: ScenarioStep[];
  /** Replay the timeline every this many seconds (a demo that runs until Ctrl-C). */
  loopAfterS?: number;
  /** Default for plug_in steps without auto_authorize. */
  autoAuthorize: boolean;
  description?: string;
  /** EVSE module_id -> the limits module on the EnergyNode above it (current control in the simulator). */
  limitsModules?: Record<string, string>;
}

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

const Ajv = AjvModule.default;
const ajv = new Ajv({ allErrors: false, strict: true });

const phases = { enum: [1, 2, 3] };
const positive = { type: 'number', exclusiveMinimum: 0 };
const PARAMS: Record<ActionName, { properties?: Record<string, object>; required?: string[] }> = {
  plug_in: { properties: { max_power_w: positive, phases, target_energy_wh: positive, auto_authorize: { type: 'boolean' }, hlc: { type: 'boolean' } } },
  authorize: { properties: { id_tag: { type: 'string', minLength: 1, maxLength: 36 } } },
  ev_pause: {},
  ev_resume: {},
  unplug: {},
  set_limit: { properties: { current_a: { type: 'number', minimum: 0 }, phases }, required: ['current_a'] },
  set_car_max_power: { properties: { w: positive }, required: ['w'] },
  set_target_energy: { properties: { wh: { type: 'number', minimum: 0 } }, required: ['wh'] },
  restart: {},
  go_silent: { properties: { duration_s: positive }, required: ['duration_s'] },
  send_garbage: { properties: { topic: { type: 'string', minLength: 1 } } },
  hlc_session_failed: { properties: { reason: { type: 'string', minLength: 1 } }, required: ['reason'] },
};

const validateBase = ajv.compile({
  type: 'object',
  required: ['at', 'action'],
  properties: {
    at: { type: 'number', minimum: 0 },
    action: { enum: [...ACTION_NAMES] },
    module_id: { type: 'string', minLength: 1 },
  },
});

const validateAction = new Map<ActionName, ValidateFunction>(
  ACTION_NAMES.map((name) => {
    const params = PARAMS[name];
    return [
      name,
      ajv.compile({
        type: 'object',
        additionalProperties: false,
        required: ['at', 'action', ...(MODULE_WIDE_ACTIONS.has(name) ? [] : ['module_id']), ...(params.required ?? [])],
        properties: {
          at: { type: 'number' },
          action: { const: name },
          module_id: { type: 'string', minLength: 1 },
          ...(params.properties ?? {}),
        },
      }),
    ];
  }),
);

const validateFile = ajv.compile({
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    description: { type: 'string' },
    loop_after_s: positive,
    auto_authorize: { type: 'boolean' },
    limits_modules: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
    steps: { type: 'array' },
  },
});

function describe(errors: ErrorObject[] | null | undefined, whole = 'the step'): string {
  return describeProblems(errors, { whole });
}

/** Validates a parsed timeline: either a bare list of steps or `{steps, loop_after_s?, auto_authorize?, description?}`. */
export function parseScenario(data: unknown, source = 'scenario'): Scenario {
  const file: unknown = Array.isArray(data) ? { steps: data } : data;
  if (!validateFile(file)) throw new ScenarioError(`${source}: ${describe(validateFile.errors, 'the scenario')}`);
  const doc = file as { steps: unknown[]; loop_after_s?: number; auto_authorize?: boolean; description?: string; limits_modules?: Record<string, string> };
  const steps = doc.steps.map((raw, index) => {
    const label = `${source}: step ${index}`;
    if (!validateBase(raw)) throw new ScenarioError(`${label}: ${describe(validateBase.errors)}`);
    const base = raw as { at: number; action: ActionName };
    const check = validateAction.get(base.action);
    if (check && !check(raw)) throw new ScenarioError(`${label} (at ${base.at} s, ${base.action}): ${describe(check.errors)}`);
    return raw as ScenarioStep;
  });
  const last = steps.reduce((max, s) => Math.max(max, s.at), 0);
  if (doc.loop_after_s !== undefined && doc.loop_after_s <= last) {
    throw new ScenarioError(`${source}: loop_after_s (${doc.loop_after_s}) must be later than the last step (at ${last} s)`);
  }
  return {
    // Stable sort: steps at the same second keep their written order.
    steps: steps.map((s, i) => ({ s, i })).sort((a, b) => a.s.at - b.s.at || a.i - b.i).map(({ s }) => s),
    autoAuthorize: doc.auto_authorize ?? false,
    ...(doc.loop_after_s !== undefined ? { loopAfterS: doc.loop_after_s } : {}),
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    ...(doc.limits_modules !== undefined ? { limitsModules: doc.limits_modules } : {}),
  };
}

/** Reads YAML or JSON (JSON is YAML). */
export async function loadScenarioFile(path: string): Promise<Scenario> {
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ScenarioError(`${path}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  return parseScenario(data, path);
}

export function scenarioModuleIds(scenario: Scenario): string[] {
  return [...new Set(scenario.steps.flatMap((s) => (s.module_id !== undefined ? [s.module_id] : [])))];
}

/** Throws naming the first step that targets a module the simulator does not run. */
export function checkScenarioModules(scenario: Scenario, moduleIds: readonly string[]): void {
  const known = new Set(moduleIds);
  scenario.steps.forEach((step, index) => {
    if (step.module_id !== undefined && !known.has(step.module_id)) {
      throw new ScenarioError(`scenario step ${index} (at ${step.at} s): unknown module_id '${step.module_id}' (simulating ${moduleIds.join(', ')})`);
    }
  });
}

/** The steps in time order, repeated every loopAfterS seconds when set. */
export function* timeline(scenario: Scenario): Generator<ScenarioStep> {
  for (let offset = 0; ; offset += scenario.loopAfterS ?? 0) {
    for (const step of scenario.steps) yield { ...step, at: step.at + offset };
    if (scenario.loopAfterS === undefined || scenario.steps.length === 0) return;
  }
}
