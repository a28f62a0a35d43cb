import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeConfigKeys } from '../../../src/config/describe.js';
import { loadConfig } from '../../../src/config/load.js';
import { loadScenarioFile, scenarioModuleIds } from '../../../src/sim/scenario.js';

const shipped = (name: string): string => fileURLToPath(new URL(`../../../config/${name}`, import.meta.url));

describe('shipped configuration files', () => {
  it('default.yaml: one EVSE on the local broker', () => {
    const config = loadConfig({ file: shipped('default.yaml'), env: {} });
    expect(config.evses.map((e) => e.module_id)).toEqual(['evse_manager_api']);
    expect(config.mqtt.url).toBe('mqtt://127.0.0.1:1883');
  });

  it('demo.yaml: three identifiable EVSEs sharing a budget for two 11 kW cars', () => {
    const config = loadConfig({ file: shipped('demo.yaml'), env: {} });
    expect(config.evses.map((e) => e.module_id)).toEqual(['evse_1', 'evse_2', 'evse_3']);
    for (const evse of config.evses) {
      expect(evse.serial_number).toBeTruthy();
      expect(evse.charge_box_identity).toBeTruthy();
    }
    expect(config.site.max_power_w).toBe(22000);
    expect(config.evses.map((e) => e.limits_module_id)).toEqual(['evse_1_limits', 'evse_2_limits', 'evse_3_limits']);
    expect(config.http).toMatchObject({ enabled: true, port: 8080 });
  });

  it.each([
    ['site-9kw', 9000, 2],
    ['site-16kw', 16000, 3],
  ])('%s.yaml: current control on every EVSE, the limits modules its scenario simulates', async (name, budget, evses) => {
    const config = loadConfig({ file: shipped(`${name}.yaml`), env: {} });
    expect(config.site.max_power_w).toBe(budget);
    expect(config.evses).toHaveLength(evses);
    const scenario = await loadScenarioFile(shipped(`scenarios/${name}.yaml`));
    expect(scenario.limitsModules).toEqual(Object.fromEntries(config.evses.map((e) => [e.module_id, e.limits_module_id])));
    expect(scenarioModuleIds(scenario).sort()).toEqual(config.evses.map((e) => e.module_id));
  });

  it('example.yaml shows the schema defaults, not values of its own', () => {
    const example = loadConfig({ file: shipped('example.yaml'), env: {} });
    const defaults = loadConfig({ env: {} });
    expect({ ...example, evses: [] }).toEqual(defaults);
    expect(example.evses).toEqual([{ module_id: 'evse_manager_api', connectors: [1], phases: 3 }]);
  });

  it('example.yaml mentions every key of the schema', () => {
    const text = readFileSync(shipped('example.yaml'), 'utf8');
    const missing = describeConfigKeys()
      .map((k) => k.path.split('.').pop()?.replace('[]', '') ?? '')
      .filter((leaf) => !new RegExp(`^[\\s#-]*${leaf}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });
});
