import { describe, expect, it } from 'vitest';
import { connectorRefOf, isValidPriority, connectorKey, type ConnectorRef } from '../../../src/priorities/model.js';

describe('helpers', () => {
  it('connectorRefOf keeps only the reference fields', () => {
    const body = { by: 'serial_number', serial_number: 'S1', connector_id: 2, priority: 4, scope: 'session' } as const;
    expect(connectorRefOf(body)).toEqual({ by: 'serial_number', serial_number: 'S1', connector_id: 2 });
    const ref: ConnectorRef = { by: 'evse_id', evse_id: 'E*1' };
    expect(connectorRefOf(ref)).toEqual(ref);
  });

  it('isValidPriority accepts exactly the integers -9..9', () => {
    for (let p = -9; p <= 9; p++) expect(isValidPriority(p)).toBe(true);
    for (const p of [-10, 10, 0.5, Number.NaN, Infinity, '1', null]) expect(isValidPriority(p)).toBe(false);
  });

  it('connectorKey joins module and connector', () => {
    expect(connectorKey('evse_1', 2)).toBe('evse_1/2');
  });
});
