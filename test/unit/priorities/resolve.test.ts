import { describe, expect, it } from 'vitest';
import { ConnectorDirectory, type EvseDescriptor } from '../../../src/priorities/resolve.js';

const evses: EvseDescriptor[] = [
  { module_id: 'evse_1', serial_number: 'ACE9876543', charge_box_identity: 'DE_EDR_E12345678', connectors: [1, 2] },
  { module_id: 'evse_2', serial_number: 'SN-2', connectors: [1] },
  // One station (HYC) configured as two EvseManagers sharing serial number and CBID.
  { module_id: 'hyc_left', serial_number: 'HYC_50_123456789', charge_box_identity: '123456789', connectors: [1] },
  { module_id: 'hyc_right', serial_number: 'HYC_50_123456789', charge_box_identity: '123456789', connectors: [1] },
  { module_id: 'evse_odd', connectors: [3] },
];

function directory(): ConnectorDirectory {
  const dir = new ConnectorDirectory(evses);
  dir.learnEvseId('evse_1', 'DEPNXE123456*1');
  dir.learnEvseId('evse_odd', 'DEPNXE999*3');
  return dir;
}

describe('ConnectorDirectory.resolve', () => {
  it('resolves by module and connector', () => {
    expect(directory().resolve({ by: 'module', module_id: 'evse_1', connector_id: 2 })).toEqual({
      ok: true,
      module_id: 'evse_1',
      connector_id: 2,
    });
  });

  it('resolves an EVSE-ID to connector 1, or to the only connector', () => {
    const dir = directory();
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE123456*1' })).toEqual({ ok: true, module_id: 'evse_1', connector_id: 1 });
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE999*3' })).toEqual({ ok: true, module_id: 'evse_odd', connector_id: 3 });
  });

  it('resolves by serial number and by chargebox identity on a single-module station', () => {
    const dir = directory();
    expect(dir.resolve({ by: 'serial_number', serial_number: 'ACE9876543', connector_id: 2 })).toEqual({
      ok: true,
      module_id: 'evse_1',
      connector_id: 2,
    });
    expect(dir.resolve({ by: 'charge_box_identity', charge_box_identity: 'DE_EDR_E12345678', connector_id: 1 })).toEqual({
      ok: true,
      module_id: 'evse_1',
      connector_id: 1,
    });
  });

  it('numbers connectors station-wide when several modules share a station identifier', () => {
    const dir = directory();
    expect(dir.resolve({ by: 'serial_number', serial_number: 'HYC_50_123456789', connector_id: 1 })).toEqual({
      ok: true,
      module_id: 'hyc_left',
      connector_id: 1,
    });
    expect(dir.resolve({ by: 'charge_box_identity', charge_box_identity: '123456789', connector_id: 2 })).toEqual({
      ok: true,
      module_id: 'hyc_right',
      connector_id: 1,
    });
    expect(dir.resolve({ by: 'serial_number', serial_number: 'HYC_50_123456789', connector_id: 3 })).toEqual({
      ok: false,
      code: 'unknown_connector',
      message: 'connector 3 does not exist on serial_number "HYC_50_123456789" (connectors: 1=hyc_left#1, 2=hyc_right#1)',
    });
  });

  it.each([
    [{ by: 'module', module_id: 'evse_9', connector_id: 1 }, 'unknown_module', 'unknown module_id "evse_9"'],
    [{ by: 'evse_id', evse_id: 'DEPNXE000*1' }, 'unknown_evse_id', 'unknown evse_id "DEPNXE000*1"'],
    [{ by: 'serial_number', serial_number: 'nope', connector_id: 1 }, 'unknown_serial_number', 'unknown serial_number "nope"'],
    [
      { by: 'charge_box_identity', charge_box_identity: 'nope', connector_id: 1 },
      'unknown_charge_box_identity',
      'unknown charge_box_identity "nope"',
    ],
    [{ by: 'module', module_id: 'evse_2', connector_id: 3 }, 'unknown_connector', 'connector 3 does not exist on evse_2 (connectors: 1)'],
    [
      { by: 'serial_number', serial_number: 'ACE9876543', connector_id: 5 },
      'unknown_connector',
      'connector 5 does not exist on evse_1 (connectors: 1, 2)',
    ],
    [
      { by: 'charge_box_identity', charge_box_identity: 'DE_EDR_E12345678', connector_id: 3 },
      'unknown_connector',
      'connector 3 does not exist on evse_1 (connectors: 1, 2)',
    ],
  ] as const)('%o -> %s', (ref, code, message) => {
    expect(directory().resolve(ref)).toEqual({ ok: false, code, message });
  });

  it('matches EVSE-IDs exactly', () => {
    const dir = directory();
    expect(dir.resolve({ by: 'evse_id', evse_id: 'depnxe123456*1' })).toMatchObject({ ok: false, code: 'unknown_evse_id' });
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE123456' })).toMatchObject({ ok: false, code: 'unknown_evse_id' });
  });
});

