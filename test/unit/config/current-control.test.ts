import { describe, expect, it } from 'vitest';
import { evsesAboveBudget } from '../../../src/config/current-control.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config, DeepPartial } from '../../../src/config/types.js';

const config = (overrides: DeepPartial<Config>) => loadConfig({ env: {}, overrides });

describe('evsesAboveBudget (the start-up warning "configure limits_module_id")', () => {
  it('names every on/off EVSE whose rating the budget (plus the planning tolerance) cannot grant', () => {
    const site9kw = config({
      site: { max_power_w: 9000 },
      evses: [
        { module_id: 'a', max_current_a: 16 },
        { module_id: 'b', max_current_a: 16, limits_module_id: 'b_limits' },
        { module_id: 'c', max_current_a: 32, phases: 1 },
        { module_id: 'd', max_current_a: 10 },
        { module_id: 'e' },
      ],
    });
    expect(evsesAboveBudget(site9kw)).toEqual([{ module_id: 'a', rating_w: 11040 }]);
  });

  it('counts the overrun tolerance as usable, as the planner does', () => {
    const evses = [{ module_id: 'a', max_current_a: 16 }];
    expect(evsesAboveBudget(config({ site: { max_power_w: 10600 }, evses }))).toEqual([]);
    expect(evsesAboveBudget(config({ site: { max_power_w: 10600 }, scheduler: { overrun_tolerance_w: 0 }, evses }))).toHaveLength(1);
  });

  it('stays quiet for the shipped demo', () => {
    expect(evsesAboveBudget(loadConfig({ env: {}, file: new URL('../../../config/demo.yaml', import.meta.url).pathname }))).toEqual([]);
  });
});
