// Current sharing end to end: the module (startApp) and the simulator with an EnergyNode and an
// external_energy_limits_consumer_API module above every EVSE, over a real Mosquitto. The simulator
// applies our limits as EVerest does (fuse clamp, pause below 6 A with NoEnergy, resume by itself),
// so the allocations are checked where they act: in the simulated EVSEs and cars.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { sharingStack as site, W_PER_A, type SharingStack as Site } from '../support/sharing-stack.js';
import { arrive } from '../support/site-stack.js';
import { waitFor } from '../support/wait.js';

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
const REFERENCE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/reference/everest-api-52ff7153d/external_energy_limits_consumer_API/asyncapi.yaml',
);

const HAVE_REFERENCE = existsSync(REFERENCE);

/** The upstream schema of m2e/set_external_limits, compiled once; undefined when the reference is absent. */
async function referenceValidator(): Promise<((data: unknown) => string | undefined) | undefined> {
  if (!HAVE_REFERENCE) return undefined;
  const parsed = await fromFile(new Parser(), REFERENCE).parse();
  const op = parsed.document?.operations().all().find((o) => o.channels().all()[0]?.address()?.endsWith('m2e/set_external_limits'));
  const schema = op?.messages().all()[0]?.payload()?.json();
  if (!schema) throw new Error('reference has no set_external_limits payload');
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  return (data) => (validate(data) ? undefined : ajv.errorsText(validate.errors));
}


describe(`sharing current by priority (simulator with limits modules, real Mosquitto)${HAVE_REFERENCE ? '' : '; EVerest reference absent: limit messages not validated against its schema'}`, () => {
  let broker: TestBroker;
  let s: Site | undefined;
  let validate: Awaited<ReturnType<typeof referenceValidator>>;
  beforeAll(async () => {
    broker = await startBroker();
    validate = await referenceValidator();
    // The check can fail: a message without schedule_export is what EVerest's parser rejects.
    if (validate) expect(validate({ schedule_import: [], schedule_setpoints: [] })).toMatch(/schedule_export/);
  });
  afterEach(async () => {
    if (s) {
      // Every limit message of the test, the fail-safe of the shutdown included, against the upstream schema.
      const site = s;
      await site.app.stop();
      await waitFor(() => site.sent.at(-1)?.value.schedule_import.length === 1, { message: 'fail-safe at shutdown reached the simulator' });
      await site.close();
      if (validate) {
        const failures = s.sent.map((m) => validate!(m.value)).filter((e) => e !== undefined);
        expect(failures).toEqual([]);
      }
      expect(s.sent.length).toBeGreaterThan(0);
    }
    s = undefined;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('9 kW, two 11 kW EVSEs, priority 5 on the later one: it charges at ~13 A, the other holds; >= 90 % of the budget used', async () => {
    s = await site(broker.url, ['evse_1', 'evse_2'], 9_000);
    const site9 = s;
    arrive(site9.sim, 'evse_1');
    await waitFor(() => site9.drawW('evse_1') > 8_000, { message: () => `evse_1 alone should charge at ~13 A; limit ${site9.limitA('evse_1')}` });
    await site9.app.service.setPriority({ by: 'module', module_id: 'evse_2', connector_id: 1 }, 5, 'session', 'test');
    arrive(site9.sim, 'evse_2');
    await waitFor(() => site9.limitA('evse_2') >= 12.5 && site9.limitA('evse_1') < 6 && site9.drawW('evse_1') === 0 && site9.drawW('evse_2') > 0.9 * 9_000, {
      timeoutMs: 15_000,
      message: () => `limits ${site9.limitA('evse_1')}/${site9.limitA('evse_2')} A, draws ${site9.drawW('evse_1')}/${site9.drawW('evse_2')} W`,
    });
    expect(site9.limitA('evse_2')).toBeLessThanOrEqual(9_000 / W_PER_A);
    const d2 = site9.app.service.evse('evse_2')!.decision!;
    expect(d2).toMatchObject({ decision: 'charge', current_a: 13 });
    expect(d2.reason).toBe('13.0 A: priority 5 (the highest here), 9.0 kW of the 9.0 kW budget available');
    const d1 = site9.app.service.evse('evse_1')!.decision!;
    expect(d1).toMatchObject({ current_a: 0 });
    expect(d1.reason).toMatch(/^held at 0 A/);
    // Held calmly: no limit message for the held EVSE beyond refreshes while nothing changes.
    const count = () => site9.sent.filter((m) => m.limitsModuleId === 'evse_1_limits').length;
    const before = count();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(count() - before).toBeLessThanOrEqual(1);
  });

  it('16 kW, three cars 5/0/0: the 5 at full current, the first 0 on the rest, the last held; the 5 leaves: the two 0s share equally', async () => {
    s = await site(broker.url, ['evse_1', 'evse_2', 'evse_3'], 16_000);
    const site16 = s;
    await site16.app.service.setPriority({ by: 'module', module_id: 'evse_3', connector_id: 1 }, 5, 'session', 'test');
    arrive(site16.sim, 'evse_1');
    await waitFor(() => site16.limitA('evse_1') >= 6, { message: 'evse_1 admitted' });
    arrive(site16.sim, 'evse_2');
    await waitFor(() => site16.app.service.evse('evse_2')?.decision !== null, { message: 'evse_2 planned' });
    arrive(site16.sim, 'evse_3');
    const show = () => ['evse_1', 'evse_2', 'evse_3'].map((id) => `${id} ${site16.limitA(id)} A ${site16.drawW(id)} W`).join(', ');
    await waitFor(() => site16.limitA('evse_3') === 16 && Math.abs(site16.limitA('evse_1') - 7.1) < 0.05 && site16.limitA('evse_2') < 6, {
      timeoutMs: 20_000,
      message: () => `expected 16 / 7.1 / held: ${show()}`,
    });
    await waitFor(() => site16.drawW('evse_3') > 10_000 && site16.drawW('evse_2') === 0, { message: () => `draws: ${show()}` });
    site16.sim.apply({ module_id: 'evse_3', action: 'unplug' });
    await waitFor(() => site16.limitA('evse_1') >= 11 && site16.limitA('evse_1') === site16.limitA('evse_2'), {
      timeoutMs: 20_000,
      message: () => `expected equal shares of 16 kW: ${show()}`,
    });
    expect(site16.limitA('evse_1')).toBe(11.5);
    await waitFor(() => site16.drawW('evse_1') > 7_000 && site16.drawW('evse_2') > 7_000, { message: () => `both share: ${show()}` });
  });

  it('a clean shutdown sends the fail-safe current at once', async () => {
    s = await site(broker.url, ['evse_1', 'evse_2'], 9_000);
    const site9 = s;
    arrive(site9.sim, 'evse_1');
    arrive(site9.sim, 'evse_2');
    await waitFor(() => site9.limitA('evse_1') >= 6 && site9.limitA('evse_2') >= 6, { message: 'both admitted' });
    // Both share 9 kW at 6.5 A; the default fail-safe is the budget shared over both at 3 x 230 V.
    const failsafeA = Math.floor((9_000 / (2 * W_PER_A)) * 10) / 10;
    await site9.app.stop();
    await waitFor(() => site9.limitA('evse_1') === failsafeA && site9.limitA('evse_2') === failsafeA, {
      message: () => `fail-safe in force: ${site9.limitA('evse_1')}/${site9.limitA('evse_2')} A`,
    });
  });
});