describe('ConnectorDirectory.learnEvseId', () => {
  it('replaces, moves and forgets EVSE-IDs', () => {
    const dir = directory();
    // Re-provisioned EVSE-ID: the old one must stop resolving.
    expect(dir.learnEvseId('evse_1', 'DEPNXE123456*9')).toBe(true);
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE123456*1' })).toMatchObject({ ok: false, code: 'unknown_evse_id' });
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE123456*9' })).toMatchObject({ ok: true, module_id: 'evse_1' });

    // Once evse_1 publishes another EVSE-ID, evse_2 may take this one over.
    dir.learnEvseId('evse_1', 'DEPNXE123456*1');
    dir.learnEvseId('evse_2', 'DEPNXE123456*9');
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE123456*9' })).toMatchObject({ ok: true, module_id: 'evse_2' });

    // EVerest publishes '' when no EVSE-ID is configured.
    dir.learnEvseId('evse_2', '');
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE123456*9' })).toMatchObject({ ok: false, code: 'unknown_evse_id' });
  });

  it('refuses an EVSE-ID two modules claim, tells who, and serves it again once only one does', () => {
    const conflicts: Array<[string, readonly string[], string]> = [];
    const dir = new ConnectorDirectory(
      [
        { module_id: 'evse_1', connectors: [1] },
        { module_id: 'evse_2', connectors: [1] },
      ],
      (evseId, moduleIds, claimant) => conflicts.push([evseId, moduleIds, claimant]),
    );
    dir.learnEvseId('evse_1', 'DEPNXE1*1');
    // evse_2 (or anyone who can publish on its e2m/evse_id) claims evse_1's EVSE-ID.
    dir.learnEvseId('evse_2', 'DEPNXE1*1');
    expect(conflicts).toEqual([['DEPNXE1*1', ['evse_1', 'evse_2'], 'evse_2']]);
    const refused = dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE1*1' });
    expect(refused).toMatchObject({ ok: false, code: 'ambiguous_evse_id' });
    expect(refused.ok ? '' : refused.message).toContain('"evse_1" and "evse_2"');
    // Other identifiers still address each EVSE.
    expect(dir.resolve({ by: 'module', module_id: 'evse_2', connector_id: 1 })).toMatchObject({ ok: true, module_id: 'evse_2' });
    dir.learnEvseId('evse_2', 'DEPNXE2*1');
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE1*1' })).toMatchObject({ ok: true, module_id: 'evse_1' });
    expect(dir.resolve({ by: 'evse_id', evse_id: 'DEPNXE2*1' })).toMatchObject({ ok: true, module_id: 'evse_2' });
  });

  it('ignores modules that are not configured', () => {
    const dir = directory();
    expect(dir.learnEvseId('stranger', 'X*1')).toBe(false);
    expect(dir.resolve({ by: 'evse_id', evse_id: 'X*1' })).toMatchObject({ ok: false, code: 'unknown_evse_id' });
  });
});

describe('ConnectorDirectory listing and validation', () => {
  it('knows which connectors are configured', () => {
    expect(directory().has('evse_1', 2)).toBe(true);
    expect(directory().has('evse_2', 2)).toBe(false);
  });

  it.each([
    [[{ module_id: 'a', connectors: [1] }, { module_id: 'a', connectors: [1] }], /duplicate EVSE module_id "a"/],
    [[{ module_id: 'a', connectors: [] }], /has no connectors/],
    [[{ module_id: 'a', connectors: [1, 1] }], /duplicate connector id 1/],
    [[{ module_id: 'a', connectors: [0] }], /invalid connector id 0/],
  ])('rejects bad configuration %#', (config, error) => {
    expect(() => new ConnectorDirectory(config)).toThrow(error);
  });
});
